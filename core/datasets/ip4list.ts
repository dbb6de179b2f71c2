// Chunked parallel typed arrays of (uint32 key, value index), a stable radix sort and a
// binary search: the storage of the IPv4 dataset types (no per-entry JS objects).

import type { DatasetMeta, RecordSink } from './types.ts';
import type { LoadState, Loc } from '../rbldnsd/state.ts';
import { BUILTIN_DEFAULT, ValueTable, expandTxt, parseDefaultLine, parseEntryValue, type Substitutions, type Value } from '../rbldnsd/value.ts';
import { Ip4Key, ip4Dotted, isDefaultValue, parseIp4Key, valueStart, type Ip4KeySyntax } from '../ip4.ts';

export type IndexArray = Uint16Array | Uint32Array;

/** Value index 0 is reserved for exclusions; real values are table index + 1. */
export const EXCLUDED = 0;

/** A value column that may be uniform: `vals` stays null while every entry has the same value
 *  (the common case: 10M /32 entries with the default value), saving memory and sort work. */
export interface ValueColumnData {
  vals: IndexArray | null;
  uniform: number;
}

export function valueAt(c: ValueColumnData, i: number): number {
  return c.vals ? c.vals[i]! : c.uniform;
}

/** Sorted keys with their value column (an ip4set level, an ip4trie prefix length). */
export interface KeyedColumn extends ValueColumnData {
  keys: Uint32Array;
}

/** Snapshot form of keyed columns: two arrays per column (keys, then the value column or an
 *  empty Uint16Array when uniform) and per column the uniform value index, or -1 when the
 *  column has a value array. */
export function columnsToSnapshot(cols: readonly KeyedColumn[]): { uniform: number[]; arrays: ArrayBufferView[] } {
  return {
    uniform: cols.map((c) => (c.vals ? -1 : c.uniform)),
    arrays: cols.flatMap((c) => [c.keys, c.vals ?? new Uint16Array(0)]),
  };
}

/** Column `i` of `columnsToSnapshot`'s form. */
export function columnFromSnapshot(arrays: readonly ArrayBufferView[], uniform: readonly number[], i: number): KeyedColumn {
  return {
    keys: arrays[2 * i] as Uint32Array,
    vals: uniform[i]! < 0 ? (arrays[2 * i + 1] as IndexArray) : null,
    uniform: Math.max(0, uniform[i]!),
  };
}

/** Drops repeated keys of a sorted array in place; returns the new length. */
export function dedupKeys(keys: Uint32Array, n: number): number {
  let w = 0;
  for (let i = 0; i < n; i++) if (w === 0 || keys[w - 1] !== keys[i]) keys[w++] = keys[i]!;
  return w;
}

/** Sorted, contiguous columns of an EntryList (see `EntryList.sorted`). */
export interface SortedEntries {
  keys: Uint32Array;
  vals: IndexArray | null;
  refs: Uint32Array | null;
  n: number;
  uniformVal: number;
  uniformRef: number;
}

const FIRST_CHUNK = 256;
const MAX_CHUNK = 1 << 20; // 4 MiB of keys: big enough to be mmapped (returned to the OS when freed)
// The first (MSD) pass buckets by the top TOP_BITS bits; two LSD passes then sort each bucket
// by the low bits (LOW_A, then LOW_B bits) while it sits in cache.
const TOP_SHIFT = 22;
const BUCKETS = 2 ** (32 - TOP_SHIFT);
const LOW_A = Math.ceil(TOP_SHIFT / 2);
const LOW_B = TOP_SHIFT - LOW_A;
const MASK_A = (1 << LOW_A) - 1;
const MASK_B = (1 << LOW_B) - 1;

/** Append-only (key, value, ref) columns in chunks: no copy while growing, and the chunks are
 *  dropped as soon as `sorted()` has scattered them into exact-size arrays (peak ~2x keys). */
export class EntryList {
  private keyChunks: Uint32Array[] = [];
  /** Value index column, null while all equal `uniformVal`. */
  private valChunks: IndexArray[] | null = null;
  /** Optional third column (ip4set: value creation rank; ip4trie: source line refs), null
   *  while all equal `uniformRef`. */
  private refChunks: Uint32Array[] | null = null;
  private ck: Uint32Array = new Uint32Array(0);
  private cv: IndexArray | null = null;
  private cr: Uint32Array | null = null;
  private pos = 0;
  uniformVal = 0;
  uniformRef = 0;
  n = 0;

  push(key: number, val: number, ref = 0): void {
    if (this.pos === this.ck.length) this.addChunk();
    const p = this.pos++;
    this.ck[p] = key;
    const cv = this.cv;
    if (cv !== null) {
      if (val > 0xffff && cv instanceof Uint16Array) this.widenVals();
      this.cv![p] = val;
    } else if (val !== this.uniformVal) {
      if (this.n === 0) this.uniformVal = val;
      else {
        this.valChunks = this.keyChunks.map((c) => newIndexArray(c.length, val > 0xffff || this.uniformVal > 0xffff).fill(this.uniformVal));
        this.cv = this.valChunks.at(-1)!;
        this.cv[p] = val;
      }
    }
    const cr = this.cr;
    if (cr !== null) cr[p] = ref;
    else if (ref !== this.uniformRef) {
      if (this.n === 0) this.uniformRef = ref;
      else {
        this.refChunks = this.keyChunks.map((c) => new Uint32Array(c.length).fill(this.uniformRef));
        this.cr = this.refChunks.at(-1)!;
        this.cr[p] = ref;
      }
    }
    this.n++;
  }

  private addChunk(): void {
    const size = Math.min(MAX_CHUNK, Math.max(FIRST_CHUNK, this.ck.length * 2));
    this.ck = new Uint32Array(size);
    this.keyChunks.push(this.ck);
    if (this.valChunks) {
      this.cv = newIndexArray(size, this.cv instanceof Uint32Array);
      this.valChunks.push(this.cv);
    }
    if (this.refChunks) {
      this.cr = new Uint32Array(size);
      this.refChunks.push(this.cr);
    }
    this.pos = 0;
  }

  private widenVals(): void {
    this.valChunks = this.valChunks!.map((c) => Uint32Array.from(c));
    this.cv = this.valChunks.at(-1)!;
  }

  /**
   * Returns the entries sorted by key, file order kept among equal keys, in fresh arrays with
   * room for `extra` more entries at the end, and empties the list. A first pass buckets by
   * the top 11 bits straight out of the chunks; each bucket is then small enough to finish
   * with a stable LSD radix sort in cache.
   */
  sorted(extra = 0): SortedEntries {
    const n = this.n;
    const kc = this.keyChunks;
    const vc = this.valChunks;
    const rc = this.refChunks;
    const lastUsed = this.pos;
    this.keyChunks = [];
    this.valChunks = null;
    this.refChunks = null;
    this.ck = new Uint32Array(0);
    this.cv = this.cr = null;
    this.pos = 0;
    this.n = 0;
    const used = (c: number): number => (c === kc.length - 1 ? lastUsed : kc[c]!.length);
    const keys = new Uint32Array(n + extra);
    const vals = vc ? newIndexArray(n + extra, vc[0] instanceof Uint32Array) : null;
    const refs = rc ? new Uint32Array(n + extra) : null;
    const out: SortedEntries = { keys, vals, refs, n, uniformVal: this.uniformVal, uniformRef: this.uniformRef };
    const start = new Uint32Array(BUCKETS + 1);
    let inOrder = true;
    let prev = 0;
    for (let c = 0; c < kc.length; c++) {
      const ck = kc[c]!;
      const m = used(c);
      for (let i = 0; i < m; i++) {
        const k = ck[i]!;
        start[(k >>> TOP_SHIFT) + 1]!++;
        if (k < prev) inOrder = false;
        prev = k;
      }
    }
    if (inOrder) {
      for (let c = 0, w = 0; c < kc.length; c++) {
        const m = used(c);
        keys.set(kc[c]!.subarray(0, m), w);
        if (vals) vals.set(vc![c]!.subarray(0, m), w);
        if (refs) refs.set(rc![c]!.subarray(0, m), w);
        w += m;
      }
      return out;
    }
    let maxBucket = 0;
    for (let d = 0; d < BUCKETS; d++) {
      maxBucket = Math.max(maxBucket, start[d + 1]!);
      start[d + 1]! += start[d]!;
    }
    const next = start.slice(0, BUCKETS);
    for (let c = 0; c < kc.length; c++) {
      const ck = kc[c]!;
      const cv = vc ? vc[c]! : null;
      const cr = rc ? rc[c]! : null;
      const m = used(c);
      for (let i = 0; i < m; i++) {
        const k = ck[i]!;
        const p = next[k >>> TOP_SHIFT]!++;
        keys[p] = k;
        if (cv !== null) vals![p] = cv[i]!;
        if (cr !== null) refs![p] = cr[i]!;
      }
      kc[c] = EMPTY; // let the chunk go early
    }
    const tmp: SortedEntries = {
      keys: new Uint32Array(maxBucket),
      vals: vals ? newIndexArray(maxBucket, vals instanceof Uint32Array) : null,
      refs: refs ? new Uint32Array(maxBucket) : null,
      n: 0,
      uniformVal: 0,
      uniformRef: 0,
    };
    const count = new Uint32Array(1 << LOW_A);
    for (let d = 0; d < BUCKETS; d++) sortLow(out, start[d]!, start[d + 1]!, tmp, count);
    return out;
  }
}

const EMPTY = new Uint32Array(0);

function newIndexArray(n: number, wide: boolean): IndexArray {
  return wide ? new Uint32Array(n) : new Uint16Array(n);
}

/** Stably sorts a[lo, hi) by the low 21 bits of the keys (the top bits are all equal). */
function sortLow(a: SortedEntries, lo: number, hi: number, t: SortedEntries, count: Uint32Array): void {
  const m = hi - lo;
  if (m < 2) return;
  const { keys, vals, refs } = a;
  if (m <= 24) {
    // insertion sort: stable, and cheaper than two counting passes for tiny buckets
    for (let i = lo + 1; i < hi; i++) {
      const k = keys[i]!;
      if (keys[i - 1]! <= k) continue;
      const v = vals ? vals[i]! : 0;
      const r = refs ? refs[i]! : 0;
      let j = i;
      while (j > lo && keys[j - 1]! > k) {
        keys[j] = keys[j - 1]!;
        if (vals) vals[j] = vals[j - 1]!;
        if (refs) refs[j] = refs[j - 1]!;
        j--;
      }
      keys[j] = k;
      if (vals) vals[j] = v;
      if (refs) refs[j] = r;
    }
    return;
  }
  // two stable counting passes: the lowest LOW_A bits into the scratch arrays, the next back
  const tk = t.keys;
  const tv = t.vals;
  const tr = t.refs;
  count.fill(0);
  for (let i = lo; i < hi; i++) count[keys[i]! & MASK_A]!++;
  prefixSums(count, 1 << LOW_A, 0);
  for (let i = lo; i < hi; i++) {
    const k = keys[i]!;
    const p = count[k & MASK_A]!++;
    tk[p] = k;
    if (vals) tv![p] = vals[i]!;
    if (refs) tr![p] = refs[i]!;
  }
  count.fill(0, 0, 1 << LOW_B);
  for (let i = 0; i < m; i++) count[(tk[i]! >>> LOW_A) & MASK_B]!++;
  prefixSums(count, 1 << LOW_B, lo);
  for (let i = 0; i < m; i++) {
    const k = tk[i]!;
    const p = count[(k >>> LOW_A) & MASK_B]!++;
    keys[p] = k;
    if (vals) vals[p] = tv![i]!;
    if (refs) refs[p] = tr![i]!;
  }
}

function prefixSums(count: Uint32Array, digits: number, base: number): void {
  let sum = base;
  for (let d = 0; d < digits; d++) {
    const c = count[d]!;
    count[d] = sum;
    sum += c;
  }
}

/** The first `n` entries of a column as its own array: a view when only a sliver would be
 *  wasted (no 40 MB copy for a few dropped duplicates), else a copy that frees the rest. */
export function fit<T extends Uint16Array | Uint32Array>(a: T, n: number): T {
  if (n === a.length) return a;
  return (a.length - n <= a.length >>> 6 ? a.subarray(0, n) : a.slice(0, n)) as T;
}

/** Index of the first key >= key in keys[0..n). */
export function lowerBound(keys: Uint32Array, key: number): number {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (keys[mid]! < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Narrows a value-index column to Uint16 when every index fits. */
export function compactIndexes(vals: IndexArray): IndexArray {
  if (vals instanceof Uint16Array) return vals;
  for (let i = 0; i < vals.length; i++) if (vals[i]! > 0xffff) return vals;
  return Uint16Array.from(vals);
}

/** The value column's side: the current default and the interned table of A/TXT values.
 *
 *  It also tracks rbldnsd's answer order: values of entries that share an ip4set level entry
 *  are answered in the order their value was *created* (rbldnsd sorts by the address of the
 *  value's memory, [oracle]), not in file order. A value is created at a default line or at
 *  an entry with an explicit value, except that a value identical to the last created one is
 *  reused; the built-in default comes first. `rank` is that creation number of the value the
 *  last `indexAt` returned. */
export class ValueColumn {
  readonly table = new ValueTable();
  current: Value = BUILTIN_DEFAULT;
  private currentIndex = -1;
  private currentRank = 0;
  private created = 0;
  private last: Value = BUILTIN_DEFAULT;
  rank = 0;

  /** Start of a file for types whose default is per file. */
  resetDefault(): void {
    this.current = BUILTIN_DEFAULT;
    this.currentIndex = -1;
    this.currentRank = 0;
  }

  /** A `:A:TXT` default line. */
  setDefault(line: string, state: LoadState, at: Loc): void {
    const before = this.current;
    this.current = parseDefaultLine(line, this.current, state, at);
    if (this.current !== before) {
      this.currentIndex = -1;
      this.currentRank = this.create(this.current);
    }
  }

  private create(v: Value): number {
    if (v.a !== this.last.a || v.txt !== this.last.txt || this.created === 0) {
      this.created++;
      this.last = v;
    }
    return this.created;
  }

  /** Value index of an entry without a value (the current default); sets `rank`. */
  defaultIndex(): number {
    if (this.currentIndex < 0) this.currentIndex = this.table.intern(this.current) + 1;
    this.rank = this.currentRank;
    return this.currentIndex;
  }

  /** Value index (table index + 1) for the value text starting at `i` of `line`, or the
   *  reason the value is invalid. Entries without a value reuse the cached default index. */
  indexAt(line: string, i: number, state: LoadState, at: Loc): number | string {
    if (isDefaultValue(line, i)) return this.defaultIndex();
    const v = parseEntryValue(line.slice(i), this.current, state, at);
    if (typeof v === 'string') return v;
    this.rank = this.create(v);
    return this.table.intern(v) + 1;
  }
}

/** A text data line of ip4set or ip4trie (same syntax but for the key forms `syntax` allows):
 *  a `:A:TXT` default line, or a key, `!` first for an exclusion, with an optional value.
 *  Fills `k` and returns the entry's value index (EXCLUDED for an exclusion), or -1 when the
 *  line was a default line or was rejected (with a warning). */
export function parseIp4Line(line: string, at: Loc, syntax: Ip4KeySyntax, state: LoadState, values: ValueColumn, k: Ip4Key): number {
  const c = line.charCodeAt(0);
  if (c === 58 /* : */) {
    values.setDefault(line, state, at);
    return -1;
  }
  const excluded = c === 33; /* ! */
  const err = parseIp4Key(line, excluded ? valueStart(line, 1) : 0, syntax, state.options.acceptHostBits, k);
  if (err !== null) return warnSkip(state, at, err);
  const count = k.last - k.first + 1;
  if (count > state.maxRange4) return warnSkip(state, at, `too large range (${count}) ignored (${state.maxRange4} max)`);
  if (excluded) return EXCLUDED;
  const r = values.indexAt(line, valueStart(line, k.end), state, at);
  return typeof r === 'string' ? warnSkip(state, at, r) : r;
}

function warnSkip(state: LoadState, at: Loc, msg: string): -1 {
  state.warn({ file: at.file, line: at.line }, msg);
  return -1;
}

/** The one value of a "trivial set" (ip4tset, ip6tset) while loading: the first valid default
 *  line anywhere in the dataset; later default lines are not even parsed. */
export function firstDefault(value: Value | undefined, line: string, state: LoadState, at: Loc): Value | undefined {
  if (value) return value;
  const v = parseEntryValue(line, BUILTIN_DEFAULT, state, at);
  if (typeof v !== 'string') return v;
  state.warn({ file: at.file, line: at.line }, v);
  return undefined;
}

/** Snapshot meta of a trivial set: its one value and the dataset-wide fields. */
export interface TsetMeta {
  value: [number, string | null];
  ttl: number;
  subs: Substitutions;
  meta: DatasetMeta;
}

export function tsetMeta(value: Value, ttl: number, subs: Substitutions, meta: DatasetMeta): TsetMeta {
  return { value: [value.a, value.txt], ttl, subs, meta };
}

export function tsetValue(m: TsetMeta): Value {
  return { a: m.value[0], txt: m.value[1] };
}

/** Adds one entry's records: A, then the expanded TXT (subject = the queried address). */
export function emitValue(v: Value, ttl: number, subject: string, subs: Substitutions, out: RecordSink): void {
  if (out.wantA) out.a(v.a, ttl);
  if (out.wantTxt) {
    const t = expandTxt(v.txt, subject, subs);
    if (t !== null) out.txt(t, ttl);
  }
}

/** BIND-style quoted TXT string: `"` and `\` escaped, bytes outside printable ASCII as \DDD. */
export function quoteTxt(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 34 || c === 92) out += '\\' + s[i];
    else if (c < 32 || c > 126) out += '\\' + String(c).padStart(3, '0');
    else out += s[i];
  }
  return out + '"';
}

/** Dump lines of one entry, rbldnsd -d style (`name A ip` then a continuation TXT line). */
export function dumpValue(name: string, v: Value | null, subject: string, subs: Substitutions, write: (line: string) => void): void {
  if (!v) {
    write(`${name}\tCNAME\texcluded`);
    return;
  }
  write(`${name}\tA\t${ip4Dotted(v.a)}`);
  const t = expandTxt(v.txt, subject, subs);
  if (t !== null) write(`\tTXT\t${quoteTxt(t)}`);
}

/** JSON form of a value table (snapshot meta). */
export function valuesToJson(values: readonly Value[]): [number, string | null][] {
  return values.map((v) => [v.a, v.txt]);
}

export function valuesFromJson(rows: [number, string | null][]): Value[] {
  return rows.map(([a, txt]) => ({ a, txt }));
}
