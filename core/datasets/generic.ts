// rbldnsd `generic` dataset: simplified BIND lines `name [ttl] [IN] type data` with types A, TXT
// and MX, answered by exact name match. Records of one name and type are kept in the order
// rbldnsd's own sort leaves them in, and each multi-record answer is rotated by one counter
// shared by the whole process (rbldnsd's "round robin"), so answers match the oracle's order.

import type { Dataset, DatasetLoader, DatasetMeta, DatasetType, Query, RecordSink, SnapshotPart } from './types.ts';
import { LoadError } from '../rbldnsd/reader.ts';
import { parseTime, type LoadState, type Loc } from '../rbldnsd/state.ts';
import { ip4ToString, makeQuery } from '../query.ts';
import type { MaterialiseOptions, ZoneRecord } from '../zones/records.ts';

const T_A = 1;
const T_MX = 15;
const T_TXT = 16;
const T_ANY = 255;
const TXT_MAX = 255;

// ---------------------------------------------------------------------------------------------
// Domain names (shared with combined for its subzone names)

/** Parses a domain name in master-file text form into labels (latin1 byte strings), handling
 *  `\c` and `\ddd` escapes; empty labels collapse and a trailing dot is ignored. Returns null
 *  when a label is longer than 63 bytes or the name longer than 255 bytes. Not lowercased. */
export function parseDomainName(text: string): string[] | null {
  const labels: string[] = [];
  let cur = '';
  let bytes = 0; // label bytes so far (with the label count: the wire length)
  for (let i = 0; i < text.length; ) {
    let c = text[i++]!;
    if (c === '.') {
      if (cur !== '') {
        if (cur.length > 63) return null;
        labels.push(cur);
        cur = '';
      }
      continue;
    }
    if (c === '\\') {
      if (i >= text.length) break;
      c = text[i++]!;
      if (c >= '0' && c <= '9') {
        let v = c.charCodeAt(0) - 48;
        if (i < text.length && text[i]! >= '0' && text[i]! <= '9') {
          v = v * 10 + text.charCodeAt(i++) - 48;
          if (i < text.length && text[i]! >= '0' && text[i]! <= '9') {
            v = v * 10 + text.charCodeAt(i++) - 48;
            if (v > 255) return null;
          }
        }
        c = String.fromCharCode(v);
      }
    }
    if (1 + bytes + labels.length >= 254) return null; // wire form must stay <= 255 bytes
    bytes++;
    cur += c;
  }
  if (cur.length > 63) return null;
  if (cur !== '') labels.push(cur);
  return labels;
}

/** ASCII-only lowercasing, as DNS name comparison does (bytes >= 0x80 untouched). */
export function lowerAscii(s: string): string {
  return /[A-Z]/.test(s) ? s.replace(/[A-Z]+/g, (m) => m.toLowerCase()) : s;
}

/** An unambiguous map key for a label list (wire format without the root byte). */
export function labelsKey(labels: readonly string[]): string {
  let k = '';
  for (const l of labels) k += String.fromCharCode(l.length) + l;
  return k;
}

/** Master-file text of a name (no trailing dot); special and non-printable bytes escaped. */
export function nameToText(labels: readonly string[]): string {
  return labels
    .map((l) => {
      let o = '';
      for (let i = 0; i < l.length; i++) {
        const c = l.charCodeAt(i);
        const ch = l[i]!;
        if (ch === '"' || ch === '.' || ch === ';' || ch === '\\' || ch === '@' || ch === '$') o += '\\' + ch;
        else if (c <= 0x20 || c >= 0x7f) o += '\\' + String(c).padStart(3, '0');
        else o += ch;
      }
      return o;
    })
    .join('.');
}

// ---------------------------------------------------------------------------------------------
// Rotation: one counter for the whole process, advanced by every answer of 2+ records.

let rotation = 0;

/** Resets the shared rotation counter (tests only: answers then start at offset `n`). */
export function resetGenericRotation(n = 0): void {
  rotation = n >>> 0;
}

// ---------------------------------------------------------------------------------------------
// rbldnsd's record order. rbldnsd sorts records with a median-of-three quicksort that finishes
// with an insertion sort (not stable), so records of the same name and type come out in an
// order that depends on the whole file. Reproducing that sort step for step is the only way to
// give the same first record and the same rotation sequence as the oracle.

function rbldnsdSort<T>(a: T[], lt: (x: T, y: T) => boolean): void {
  const n = a.length;
  const TH = 4;
  const swap = (i: number, j: number): void => {
    const t = a[i]!;
    a[i] = a[j]!;
    a[j] = t;
  };
  if (n > TH) {
    let lo = 0;
    let hi = n - 1;
    const stack: number[] = [0, 0]; // a sentinel pair: popping it ends the loop
    while (stack.length > 0) {
      let mid = lo + ((hi - lo) >> 1);
      if (lt(a[mid]!, a[lo]!)) swap(mid, lo);
      if (lt(a[hi]!, a[mid]!)) {
        swap(mid, hi);
        if (lt(a[mid]!, a[lo]!)) swap(mid, lo);
      }
      let l = lo + 1;
      let r = hi - 1;
      do {
        while (lt(a[l]!, a[mid]!)) l++;
        while (lt(a[mid]!, a[r]!)) r--;
        if (l < r) {
          swap(l, r);
          if (mid === l) mid = r;
          else if (mid === r) mid = l;
          l++;
          r--;
        } else if (l === r) {
          l++;
          r--;
          break;
        }
      } while (l <= r);
      if (r - lo <= TH) {
        if (hi - l <= TH) {
          hi = stack.pop()!;
          lo = stack.pop()!;
        } else lo = l;
      } else if (hi - l <= TH) hi = r;
      else if (r - lo > hi - l) {
        stack.push(lo, r);
        lo = l;
      } else {
        stack.push(l, hi);
        hi = r;
      }
    }
  }
  if (n < 2) return;
  // Smallest of the first few goes first (a sentinel for the insertion sort), then insertion.
  const end = n - 1;
  const thresh = Math.min(TH, end);
  let min = 0;
  for (let i = 1; i <= thresh; i++) if (lt(a[i]!, a[min]!)) min = i;
  if (min !== 0) swap(min, 0);
  for (let run = 2; run <= end; run++) {
    let t = run - 1;
    while (t >= 0 && lt(a[run]!, a[t]!)) t--;
    t++;
    if (t !== run) {
      const hold = a[run]!;
      for (let i = run; i > t; i--) a[i] = a[i - 1]!;
      a[t] = hold;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Loading

interface RawRecord {
  /** Sort key: wire length byte + wire name (rbldnsd's comparison), lowercased. */
  key: string;
  labels: string[];
  type: number;
  ttl: number;
  /** A address or MX preference. */
  num: number;
  /** TXT text, or MX exchange (dotted, no trailing dot, no escapes: what RecordSink.mx takes). */
  str: string | null;
}

const isBlank = (c: string | undefined): boolean => c === ' ' || c === '\t';

/** inet_aton-style address as rbldnsd reads generic A data: `n` = 0.0.0.n, `a.b` = a.0.0.b,
 *  `a.b.c` = a.b.0.c; parsing stops at the first character that is neither digit nor dot, and
 *  anything after the address is ignored. 0.0.0.0 is allowed. */
export function parseGenericA(text: string): number | undefined {
  const parts: number[] = [];
  let i = 0;
  for (;;) {
    if (!(text[i]! >= '0' && text[i]! <= '9')) return undefined;
    let v = 0;
    while (text[i]! >= '0' && text[i]! <= '9') {
      v = v * 10 + text.charCodeAt(i++) - 48;
      if (v > 255) return undefined;
    }
    parts.push(v);
    if (parts.length === 4 || text[i] !== '.') break;
    i++;
  }
  const [a, b, c, d] = parts;
  switch (parts.length) {
    case 1: return a!;
    case 2: return a! * 0x1000000 + b!;
    case 3: return a! * 0x1000000 + b! * 0x10000 + c!;
    default: return a! * 0x1000000 + b! * 0x10000 + c! * 0x100 + d!;
  }
}

/** Parses one generic line. Returns a record, a warning text (line skipped), or throws
 *  LoadError where rbldnsd aborts the whole load (bad TTL, bad MX exchange). */
function parseLine(line: string, state: LoadState, at: Loc): RawRecord | string {
  const bad = 'invalid/unrecognized entry';
  let i = 0;
  let labels: string[];
  if (line[0] === '@' && isBlank(line[1])) {
    labels = [];
    i = 2;
  } else {
    while (i < line.length && !isBlank(line[i])) i++;
    const parsed = parseDomainName(line.slice(0, i));
    if (!parsed || parsed.length === 0) return bad;
    labels = parsed.map(lowerAscii);
  }
  while (isBlank(line[i])) i++;

  let ttl: number;
  if (line[i]! >= '0' && line[i]! <= '9') {
    // rbldnsd: digits, optional unit, then blank, `:` or end; anything else fails the load.
    const m = /^(\d+[smhdwSMHDW]?)(?=[ \t:]|$)/.exec(line.slice(i));
    const t = m ? parseTime(m[1]!) : undefined;
    if (t === undefined) throw new LoadError('invalid TTL in generic record (rbldnsd aborts the load)', { ...at });
    ttl = t === 0 ? state.currentTtl : state.clampTtl(t);
    i += m![1]!.length;
    while (isBlank(line[i])) i++;
  } else ttl = state.currentTtl;

  if ((line[i] === 'i' || line[i] === 'I') && (line[i + 1] === 'n' || line[i + 1] === 'N') && isBlank(line[i + 2])) {
    i += 2;
    while (isBlank(line[i])) i++;
  }
  const ts = i;
  while (i < line.length && !isBlank(line[i])) i++;
  if (i >= line.length) return bad; // a type needs data after it
  const type = line.slice(ts, i).toLowerCase();
  while (isBlank(line[i])) i++;
  const data = line.slice(i);
  const key = String.fromCharCode(labelsKey(labels).length) + labelsKey(labels);

  switch (type) {
    case 'a': {
      const a = parseGenericA(data);
      if (a === undefined) return bad;
      return { key, labels, type: T_A, ttl, num: a, str: null };
    }
    case 'txt': {
      let t = data;
      if (t.length >= 2 && t[0] === '"' && t[t.length - 1] === '"') t = t.slice(1, -1);
      if (t.length > TXT_MAX) {
        state.warn({ ...at }, 'TXT RR truncated to 255 bytes');
        t = t.slice(0, TXT_MAX);
      }
      return { key, labels, type: T_TXT, ttl, num: 0, str: t };
    }
    case 'mx': {
      const m = /^(\d+)(?:[ \t]+|$)/.exec(data);
      if (!m || m[1]!.length > 10 || Number(m[1]) > 0xffffffff) return bad;
      const pref = Number(m[1]);
      if (pref > 65535) return bad;
      const rest = data.slice(m[0].length);
      const end = rest.search(/[ \t]/);
      const nameText = end < 0 ? rest : rest.slice(0, end);
      const exchange = nameText === '' ? null : parseDomainName(nameText);
      if (!exchange) throw new LoadError('invalid MX exchange name in generic record (rbldnsd aborts the load)', { ...at });
      if (end >= 0 && rest.slice(end).trim() !== '') {
        throw new LoadError('junk after the MX exchange name in generic record (rbldnsd aborts the load)', { ...at });
      }
      // Plain dotted form, case kept (rbldnsd answers the exchange as written).
      return { key, labels, type: T_MX, ttl, num: pref, str: exchange.join('.') };
    }
    default:
      return bad;
  }
}

class GenericLoader implements DatasetLoader {
  private readonly records: RawRecord[] = [];

  constructor(readonly state: LoadState) {}

  startFile(): void {}

  addLine(line: string, at: Loc): void {
    const r = parseLine(line, this.state, at);
    if (typeof r === 'string') this.state.warn({ ...at }, r);
    else this.records.push(r);
  }

  finish(meta: DatasetMeta): Dataset {
    const recs = this.records;
    rbldnsdSort(recs, (x, y) => x.key < y.key || (x.key === y.key && x.type < y.type));
    const n = recs.length;
    const names: string[][] = [];
    const starts: number[] = [];
    const type = new Uint8Array(n);
    const ttl = new Uint32Array(n);
    const num = new Uint32Array(n);
    const strs: (string | null)[] = new Array(n);
    for (let i = 0; i < n; i++) {
      const r = recs[i]!;
      if (i === 0 || r.key !== recs[i - 1]!.key) {
        names.push(r.labels);
        starts.push(i);
      }
      type[i] = r.type;
      ttl[i] = r.ttl;
      num[i] = r.num;
      strs[i] = r.str;
    }
    starts.push(n);
    return new GenericDataset(meta, this.state.currentTtl, names, Uint32Array.from(starts), type, ttl, num, strs);
  }
}

// ---------------------------------------------------------------------------------------------
// The loaded dataset

export interface GlueRecord {
  ip: number;
  ttl: number;
}

/** A sink that keeps only A records: what rbldnsd's glue lookup (a fake A query) collects. */
class GlueSink implements RecordSink {
  readonly wantA = true;
  readonly wantTxt = false;
  readonly qtype = T_A;
  readonly out: GlueRecord[] = [];
  a(ip: number, ttl: number): void {
    this.out.push({ ip, ttl });
  }
  txt(): void {}
  mx(): void {}
}

/** Glue for an NS name inside a served zone, exactly as rbldnsd finds it: an A query for
 *  `labels` (relative to the zone of `dataset`) through the dataset, keeping the A records.
 *  Works for every dataset type (rbldnsd asks all datasets of the zone, ip4set included).
 *  Like rbldnsd it advances the generic rotation counter. */
export function glueRecords(dataset: Dataset, labels: readonly string[]): GlueRecord[] {
  const sink = new GlueSink();
  dataset.query(makeQuery(labels, T_A), sink);
  return sink.out;
}

export class GenericDataset implements Dataset {
  readonly type = 'generic';
  private readonly index = new Map<string, number>();

  constructor(
    readonly meta: DatasetMeta,
    readonly ttl: number,
    /** Distinct names in sorted order (labels, lowercased). */
    private readonly names: string[][],
    /** Records of names[i] are [starts[i], starts[i+1]). */
    private readonly starts: Uint32Array,
    private readonly rtype: Uint8Array,
    private readonly rttl: Uint32Array,
    private readonly rnum: Uint32Array,
    private readonly rstr: (string | null)[],
  ) {
    names.forEach((l, i) => this.index.set(labelsKey(l), i));
  }

  get size(): number {
    return this.rtype.length;
  }

  private emit(i: number, out: RecordSink): void {
    const t = this.rtype[i]!;
    if (t === T_A) out.a(this.rnum[i]!, this.rttl[i]!);
    else if (t === T_TXT) out.txt(this.rstr[i]!, this.rttl[i]!);
    else out.mx(this.rnum[i]!, this.rstr[i]!, this.rttl[i]!);
  }

  /** Emits records [s, e) starting at the next rotation offset when there are several. */
  private emitGroup(s: number, e: number, out: RecordSink): void {
    const n = e - s;
    if (n <= 0) return;
    let m = s;
    if (n > 1) {
      m = s + (rotation % n);
      rotation = (rotation + 1) >>> 0;
    }
    for (let i = m; i < e; i++) this.emit(i, out);
    for (let i = s; i < m; i++) this.emit(i, out);
  }

  query(q: Query, out: RecordSink): boolean {
    const idx = this.index.get(labelsKey(q.labels));
    if (idx === undefined) return false;
    const s = this.starts[idx]!;
    const e = this.starts[idx + 1]!;
    const qt = q.qtype;
    if (qt === T_ANY) {
      let g = s;
      for (let i = s + 1; i <= e; i++) {
        if (i === e || this.rtype[i] !== this.rtype[g]) {
          this.emitGroup(g, i, out);
          g = i;
        }
      }
    } else if (qt === T_A || qt === T_MX || qt === T_TXT) {
      let g = s;
      while (g < e && this.rtype[g] !== qt) g++;
      let ge = g;
      while (ge < e && this.rtype[ge] === qt) ge++;
      this.emitGroup(g, ge, out);
    }
    return true; // the name exists: other types give NODATA
  }

  /** Every record as it is (its own TTL). rbldnsd matches names exactly: a name whose first
   *  label is `*` would be a wildcard on a secondary, and a label holding a dot or an empty
   *  label cannot be an owner name; those are reported and left out. */
  *records(opts: MaterialiseOptions): Generator<ZoneRecord> {
    for (let k = 0; k < this.names.length; k++) {
      const labels = this.names[k]!;
      if (labels[0] === '*' || labels.some((l) => l === '' || l.includes('.'))) {
        opts.report(`generic: the name "${nameToText(labels)}" has no plain-record form (a * first label is a wildcard on a secondary): left out`);
        continue;
      }
      const name = labels.join('.');
      for (let i = this.starts[k]!; i < this.starts[k + 1]!; i++) {
        const t = this.rtype[i]!;
        const data = t === T_A ? ip4ToString(this.rnum[i]!) : t === T_TXT ? this.rstr[i]! : `${this.rnum[i]} ${this.rstr[i]}.`;
        yield { name, type: t, ttl: this.rttl[i]!, data };
      }
    }
  }

  /** A records of `labels` (relative to this dataset's zone), for NS glue. */
  glue(labels: readonly string[]): GlueRecord[] {
    const sink = new GlueSink();
    this.query(makeQuery(labels, T_A), sink);
    return sink.out;
  }

  dump(_zone: string, write: (line: string) => void): void {
    for (let k = 0; k < this.names.length; k++) {
      const labels = this.names[k]!;
      let name = labels.length ? nameToText(labels) : '@';
      for (let i = this.starts[k]!; i < this.starts[k + 1]!; i++) {
        const t = this.rtype[i]!;
        const head = `${name}\t${this.rttl[i]}\t`;
        name = '';
        if (t === T_A) write(`${head}A\t${ip4ToString(this.rnum[i]!)}`);
        else if (t === T_TXT) write(`${head}TXT\t"${escapeTxt(this.rstr[i]!)}"`);
        else write(`${head}MX\t${this.rnum[i]}\t${this.rstr[i]}.`);
      }
    }
  }

  snapshot(): SnapshotPart {
    return {
      type: 'generic',
      meta: { meta: this.meta, ttl: this.ttl, names: this.names, strs: this.rstr },
      arrays: [this.starts, this.rtype, this.rttl, this.rnum],
    };
  }
}

/** TXT text inside a master-file quoted string (rbldnsd writes it raw; we keep it parseable). */
function escapeTxt(s: string): string {
  let o = '';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (s[i] === '"' || s[i] === '\\') o += '\\' + s[i];
    else if (c < 0x20 || c >= 0x7f) o += '\\' + String(c).padStart(3, '0');
    else o += s[i];
  }
  return o;
}

function u32(v: ArrayBufferView): Uint32Array {
  if (v instanceof Uint32Array) return v;
  if (v.byteOffset % 4 === 0) return new Uint32Array(v.buffer, v.byteOffset, v.byteLength >> 2);
  return new Uint32Array(new Uint8Array(v.buffer, v.byteOffset, v.byteLength).slice().buffer);
}

function u8(v: ArrayBufferView): Uint8Array {
  return v instanceof Uint8Array ? v : new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
}

interface GenericSnapshotMeta {
  meta: DatasetMeta;
  ttl: number;
  names: string[][];
  strs: (string | null)[];
}

export const generic: DatasetType = {
  name: 'generic',
  createLoader(state: LoadState): DatasetLoader {
    return new GenericLoader(state);
  },
  fromSnapshot(part: SnapshotPart): Dataset {
    const m = part.meta as GenericSnapshotMeta;
    const [starts, type, ttl, num] = part.arrays;
    if (part.type !== 'generic' || !starts || !type || !ttl || !num) throw new Error('not a generic dataset snapshot');
    return new GenericDataset(m.meta, m.ttl, m.names, u32(starts), u8(type), u32(ttl), u32(num), m.strs);
  },
};
