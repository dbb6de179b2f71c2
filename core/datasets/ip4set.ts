// rbldnsd `ip4set`: IPv4 ranges expanded into aligned entries at the /32, /24, /16 and /8
// levels. A lookup tries /32, /24, /16, /8 and the first level holding any entry for the
// address decides: an exclusion there means not listed, otherwise every value there answers
// (octet granularity, not longest prefix: see reference 3.1).

import type { Dataset, DatasetLoader, DatasetMeta, DatasetType, Query, RecordSink, SnapshotPart } from './types.ts';
import type { LoadState, Loc } from '../rbldnsd/state.ts';
import { substitutionsOf, type Substitutions, type Value } from '../rbldnsd/value.ts';
import { IP4SET_KEYS, Ip4Key, ip4Dotted, ip4ReverseName, parseIp4Key, valueStart } from '../ip4.ts';
import {
  EXCLUDED, EntryList, ValueColumn, dumpValue, emitValue, lowerBound, valueAt, valuesFromJson, valuesToJson,
  type IndexArray, type ValueColumnData,
} from './ip4list.ts';

/** Levels in lookup order: the number of leading octets that form the key. */
const LEVEL_OCTETS = [4, 3, 2, 1] as const;
const LEVEL_MASKS = [0xffffffff, 0xffffff00, 0xffff0000, 0xff000000] as const;

/** One level: masked first address of each entry, sorted, and the value index per entry
 *  (0 = exclusion, else value table index + 1; `uniform` when `vals` is null). */
interface Level extends ValueColumnData {
  keys: Uint32Array;
}

interface Ip4SetMeta {
  values: [number, string | null][];
  ttl: number;
  subs: Substitutions;
  meta: DatasetMeta;
  /** Per level: the value index of every entry, or -1 when the level has a value column. */
  uniform: number[];
}

class Ip4SetDataset implements Dataset {
  readonly type = 'ip4set';
  readonly size: number;

  constructor(
    private readonly levels: Level[],
    private readonly values: Value[],
    readonly ttl: number,
    private readonly subs: Substitutions,
    readonly meta: DatasetMeta,
  ) {
    this.size = levels.reduce((s, l) => s + l.keys.length, 0);
  }

  query(q: Query, out: RecordSink): boolean {
    const ip = q.ip4;
    if (ip < 0) return false;
    for (let l = 0; l < 4; l++) {
      const level = this.levels[l]!;
      const keys = level.keys;
      if (keys.length === 0) continue;
      const key = (ip & LEVEL_MASKS[l]!) >>> 0;
      const lo = lowerBound(keys, key);
      if (lo >= keys.length || keys[lo] !== key) continue;
      let hi = lo + 1;
      while (hi < keys.length && keys[hi] === key) hi++;
      for (let i = lo; i < hi; i++) if (valueAt(level, i) === EXCLUDED) return false;
      if (out.wantA || out.wantTxt) {
        const subject = ip4Dotted(ip);
        for (let i = lo; i < hi; i++) emitValue(this.values[valueAt(level, i) - 1]!, this.ttl, subject, this.subs, out);
      }
      return true;
    }
    return false;
  }

  dump(_zone: string, write: (line: string) => void): void {
    write(`$TTL ${this.ttl}`);
    // coarse levels first, so the wildcards precede the names they cover
    for (let l = 3; l >= 0; l--) {
      const level = this.levels[l]!;
      const keys = level.keys;
      const octets = LEVEL_OCTETS[l]!;
      for (let i = 0; i < keys.length; i++) {
        const ip = keys[i]!;
        const name = octets === 4 ? ip4ReverseName(ip, 4) : `*.${ip4ReverseName(ip, octets)}`;
        const vi = valueAt(level, i);
        const v = vi === EXCLUDED ? null : this.values[vi - 1]!;
        dumpValue(name, v, ip4Dotted(ip), this.subs, write);
      }
    }
  }

  snapshot(): SnapshotPart {
    const meta: Ip4SetMeta = {
      values: valuesToJson(this.values),
      ttl: this.ttl,
      subs: this.subs,
      meta: this.meta,
      uniform: this.levels.map((l) => (l.vals ? -1 : l.uniform)),
    };
    return { type: this.type, meta, arrays: this.levels.flatMap((l) => [l.keys, l.vals ?? new Uint16Array(0)]) };
  }
}

class Ip4SetLoader implements DatasetLoader {
  // refs column: the value's creation rank (answer order among entries of one level entry)
  private readonly lists = [new EntryList(), new EntryList(), new EntryList(), new EntryList()];
  private readonly values = new ValueColumn();
  private readonly key = new Ip4Key();

  constructor(readonly state: LoadState) {}

  startFile(): void {
    this.values.resetDefault();
  }

  addLine(line: string, at: Loc): void {
    const c = line.charCodeAt(0);
    if (c === 58 /* : */) {
      this.values.setDefault(line, this.state, at);
      return;
    }
    const excluded = c === 33; /* ! */
    const k = this.key;
    const err = parseIp4Key(line, excluded ? valueStart(line, 1) : 0, IP4SET_KEYS, this.state.options.acceptHostBits, k);
    if (err !== null) return this.state.warn({ file: at.file, line: at.line }, err);
    const count = k.last - k.first + 1;
    if (count > this.state.maxRange4) {
      return this.state.warn({ file: at.file, line: at.line }, `too large range (${count}) ignored (${this.state.maxRange4} max)`);
    }
    let v = EXCLUDED;
    let rank = 0;
    if (!excluded) {
      const r = this.values.indexAt(line, valueStart(line, k.end), this.state, at);
      if (typeof r === 'string') return this.state.warn({ file: at.file, line: at.line }, r);
      v = r;
      rank = this.values.rank;
    }
    if (k.first === k.last) this.lists[0]!.push(k.first, v, rank);
    else this.addRange(k.first, k.last, v, rank);
  }

  /** Cuts [a, b] into the largest aligned octet blocks: /8, /16, /24 or single addresses. */
  private addRange(a: number, b: number, v: number, rank: number): void {
    const [l32, l24, l16, l8] = this.lists as [EntryList, EntryList, EntryList, EntryList];
    while (a <= b) {
      const rest = b - a;
      if ((a & 0xffffff) === 0 && rest >= 0xffffff) {
        l8.push(a, v, rank);
        a += 0x1000000;
      } else if ((a & 0xffff) === 0 && rest >= 0xffff) {
        l16.push(a, v, rank);
        a += 0x10000;
      } else if ((a & 0xff) === 0 && rest >= 0xff) {
        l24.push(a, v, rank);
        a += 0x100;
      } else {
        l32.push(a, v, rank);
        a += 1;
      }
    }
  }

  finish(meta: DatasetMeta): Dataset {
    const levels = this.lists.map((list) => {
      list.sort();
      orderGroups(list);
      return list.trimmed();
    });
    const ttl = this.state.ttl ?? this.state.options.ttl.def;
    return new Ip4SetDataset(levels, this.values.table.values, ttl, substitutionsOf(this.state), meta);
  }
}

/** Orders each group of equal keys by value creation rank (exclusions first), then drops
 *  repeated (key, value) pairs. Groups are rare and tiny: insertion sort in place. */
function rankAt(vals: IndexArray, ranks: Uint32Array, i: number): number {
  return vals[i] === EXCLUDED ? -1 : ranks[i]!;
}

/** Orders each group of equal keys by value creation rank (exclusions first), then drops
 *  repeated (key, value) pairs. Groups are rare and tiny: insertion sort in place. */
function orderGroups(list: EntryList): void {
  const keys = list.keys;
  const vals = list.vals;
  if (!vals) {
    // one value for the whole level: equal keys are plain duplicates
    let w = 0;
    for (let i = 0; i < list.n; i++) if (w === 0 || keys[w - 1] !== keys[i]) keys[w++] = keys[i]!;
    list.n = w;
    list.refs = null;
    return;
  }
  const ranks = list.refs ?? new Uint32Array(list.n).fill(list.uniformRef);
  let w = 0;
  let i = 0;
  while (i < list.n) {
    const key = keys[i]!;
    let end = i + 1;
    while (end < list.n && keys[end] === key) end++;
    const start = w;
    for (let j = i; j < end; j++) {
      const v = vals[j]!;
      const r = v === EXCLUDED ? -1 : ranks[j]!;
      let p = w;
      while (p > start && rankAt(vals, ranks, p - 1) > r) {
        vals[p] = vals[p - 1]!;
        ranks[p] = ranks[p - 1]!;
        p--;
      }
      keys[w] = key;
      vals[p] = v;
      ranks[p] = r < 0 ? 0 : r;
      w++;
    }
    // identical values collapse (the lowest rank stays)
    let u = start;
    for (let j = start; j < w; j++) {
      let dup = false;
      for (let m = start; m < u; m++) if (vals[m] === vals[j]) dup = true;
      if (!dup) {
        vals[u] = vals[j]!;
        ranks[u] = ranks[j]!;
        u++;
      }
    }
    w = u;
    i = end;
  }
  list.n = w;
  list.refs = null;
}

export const ip4set: DatasetType = {
  name: 'ip4set',
  createLoader: (state) => new Ip4SetLoader(state),
  fromSnapshot(part: SnapshotPart): Dataset {
    const m = part.meta as Ip4SetMeta;
    const a = part.arrays;
    const levels: Level[] = [0, 1, 2, 3].map((l) => ({
      keys: a[2 * l] as Uint32Array,
      vals: m.uniform[l]! < 0 ? (a[2 * l + 1] as IndexArray) : null,
      uniform: Math.max(0, m.uniform[l]!),
    }));
    return new Ip4SetDataset(levels, valuesFromJson(m.values), m.ttl, m.subs, m.meta);
  },
};
