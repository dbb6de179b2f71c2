// The evidence sweep: all sources' and provider feeds' ranges become elementary intervals in
// which the set of listing sources and covering providers is constant, each tagged with a small
// class id. Every input RangeSet is already sorted, disjoint and merged, so its boundaries
// (start, end+1, start, end+1, ...) are a strictly increasing stream that toggles one bit: the
// sweep is a K-way merge of those streams, no sort and no per-entry object.

import type { SnapshotPart } from '../../core/datasets/types.ts';
import type { RangeSet4, RangeSet6 } from '../../core/ranges.ts';
import type { Evidence, EvidenceClass, EvidenceInputs, EvidenceSpare, Index4 } from './types.ts';
import { UNPACED, type Pacer } from '../../core/pace.ts';
import { nativeSweep, SWEEP_DONE, SWEEP_NEW_CLASS, type NativeSweep } from './native-sweep.ts';

export const MAX_SOURCES = 32;
/** Provider bits ride above the 32 source bits in a double (exact up to 2^53). */
export const MAX_PROVIDERS = 21;
const MAX_CLASSES = 65536;

/** Interns (sources, providers) masks as class ids; class 0 = nothing. */
export class ClassTable {
  readonly src: number[] = [0];
  readonly prov: number[] = [0];
  /** The flat table (-1 = not interned yet), read by the native sweep; null above 20 bits. */
  readonly direct: Int32Array | null;
  private map = new Map<number, number>();

  constructor(private readonly nSources: number, nProviders: number) {
    const bits = nSources + nProviders;
    // a flat table when the mask space is small (the usual case): one array read per change
    this.direct = bits <= 20 ? new Int32Array(1 << bits).fill(-1) : null;
    if (this.direct) this.direct[0] = 0;
    this.map.set(0, 0);
  }

  id(smask: number, pmask: number): number {
    const d = this.direct;
    if (d) {
      const k = (smask | (pmask << this.nSources)) >>> 0;
      const c = d[k]!;
      return c >= 0 ? c : (d[k] = this.add(smask, pmask));
    }
    const key = (smask >>> 0) + pmask * 4294967296;
    const c = this.map.get(key);
    if (c !== undefined) return c;
    const n = this.add(smask, pmask);
    this.map.set(key, n);
    return n;
  }

  private add(smask: number, pmask: number): number {
    const n = this.src.length;
    if (n >= MAX_CLASSES) throw new Error(`evidence: more than ${MAX_CLASSES} distinct classes`);
    this.src.push(smask >>> 0);
    this.prov.push(pmask >>> 0);
    return n;
  }
}

/** Boundaries between two pacer.check() calls (the JS loop's n & 0xffff). */
const PACE_EVERY = 65536;

/** Output arrays of an IPv4 sweep (an upper bound: one interval per boundary, plus address 0),
 *  in a spare evidence's buffers when they are big enough, and the sets' start/end columns. */
function sweepArrays(sets: RangeSet4[], spare: EvidenceSpare | null): { starts: Uint32Array<ArrayBuffer>; cls: Uint16Array<ArrayBuffer>; S: Uint32Array[]; E: Uint32Array[] } {
  let total = 1;
  for (const s of sets) total += s.start.length * 2;
  const reuse = spare !== null && spare.starts.byteLength >= total * 4 && spare.cls.byteLength >= total * 2;
  const starts = reuse ? new Uint32Array(spare.starts, 0, total) : new Uint32Array(total);
  const cls = reuse ? new Uint16Array(spare.cls, 0, total) : new Uint16Array(total);
  // both sweeps write address 0's class only when a range starts there: not zero-filled here
  starts[0] = 0;
  cls[0] = 0;
  return { starts, cls, S: sets.map((s) => s.start), E: sets.map((s) => s.end) };
}

/** Sweeps IPv4 sets (sources first, then providers). native: the addon, or null for the JS
 *  loop (the reference; tests compare the two); paceEvery: the native path's budget per call. */
export function sweep4(
  sets: RangeSet4[],
  nSources: number,
  table: ClassTable,
  pacer: Pacer,
  native: NativeSweep | null = nativeSweep,
  paceEvery = PACE_EVERY,
  spare: EvidenceSpare | null = null,
): { starts: Uint32Array<ArrayBuffer>; cls: Uint16Array<ArrayBuffer> } {
  // the addon reads the flat class table; a mask space above 20 bits stays in JS
  if (native && table.direct) return sweep4Native(native, sets, nSources, table, table.direct, pacer, paceEvery, spare);
  const K = sets.length;
  const { starts, cls, S, E } = sweepArrays(sets, spare);
  const len = new Int32Array(K);
  const pos = new Int32Array(K); // boundary index: even = start[pos/2], odd = end[pos/2]+1
  const head = new Float64Array(K); // current boundary; Infinity when the stream is done
  for (let k = 0; k < K; k++) {
    len[k] = S[k]!.length * 2;
    head[k] = len[k]! > 0 ? S[k]![0]! : Infinity;
  }
  let smask = 0;
  let pmask = 0;
  let m = 1; // starts[0] = 0, cls[0] = the class at address 0 (set below if some range starts there)
  for (let n = 1; ; n++) {
    if ((n & 0xffff) === 0) pacer.check();
    let cur = Infinity;
    for (let k = 0; k < K; k++) if (head[k]! < cur) cur = head[k]!;
    if (cur === Infinity) break;
    for (let k = 0; k < K; k++) {
      if (head[k] !== cur) continue;
      if (k < nSources) smask ^= 1 << k;
      else pmask ^= 1 << (k - nSources);
      const p = pos[k]! + 1;
      pos[k] = p;
      if (p >= len[k]!) head[k] = Infinity;
      else if (p & 1) {
        const e = E[k]![p >> 1]! + 1;
        head[k] = e > 0xffffffff ? Infinity : e; // a range ending at 2^32-1 closes nothing
      } else head[k] = S[k]![p >> 1]!;
    }
    const c = table.id(smask, pmask);
    if (cur === 0) cls[0] = c;
    else if (c !== cls[m - 1]) {
      starts[m] = cur;
      cls[m] = c;
      m++;
    }
  }
  return { starts: trim(starts, m), cls: trim(cls, m) };
}

/** sweep4 in C: it stops at each class not interned yet and after each paceEvery boundaries;
 *  between calls JS interns, writes that entry (the rule of the JS loop) and paces. */
function sweep4Native(
  native: NativeSweep,
  sets: RangeSet4[],
  nSources: number,
  table: ClassTable,
  direct: Int32Array,
  pacer: Pacer,
  paceEvery: number,
  spare: EvidenceSpare | null,
): { starts: Uint32Array<ArrayBuffer>; cls: Uint16Array<ArrayBuffer> } {
  const { starts, cls, S, E } = sweepArrays(sets, spare);
  const pos = new Int32Array(sets.length);
  const state = Float64Array.of(0, 0, 1, 0, 0); // smask, pmask, m, cur, boundaries swept
  let paceAt = paceEvery;
  for (;;) {
    const r = native.sweep4(S, E, nSources, pos, state, direct, starts, cls, paceAt - state[4]!);
    if (r === SWEEP_DONE) break;
    if (r === SWEEP_NEW_CLASS) {
      const c = table.id(state[0]!, state[1]!);
      const cur = state[3]!;
      const m = state[2]!;
      if (cur === 0) cls[0] = c;
      else if (c !== cls[m - 1]) {
        starts[m] = cur;
        cls[m] = c;
        state[2] = m + 1;
      }
    }
    if (state[4]! >= paceAt) {
      pacer.check();
      paceAt += paceEvery;
    }
  }
  const m = state[2]!;
  return { starts: trim(starts, m), cls: trim(cls, m) };
}

/** The first n elements; a copy only when it frees a lot (the sweep allocates an upper bound). */
function trim<T extends Uint32Array<ArrayBuffer> | Uint16Array<ArrayBuffer>>(a: T, n: number): T {
  return (n * 4 >= a.length * 3 ? a.subarray(0, n) : a.slice(0, n)) as T;
}

/** address (4 words at off) + 1 into out at o; returns false on overflow (the address was all ones). */
function inc6(a: Uint32Array, off: number, out: Uint32Array, o: number): boolean {
  let carry = 1;
  for (let k = 3; k >= 0; k--) {
    const v = a[off + k]! + carry;
    out[o + k] = v >>> 0;
    carry = v > 0xffffffff ? 1 : 0;
  }
  return carry === 0;
}

function cmpW(a: Uint32Array, ai: number, b: Uint32Array, bi: number): number {
  for (let k = 0; k < 4; k++) {
    const x = a[ai + k]!;
    const y = b[bi + k]!;
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

/** Sweeps IPv6 sets the same way (feeds are small; clarity over speed). */
function sweep6(sets: RangeSet6[], nSources: number, table: ClassTable): { starts: Uint32Array<ArrayBuffer>; cls: Uint16Array<ArrayBuffer> } {
  const K = sets.length;
  // each set's boundary stream as words: start, end+1, start, end+1 ...
  const bw: Uint32Array[] = [];
  const count = new Int32Array(K);
  let total = 1;
  for (let k = 0; k < K; k++) {
    const s = sets[k]!;
    const n = s.start.length >>> 2;
    const w = new Uint32Array(n * 8);
    let c = 0;
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < 4; j++) w[c * 4 + j] = s.start[i * 4 + j]!;
      c++;
      if (inc6(s.end, i * 4, w, c * 4)) c++;
    }
    bw.push(w);
    count[k] = c;
    total += c;
  }
  const starts = new Uint32Array(total * 4);
  const cls = new Uint16Array(total);
  const pos = new Int32Array(K);
  let smask = 0;
  let pmask = 0;
  let m = 1;
  for (;;) {
    let best = -1;
    for (let k = 0; k < K; k++) {
      if (pos[k]! >= count[k]!) continue;
      if (best < 0 || cmpW(bw[k]!, pos[k]! * 4, bw[best]!, pos[best]! * 4) < 0) best = k;
    }
    if (best < 0) break;
    const cw = bw[best]!;
    const co = pos[best]! * 4;
    const c0 = cw[co]!, c1 = cw[co + 1]!, c2 = cw[co + 2]!, c3 = cw[co + 3]!;
    for (let k = 0; k < K; k++) {
      if (pos[k]! >= count[k]!) continue;
      const o = pos[k]! * 4;
      const w = bw[k]!;
      if (w[o] !== c0 || w[o + 1] !== c1 || w[o + 2] !== c2 || w[o + 3] !== c3) continue;
      if (k < nSources) smask ^= 1 << k;
      else pmask ^= 1 << (k - nSources);
      pos[k]!++;
    }
    const c = table.id(smask, pmask);
    if ((c0 | c1 | c2 | c3) === 0) cls[0] = c;
    else if (c !== cls[m - 1]) {
      starts[m * 4] = c0;
      starts[m * 4 + 1] = c1;
      starts[m * 4 + 2] = c2;
      starts[m * 4 + 3] = c3;
      cls[m] = c;
      m++;
    }
  }
  return { starts: starts.slice(0, m * 4), cls: cls.slice(0, m) };
}

/** Domain entries of all sources, each with the sources listing it or any '*.' ancestor. */
function mergeDomains(lists: string[][], table: ClassTable): { domains: string[]; cls: Uint16Array<ArrayBuffer> } {
  const own = new Map<string, number>();
  let wild = false;
  lists.forEach((list, k) => {
    for (const d of list) {
      own.set(d, (own.get(d) ?? 0) | (1 << k));
      if (d.charCodeAt(0) === 42 /* '*' */) wild = true;
    }
  });
  const domains = [...own.keys()].sort();
  const cls = new Uint16Array(domains.length);
  for (let i = 0; i < domains.length; i++) {
    const d = domains[i]!;
    let mask = own.get(d)!;
    if (wild) {
      // '*.P' for every proper ancestor P of the entry's name
      const base = d.startsWith('*.') ? d.slice(2) : d;
      for (let j = base.indexOf('.'); j >= 0; j = base.indexOf('.', j + 1)) {
        const w = own.get('*.' + base.slice(j + 1));
        if (w !== undefined) mask |= w;
      }
    }
    cls[i] = table.id(mask, 0);
  }
  return { domains, cls };
}

export function buildEvidence(inputs: EvidenceInputs, now = Date.now(), pacer: Pacer = UNPACED): Evidence {
  const { sources, providers } = inputs;
  if (sources.length > MAX_SOURCES) throw new Error(`evidence: at most ${MAX_SOURCES} sources`);
  if (providers.length > MAX_PROVIDERS) throw new Error(`evidence: at most ${MAX_PROVIDERS} provider feeds`);
  const table = new ClassTable(sources.length, providers.length);
  const spare = inputs.spare ?? null;
  const v4 = sweep4([...sources.map((s) => s.v4), ...providers.map((p) => p.v4)], sources.length, table, pacer, nativeSweep, PACE_EVERY, spare);
  const v6 = sweep6([...sources.map((s) => s.v6), ...providers.map((p) => p.v6)], sources.length, table);
  const dom = mergeDomains(sources.map((s) => s.domains), table);
  return {
    serial: inputs.serial ?? Math.floor(now / 1000),
    builtAt: now,
    sourceNames: sources.map((s) => s.name),
    sourceWeights: sources.map((s) => s.weight),
    providerNames: providers.map((p) => p.name),
    starts4: v4.starts,
    cls4: v4.cls,
    index4: index4Of(v4.starts, spare?.index),
    starts6: v6.starts,
    cls6: v6.cls,
    domains: dom.domains,
    domCls: dom.cls,
    classSources: Uint32Array.from(table.src),
    classProviders: Uint32Array.from(table.prov),
  };
}

/** An evidence snapshot with nothing in it (before the first merge). */
export function emptyEvidence(serial = 0): Evidence {
  return buildEvidence({ sources: [], providers: [], serial }, 0);
}

/** The class table as objects (explain, tests; the hot path reads the columns). */
export function classesOf(e: Evidence): EvidenceClass[] {
  return Array.from(e.classSources, (s, i) => ({ sources: s, providers: e.classProviders[i]! }));
}

// ---- lookups ----

/** Builds the bucket index of an IPv4 starts column: 16 to 32 intervals a bucket, 2^8..2^22
 *  buckets (at most 16 MiB). One pass, in the merge thread. */
export function index4Of(starts: Uint32Array, spare?: ArrayBuffer): Index4 {
  const n = starts.length;
  const bits = Math.min(22, Math.max(8, Math.floor(Math.log2(Math.max(n, 16) / 16))));
  const shift = 32 - bits;
  const buckets = 2 ** bits;
  // every element is written below: a spare buffer needs no clearing
  const at = spare && spare.byteLength >= (buckets + 1) * 4 ? new Uint32Array(spare, 0, buckets + 1) : new Uint32Array(buckets + 1);
  let b = 0; // the next bucket without an entry
  for (let i = 0; i < n; i++) {
    // every bucket up to this start's own begins here: the starts before it are all below it
    const own = starts[i]! >>> shift;
    while (b <= own) at[b++] = i;
  }
  while (b <= buckets) at[b++] = n;
  return { shift, at };
}

/** Index of the elementary interval holding ip. */
export function interval4(e: Evidence, ip: number): number {
  const x = e.index4 ?? (e.index4 = index4Of(e.starts4));
  const s = e.starts4;
  const b = ip >>> x.shift;
  // the answer is the last start <= ip: at or after the one before this bucket's first, before
  // the next bucket's first (starts4[0] = 0, so it exists)
  const first = x.at[b]!;
  let lo = first > 0 ? first - 1 : 0;
  let hi = x.at[b + 1]! - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >>> 1;
    if (s[mid]! <= ip) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

export function class4(e: Evidence, ip: number): number {
  return e.cls4[interval4(e, ip >>> 0)]!;
}

const w6 = new Uint32Array(4);

/** Index of the IPv6 interval holding the address (16 bytes). */
export function interval6(e: Evidence, ip16: Uint8Array): number {
  for (let k = 0; k < 4; k++) {
    w6[k] = ((ip16[k * 4]! << 24) | (ip16[k * 4 + 1]! << 16) | (ip16[k * 4 + 2]! << 8) | ip16[k * 4 + 3]!) >>> 0;
  }
  const s = e.starts6;
  let lo = 0;
  let hi = (s.length >>> 2) - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >>> 1;
    if (cmpW(s, mid * 4, w6, 0) <= 0) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

export function class6(e: Evidence, ip16: Uint8Array): number {
  return e.cls6[interval6(e, ip16)]!;
}

function findDomain(list: readonly string[], key: string): number {
  let lo = 0;
  let hi = list.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const v = list[mid]!;
    if (v === key) return mid;
    if (v < key) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}

/** The domain entry covering a name (the name itself or its nearest '*.' ancestor), or -1. */
export function domainEntry(e: Evidence, name: string): number {
  if (!e.domains.length || !name) return -1;
  const i = findDomain(e.domains, name);
  if (i >= 0) return i;
  for (let j = name.indexOf('.'); j >= 0; j = name.indexOf('.', j + 1)) {
    const w = findDomain(e.domains, '*.' + name.slice(j + 1));
    if (w >= 0) return w;
  }
  return -1;
}

export function classDomain(e: Evidence, name: string): number {
  const i = domainEntry(e, name);
  return i < 0 ? 0 : e.domCls[i]!;
}

// ---- snapshot ----

interface EvidenceMeta {
  serial: number;
  builtAt: number;
  sourceNames: string[];
  sourceWeights: number[];
  providerNames: string[];
  domains: string[];
}

export function evidenceSnapshot(e: Evidence): SnapshotPart {
  const meta: EvidenceMeta = {
    serial: e.serial,
    builtAt: e.builtAt,
    sourceNames: e.sourceNames,
    sourceWeights: e.sourceWeights,
    providerNames: e.providerNames,
    domains: e.domains,
  };
  return { type: 'evidence', meta, arrays: [e.starts4, e.cls4, e.starts6, e.cls6, e.domCls, e.classSources, e.classProviders] };
}

export function evidenceFromSnapshot(part: SnapshotPart): Evidence {
  if (part.type !== 'evidence') throw new Error(`not an evidence snapshot: ${part.type}`);
  const m = part.meta as EvidenceMeta;
  const [starts4, cls4, starts6, cls6, domCls, classSources, classProviders] = part.arrays as [
    Uint32Array<ArrayBuffer>, Uint16Array<ArrayBuffer>, Uint32Array<ArrayBuffer>, Uint16Array<ArrayBuffer>,
    Uint16Array<ArrayBuffer>, Uint32Array<ArrayBuffer>, Uint32Array<ArrayBuffer>,
  ];
  return { ...m, starts4, cls4, starts6, cls6, domCls, classSources, classProviders };
}
