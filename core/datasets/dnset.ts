// rbldnsd `dnset` (RHSBL): domain names relative to the zone. `name` matches exactly,
// `*.name` any name strictly below it, `.name` both; `!` makes an exclusion of that scope.
// Lookup: the exact entries of the full name decide if there are any (an exclusion there means
// not listed, with no fallback to wildcards); otherwise the longest wildcard suffix decides.
// The zone apex never matches. TXT `$` is the matched entry's name.
//
// Storage, per kind (exact, wildcard): the distinct names as reversed wire-format keys
// (length-prefixed labels, top-level label first) concatenated in one latin1 Buffer, sorted,
// with Uint32Array offsets; each name owns a run of value indexes (-1 = exclusion). Reversed
// keys make every parent domain a byte prefix of the query key.

import type { Dataset, DatasetLoader, DatasetMeta, DatasetType, Query, RecordSink, SnapshotPart } from './types.ts';
import type { LoadState, Loc } from '../rbldnsd/state.ts';
import {
  BUILTIN_DEFAULT, ValueTable, parseEntryValue, substitutionsOf, type Substitutions, type Value,
} from '../rbldnsd/value.ts';
import { dumpValue, emitValue, valuesFromJson, valuesToJson } from './ip4list.ts';

const EXCL = -1;
const MAX_WIRE = 255;

/** Parses a domain name the way rbldnsd reads a zone-file name: `\.`/`\c` escape a character,
 *  `\d`..`\ddd` a byte (<= 255), empty labels collapse, labels <= 63 bytes, the whole name
 *  <= 255 bytes in wire form. Labels are lowercased (ASCII). Returns labels in text order, or
 *  null when invalid. */
export function parseDomain(text: string): string[] | null {
  const labels: string[] = [];
  let label = '';
  let wire = 1;
  const n = text.length;
  for (let i = 0; i < n; ) {
    let c = text.charCodeAt(i++);
    if (c === 46 /* . */) {
      if (label.length) {
        if (label.length > 63) return null;
        labels.push(label);
        wire++;
        label = '';
      }
      continue;
    }
    if (c === 92 /* \ */) {
      if (i >= n) break;
      c = text.charCodeAt(i++);
      if (c >= 48 && c <= 57) {
        c -= 48;
        for (let k = 0; k < 2 && i < n; k++) {
          const d = text.charCodeAt(i) - 48;
          if (d < 0 || d > 9) break;
          c = c * 10 + d;
          i++;
        }
        if (c > 255) return null;
      }
    }
    if (wire >= MAX_WIRE - 1) return null;
    wire++;
    label += String.fromCharCode(c >= 65 && c <= 90 ? c + 32 : c);
  }
  if (label.length > 63) return null;
  if (label.length) labels.push(label);
  return labels;
}

const SPECIAL = new Set([34, 46, 59, 92, 64, 36]); // " . ; \ @ $

/** A name as rbldnsd prints it (TXT `$`, dumps): dots between labels, zone-file escapes. */
export function formatDomain(labels: readonly string[]): string {
  let out = '';
  for (let j = 0; j < labels.length; j++) {
    if (j) out += '.';
    const l = labels[j]!;
    for (let i = 0; i < l.length; i++) {
      const c = l.charCodeAt(i);
      if (SPECIAL.has(c)) out += '\\' + l[i];
      else if (c <= 32 || c >= 127) out += '\\' + String(c).padStart(3, '0');
      else out += l[i];
    }
  }
  return out;
}

/** Reversed wire key of labels (text order in, top-level label first out), latin1. */
function keyOf(labels: readonly string[]): string {
  let k = '';
  for (let j = labels.length - 1; j >= 0; j--) k += String.fromCharCode(labels[j]!.length) + labels[j];
  return k;
}

/** Labels (text order) of a reversed key stored at keys[s..e). */
function labelsOf(keys: Buffer, s: number, e: number): string[] {
  const out: string[] = [];
  while (s < e) {
    const len = keys[s]!;
    out.unshift(keys.toString("latin1", s + 1, s + 1 + len));
    s += 1 + len;
  }
  return out;
}

/** One sorted name table (the exact or the wildcard entries). */
class NameTable {
  constructor(
    readonly keys: Buffer,
    /** offsets[i]..offsets[i+1]: key i; one extra final element. */
    readonly offsets: Uint32Array,
    /** first[i]..first[i+1]: the value indexes of name i in `vals`. */
    readonly first: Uint32Array,
    readonly vals: Int32Array,
    readonly minLabels: number,
    readonly maxLabels: number,
  ) {}

  get count(): number {
    return this.offsets.length - 1;
  }

  /** Index of the name whose key equals q[0..len), or -1. */
  find(q: Uint8Array, len: number): number {
    const keys = this.keys;
    const offs = this.offsets;
    let lo = 0;
    let hi = offs.length - 2;
    while (lo <= hi) {
      const m = (lo + hi) >>> 1;
      const s = offs[m]!;
      const klen = offs[m + 1]! - s;
      const n = klen < len ? klen : len;
      let d = 0;
      for (let i = 0; i < n && d === 0; i++) d = keys[s + i]! - q[i]!;
      if (d === 0) d = klen - len;
      if (d === 0) return m;
      if (d < 0) lo = m + 1;
      else hi = m - 1;
    }
    return -1;
  }

  arrays(): ArrayBufferView[] {
    return [this.keys, this.offsets, this.first, this.vals];
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
  /** qends[j]: end of the query key covering labels j..n-1 (the suffix without j labels). */
  private readonly qends = new Uint32Array(128);

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
    // reversed key of the whole name; qends[j] = key length of the suffix starting at label j
    const k = this.qkey;
    let p = 0;
    for (let j = n - 1; j >= 0; j--) {
      const l = labels[j]!;
      if (p + 1 + l.length > k.length) return false;
      k[p++] = l.length;
      for (let i = 0; i < l.length; i++) k[p++] = l.charCodeAt(i);
      this.qends[j] = p;
    }
    const ex = this.exact;
    if (n >= ex.minLabels && n <= ex.maxLabels) {
      const i = ex.find(k, p);
      if (i >= 0) return this.answer(ex, i, out);
    }
    const w = this.wild;
    for (let j = Math.max(1, n - w.maxLabels); n - j >= w.minLabels; j++) {
      const i = w.find(k, this.qends[j]!);
      if (i >= 0) return this.answer(w, i, out);
    }
    return false;
  }

  private answer(t: NameTable, i: number, out: RecordSink): boolean {
    const a = t.first[i]!;
    const b = t.first[i + 1]!;
    if (t.vals[a] === EXCL) return false;
    if (out.wantA || out.wantTxt) {
      const subject = out.wantTxt ? formatDomain(labelsOf(t.keys, t.offsets[i]!, t.offsets[i + 1]!)) : '';
      for (let x = a; x < b; x++) emitValue(this.values[t.vals[x]!]!, this.ttl, subject, this.subs, out);
    }
    return true;
  }

  dump(_zone: string, write: (line: string) => void): void {
    write(`$TTL ${this.ttl}`);
    for (const [t, prefix] of [[this.exact, ''], [this.wild, '*.']] as const) {
      for (let i = 0; i < t.count; i++) {
        const name = formatDomain(labelsOf(t.keys, t.offsets[i]!, t.offsets[i + 1]!));
        for (let x = t.first[i]!; x < t.first[i + 1]!; x++) {
          const v = t.vals[x]!;
          dumpValue(prefix + name, v === EXCL ? null : this.values[v]!, name, this.subs, write);
        }
      }
    }
  }

  snapshot(): SnapshotPart {
    const tm = (t: NameTable): TableMeta => ({ minLabels: t.minLabels, maxLabels: t.maxLabels });
    const meta: DnsetMeta = {
      values: valuesToJson(this.values), ttl: this.ttl, subs: this.subs, meta: this.meta, exact: tm(this.exact), wild: tm(this.wild),
    };
    return { type: this.type, meta, arrays: [...this.exact.arrays(), ...this.wild.arrays()] };
  }
}

/** Entries of one kind while loading: key strings plus (value, order) columns. */
class EntryCollector {
  keys: string[] = [];
  labels: number[] = [];
  vals = new Int32Array(1024);
  /** Sort rank among the values of one name (rbldnsd orders them by where the value was stored:
   *  exclusions first, then by first storage; see DnsetLoader.rank). */
  ranks = new Int32Array(1024);

  add(key: string, labels: number, val: number, rank: number): void {
    const i = this.keys.length;
    if (i >= this.vals.length) {
      const v = new Int32Array(i * 2);
      v.set(this.vals);
      this.vals = v;
      const r = new Int32Array(i * 2);
      r.set(this.ranks);
      this.ranks = r;
    }
    this.keys.push(key);
    this.labels.push(labels);
    this.vals[i] = val;
    this.ranks[i] = rank;
  }

  build(): NameTable {
    const n = this.keys.length;
    // sort by (key, rank, line order): a suffix after a 0 byte keeps key order, because every
    // longer key continues with a label length >= 1
    const sortKeys = new Array<string>(n);
    for (let i = 0; i < n; i++) sortKeys[i] = `${this.keys[i]}\u0000${num4(this.ranks[i]! + 1)}${num4(i)}`;
    sortKeys.sort();
    let bytes = 0;
    let minLabels = 255;
    let maxLabels = 0;
    for (const k of this.keys) bytes += k.length;
    for (const l of this.labels) {
      if (l < minLabels) minLabels = l;
      if (l > maxLabels) maxLabels = l;
    }
    const keys = Buffer.allocUnsafe(bytes);
    const offsets = new Uint32Array(n + 1);
    const first = new Uint32Array(n + 1);
    const vals = new Int32Array(n);
    let names = 0;
    let nv = 0;
    let pos = 0;
    let prev: string | null = null;
    let groupStart = 0;
    for (const s of sortKeys) {
      const idx = decode4(s, s.length - 4);
      const key = this.keys[idx]!;
      const v = this.vals[idx]!;
      if (key !== prev) {
        offsets[names] = pos;
        first[names] = nv;
        names++;
        pos += keys.write(key, pos, "latin1");
        prev = key;
        groupStart = nv;
      } else if (vals[groupStart] === EXCL || vals[nv - 1] === v) {
        continue; // an exclusion hides everything else; a repeat of the previous value collapses
      }
      vals[nv++] = v;
    }
    offsets[names] = pos;
    first[names] = nv;
    this.keys = [];
    return new NameTable(keys.subarray(0, pos), offsets.slice(0, names + 1), first.slice(0, names + 1), vals.slice(0, nv), minLabels, maxLabels);
  }
}

function num4(x: number): string {
  return String.fromCharCode((x >>> 24) & 255, (x >>> 16) & 255, (x >>> 8) & 255, x & 255);
}

function decode4(s: string, o: number): number {
  return ((s.charCodeAt(o) << 24) | (s.charCodeAt(o + 1) << 16) | (s.charCodeAt(o + 2) << 8) | s.charCodeAt(o + 3)) >>> 0;
}

class DnsetLoader implements DatasetLoader {
  private readonly exact = new EntryCollector();
  private readonly wild = new EntryCollector();
  private readonly table = new ValueTable();
  private current: Value = BUILTIN_DEFAULT;
  private currentRank = 0;
  // rbldnsd keeps several values of a name in the order their storage was allocated, and it
  // reuses storage only for a value equal to the one stored just before. Mimic that rank.
  private lastStored: Value | null = null;
  private rank = 0;

  constructor(readonly state: LoadState) {}

  startFile(): void {
    this.current = BUILTIN_DEFAULT;
    this.currentRank = 0;
  }

  private store(v: Value): number {
    const last = this.lastStored;
    if (!last || last.a !== v.a || (last.txt ?? '') !== (v.txt ?? '')) {
      this.rank++;
      this.lastStored = v;
    }
    return this.rank;
  }

  addLine(line: string, at: Loc): void {
    const warn = (msg: string): void => this.state.warn({ file: at.file, line: at.line }, msg);
    if (line.charCodeAt(0) === 58 /* : */) {
      // a default line falls back to the built-in value, not the previous default
      const v = parseEntryValue(line, BUILTIN_DEFAULT, this.state, at);
      if (typeof v === 'string') return warn(v);
      this.current = v;
      this.currentRank = this.store(v);
      return;
    }
    let p = 0;
    const excl = line.charCodeAt(0) === 33; /* ! */
    if (excl) {
      p = 1;
      while (line.charCodeAt(p) === 32 || line.charCodeAt(p) === 9) p++;
    }
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
    const labels = e > p ? parseDomain(line.slice(p, e)) : null;
    if (!labels || labels.length === 0) return warn('invalid domain name');
    let val = EXCL;
    let rank = -1;
    if (!excl) {
      while (line.charCodeAt(e) === 32 || line.charCodeAt(e) === 9) e++;
      const rest = line.slice(e);
      const c = rest.charCodeAt(0);
      if (rest === '' || c === 35 || c === 59) {
        val = this.table.intern(this.current);
        rank = this.currentRank;
      } else {
        const v = parseEntryValue(rest, this.current, this.state, at);
        if (typeof v === 'string') return warn(v);
        val = this.table.intern(v);
        rank = this.store(v);
      }
    }
    const key = keyOf(labels);
    if (isExact) this.exact.add(key, labels.length, val, rank);
    if (isWild) this.wild.add(key, labels.length, val, rank);
  }

  finish(meta: DatasetMeta): Dataset {
    const ttl = this.state.ttl ?? this.state.options.ttl.def;
    return new DnsetDataset(this.exact.build(), this.wild.build(), this.table.values, ttl, substitutionsOf(this.state), meta);
  }
}

function tableFrom(arrays: ArrayBufferView[], at: number, m: TableMeta): NameTable {
  const k = arrays[at] as Uint8Array;
  return new NameTable(
    Buffer.from(k.buffer, k.byteOffset, k.byteLength), arrays[at + 1] as Uint32Array, arrays[at + 2] as Uint32Array,
    arrays[at + 3] as Int32Array, m.minLabels, m.maxLabels,
  );
}

export const dnset: DatasetType = {
  name: 'dnset',
  createLoader: (state) => new DnsetLoader(state),
  fromSnapshot(part: SnapshotPart): Dataset {
    const m = part.meta as DnsetMeta;
    return new DnsetDataset(
      tableFrom(part.arrays, 0, m.exact), tableFrom(part.arrays, 4, m.wild), valuesFromJson(m.values), m.ttl, m.subs, m.meta,
    );
  },
};
