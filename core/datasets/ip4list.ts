// Growable parallel typed arrays of (uint32 key, value index), a stable radix sort and a
// binary search: the storage of the IPv4 dataset types (no per-entry JS objects).

import type { RecordSink } from './types.ts';
import type { LoadState, Loc } from '../rbldnsd/state.ts';
import { BUILTIN_DEFAULT, ValueTable, expandTxt, parseDefaultLine, parseEntryValue, type Substitutions, type Value } from '../rbldnsd/value.ts';
import { ip4Dotted, isDefaultValue } from '../ip4.ts';

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

export class EntryList {
  keys: Uint32Array;
  /** Value index per entry, null while all equal `uniformVal`. */
  vals: IndexArray | null = null;
  uniformVal = 0;
  /** Optional third column (ip4set: value creation rank; ip4trie: source line refs), null
   *  while all equal `uniformRef`. */
  refs: Uint32Array | null = null;
  uniformRef = 0;
  n = 0;

  constructor(capacity = 256) {
    this.keys = new Uint32Array(capacity);
  }

  push(key: number, val: number, ref = 0): void {
    const n = this.n;
    if (n === this.keys.length) this.grow();
    this.keys[n] = key;
    if (this.vals) {
      if (val > 0xffff && this.vals instanceof Uint16Array) this.vals = Uint32Array.from(this.vals);
      this.vals[n] = val;
    } else if (n === 0) {
      this.uniformVal = val;
    } else if (val !== this.uniformVal) {
      this.vals = (val > 0xffff || this.uniformVal > 0xffff ? new Uint32Array(this.keys.length) : new Uint16Array(this.keys.length)).fill(this.uniformVal);
      this.vals[n] = val;
    }
    if (this.refs) this.refs[n] = ref;
    else if (n === 0) this.uniformRef = ref;
    else if (ref !== this.uniformRef) {
      this.refs = new Uint32Array(this.keys.length).fill(this.uniformRef);
      this.refs[n] = ref;
    }
    this.n = n + 1;
  }

  valAt(i: number): number {
    return this.vals ? this.vals[i]! : this.uniformVal;
  }

  refAt(i: number): number {
    return this.refs ? this.refs[i]! : this.uniformRef;
  }

  private grow(): void {
    const cap = Math.max(256, Math.ceil(this.keys.length * 1.5));
    this.keys = resized(this.keys, cap);
    if (this.vals) this.vals = resized(this.vals, cap);
    if (this.refs) this.refs = resized(this.refs, cap);
  }

  /** Sorts by key, keeping file order among equal keys (LSD radix sort is stable). */
  sort(): void {
    const n = this.n;
    const k = this.keys;
    let sorted = true;
    for (let i = 1; i < n; i++) {
      if (k[i - 1]! > k[i]!) {
        sorted = false;
        break;
      }
    }
    if (sorted) return;
    // satellite columns travel with the keys; permuting them one by one keeps the loops simple
    const cols: (IndexArray | Uint32Array)[] = [];
    if (this.vals) cols.push(this.vals);
    if (this.refs) cols.push(this.refs);
    let keys: Uint32Array = this.keys;
    let tk: Uint32Array = new Uint32Array(n);
    const tmp: (IndexArray | Uint32Array)[] = cols.map((c) => (c instanceof Uint16Array ? new Uint16Array(n) : new Uint32Array(n)));
    const pos = cols.length ? new Uint32Array(n) : null;
    // 11-bit digits: 3 passes, but bucket scatter stays cache-friendly (16-bit digits thrash)
    const count = new Uint32Array(2048);
    for (const shift of [0, 11, 22]) {
      count.fill(0);
      for (let i = 0; i < n; i++) count[(keys[i]! >>> shift) & 0x7ff]!++;
      let sum = 0;
      for (let d = 0; d < 2048; d++) {
        const c = count[d]!;
        count[d] = sum;
        sum += c;
      }
      if (pos) {
        for (let i = 0; i < n; i++) {
          const key = keys[i]!;
          const p = count[(key >>> shift) & 0x7ff]!++;
          tk[p] = key;
          pos[i] = p;
        }
        for (let c = 0; c < cols.length; c++) {
          const src = cols[c]!;
          const dst = tmp[c]!;
          for (let i = 0; i < n; i++) dst[pos[i]!] = src[i]!;
          cols[c] = dst;
          tmp[c] = src;
        }
      } else {
        for (let i = 0; i < n; i++) {
          const key = keys[i]!;
          tk[count[(key >>> shift) & 0x7ff]!++] = key;
        }
      }
      [keys, tk] = [tk, keys];
    }
    this.keys = keys;
    let c = 0;
    if (this.vals) this.vals = cols[c++] as IndexArray;
    if (this.refs) this.refs = cols[c++] as Uint32Array;
  }

  /** Trims the columns to their length (copies, so the spare capacity is freed). */
  trimmed(): { keys: Uint32Array } & ValueColumnData {
    return { keys: this.keys.slice(0, this.n), vals: this.vals ? compactIndexes(this.vals.slice(0, this.n)) : null, uniform: this.uniformVal };
  }
}

function resized<T extends Uint16Array | Uint32Array>(a: T, cap: number): T {
  const b = new (a.constructor as new (n: number) => T)(cap);
  b.set(a);
  return b;
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

  /** Value index (table index + 1) for the value text starting at `i` of `line`, or the
   *  reason the value is invalid. Entries without a value reuse the cached default index. */
  indexAt(line: string, i: number, state: LoadState, at: Loc): number | string {
    if (isDefaultValue(line, i)) {
      if (this.currentIndex < 0) this.currentIndex = this.table.intern(this.current) + 1;
      this.rank = this.currentRank;
      return this.currentIndex;
    }
    const v = parseEntryValue(line.slice(i), this.current, state, at);
    if (typeof v === 'string') return v;
    this.rank = this.create(v);
    return this.table.intern(v) + 1;
  }
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
