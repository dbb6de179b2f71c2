// One sync of one source: fetch into staging, parse and measure in a worker thread, run the
// guards against the last good copy, then either promote the staging file to the last good
// copy (the mirror zone reloads from it) or quarantine it with the reasons. The last good copy
// is never written by a fetch, so a broken upstream can neither empty nor poison a zone.

import { mkdirSync, renameSync, rmSync, existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../core/log.ts';
import type { DiskGuard } from '../core/disk.ts';
import { cleanSource } from './cleanup.ts';
import type { Config } from '../core/config/schema.ts';
import type { DatasetSpec, LoadSettings } from '../core/zones/spec.ts';
import { fetchSource, type FetchResult } from './fetch/index.ts';
import { checkGuards, type GuardConfig, type SourceStats } from './guards.ts';
import { sourcePaths, quarantineSnapshotPath, removeQuarantined, type SyncState } from './state.ts';
import { measureInWorker } from './measure.ts';
import { SyncLeases, describeHolder, type Lease, type LeaseHolder } from './lease.ts';

export type SourceConfig = Config['sources'][number];

/** 'busy': another process holds the source's sync lease (nothing was fetched). */
export type Outcome = 'ok' | 'not-modified' | 'failed' | 'quarantined' | 'busy';

export interface SyncResult {
  name: string;
  outcome: Outcome;
  error?: string;
  reasons?: string[];
  bytes?: number;
  stats?: SourceStats;
  ms: number;
  /** 'busy': who holds the lease. Else, when the sync was done by another process while this
   *  one waited for it: who did it (its result is reported, no second fetch is made). */
  holder?: LeaseHolder;
}

export interface SyncCallOptions {
  /** How long to wait for another process's sync of the same source (ms); 0: do not wait. */
  waitMs?: number;
  /** Called when the sync has to wait, with the holder (again when the holder changes). */
  onWait?(holder: LeaseHolder): void;
  /** Called once the lease is taken and the run recorded, with its id (a "sync now" answers with it). */
  onStarted?(runId: number): void;
}

export interface EngineOptions {
  stateDir: string;
  state: SyncState;
  log: Logger;
  userAgent: string;
  settings: LoadSettings;
  /** Called after a new last good copy is in place (the mirror zone should reload). */
  onCommitted?(name: string): void;
  /** Where the mirror zone's loader looks for a snapshot of a source's copy: the engine stages
   *  one from its own parse, so the server need not parse the text again. */
  snapshotTarget?(name: string): { path: string; key: string; spec: DatasetSpec } | undefined;
  /** Progress of the running sync (for a terminal display). */
  onProgress?(name: string, phase: 'fetch' | 'parse' | 'guards', bytes: number): void;
  /** Share of one core the parse of a download may use: background.cpu_share inside `serve`
   *  (DNS answers beside it), 1 for `quorumbl sync`. */
  cpuShare?: number;
  /** The state disk's watcher (serve): no sync starts while the disk cannot take writes, and a
   *  sync failing on the disk reports it there. */
  disk?: DiskGuard;
  /** The cross-process sync leases (default: on the state's database). */
  leases?: SyncLeases;
  /** Poll interval while waiting for another process's lease (ms). */
  waitPollMs?: number;
}

export function guardConfig(s: SourceConfig): GuardConfig {
  return {
    maxErrorRatio: s.guards.max_error_ratio,
    maxShrink: s.guards.max_shrink,
    maxGrow: s.guards.max_grow,
    worldShareFactor: s.guards.world_share,
    requireTestPoint: s.guards.test_point,
  };
}

export class SyncEngine {
  private readonly running = new Map<string, Promise<SyncResult>>();
  readonly leases: SyncLeases;

  constructor(
    private readonly sources: SourceConfig[],
    private readonly opts: EngineOptions,
  ) {
    this.leases = opts.leases ?? new SyncLeases(opts.state.db);
    // Runs left open by a process that stopped mid-sync are recorded as interrupted; the run
    // another live process is doing right now is not. (Each sync does it again for its source.)
    try {
      opts.state.abandonRunning((source, holder) => this.leases.holderLive(source, holder));
    } catch (err) {
      // A read-only or full state disk at start: the runs stay open until it can write.
      if (!opts.disk?.report(err)) opts.log.warn({ err: (err as Error).message }, 'interrupted sync runs not recorded now (each source\'s next sync does it)');
    }
  }

  /** Whether this process is syncing `name` now. */
  isRunning(name: string): boolean {
    return this.running.has(name);
  }

  get names(): string[] {
    return this.sources.map((s) => s.name);
  }

  /** Syncs one source now; a second call while it runs joins the first. When another process
   *  syncs it, waits up to `waitMs` (default: do not wait, outcome 'busy'). Never rejects. */
  sync(name: string, call: SyncCallOptions = {}): Promise<SyncResult> {
    const running = this.running.get(name);
    if (running) return running;
    const src = this.sources.find((s) => s.name === name);
    const started = Date.now();
    const p = (src ? this.leased(src, call).catch((err: unknown) => this.crashed(src, err, started)) : Promise.resolve<SyncResult>({ name, outcome: 'failed', error: `unknown source "${name}"`, ms: 0 }))
      .finally(() => this.running.delete(name));
    this.running.set(name, p);
    return p;
  }

  /** Syncs the given sources (default: all), one after the other (bounded memory). */
  async syncAll(names: string[] = this.names): Promise<SyncResult[]> {
    const out: SyncResult[] = [];
    for (const n of names) out.push(await this.sync(n));
    return out;
  }

  /** A sync that threw (a write to the state directory or database failed: full, read-only):
   *  logged, handed to the disk watcher, its partial files removed; the last good copy serves on. */
  private crashed(src: SourceConfig, err: unknown, started: number): SyncResult {
    const msg = (err as Error)?.message ?? String(err);
    const disk = this.opts.disk?.report(err) ?? false;
    this.cleanup(src.name);
    this.opts.log.error({ source: src.name, err: msg, ...(disk ? { disk: this.opts.disk!.refusal()?.message } : {}) }, 'sync failed; the last good copy keeps serving');
    return { name: src.name, outcome: 'failed', error: msg, ms: Date.now() - started };
  }

  /** Removes a failed sync's staging files and staged snapshot (never throws). */
  private cleanup(name: string): void {
    const t = this.opts.snapshotTarget?.(name);
    cleanSource(this.opts.stateDir, name, t && `${t.path}.staged`);
  }

  /** Takes the source's lease (waiting for another process when asked), runs the sync while
   *  renewing it, and releases it. */
  private async leased(src: SourceConfig, call: SyncCallOptions): Promise<SyncResult> {
    const { state, log } = this.opts;
    const started = Date.now();
    const refusal = this.opts.disk?.refusal();
    if (refusal) {
      // Nothing is written (not even the lease or the run record): the disk could not take it.
      log.warn({ source: src.name, reason: refusal.message }, 'sync skipped: the state disk cannot take writes; the last good copy keeps serving');
      return { name: src.name, outcome: 'failed', error: `skipped: ${refusal.message}`, ms: 0 };
    }
    const deadline = started + (call.waitMs ?? 0);
    let waitedFor: LeaseHolder | undefined;
    const waitedTokens = new Set<string>();
    let lease: Lease;
    for (;;) {
      const r = this.leases.tryAcquire(src.name);
      if ('lease' in r) {
        lease = r.lease;
        break;
      }
      if (Date.now() >= deadline) {
        log.debug({ source: src.name, holder: describeHolder(r.heldBy) }, 'sync not started: another process is syncing this source');
        return { name: src.name, outcome: 'busy', holder: r.heldBy, error: `a sync is already running: ${describeHolder(r.heldBy)}`, ms: Date.now() - started };
      }
      if (waitedFor?.holder !== r.heldBy.holder) call.onWait?.(r.heldBy);
      waitedFor = r.heldBy;
      waitedTokens.add(r.heldBy.holder);
      await new Promise((res) => setTimeout(res, Math.min(this.opts.waitPollMs ?? 250, Math.max(1, deadline - Date.now()))));
    }
    try {
      // We hold the lease: any run of this source still open was left by a process that died.
      state.abandonRunning(() => false, src.name);
      if (waitedFor) {
        // The process we waited for has just synced it: report its result, do not fetch twice
        // in a row (upstreams limit how often one may fetch).
        const done = state.finishedSince(src.name, started);
        if (done && waitedTokens.has(done.holder ?? '') && (done.outcome === 'ok' || done.outcome === 'not-modified')) {
          log.info({ source: src.name, by: describeHolder(waitedFor), outcome: done.outcome }, 'sync done by another process meanwhile');
          const stats = state.lastGoodStats(src.name) ?? undefined;
          return { name: src.name, outcome: done.outcome, bytes: done.bytes ?? undefined, stats, holder: waitedFor, ms: Date.now() - started };
        }
      }
      const renew = setInterval(() => {
        try {
          if (!this.leases.renew(lease)) log.error({ source: src.name }, 'sync lease lost (another process took it over): this sync will not replace the data');
        } catch (err) {
          log.warn({ source: src.name, err: (err as Error).message }, 'sync lease not renewed');
        }
      }, Math.max(1000, Math.floor(this.leases.ttlMs / 3)));
      renew.unref();
      try {
        return await this.run(src, lease, call.onStarted);
      } finally {
        clearInterval(renew);
      }
    } finally {
      try {
        this.leases.release(lease);
      } catch (err) {
        log.warn({ source: src.name, err: (err as Error).message }, 'sync lease not released (it expires by itself)');
      }
    }
  }

  private async run(src: SourceConfig, lease: Lease, onStarted?: (runId: number) => void): Promise<SyncResult> {
    const { state, log } = this.opts;
    const started = Date.now();
    const paths = sourcePaths(this.opts.stateDir, src.name);
    mkdirSync(paths.staging, { recursive: true });
    const staged = join(paths.staging, 'download');
    const current = paths.current;
    const runId = state.beginRun(src.name, lease.holder);
    onStarted?.(runId);
    const done = (r: Omit<SyncResult, 'name' | 'ms'>): SyncResult => ({ name: src.name, ms: Date.now() - started, ...r });
    let fetched: FetchResult;
    try {
      // Without a last good copy a 304 would leave nothing to serve: fetch unconditionally.
      const validators = existsSync(current) ? state.getValidators(src.name) : undefined;
      fetched = await fetchSource({
        url: src.fetch,
        dest: staged,
        validators,
        connectTimeoutMs: src.connect_timeout * 1000,
        timeoutMs: src.timeout * 1000,
        maxBytes: src.max_size,
        maxRedirects: 5,
        retries: src.retries,
        userAgent: this.opts.userAgent,
        tsig: src.tsig,
        basis: existsSync(current) ? current : undefined, // rsync compares against the last good copy
        onProgress: (b) => this.opts.onProgress?.(src.name, 'fetch', b),
      });
    } catch (err) {
      const msg = (err as Error).message;
      this.cleanup(src.name);
      this.opts.disk?.report(err);
      state.finishFailed(runId, msg);
      log.error({ source: src.name, err: msg }, 'sync failed: fetch');
      return done({ outcome: 'failed', error: msg });
    }
    if (fetched.status === 'not-modified') {
      state.finishNotModified(runId);
      log.info({ source: src.name }, 'sync: not modified');
      return done({ outcome: 'not-modified' });
    }
    const bytes = statSync(staged).size;
    let stats: SourceStats;
    let samples: string[];
    let stagedSnap: string | undefined;
    try {
      this.opts.onProgress?.(src.name, 'parse', bytes);
      const t = this.opts.snapshotTarget?.(src.name);
      ({ stats, samples, staged: stagedSnap } = await measureInWorker(staged, src, this.opts.settings, t && { ...t, current }, this.opts.cpuShare));
    } catch (err) {
      const msg = `cannot parse the download: ${(err as Error).message}`;
      this.cleanup(src.name);
      this.opts.disk?.report(err);
      state.finishFailed(runId, msg, bytes);
      log.error({ source: src.name, err: msg }, 'sync failed: parse');
      return done({ outcome: 'failed', error: msg, bytes });
    }
    for (const s of samples) log.warn({ source: src.name }, s);
    this.opts.onProgress?.(src.name, 'guards', bytes);
    const last = existsSync(current) ? state.lastGoodStats(src.name) : null;
    const verdict = checkGuards(stats, last, guardConfig(src));
    if (!verdict.ok) {
      mkdirSync(paths.quarantine, { recursive: true });
      const qfile = join(paths.quarantine, new Date().toISOString().replace(/[:.]/g, '-'));
      renameSync(staged, qfile);
      // Its parsed snapshot goes with it: `sources accept` then serves it without a re-parse.
      if (stagedSnap) renameSync(stagedSnap, quarantineSnapshotPath(qfile, stagedSnap.slice(0, -'.staged'.length)));
      const replaced = state.finishQuarantined(runId, { reasons: verdict.reasons, path: qfile, stats, bytes, validators: fetched.validators });
      if (replaced) removeQuarantined(replaced); // only the newest rejected copy is kept
      log.error({ source: src.name, reasons: verdict.reasons, quarantine: qfile }, 'sync: update quarantined, last good copy keeps serving');
      return done({ outcome: 'quarantined', reasons: verdict.reasons, bytes, stats });
    }
    if (!this.leases.renew(lease)) {
      // Stalled past the lease's expiry and another process took the source over: its copy wins.
      // (The staging files are left alone: they are the new holder's now.)
      const msg = 'sync lease lost to another process: this download is discarded';
      state.finishFailed(runId, msg, bytes);
      log.error({ source: src.name, err: msg }, 'sync failed: lease lost');
      return done({ outcome: 'failed', error: msg, bytes });
    }
    // The snapshot first: when the loader sees the new copy, its snapshot is already there.
    if (stagedSnap) renameSync(stagedSnap, stagedSnap.slice(0, -'.staged'.length));
    renameSync(staged, current);
    const stale = state.finishOk(runId, { bytes, stats, validators: fetched.validators });
    if (stale) removeQuarantined(stale); // a quarantined copy this update supersedes
    log.info({ source: src.name, entries: stats.entries, bytes, ms: Date.now() - started }, 'sync: new data in place');
    this.opts.onCommitted?.(src.name);
    return done({ outcome: 'ok', bytes, stats });
  }
}
