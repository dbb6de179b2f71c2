// rbldnsd `ip4tset` ("trivial" set): complete dotted quads only, no exclusions, one A+TXT for
// the whole dataset (the first valid default line anywhere; values after keys are ignored).
// Storage: one sorted, deduplicated Uint32Array (4 bytes per entry).

import type { Dataset, DatasetLoader, DatasetMeta, DatasetType, Query, RecordSink, SnapshotPart } from './types.ts';
import type { LoadState, Loc } from '../rbldnsd/state.ts';
import { BUILTIN_DEFAULT, substitutionsOf, type Substitutions, type Value } from '../rbldnsd/value.ts';
import { IP4TSET_KEYS, Ip4Key, ip4Dotted, ip4ReverseName, parseIp4Key, parseIp4QuadBytes } from '../ip4.ts';
import { emptyRangeSet6, type RangeSet4, type RangeSet6 } from '../ranges.ts';
import type { MaterialiseOptions, ZoneRecord } from '../zones/records.ts';
import { ip4Runs, points4, type KeyedAnswer } from '../zones/walk.ts';
import { ValueAnswers } from './materialise.ts';
import { EntryList, dedupKeys, dumpValue, emitValue, firstDefault, fit, lowerBound, tsetMeta, tsetValue, type TsetMeta } from './ip4list.ts';

class Ip4TsetDataset implements Dataset {
  readonly type = 'ip4tset';

  constructor(
    private readonly keys: Uint32Array,
    private readonly value: Value,
    readonly ttl: number,
    private readonly subs: Substitutions,
    readonly meta: DatasetMeta,
  ) {}

  get size(): number {
    return this.keys.length;
  }

  query(q: Query, out: RecordSink): boolean {
    const ip = q.ip4;
    if (ip < 0) return false;
    const i = lowerBound(this.keys, ip);
    if (i >= this.keys.length || this.keys[i] !== ip) return false;
    if (out.wantA || out.wantTxt) emitValue(this.value, this.ttl, ip4Dotted(ip), this.subs, out);
    return true;
  }

  /** Each key a piece; runs of consecutive keys join (one value for the whole dataset). */
  records(opts: MaterialiseOptions): Iterable<ZoneRecord> {
    const pts: number[] = [];
    for (const k of this.keys) pts.push(k, k + 1);
    const ans = new ValueAnswers([this.value], this.subs).of([1]);
    const at = (ip: number): KeyedAnswer | null => {
      const i = lowerBound(this.keys, ip);
      return i < this.keys.length && this.keys[i] === ip ? ans : null;
    };
    return ip4Runs(points4(pts), at, this.ttl, opts, ['mapped', '6to4']);
  }

  dump(_zone: string, write: (line: string) => void): void {
    write(`$TTL ${this.ttl}`);
    for (let i = 0; i < this.keys.length; i++) {
      const ip = this.keys[i]!;
      dumpValue(ip4ReverseName(ip, 4), this.value, ip4Dotted(ip), this.subs, write);
    }
  }

  /** The keys are sorted and distinct: runs of consecutive addresses become ranges directly. */
  coverage(): { v4: RangeSet4; v6: RangeSet6; domains: string[] } {
    const keys = this.keys;
    const n = keys.length;
    let runs = 0;
    for (let i = 0; i < n; i++) if (i === 0 || keys[i]! !== keys[i - 1]! + 1) runs++;
    const start = new Uint32Array(runs);
    const end = new Uint32Array(runs);
    let r = -1;
    for (let i = 0; i < n; i++) {
      const k = keys[i]!;
      if (i === 0 || k !== keys[i - 1]! + 1) start[++r] = k;
      end[r] = k;
    }
    return { v4: { start, end }, v6: emptyRangeSet6(), domains: [] };
  }

  snapshot(): SnapshotPart {
    return { type: this.type, meta: tsetMeta(this.value, this.ttl, this.subs, this.meta), arrays: [this.keys] };
  }
}

class Ip4TsetLoader implements DatasetLoader {
  // the value column stays empty (all zeros): Uint16 costs 2 bytes/entry while loading only
  private readonly list = new EntryList();
  private value: Value | undefined;
  private readonly key = new Ip4Key();

  constructor(readonly state: LoadState) {}

  /** The default is dataset-wide: nothing resets at a file boundary. */
  startFile(): void {}

  addLine(line: string, at: Loc): void {
    if (line.charCodeAt(0) === 58 /* : */) {
      this.value = firstDefault(this.value, line, this.state, at);
      return;
    }
    const err = parseIp4Key(line, 0, IP4TSET_KEYS, false, this.key);
    if (err !== null) return this.state.warn({ file: at.file, line: at.line }, err);
    this.list.push(this.key.first, 0);
  }

  /** Plain `a.b.c.d` lines (the bulk of big lists) straight from bytes; the rest as text. */
  addBytes(buf: Buffer, start: number, end: number, at: Loc): void {
    const ip = parseIp4QuadBytes(buf, start, end);
    if (ip < 0) return this.addLine(buf.toString('latin1', start, end), at);
    this.list.push(ip, 0);
  }

  finish(meta: DatasetMeta): Dataset {
    const { keys: k, n } = this.list.sorted();
    const keys = fit(k, dedupKeys(k, n));
    const ttl = this.state.ttl ?? this.state.options.ttl.def;
    return new Ip4TsetDataset(keys, this.value ?? BUILTIN_DEFAULT, ttl, substitutionsOf(this.state), meta);
  }
}

export const ip4tset: DatasetType = {
  name: 'ip4tset',
  createLoader: (state) => new Ip4TsetLoader(state),
  fromSnapshot(part: SnapshotPart): Dataset {
    const m = part.meta as TsetMeta;
    return new Ip4TsetDataset(part.arrays[0] as Uint32Array, tsetValue(m), m.ttl, m.subs, m.meta);
  },
};
