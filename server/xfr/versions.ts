// Materialised versions of the zones that may be transferred, and the IXFR journal.
//
// Every `delay` the current zone table is looked at: a zone some acl entry could allow whose
// serial changed (a merge or an override writes `Zone.liveSerial` in place) or whose datasets
// were replaced (a reload swaps the table) is materialised again from its datasets' records()
// and compared with the version before; the difference becomes a journal entry. Zones no acl
// entry names are never materialised (no cost without transfers).
//
// The work runs in slices of ~4 ms with setImmediate between them, so a 1M-record zone never
// holds the event loop (UDP answers) for more than a few ms; the diff is two slice-wise passes
// over the key maps. A version is immutable once published: a transfer streams from the
// version it captured, whatever is published meanwhile.

import type { Logger } from '../../core/log.ts';
import type { Dataset } from '../../core/datasets/types.ts';
import { RR, recordKey, type ZoneRecord } from '../../core/zones/records.ts';
import type { Zone, ZoneTable } from '../zones.ts';
import { serialGt } from './serial.ts';

export interface ZoneVersion {
  readonly zone: string;
  readonly serial: number;
  readonly soa: ZoneRecord;
  /** recordKey of every NS and data record (no SOA), deduplicated, in materialisation order.
   *  Only the keys are kept (half the memory of keys + record objects); records() parses them.
   *  Never changed after publishing. */
  readonly keys: ReadonlySet<string>;
  /** NS and data records (not the SOA). */
  records(): Iterable<ZoneRecord>;
}

/** recordKey(r) back to r: name, type and TTL hold no tab; the data is the rest. */
export function recordFromKey(k: string): ZoneRecord {
  const a = k.indexOf('\t');
  const b = k.indexOf('\t', a + 1);
  const c = k.indexOf('\t', b + 1);
  return { name: k.slice(0, a), type: Number(k.slice(a + 1, b)), ttl: Number(k.slice(b + 1, c)), data: k.slice(c + 1) };
}

function* parsed(keys: ReadonlySet<string>): Iterable<ZoneRecord> {
  for (const k of keys) yield recordFromKey(k);
}

/** The difference from one version to the next (RFC 1995 sequence). */
export interface JournalEntry {
  readonly from: number;
  readonly to: number;
  readonly fromSoa: ZoneRecord;
  readonly toSoa: ZoneRecord;
  readonly removed: readonly ZoneRecord[];
  readonly added: readonly ZoneRecord[];
}

export interface VersionsOptions {
  /** Differences kept per zone. */
  journal: number;
  maxExpansion: number;
  /** Changes within this are one new version (ms). */
  delayMs: number;
  /** The table the server answers from now. */
  table: () => ZoneTable;
  /** Whether a zone (full name) may be transferred by anyone (an acl entry covers it). */
  wanted: (zone: string) => boolean;
  log: Logger;
  /** CPU per slice before yielding (ms). */
  sliceMs?: number;
  /** A materialisation threw (counted in the server's counters). */
  onFailure?: (zone: string) => void;
}

export interface ZoneState {
  /** null = transferable (or not yet materialised); else why not. */
  problem: string | null;
  /** Materialisations that threw (the previous version stays). */
  failures: number;
  lastError: string | null;
  /** Ranges records() left out (reported by the dataset), at the last materialisation. */
  reported: number;
}

interface Tracked {
  zone: Zone;
  datasets: readonly Dataset[];
  serial: number;
  version: ZoneVersion | null;
  journal: JournalEntry[];
  state: ZoneState;
}

const yieldTurn = () => new Promise<void>((r) => setImmediate(r));

export class ZoneVersions {
  private readonly zones = new Map<string, Tracked>();
  private readonly listeners: ((zone: string, serial: number) => void)[] = [];
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private stopped = false;
  private readonly sliceMs: number;

  constructor(private o: VersionsOptions) {
    this.sliceMs = o.sliceMs ?? 4;
  }

  /** A reload changed the acl or the journal/expansion settings. */
  configure(o: Partial<Pick<VersionsOptions, 'journal' | 'maxExpansion' | 'delayMs' | 'wanted'>>): void {
    this.o = { ...this.o, ...o };
    this.kick(0);
  }

  start(): void {
    this.stopped = false;
    this.kick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.running;
  }

  /** Called with every newly published version (NOTIFY). */
  onNewVersion(listener: (zone: string, serial: number) => void): void {
    this.listeners.push(listener);
  }

  current(zone: string): ZoneVersion | undefined {
    return this.zones.get(zone)?.version ?? undefined;
  }

  /** The differences leading from `serial` to the current version, or null when the journal
   *  does not reach back that far. */
  journalFrom(zone: string, serial: number): readonly JournalEntry[] | null {
    const t = this.zones.get(zone);
    if (!t?.version) return null;
    const i = t.journal.findIndex((e) => e.from === serial >>> 0);
    return i < 0 ? null : t.journal.slice(i);
  }

  state(zone: string): ZoneState | undefined {
    return this.zones.get(zone)?.state;
  }

  /** Every tracked zone's state (for /readyz and metrics). */
  states(): Map<string, ZoneState & { serial: number | null; records: number }> {
    const out = new Map<string, ZoneState & { serial: number | null; records: number }>();
    for (const [name, t] of this.zones) out.set(name, { ...t.state, serial: t.version?.serial ?? null, records: t.version?.keys.size ?? 0 });
    return out;
  }

  /** Resolves once every pending change is materialised (tests, and a reload that waits). */
  async settle(): Promise<void> {
    for (;;) {
      if (this.running) await this.running;
      if (this.stopped || !this.scan(true)) return;
      await this.runRound();
    }
  }

  private runRound(): Promise<void> {
    if (this.running) return this.running;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.running = this.round().finally(() => {
      this.running = null;
      this.kick();
    });
    return this.running;
  }

  private kick(delay = this.o.delayMs): void {
    if (this.stopped || this.running) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.runRound();
    }, delay);
    this.timer.unref();
  }

  /** Whether some zone needs work; with `dryRun` false also drops zones that went away. */
  private scan(dryRun: boolean): boolean {
    const table = this.o.table();
    let need = false;
    const seen = new Set<string>();
    for (const z of table.zones) {
      if (!this.o.wanted(z.name)) continue;
      seen.add(z.name);
      if (this.needs(z)) need = true;
    }
    if (!dryRun) {
      for (const name of this.zones.keys()) if (!seen.has(name)) this.zones.delete(name);
    }
    return need;
  }

  private serialOf(z: Zone): number {
    return (z.liveSerial?.serial ?? z.soaSerial) >>> 0;
  }

  private needs(z: Zone): boolean {
    if (z.failed) return false; // keep the last good version
    const t = this.zones.get(z.name);
    if (!t) return true;
    if (t.serial !== this.serialOf(z)) return true;
    if (t.zone === z) return false;
    // A new table: the same datasets and serial are the same content.
    const same = t.datasets.length === z.datasets.length && t.datasets.every((d, i) => d === z.datasets[i]);
    if (same) {
      t.zone = z;
      return false;
    }
    return true;
  }

  private async round(): Promise<void> {
    const table = this.o.table();
    this.scan(false);
    for (const z of table.zones) {
      if (this.stopped) return;
      if (!this.o.wanted(z.name) || !this.needs(z)) continue;
      await this.materialise(z);
    }
  }

  private track(z: Zone): Tracked {
    let t = this.zones.get(z.name);
    if (!t) {
      t = { zone: z, datasets: z.datasets, serial: -1, version: null, journal: [], state: { problem: null, failures: 0, lastError: null, reported: 0 } };
      this.zones.set(z.name, t);
    }
    return t;
  }

  private async materialise(z: Zone): Promise<void> {
    const t = this.track(z);
    const log = this.o.log;
    const lacking = z.datasets.find((d) => typeof d.records !== 'function');
    const soaMeta = z.datasets.find((d) => d.meta.soa)?.meta;
    const problem = lacking ? `its ${lacking.type} dataset cannot list its records` : !soaMeta?.soa ? 'it has no SOA' : null;
    if (problem) {
      if (t.state.problem !== problem) log.warn({ zone: z.name, problem }, 'zone transfer: zone is not transferable');
      t.state.problem = problem;
      t.zone = z;
      t.datasets = z.datasets;
      t.serial = this.serialOf(z);
      t.version = null;
      t.journal = [];
      return;
    }
    t.state.problem = null;
    const started = performance.now();
    const soa = soaMeta!.soa!;
    let reported = 0;
    const problems: string[] = [];
    const opts = {
      maxExpansion: this.o.maxExpansion,
      report: (p: string) => {
        reported++;
        if (problems.length < 5) problems.push(p);
      },
    };
    const records = new Set<string>();
    let serial: number;
    try {
      // The serial and the datasets' states are read in the same turn (records() captures its
      // state when iteration starts: the first next()).
      serial = this.serialOf(z);
      const iters = z.datasets.map((d) => d.records!(opts)[Symbol.iterator]());
      const firsts = iters.map((it) => it.next());
      const ns = soaMeta!.ns ?? z.datasets.find((d) => d.meta.ns)?.meta.ns;
      if (ns) for (const n of ns.names) add(records, { name: '', type: RR.NS, ttl: ns.ttl, data: absolute(n) });
      let deadline = performance.now() + this.sliceMs;
      let i = 0;
      for (let k = 0; k < iters.length; k++) {
        let r = firsts[k]!;
        while (!r.done) {
          add(records, r.value);
          if ((++i & 511) === 0 && performance.now() > deadline) {
            await yieldTurn();
            if (this.stopped) return;
            deadline = performance.now() + this.sliceMs;
          }
          r = iters[k]!.next();
        }
      }
    } catch (err) {
      t.state.failures++;
      t.state.lastError = (err as Error).message;
      this.o.onFailure?.(z.name);
      log.error({ zone: z.name, err: (err as Error).message, failures: t.state.failures }, 'zone transfer: materialising the zone failed; the previous version stays');
      // Do not retry the same content in a loop: wait for the next change.
      t.zone = z;
      t.datasets = z.datasets;
      t.serial = this.serialOf(z);
      return;
    }
    const soaRecord: ZoneRecord = {
      name: '',
      type: RR.SOA,
      ttl: soa.ttl,
      data: `${absolute(soa.mname)} ${absolute(soa.rname)} ${serial} ${soa.refresh} ${soa.retry} ${soa.expire} ${soa.minimum}`,
    };
    const version: ZoneVersion = { zone: z.name, serial, soa: soaRecord, keys: records, records: () => parsed(records) };
    const prev = t.version;
    let entry: JournalEntry | null = null;
    if (prev && this.o.journal > 0) {
      const removed = await this.minus(prev.keys, records);
      const added = await this.minus(records, prev.keys);
      if (this.stopped) return;
      if (serial === prev.serial) {
        if (removed.length || added.length) log.warn({ zone: z.name, serial, removed: removed.length, added: added.length }, 'zone transfer: the content changed but the serial did not; secondaries will not see it until the serial rises');
      } else if (serialGt(serial, prev.serial)) {
        entry = { from: prev.serial, to: serial, fromSoa: prev.soa, toSoa: soaRecord, removed, added };
      }
    }
    // Publish: version and journal change in one step.
    t.zone = z;
    t.datasets = z.datasets;
    t.serial = serial;
    t.version = version;
    t.state.reported = reported;
    if (entry) {
      t.journal.push(entry);
      if (t.journal.length > this.o.journal) t.journal.splice(0, t.journal.length - this.o.journal);
    } else if (!prev || serial !== prev.serial) {
      t.journal = []; // the chain is broken (first version, serial went back, or journal 0)
    }
    if (reported) log.warn({ zone: z.name, left_out: reported, examples: problems }, 'zone transfer: ranges a secondary cannot answer as quorumbl does were left out');
    log.info({ zone: z.name, serial, records: records.size, ms: Math.round(performance.now() - started), diff: entry ? { removed: entry.removed.length, added: entry.added.length } : null }, 'zone transfer: new version');
    if (prev && serial === prev.serial) return;
    for (const l of this.listeners) {
      try {
        l(z.name, serial);
      } catch (err) {
        log.error({ zone: z.name, err: (err as Error).message }, 'zone transfer: a new-version listener failed');
      }
    }
  }

  /** Records of `a` whose key is not in `b`, in slices. */
  private async minus(a: ReadonlySet<string>, b: ReadonlySet<string>): Promise<ZoneRecord[]> {
    const out: ZoneRecord[] = [];
    let deadline = performance.now() + this.sliceMs;
    let i = 0;
    for (const k of a) {
      if (!b.has(k)) out.push(recordFromKey(k));
      if ((++i & 1023) === 0 && performance.now() > deadline) {
        await yieldTurn();
        if (this.stopped) return out;
        deadline = performance.now() + this.sliceMs;
      }
    }
    return out;
  }
}

function absolute(name: string): string {
  return name.endsWith('.') ? name.toLowerCase() : name.toLowerCase() + '.';
}

/** Written so the conversion below is not optimised away. */
let flatSink = 0;

function add(m: Set<string>, r: ZoneRecord): void {
  const k = recordKey(r);
  // A template literal is a rope of several heap objects; a number conversion flattens it in
  // place (the flatstr trick): 1M keys take ~67 MB instead of ~218 MB.
  flatSink |= (k as unknown as number) | 0;
  m.add(k);
}
