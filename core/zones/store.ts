// Keeps the loaded datasets of all zones: first answers from snapshots, notices changed files
// (mtime or size, like rbldnsd), reloads them in a worker thread, and keeps the last good data
// when a reload fails (rbldnsd would answer SERVFAIL instead).

import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { JobWorker } from '../worker.ts';
import { datasetType } from '../datasets/index.ts';
import type { Dataset, NsSet, Soa } from '../datasets/types.ts';
import { stampOf, type FileStamp } from '../rbldnsd/reader.ts';
import { readSnapshot, writeSnapshot } from '../snapshot.ts';
import type { Logger } from '../log.ts';
import { datasetKey, datasetLabel, type DatasetSpec, type LoadSettings, type ZoneSpec } from './spec.ts';
import type { LoadReply, LoadRequest } from './load-worker.ts';

const MAX_WARNING_LINES = 20;

/** One shared dataset instance and what we know about its files. */
interface Entry {
  key: string;
  /** For logs. */
  label: string;
  spec: DatasetSpec;
  dataset?: Dataset;
  /** Stamps of the files the current data was loaded from. */
  stamps?: FileStamp[];
  /** Stamps seen at the last failed attempt: not retried until the files change again. */
  failedAt?: string;
  error?: string;
}

export interface LoadedZone {
  name: string;
  datasets: Dataset[];
  newestMtime: number;
  /** True when a dataset of the zone has never loaded, or its $TIMESTAMP expired. */
  failed: boolean;
  /** The zone's rbldnsd `acl` dataset, kept out of `datasets` (it is not data and, as in
   *  rbldnsd, counts neither for the SOA serial nor for the zone's failure). A zone with the
   *  empty name and only an acl is rbldnsd's global `:acl:file`. */
  acl?: Dataset;
}

export interface StoreOptions {
  settings: LoadSettings;
  stateDir?: string;
  log: Logger;
  /** Called with the full zone list every time any dataset changed. */
  onChange(zones: LoadedZone[]): void;
  /** Share of one core a reload of data already served may use (background.cpu_share). */
  cpuShare?: number;
}

/** The snapshot of a dataset: its key says what was loaded and how (a mismatch is ignored). */
export function snapshotKeyFor(spec: DatasetSpec, settings: LoadSettings): string {
  return JSON.stringify({ dataset: datasetKey(spec), settings });
}

export function snapshotFileFor(stateDir: string, spec: DatasetSpec, settings: LoadSettings): { path: string; key: string } {
  const key = snapshotKeyFor(spec, settings);
  const id = createHash('sha256').update(key).digest('hex').slice(0, 32);
  return { path: join(stateDir, 'snapshots', `${id}.qsnap`), key };
}

export function stampsText(s: FileStamp[]): string {
  return s.map((x) => `${x.file}@${x.mtime}/${x.size}/${x.ino ?? ''}`).join(' ');
}

const loader = new JobWorker<LoadRequest, LoadReply[]>(new URL('./load-worker.ts', import.meta.url));

/** Loads several datasets in the loader thread (one reply per spec, in order). */
async function loadInWorker(specs: DatasetSpec[], settings: LoadSettings, cpuShare: number): Promise<LoadReply[]> {
  const replies = await loader.run({ specs, settings, maxWarnings: MAX_WARNING_LINES, cpuShare });
  if (replies.length !== specs.length) throw new Error(`dataset loader thread sent ${replies.length} replies for ${specs.length} datasets`);
  return replies;
}

/** A dataset that holds no data, only the SOA/NS quorumbl gives the zones it builds itself
 *  (listed first, so the zone takes its SOA and NS from it). */
function zoneMetaDataset(soa: Soa | undefined, ns: NsSet | undefined): Dataset {
  return {
    type: 'zone-meta',
    ttl: soa?.ttl ?? 0,
    meta: { soa, ns },
    size: 0,
    query: () => false,
    dump: () => {},
    snapshot: () => ({ type: 'zone-meta', meta: null, arrays: [] }),
    records: () => [], // no data: the mirrors and configured zones it heads stay transferable
  };
}

export class ZoneStore {
  private entries = new Map<string, Entry>();
  private running: Promise<boolean> | null = null;
  private again = false;

  constructor(
    private zones: ZoneSpec[],
    private readonly opts: StoreOptions,
  ) {
    this.entries = this.entriesFor(zones);
  }

  /** One entry per distinct dataset of `zones`; those already known are kept (with their data). */
  private entriesFor(zones: ZoneSpec[]): Map<string, Entry> {
    const out = new Map<string, Entry>();
    for (const z of zones) {
      for (const d of z.datasets) {
        const key = datasetKey(d);
        if (!out.has(key)) out.set(key, this.entries?.get(key) ?? { key, label: datasetLabel(d), spec: d });
      }
    }
    return out;
  }

  /** A config reload: loads the datasets `zones` adds (the served ones keep answering), and
   *  returns the required ones that did not load, or a commit that swaps the new zone list in
   *  with one publication (zones removed stop being served; their data is dropped). Nothing
   *  changes until commit. */
  async prepareZones(zones: ZoneSpec[]): Promise<{ failures: { spec: DatasetSpec; error: string }[]; commit: () => void }> {
    while (this.running) await this.running.catch(() => {});
    const next = this.entriesFor(zones);
    const fresh = [...next.values()].filter((e) => !this.entries.has(e.key));
    const run = this.runCheck(true, fresh);
    this.running = run;
    try {
      await run;
    } finally {
      this.running = null;
      if (this.again) {
        this.again = false;
        this.check().catch((err: unknown) => this.opts.log.error({ err: (err as Error).message }, 'zone file check failed; the loaded data keeps answering'));
      }
    }
    const failures = fresh.filter((e) => !e.dataset && !this.absentOptional(e)).map((e) => ({ spec: e.spec, error: e.error ?? 'not loaded' }));
    return {
      failures,
      commit: () => {
        for (const key of this.expired) if (!next.has(key)) this.expired.delete(key);
        this.zones = zones;
        this.entries = next;
        this.publish();
      },
    };
  }

  /** True when every dataset has data (from a snapshot or a load). */
  get complete(): boolean {
    return [...this.entries.values()].every((e) => e.dataset || this.absentOptional(e));
  }

  /** Required datasets that have never loaded, with the reason. */
  get failures(): { spec: DatasetSpec; error: string }[] {
    return [...this.entries.values()].filter((e) => !e.dataset && !this.absentOptional(e)).map((e) => ({ spec: e.spec, error: e.error ?? 'not loaded' }));
  }

  /** Optional data whose file does not exist yet: nothing to wait for. */
  private absentOptional(e: Entry): boolean {
    return !!e.spec.optional && !e.spec.files.every((f) => existsSync(f));
  }

  private snapshotPath(e: Entry): string | undefined {
    return this.opts.stateDir ? snapshotFileFor(this.opts.stateDir, e.spec, this.opts.settings).path : undefined;
  }

  private snapshotKey(e: Entry): string {
    return snapshotKeyFor(e.spec, this.opts.settings);
  }

  /** A snapshot written for exactly these files (the sync engine writes one for each promoted
   *  copy it has already parsed): loading it saves parsing the text a second time. */
  private async snapshotMatching(e: Entry, now: string): Promise<boolean> {
    const path = this.snapshotPath(e);
    if (!path) return false;
    const started = Date.now();
    try {
      const snap = await readSnapshot(path);
      const type = datasetType(snap.part.type);
      if (snap.key !== this.snapshotKey(e) || stampsText(snap.stamps) !== now || !type) return false;
      e.dataset = type.fromSnapshot(snap.part);
      e.stamps = snap.stamps;
      e.failedAt = undefined;
      e.error = undefined;
      this.opts.log.info({ dataset: e.label, entries: e.dataset.size, ms: Date.now() - started, from: 'the snapshot staged by the sync' }, 'dataset loaded');
      return true;
    } catch {
      return false;
    }
  }

  /** Loads whatever snapshots exist, so the server can answer before any text is read. */
  async loadSnapshots(): Promise<number> {
    let n = 0;
    for (const e of this.entries.values()) {
      const path = this.snapshotPath(e);
      if (!path) continue;
      try {
        const snap = await readSnapshot(path);
        if (snap.key !== this.snapshotKey(e)) continue;
        const type = datasetType(snap.part.type);
        if (!type) continue;
        e.dataset = type.fromSnapshot(snap.part);
        e.stamps = snap.stamps;
        n++;
        this.opts.log.info({ dataset: e.label, snapshot: path, entries: e.dataset.size }, 'dataset loaded from snapshot');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
          this.opts.log.warn({ dataset: e.label, snapshot: path, err: (err as Error).message }, 'snapshot ignored');
        }
      }
    }
    if (n) this.publish();
    return n;
  }

  /** Stats every file and reloads changed datasets. `force` retries failed ones too (SIGHUP).
   *  Resolves true when something changed. Concurrent calls coalesce. */
  check(force = false): Promise<boolean> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = this.runCheck(force).finally(() => {
      this.running = null;
      if (this.again) {
        this.again = false;
        // A follow-up check nobody awaits: its failure is logged here, never an unhandled rejection.
        this.check(force).catch((err: unknown) => this.opts.log.error({ err: (err as Error).message }, 'zone file check failed; the loaded data keeps answering'));
      }
    });
    return this.running;
  }

  private async runCheck(force: boolean, only?: Entry[]): Promise<boolean> {
    const todo: { e: Entry; now: string }[] = [];
    for (const e of only ?? this.entries.values()) {
      let now: FileStamp[];
      try {
        now = e.spec.files.map(stampOf);
      } catch (err) {
        const msg = `cannot read data file: ${(err as Error).message}`;
        if (e.error !== msg) {
          if (e.spec.optional && !e.dataset && (err as NodeJS.ErrnoException).code === 'ENOENT') this.opts.log.info({ dataset: e.label }, 'no data yet (waiting for the first sync)');
          else this.opts.log.error({ dataset: e.label, err: msg, serving: e.dataset ? 'last good data' : 'nothing' }, e.dataset ? 'dataset not reloaded' : 'dataset not loaded');
        }
        e.error = msg;
        continue;
      }
      const text = stampsText(now);
      if (e.stamps && stampsText(e.stamps) === text) continue;
      if (!force && e.failedAt === text) continue;
      todo.push({ e, now: text });
    }
    let changed = false;
    for (let i = todo.length - 1; i >= 0; i--) {
      if (await this.snapshotMatching(todo[i]!.e, todo[i]!.now)) {
        todo.splice(i, 1);
        changed = true;
      }
    }
    if (todo.length) {
      const started = Date.now();
      let replies: LoadReply[];
      try {
        // A reload (the data is already served) yields the CPU to DNS; a first load does not.
        const share = todo.every((t) => t.e.dataset) ? (this.opts.cpuShare ?? 1) : 1;
        replies = await loadInWorker(
          todo.map((t) => t.e.spec),
          this.opts.settings,
          share,
        );
      } catch (err) {
        // The loader thread itself failed (out of memory, crash): keep serving what we have.
        const msg = `loader thread failed: ${(err as Error).message}`;
        replies = todo.map(() => ({ ok: false as const, error: msg, warnings: 0, samples: [] }));
      }
      replies.forEach((r, i) => {
        const { e, now } = todo[i]!;
        const ctx = { dataset: e.label, warnings: r.warnings };
        for (const s of r.samples) this.opts.log.warn({ dataset: e.label }, s);
        if (r.warnings > r.samples.length) this.opts.log.warn(ctx, `${r.warnings - r.samples.length} more warnings suppressed`);
        if (!r.ok) {
          e.failedAt = now;
          e.error = r.error;
          this.opts.log.error({ ...ctx, err: r.error, serving: e.dataset ? 'last good data' : 'nothing' }, 'dataset load failed');
          return;
        }
        const type = datasetType(r.part.type)!;
        e.dataset = type.fromSnapshot(r.part);
        e.stamps = r.stamps;
        e.failedAt = undefined;
        e.error = undefined;
        changed = true;
        this.opts.log.info({ ...ctx, entries: e.dataset.size, ms: Date.now() - started }, 'dataset loaded');
        const path = this.snapshotPath(e);
        if (path) {
          writeSnapshot(path, { key: this.snapshotKey(e), stamps: r.stamps, part: r.part }).catch((err) =>
            this.opts.log.warn({ dataset: e.label, err: (err as Error).message }, 'snapshot not written'),
          );
        }
      });
    }
    if (only) return changed; // a reload's new datasets: published by its commit
    if (this.expiryChanged()) changed = true;
    if (changed) this.publish();
    return changed;
  }

  private expired = new Set<string>();

  /** `$TIMESTAMP` expiry is evaluated at every check, like rbldnsd. */
  private expiryChanged(): boolean {
    const now = Date.now() / 1000;
    let changed = false;
    for (const e of this.entries.values()) {
      const exp = e.dataset?.meta.expires;
      const isExpired = !!exp && exp < now;
      if (isExpired !== this.expired.has(e.key)) {
        changed = true;
        if (isExpired) {
          this.expired.add(e.key);
          this.opts.log.error({ dataset: e.label }, 'dataset data expired ($TIMESTAMP): zone answers SERVFAIL');
        } else this.expired.delete(e.key);
      }
    }
    return changed;
  }

  private publish(): void {
    const zones: LoadedZone[] = this.zones.map((z) => {
      const all = z.datasets.map((d) => this.entries.get(datasetKey(d))!);
      const entries = all.filter((e) => e.spec.type !== 'acl');
      const loaded = entries.filter((e) => e.dataset);
      const own = z.soa || z.ns ? [zoneMetaDataset(z.soa, z.ns)] : [];
      return {
        name: z.name,
        datasets: [...own, ...loaded.map((e) => e.dataset!)],
        newestMtime: Math.max(0, ...loaded.flatMap((e) => e.stamps!.map((s) => s.mtime))),
        failed: loaded.length < entries.length || entries.some((e) => this.expired.has(e.key)),
        acl: all.find((e) => e.spec.type === 'acl')?.dataset,
      };
    });
    const all = [...zones, ...this.extra];
    this.answering = all.filter((z) => z.name !== '').map((z) => ({ name: z.name, failed: z.failed }));
    this.opts.onChange(all);
  }

  private extra: LoadedZone[] = [];
  private answering: { name: string; failed: boolean }[] = [];

  /** The zones as last published: `failed` ones answer SERVFAIL (data never loaded, a mirror
   *  never synced, expired data, merged zones before their first evidence). For /readyz. */
  get published(): readonly { name: string; failed: boolean }[] {
    return this.answering;
  }

  /** Zones built elsewhere (the merged bl/wl/dbl): published with the file-backed ones. */
  setExtraZones(zones: LoadedZone[]): void {
    this.extra = zones;
    this.publish();
  }

  /** The loaded dataset of a spec (a source mirror's data, for the merge), if any. */
  datasetOf(spec: DatasetSpec): Dataset | undefined {
    return this.entries.get(datasetKey(spec))?.dataset;
  }

  /** The file stamps the loaded dataset of a spec was read from (what the merge's persisted
   *  evidence was built from: sync/merge/persist.ts). */
  stampsOf(spec: DatasetSpec): FileStamp[] | undefined {
    const e = this.entries.get(datasetKey(spec));
    return e?.dataset ? e.stamps : undefined;
  }
}
