// rbldnsd `ip4set`: IPv4 ranges expanded into aligned entries at the /32, /24, /16 and /8
// levels. A lookup tries /32, /24, /16, /8 and the first level holding any entry for the
// address decides: an exclusion there means not listed, otherwise every value there answers
// (octet granularity, not longest prefix: see reference 3.1).

import type { Dataset, DatasetLoader, DatasetMeta, DatasetType, Query, RecordSink, SnapshotPart } from './types.ts';
import type { LoadState, Loc } from '../rbldnsd/state.ts';
import { substitutionsOf, type Substitutions, type Value } from '../rbldnsd/value.ts';
import { IP4SET_KEYS, Ip4Key, ip4Dotted, ip4ReverseName, parseIp4QuadBytes } from '../ip4.ts';
import { emptyRangeSet6, RangeAppender4, type RangeSet4, type RangeSet6 } from '../ranges.ts';
import type { MaterialiseOptions, ZoneRecord } from '../zones/records.ts';
import { ip4Runs, points4, type KeyedAnswer } from '../zones/walk.ts';
import { ValueAnswers } from './materialise.ts';
import {
  EXCLUDED, EntryList, ValueColumn, columnFromSnapshot, columnsToSnapshot, compactIndexes, dedupKeys, dumpValue, emitValue, fit,
  lowerBound, parseIp4Line, valueAt, valuesFromJson, valuesToJson, type KeyedColumn, type SortedEntries,
} from './ip4list.ts';

/** Levels in lookup order: the number of leading octets that form the key. */
const LEVEL_OCTETS = [4, 3, 2, 1] as const;
const LEVEL_MASKS = [0xffffffff, 0xffffff00, 0xffff0000, 0xff000000] as const;

/** One level: masked first address of each entry, sorted, and the value index per entry
 *  (0 = exclusion, else value table index + 1; `uniform` when `vals` is null). */
type Level = KeyedColumn;

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

  /** Every level's blocks start and end a piece; each piece answers as query() does (the
   *  finest level holding the address decides, an exclusion there = not listed). */
  records(opts: MaterialiseOptions): Iterable<ZoneRecord> {
    const SIZE = [1, 0x100, 0x10000, 0x1000000];
    const pts: number[] = [];
    for (let l = 0; l < 4; l++) for (const k of this.levels[l]!.keys) pts.push(k, k + SIZE[l]!);
    const answers = new ValueAnswers(this.values, this.subs);
    const at = (ip: number): KeyedAnswer | null => {
      for (let l = 0; l < 4; l++) {
        const level = this.levels[l]!;
        const keys = level.keys;
        if (keys.length === 0) continue;
        const key = (ip & LEVEL_MASKS[l]!) >>> 0;
        const lo = lowerBound(keys, key);
        if (lo >= keys.length || keys[lo] !== key) continue;
        const idx: number[] = [];
        for (let i = lo; i < keys.length && keys[i] === key; i++) {
          const v = valueAt(level, i);
          if (v === EXCLUDED) return null;
          idx.push(v);
        }
        return answers.of(idx);
      }
      return null;
    };
    return ip4Runs(points4(pts), at, this.ttl, opts, ['mapped', '6to4']);
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

  /** Octet levels as ranges. A block (distinct key of a level) decides for the addresses that
   *  no finer block holds: listed there iff none of its entries is an exclusion. Blocks nest
   *  or are disjoint, so one walk over all levels' keys in address order (coarser first on a
   *  tie) with a stack of open blocks emits each block's uncovered gaps in ascending order.
   *  /32 entries (the bulk of big lists) are leaves: a tight loop, never on the stack. */
  coverage(): { v4: RangeSet4; v6: RangeSet6; domains: string[] } {
    const SIZE = [1, 0x100, 0x10000, 0x1000000];
    const levels = this.levels;
    const l32 = levels[0]!;
    const k32 = l32.keys;
    const n32 = k32.length;
    const v32 = l32.vals;
    const u32 = l32.uniform;
    const pos = new Uint32Array(4);
    let p32 = 0;
    // output in address order, adjacent ranges joined as they come (no builder sort or copies)
    const out = new RangeAppender4(n32 + 16);
    const add = (s: number, e: number): void => out.add(s, e);
    // open coarse blocks (at most 3 nest): end, next address not decided by a child, listed
    const stEnd = new Float64Array(4);
    const stCur = new Float64Array(4);
    const stOn = new Uint8Array(4);
    let d = 0;
    for (;;) {
      // the next coarse block: the smallest key of /24, /16, /8; a tie picks the coarser
      let l = -1;
      let ckey = 0x100000000;
      for (let x = 3; x >= 1; x--) {
        const keys = levels[x]!.keys;
        const p = pos[x]!;
        if (p < keys.length && keys[p]! < ckey) {
          ckey = keys[p]!;
          l = x;
        }
      }
      // the /32 entries before it
      while (p32 < n32 && k32[p32]! < ckey) {
        const key = k32[p32]!;
        let on = 1;
        for (; p32 < n32 && k32[p32] === key; p32++) if ((v32 ? v32[p32]! : u32) === EXCLUDED) on = 0;
        while (d > 0 && stEnd[d - 1]! < key) {
          d--;
          if (stOn[d] && stCur[d]! <= stEnd[d]!) add(stCur[d]!, stEnd[d]!);
        }
        if (d > 0) {
          const t = d - 1;
          if (stOn[t] && stCur[t]! < key) add(stCur[t]!, key - 1);
          stCur[t] = key + 1;
        }
        if (on) add(key, key);
      }
      if (l < 0) break;
      const level = levels[l]!;
      const keys = level.keys;
      let p = pos[l]!;
      let on = 1;
      for (; p < keys.length && keys[p] === ckey; p++) if (valueAt(level, p) === EXCLUDED) on = 0;
      pos[l] = p;
      const end = ckey + SIZE[l]! - 1;
      while (d > 0 && stEnd[d - 1]! < ckey) {
        d--;
        if (stOn[d] && stCur[d]! <= stEnd[d]!) add(stCur[d]!, stEnd[d]!);
      }
      if (d > 0) {
        const t = d - 1;
        if (stOn[t] && stCur[t]! < ckey) add(stCur[t]!, ckey - 1);
        stCur[t] = end + 1;
      }
      stEnd[d] = end;
      stCur[d] = ckey;
      stOn[d] = on;
      d++;
    }
    while (d > 0) {
      d--;
      if (stOn[d] && stCur[d]! <= stEnd[d]!) add(stCur[d]!, stEnd[d]!);
    }
    return { v4: out.build(), v6: emptyRangeSet6(), domains: [] };
  }

  snapshot(): SnapshotPart {
    const { uniform, arrays } = columnsToSnapshot(this.levels);
    const meta: Ip4SetMeta = { values: valuesToJson(this.values), ttl: this.ttl, subs: this.subs, meta: this.meta, uniform };
    return { type: this.type, meta, arrays };
  }
}

class Ip4SetLoader implements DatasetLoader {
  // refs column: the value's creation rank (answer order among entries of one level entry).
  // Exclusions are kept apart while loading so that a few `!` lines do not force a value
  // column on 10M plain entries before the sort; they are merged back in `finish`.
  private readonly lists = [new EntryList(), new EntryList(), new EntryList(), new EntryList()];
  private readonly excluded = [new EntryList(), new EntryList(), new EntryList(), new EntryList()];
  private readonly values = new ValueColumn();
  private readonly key = new Ip4Key();

  constructor(readonly state: LoadState) {}

  startFile(): void {
    this.values.resetDefault();
  }

  /** Plain `a.b.c.d` lines (the bulk of big lists) straight from bytes; the rest as text. */
  addBytes(buf: Buffer, start: number, end: number, at: Loc): void {
    const ip = parseIp4QuadBytes(buf, start, end);
    if (ip < 0) return this.addLine(buf.toString('latin1', start, end), at);
    const v = this.values.defaultIndex();
    this.lists[0]!.push(ip, v, this.values.rank);
  }

  addLine(line: string, at: Loc): void {
    const k = this.key;
    const v = parseIp4Line(line, at, IP4SET_KEYS, this.state, this.values, k);
    if (v < 0) return;
    const excluded = v === EXCLUDED;
    const rank = excluded ? 0 : this.values.rank;
    const lists = excluded ? this.excluded : this.lists;
    if (k.first === k.last) lists[0]!.push(k.first, v, rank);
    else addRange(lists, k.first, k.last, v, rank);
  }

  finish(meta: DatasetMeta): Dataset {
    const levels = this.lists.map((list, l) => levelOf(list, this.excluded[l]!));
    const ttl = this.state.ttl ?? this.state.options.ttl.def;
    return new Ip4SetDataset(levels, this.values.table.values, ttl, substitutionsOf(this.state), meta);
  }
}

/** Cuts [a, b] into the largest aligned octet blocks: /8, /16, /24 or single addresses. */
function addRange(lists: EntryList[], a: number, b: number, v: number, rank: number): void {
  const [l32, l24, l16, l8] = lists as [EntryList, EntryList, EntryList, EntryList];
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

/** Sorts a level, merges its exclusions back in (each before the entries of its key, where
 *  rbldnsd's order puts them) and orders/deduplicates the groups of equal keys. */
function levelOf(list: EntryList, excluded: EntryList): Level {
  const m = excluded.n;
  if (list.n === 0) {
    const ex = excluded.sorted();
    const n = dedupKeys(ex.keys, ex.n);
    return { keys: fit(ex.keys, n), vals: null, uniform: EXCLUDED };
  }
  const e = list.sorted(m);
  if (m > 0) {
    const ex = excluded.sorted().keys;
    const { keys } = e;
    const vals = e.vals ?? (e.uniformVal > 0xffff ? new Uint32Array(keys.length) : new Uint16Array(keys.length));
    const refs = e.refs;
    // merge from the back, into the room left at the end; on equal keys the entry goes later
    let i = e.n - 1;
    let j = m - 1;
    for (let w = e.n + m - 1; j >= 0; w--) {
      if (i >= 0 && keys[i]! >= ex[j]!) {
        keys[w] = keys[i]!;
        vals[w] = e.vals ? vals[i]! : e.uniformVal;
        if (refs) refs[w] = refs[i]!;
        i--;
      } else {
        keys[w] = ex[j--]!;
        vals[w] = EXCLUDED;
        if (refs) refs[w] = 0;
      }
    }
    if (!e.vals) vals.fill(e.uniformVal, 0, i + 1);
    e.vals = vals;
    e.n += m;
  }
  const n = orderGroups(e);
  return {
    keys: fit(e.keys, n),
    vals: e.vals ? compactIndexes(fit(e.vals, n)) : null,
    uniform: e.uniformVal,
  };
}

/** Orders each group of equal keys by value creation rank (exclusions first), then drops
 *  repeated (key, value) pairs. Groups are rare and tiny: insertion sort in place. Returns
 *  the new length. */
function orderGroups(e: SortedEntries): number {
  const { keys, vals, refs, uniformRef } = e;
  if (!vals) return dedupKeys(keys, e.n); // one value for the whole level: plain duplicates
  const rankAt = (i: number): number => (vals[i] === EXCLUDED ? -1 : refs ? refs[i]! : uniformRef);
  const n = e.n;
  let w = 0;
  let i = 0;
  while (i < n) {
    const key = keys[i]!;
    let end = i + 1;
    while (end < n && keys[end] === key) end++;
    if (end === i + 1) {
      // the common case: a key of its own
      keys[w] = key;
      vals[w] = vals[i]!;
      if (refs) refs[w] = refs[i]!;
      w++;
      i = end;
      continue;
    }
    const start = w;
    for (let j = i; j < end; j++) {
      const v = vals[j]!;
      const r = rankAt(j);
      let p = w;
      while (p > start && rankAt(p - 1) > r) {
        vals[p] = vals[p - 1]!;
        if (refs) refs[p] = refs[p - 1]!;
        p--;
      }
      keys[w] = key;
      vals[p] = v;
      if (refs) refs[p] = r < 0 ? 0 : r;
      w++;
    }
    // identical values collapse (the lowest rank stays)
    let u = start;
    for (let j = start; j < w; j++) {
      let dup = false;
      for (let q = start; q < u; q++) if (vals[q] === vals[j]) dup = true;
      if (!dup) {
        vals[u] = vals[j]!;
        if (refs) refs[u] = refs[j]!;
        u++;
      }
    }
    w = u;
    i = end;
  }
  return w;
}

export const ip4set: DatasetType = {
  name: 'ip4set',
  createLoader: (state) => new Ip4SetLoader(state),
  fromSnapshot(part: SnapshotPart): Dataset {
    const m = part.meta as Ip4SetMeta;
    const levels: Level[] = [0, 1, 2, 3].map((l) => columnFromSnapshot(part.arrays, m.uniform, l));
    return new Ip4SetDataset(levels, valuesFromJson(m.values), m.ttl, m.subs, m.meta);
  },
};
