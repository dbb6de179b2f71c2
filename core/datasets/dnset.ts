// rbldnsd `dnset` (RHSBL): domain names relative to the zone. `name` matches exactly,
// `*.name` any name strictly below it, `.name` both; `!` makes an exclusion of that scope.
// Lookup: the exact entries of the full name decide if there are any (an exclusion there means
// not listed, with no fallback to wildcards); otherwise the longest wildcard suffix decides.
// The zone apex never matches. TXT `$` is the matched entry's name.
//
// Storage, per kind (exact, wildcard): the distinct names as reversed wire-format keys
// (length-prefixed labels, top-level label first) in one Buffer with Uint32Array offsets, an
// open-addressing hash table (Int32Array) over them, and per name a run of value indexes
// (-1 = exclusion). Reversed keys make every parent domain a prefix of the query key, so the
// hashes of all suffixes of a query come out of one incremental pass.

import type { Dataset, DatasetLoader, DatasetMeta, DatasetType, Query, RecordSink, SnapshotPart } from './types.ts';
import type { LoadState, Loc } from '../rbldnsd/state.ts';
import {
  BUILTIN_DEFAULT, ValueTable, parseEntryValue, substitutionsOf, type Substitutions, type Value,
} from '../rbldnsd/value.ts';
import { isDefaultValue, valueStart } from '../ip4.ts';
import { dumpValue, emitValue, valuesFromJson, valuesToJson } from './ip4list.ts';
import { emptyRangeSet4, emptyRangeSet6, type RangeSet4, type RangeSet6 } from '../ranges.ts';
import type { MaterialiseOptions, ZoneRecord } from '../zones/records.ts';
import { domainDatasetRecords } from './materialise.ts';

const EXCL = -1;
const MAX_WIRE = 255;
const FNV_BASIS = 0x811c9dc5;

function fnv(h: number, byte: number): number {
  return Math.imul(h ^ byte, 0x01000193);
}

/** Parses a domain name the way rbldnsd reads one: `\.`/`\c` escape a character, `\d`..`\ddd`
 *  a byte (<= 255), empty labels collapse, labels <= 63 bytes, <= 255 bytes in wire form;
 *  ASCII is lowercased. On success `bytes` holds the labels' bytes in text order, `lens` their
 *  lengths and `count` their number. */
export class DomainScanner {
  readonly bytes = new Uint8Array(MAX_WIRE);
  readonly lens = new Uint8Array(128);
  count = 0;

  scan(text: string, start: number, end: number): boolean {
    let n = 0; // bytes so far
    let len = 0; // current label length
    let count = 0;
    let wire = 1;
    for (let i = start; i < end; ) {
      let c = text.charCodeAt(i++);
      if (c === 46 /* . */) {
        if (len) {
          if (len > 63) return false;
          this.lens[count++] = len;
          wire++;
          len = 0;
        }
        continue;
      }
      if (c === 92 /* \ */) {
        if (i >= end) break;
        c = text.charCodeAt(i++);
        if (c >= 48 && c <= 57) {
          c -= 48;
          for (let k = 0; k < 2 && i < end; k++) {
            const d = text.charCodeAt(i) - 48;
            if (d < 0 || d > 9) break;
            c = c * 10 + d;
            i++;
          }
          if (c > 255) return false;
        }
      }
      if (wire >= MAX_WIRE - 1) return false;
      wire++;
      this.bytes[n++] = c >= 65 && c <= 90 ? c + 32 : c;
      len++;
    }
    if (len > 63) return false;
    if (len) this.lens[count++] = len;
    this.count = count;
    return true;
  }
}

const SPECIAL = new Uint8Array(256);
for (const c of '".;\\@$') SPECIAL[c.charCodeAt(0)] = 1;

/** A reversed key (keys[s..e)) as rbldnsd prints the name (TXT `$`, dumps): labels in text
 *  order, dots between them, zone-file escapes for special and non-printable bytes. */
export function formatKey(keys: Uint8Array, s: number, e: number): string {
  const starts: number[] = [];
  for (let p = s; p < e; p += 1 + keys[p]!) starts.push(p);
  let out = '';
  for (let j = starts.length - 1; j >= 0; j--) {
    const p = starts[j]!;
    if (j !== starts.length - 1) out += '.';
    for (let i = p + 1; i <= p + keys[p]!; i++) {
      const c = keys[i]!;
      if (SPECIAL[c]) out += '\\' + String.fromCharCode(c);
      else if (c <= 32 || c >= 127) out += '\\' + String(c).padStart(3, '0');
      else out += String.fromCharCode(c);
    }
  }
  return out;
}

function hashOf(keys: Uint8Array, s: number, e: number): number {
  let h = FNV_BASIS;
  for (let i = s; i < e; i++) h = fnv(h, keys[i]!);
  return h;
}

function sameBytes(a: Uint8Array, as: number, ae: number, b: Uint8Array, bs: number): boolean {
  for (let i = as; i < ae; i++) if (a[i] !== b[bs++]) return false;
  return true;
}

/** One name table (the exact or the wildcard entries). */
class NameTable {
  constructor(
    readonly keys: Uint8Array,
    /** offsets[i]..offsets[i+1]: key i; one extra final element. */
    readonly offsets: Uint32Array,
    /** first[i]..first[i+1]: the value indexes of name i in `vals`. */
    readonly first: Uint32Array,
    readonly vals: Int32Array,
    /** Hash slots (power of two), each a name index or -1. */
    readonly slots: Int32Array,
    readonly minLabels: number,
    readonly maxLabels: number,
  ) {}

  get count(): number {
    return this.offsets.length - 1;
  }

  /** Index of the name whose key equals q[0..len) (hash h), or -1. */
  find(q: Uint8Array, len: number, h: number): number {
    const slots = this.slots;
    const mask = slots.length - 1;
    const offs = this.offsets;
    for (let s = h & mask; ; s = (s + 1) & mask) {
      const i = slots[s]!;
      if (i < 0) return -1;
      const o = offs[i]!;
      if (offs[i + 1]! - o === len && sameBytes(q, 0, len, this.keys, o)) return i;
    }
  }

  arrays(): ArrayBufferView[] {
    return [this.keys, this.offsets, this.first, this.vals, this.slots];
  }
}

interface TableMeta {
  minLabels: number;
  maxLabels: number;
}

interface DnsetMeta {
  values: [number, string | null][];
  ttl: number;
  subs: Substitutions;
  meta: DatasetMeta;
  exact: TableMeta;
  wild: TableMeta;
}

class DnsetDataset implements Dataset {
  readonly type = 'dnset';
  private readonly qkey = new Uint8Array(MAX_WIRE + 64);
  /** For a query of n labels, qlen[j]/qhash[j]: key length and hash of the suffix that
   *  starts at label j (j = 0 is the whole name). */
  private readonly qlen = new Uint32Array(128);
  private readonly qhash = new Int32Array(128);

  constructor(
    private readonly exact: NameTable,
    private readonly wild: NameTable,
    private readonly values: Value[],
    readonly ttl: number,
    private readonly subs: Substitutions,
    readonly meta: DatasetMeta,
  ) {}

  get size(): number {
    return this.exact.vals.length + this.wild.vals.length;
  }

  query(q: Query, out: RecordSink): boolean {
    const labels = q.labels;
    const n = labels.length;
    if (n === 0 || n > 127) return false; // the apex never matches
    const k = this.qkey;
    let p = 0;
    let h = FNV_BASIS;
    for (let j = n - 1; j >= 0; j--) {
      const l = labels[j]!;
      if (p + 1 + l.length > k.length) return false;
      k[p++] = l.length;
      h = fnv(h, l.length);
      for (let i = 0; i < l.length; i++) {
        const c = l.charCodeAt(i) & 255;
        k[p++] = c;
        h = fnv(h, c);
      }
      this.qlen[j] = p;
      this.qhash[j] = h;
    }
    const ex = this.exact;
    if (n >= ex.minLabels && n <= ex.maxLabels) {
      const i = ex.find(k, p, h);
      if (i >= 0) return this.answer(ex, i, out);
    }
    const w = this.wild;
    for (let j = Math.max(1, n - w.maxLabels); n - j >= w.minLabels; j++) {
      const i = w.find(k, this.qlen[j]!, this.qhash[j]!);
      if (i >= 0) return this.answer(w, i, out);
    }
    return false;
  }

  private answer(t: NameTable, i: number, out: RecordSink): boolean {
    const a = t.first[i]!;
    const b = t.first[i + 1]!;
    if (t.vals[a] === EXCL) return false;
    if (out.wantA || out.wantTxt) {
      const subject = out.wantTxt ? formatKey(t.keys, t.offsets[i]!, t.offsets[i + 1]!) : '';
      for (let x = a; x < b; x++) emitValue(this.values[t.vals[x]!]!, this.ttl, subject, this.subs, out);
    }
    return true;
  }

  /** rbldnsd -d style: exact names, then wildcards as `*.name`, each kind sorted by name. */
  dump(_zone: string, write: (line: string) => void): void {
    write(`$TTL ${this.ttl}`);
    for (const [t, prefix] of [[this.exact, ''], [this.wild, '*.']] as const) {
      const names: [string, number][] = [];
      for (let i = 0; i < t.count; i++) names.push([formatKey(t.keys, t.offsets[i]!, t.offsets[i + 1]!), i]);
      names.sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0));
      for (const [name, i] of names) {
        for (let x = t.first[i]!; x < t.first[i + 1]!; x++) {
          const v = t.vals[x]!;
          dumpValue(prefix + name, v === EXCL ? null : this.values[v]!, name, this.subs, write);
        }
      }
    }
  }

  /** The positive entries: every exact name and every `*.name` wildcard whose own entries hold
   *  no exclusion (so exactly excluded names are dropped). Approximation: a names list cannot
   *  say "below x except y", so an exact exclusion `!y` or a wildcard exclusion `!*.y` under a
   *  listed `*.x` is lost and y (or the names below y) stay covered by `*.x`. Names are the raw
   *  labels (bytes as latin1 chars) joined by dots, like the labels of a query. */
  coverage(): { v4: RangeSet4; v6: RangeSet6; domains: string[] } {
    const out: string[] = [];
    for (const [t, prefix] of [[this.exact, ''], [this.wild, '*.']] as const) {
      const { keys, offsets, first, vals } = t;
      for (let i = 0; i < t.count; i++) {
        if (vals[first[i]!] === EXCL) continue;
        // reversed key: length-prefixed labels, top-level first
        const labels: string[] = [];
        for (let p = offsets[i]!; p < offsets[i + 1]!; p += 1 + keys[p]!) {
          let l = '';
          for (let c = p + 1; c <= p + keys[p]!; c++) l += String.fromCharCode(keys[c]!);
          labels.push(l);
        }
        out.push(prefix + labels.reverse().join('.'));
      }
    }
    out.sort();
    return { v4: emptyRangeSet4(), v6: emptyRangeSet6(), domains: out };
  }

  /** Every entry (exclusions too: they cut what a wildcard above says) and its ancestors, each
   *  answered by query() itself (core/zones/domains.ts): exact entries deciding alone, the
   *  longest wildcard otherwise, `$` = the matched entry, as rbldnsd does. */
  records(opts: MaterialiseOptions): Iterable<ZoneRecord> {
    const names: string[] = [];
    for (const t of [this.exact, this.wild]) {
      const { keys, offsets } = t;
      for (let i = 0; i < t.count; i++) {
        const labels: string[] = [];
        for (let p = offsets[i]!; p < offsets[i + 1]!; p += 1 + keys[p]!) {
          let l = '';
          for (let c = p + 1; c <= p + keys[p]!; c++) l += String.fromCharCode(keys[c]!);
          labels.push(l.includes('.') ? '' : l);
        }
        names.push(labels.reverse().join('.'));
      }
    }
    return domainDatasetRecords(this, names, opts);
  }

  snapshot(): SnapshotPart {
    const tm = (t: NameTable): TableMeta => ({ minLabels: t.minLabels, maxLabels: t.maxLabels });
    const meta: DnsetMeta = {
      values: valuesToJson(this.values), ttl: this.ttl, subs: this.subs, meta: this.meta, exact: tm(this.exact), wild: tm(this.wild),
    };
    return { type: this.type, meta, arrays: [...this.exact.arrays(), ...this.wild.arrays()] };
  }
}

function grow<T extends Uint8Array | Uint32Array | Int32Array>(a: T, need: number): T {
  if (need <= a.length) return a;
  const b = new (a.constructor as new (n: number) => T)(Math.max(need, a.length * 2));
  b.set(a);
  return b;
}

/** Entries of one kind while loading, all in typed arrays. */
class EntryCollector {
  n = 0;
  private keyBytes = new Uint8Array(1 << 16);
  private keyEnd = 0;
  private offsets = new Uint32Array(1025);
  private vals = new Int32Array(1024);
  /** Order of a name's values: rbldnsd sorts them by where it stored the value (exclusions
   *  first); see DnsetLoader.store. */
  private ranks = new Int32Array(1024);
  private minLabels = 255;
  private maxLabels = 0;

  /** Adds the name held by `d` (reversed into key form). */
  add(d: DomainScanner, val: number, rank: number): void {
    const i = this.n++;
    this.offsets = grow(this.offsets, i + 2);
    this.vals = grow(this.vals, i + 1);
    this.ranks = grow(this.ranks, i + 1);
    let total = d.count;
    for (let j = 0; j < d.count; j++) total += d.lens[j]!;
    this.keyBytes = grow(this.keyBytes, this.keyEnd + total);
    const kb = this.keyBytes;
    let p = this.keyEnd;
    let end = total - d.count; // end of the last label in d.bytes
    for (let j = d.count - 1; j >= 0; j--) {
      const len = d.lens[j]!;
      kb[p++] = len;
      kb.set(d.bytes.subarray(end - len, end), p);
      p += len;
      end -= len;
    }
    this.keyEnd = p;
    this.offsets[i + 1] = p;
    this.vals[i] = val;
    this.ranks[i] = rank;
    if (d.count < this.minLabels) this.minLabels = d.count;
    if (d.count > this.maxLabels) this.maxLabels = d.count;
  }

  build(): NameTable {
    const { n, keyBytes: kb, offsets: off, vals, ranks } = this;
    let size = 16;
    while (size < n * 2) size *= 2;
    const slots = new Int32Array(size).fill(-1);
    const mask = size - 1;
    // group entries by name: uid[i] = name index of entry i, rep[u] = first entry of name u
    const uid = new Uint32Array(n);
    const rep = new Uint32Array(n);
    let names = 0;
    for (let i = 0; i < n; i++) {
      const s = off[i]!;
      const e = off[i + 1]!;
      for (let x = hashOf(kb, s, e) & mask; ; x = (x + 1) & mask) {
        const u = slots[x]!;
        if (u < 0) {
          slots[x] = names;
          rep[names] = i;
          uid[i] = names++;
          break;
        }
        const r = rep[u]!;
        if (off[r + 1]! - off[r]! === e - s && sameBytes(kb, s, e, kb, off[r]!)) {
          uid[i] = u;
          break;
        }
      }
    }
    // name u's entries go to order[start[u]..start[u+1]), in line order
    const start = new Uint32Array(names + 1);
    for (let i = 0; i < n; i++) start[uid[i]! + 1]!++;
    for (let u = 0; u < names; u++) start[u + 1]! += start[u]!;
    const fill = start.slice(0, names);
    const order = new Uint32Array(n);
    for (let i = 0; i < n; i++) order[fill[uid[i]!]!++] = i;
    let keyBytes = 0;
    for (let u = 0; u < names; u++) keyBytes += off[rep[u]! + 1]! - off[rep[u]!]!;
    const keys = new Uint8Array(keyBytes);
    const offsets = new Uint32Array(names + 1);
    const first = new Uint32Array(names + 1);
    const out = new Int32Array(n);
    let pos = 0;
    let nv = 0;
    for (let u = 0; u < names; u++) {
      const r = rep[u]!;
      keys.set(kb.subarray(off[r]!, off[r + 1]!), pos);
      pos += off[r + 1]! - off[r]!;
      offsets[u + 1] = pos;
      first[u] = nv;
      const a = start[u]!;
      const b = start[u + 1]!;
      if (b - a > 1) {
        // stable by rank (line order already): insertion sort, runs are short
        for (let x = a + 1; x < b; x++) {
          const cur = order[x]!;
          let y = x - 1;
          while (y >= a && ranks[order[y]!]! > ranks[cur]!) {
            order[y + 1] = order[y]!;
            y--;
          }
          order[y + 1] = cur;
        }
      }
      const g = nv;
      for (let x = a; x < b; x++) {
        const v = vals[order[x]!]!;
        // an exclusion hides everything else; a repeat of the previous value collapses
        if (x > a && (out[g] === EXCL || out[nv - 1] === v)) continue;
        out[nv++] = v;
      }
    }
    first[names] = nv;
    this.keyBytes = new Uint8Array(0);
    return new NameTable(keys, offsets, first, out.slice(0, nv), slots, this.minLabels, this.maxLabels);
  }
}

class DnsetLoader implements DatasetLoader {
  private readonly exact = new EntryCollector();
  private readonly wild = new EntryCollector();
  private readonly table = new ValueTable();
  private readonly name = new DomainScanner();
  private current: Value = BUILTIN_DEFAULT;
  private currentIndex = -1;
  private currentRank = 0;
  // rbldnsd returns several values of a name in the order their storage was allocated, and it
  // reuses storage only for a value equal to the one stored just before: mimic that rank.
  private lastStored: Value | null = null;
  private rank = 0;

  constructor(readonly state: LoadState) {}

  startFile(): void {
    this.setDefault(BUILTIN_DEFAULT, 0);
  }

  private setDefault(v: Value, rank: number): void {
    this.current = v;
    this.currentIndex = -1;
    this.currentRank = rank;
  }

  private store(v: Value): number {
    const last = this.lastStored;
    if (!last || last.a !== v.a || (last.txt ?? '') !== (v.txt ?? '')) {
      this.rank++;
      this.lastStored = v;
    }
    return this.rank;
  }

  private warn(at: Loc, msg: string): void {
    this.state.warn({ file: at.file, line: at.line }, msg);
  }

  addLine(line: string, at: Loc): void {
    if (line.charCodeAt(0) === 58 /* : */) {
      // a default line falls back to the built-in value, not to the previous default
      const v = parseEntryValue(line, BUILTIN_DEFAULT, this.state, at);
      if (typeof v === 'string') return this.warn(at, v);
      this.setDefault(v, this.store(v));
      return;
    }
    const excl = line.charCodeAt(0) === 33; /* ! */
    let p = excl ? valueStart(line, 1) : 0;
    let isExact = true;
    let isWild = false;
    if (line.charCodeAt(p) === 46 /* . */) {
      isWild = true;
      p++;
    } else if (line.charCodeAt(p) === 42 /* * */ && line.charCodeAt(p + 1) === 46) {
      isWild = true;
      isExact = false;
      p += 2;
    }
    let e = p;
    while (e < line.length && line.charCodeAt(e) !== 32 && line.charCodeAt(e) !== 9) e++;
    const d = this.name;
    if (e === p || !d.scan(line, p, e) || d.count === 0) return this.warn(at, 'invalid domain name');
    let val = EXCL;
    let rank = -1;
    if (!excl) {
      e = valueStart(line, e);
      if (isDefaultValue(line, e)) {
        if (this.currentIndex < 0) this.currentIndex = this.table.intern(this.current);
        val = this.currentIndex;
        rank = this.currentRank;
      } else {
        const v = parseEntryValue(line.slice(e), this.current, this.state, at);
        if (typeof v === 'string') return this.warn(at, v);
        val = this.table.intern(v);
        rank = this.store(v);
      }
    }
    if (isExact) this.exact.add(d, val, rank);
    if (isWild) this.wild.add(d, val, rank);
  }

  finish(meta: DatasetMeta): Dataset {
    const ttl = this.state.ttl ?? this.state.options.ttl.def;
    return new DnsetDataset(this.exact.build(), this.wild.build(), this.table.values, ttl, substitutionsOf(this.state), meta);
  }
}

function tableFrom(arrays: ArrayBufferView[], at: number, m: TableMeta): NameTable {
  return new NameTable(
    arrays[at] as Uint8Array, arrays[at + 1] as Uint32Array, arrays[at + 2] as Uint32Array, arrays[at + 3] as Int32Array,
    arrays[at + 4] as Int32Array, m.minLabels, m.maxLabels,
  );
}

export const dnset: DatasetType = {
  name: 'dnset',
  createLoader: (state) => new DnsetLoader(state),
  fromSnapshot(part: SnapshotPart): Dataset {
    const m = part.meta as DnsetMeta;
    return new DnsetDataset(
      tableFrom(part.arrays, 0, m.exact), tableFrom(part.arrays, 5, m.wild), valuesFromJson(m.values), m.ttl, m.subs, m.meta,
    );
  },
};
