// Sets of IPv4/IPv6 address ranges in typed arrays: built from millions of adds without
// per-entry objects, sorted and merged once, then queried by binary search. The arrays of a
// built set each own a whole ArrayBuffer, so a worker thread can transfer them.

/** Sorted, disjoint, merged (adjacent ranges joined) IPv4 ranges with inclusive ends. */
export interface RangeSet4 {
  start: Uint32Array<ArrayBuffer>;
  end: Uint32Array<ArrayBuffer>;
}

/** IPv6 ranges: 4 uint32 words per address (most significant word first), sorted, merged. */
export interface RangeSet6 {
  start: Uint32Array<ArrayBuffer>;
  end: Uint32Array<ArrayBuffer>;
}

export function emptyRangeSet4(): RangeSet4 {
  return { start: new Uint32Array(0), end: new Uint32Array(0) };
}

export function emptyRangeSet6(): RangeSet6 {
  return { start: new Uint32Array(0), end: new Uint32Array(0) };
}

/** Growable uint32 column. */
class U32 {
  a: Uint32Array;
  n = 0;
  sorted = true;
  constructor(capacity: number) {
    this.a = new Uint32Array(Math.max(16, capacity | 0));
  }
  grow(): void {
    const a = new Uint32Array(this.a.length * 2);
    a.set(this.a);
    this.a = a;
  }
}

/** Collects IPv4 ranges; build() sorts (LSD radix, 2 x 16 bits) and merges them. Single
 *  addresses (most entries of real lists) are kept apart as bare keys: sorting them moves half
 *  the bytes that sorting (start, end) pairs does. */
export class RangeBuilder4 {
  private one: U32;
  private s: U32;
  private e: U32;

  constructor(capacity = 1024) {
    this.one = new U32(capacity);
    this.s = new U32(64);
    this.e = new U32(64);
  }

  /** Number of entries held (all adds until build(), then the merged ranges). */
  get length(): number {
    return this.one.n + this.s.n;
  }

  /** Adds [start, end] (uint32 numbers, start <= end; a reversed pair is ignored by build). */
  add(start: number, end: number): void {
    if (start === end) {
      const o = this.one;
      const n = o.n;
      if (n === o.a.length) o.grow();
      if (n > 0 && start < o.a[n - 1]!) o.sorted = false;
      o.a[n] = start;
      o.n = n + 1;
      return;
    }
    const s = this.s;
    const n = s.n;
    if (n === s.a.length) {
      s.grow();
      this.e.grow();
    }
    if (n > 0 && start < s.a[n - 1]!) s.sorted = false;
    s.a[n] = start;
    this.e.a[n] = end;
    s.n = n + 1;
    this.e.n = n + 1;
  }

  build(): RangeSet4 {
    const one = this.one;
    const ps = this.s;
    const pe = this.e;
    if (!one.sorted) radixSort(one.a, null, one.n);
    if (!ps.sorted) radixSort(ps.a, pe.a, ps.n);
    one.sorted = ps.sorted = true;
    // merge the two sorted streams, joining overlapping and adjacent ranges
    const a1 = one.a;
    const n1 = one.n;
    const as = ps.a;
    const ae = pe.a;
    const n2 = ps.n;
    const outS = new Uint32Array(n1 + n2);
    const outE = new Uint32Array(n1 + n2);
    let m = 0;
    let cs = -1;
    let ce = -1;
    let i = 0;
    let j = 0;
    while (i < n1 || j < n2) {
      let a: number;
      let b: number;
      if (j >= n2 || (i < n1 && a1[i]! <= as[j]!)) {
        a = b = a1[i++]!;
      } else {
        a = as[j]!;
        b = ae[j++]!;
        if (b < a) continue;
      }
      if (a <= ce + 1 && cs >= 0) {
        if (b > ce) ce = b;
        continue;
      }
      if (cs >= 0) {
        outS[m] = cs;
        outE[m] = ce;
        m++;
      }
      cs = a;
      ce = b;
    }
    if (cs >= 0) {
      outS[m] = cs;
      outE[m] = ce;
      m++;
    }
    // the builder now holds the merged set: later adds extend it
    this.one = new U32(64);
    this.s = new U32(m);
    this.e = new U32(m);
    this.s.a.set(outS.subarray(0, m));
    this.e.a.set(outE.subarray(0, m));
    this.s.n = this.e.n = m;
    return { start: outS.slice(0, m), end: outE.slice(0, m) };
  }
}

/** Sorts the first n keys (and their values, when given) with two stable counting passes of 16 bits. */
function radixSort(s: Uint32Array, e: Uint32Array | null, n: number): void {
  const s2 = new Uint32Array(n);
  const e2 = e ? new Uint32Array(n) : null;
  const lo = new Uint32Array(65536);
  const hi = new Uint32Array(65536);
  for (let i = 0; i < n; i++) {
    const v = s[i]!;
    lo[v & 0xffff]!++;
    hi[v >>> 16]!++;
  }
  let a = 0;
  let b = 0;
  for (let k = 0; k < 65536; k++) {
    const x = lo[k]!;
    lo[k] = a;
    a += x;
    const y = hi[k]!;
    hi[k] = b;
    b += y;
  }
  if (e && e2) {
    for (let i = 0; i < n; i++) {
      const v = s[i]!;
      const p = lo[v & 0xffff]!++;
      s2[p] = v;
      e2[p] = e[i]!;
    }
    for (let i = 0; i < n; i++) {
      const v = s2[i]!;
      const p = hi[v >>> 16]!++;
      s[p] = v;
      e[p] = e2[i]!;
    }
    return;
  }
  for (let i = 0; i < n; i++) {
    const v = s[i]!;
    s2[lo[v & 0xffff]!++] = v;
  }
  for (let i = 0; i < n; i++) {
    const v = s2[i]!;
    s[hi[v >>> 16]!++] = v;
  }
}

/** Number of addresses covered (up to 2^32, exact as a double). */
export function addressCount4(r: RangeSet4): number {
  let total = 0;
  const s = r.start;
  const e = r.end;
  for (let i = 0; i < s.length; i++) total += e[i]! - s[i]! + 1;
  return total;
}

/** Index of the last of the sorted `starts` that is <= ip, or -1 (callers with a segment
 *  table that is not a RangeSet4, e.g. the local overlay on the DNS path, search it directly). */
export function floor4(starts: Uint32Array, ip: number): number {
  const s = starts;
  let lo = 0;
  let hi = s.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    if (s[mid]! <= ip) {
      found = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return found;
}

/** Index of the range of `r` covering ip, or -1. */
export function indexOf4(r: RangeSet4, ip: number): number {
  ip >>>= 0;
  const i = floor4(r.start, ip);
  return i >= 0 && r.end[i]! >= ip ? i : -1;
}

export function contains4(r: RangeSet4, ip: number): boolean {
  return indexOf4(r, ip) >= 0;
}

/** True when any address of [start, end] is in the set (forbidden-range guards). */
export function overlaps4(r: RangeSet4, start: number, end: number): boolean {
  return firstOverlap4(r, start, end) >= 0;
}

/** The lowest address of [start, end] that the set covers, or -1 (names the culprit in guard messages). */
export function firstOverlap4(r: RangeSet4, start: number, end: number): number {
  start >>>= 0;
  end >>>= 0;
  const i = floor4(r.start, start);
  if (i >= 0 && r.end[i]! >= start) return start;
  const j = i + 1;
  if (j < r.start.length && r.start[j]! <= end) return r.start[j]!;
  return -1;
}

// ---- IPv6 ----

/** 16 address bytes -> 4 big-endian words (into out at offset off). */
export function words6(ip16: Uint8Array, out: Uint32Array = new Uint32Array(4), off = 0): Uint32Array {
  for (let k = 0; k < 4; k++) {
    const b = k * 4;
    out[off + k] = ((ip16[b]! << 24) | (ip16[b + 1]! << 16) | (ip16[b + 2]! << 8) | ip16[b + 3]!) >>> 0;
  }
  return out;
}

/** 4 words (from offset off) -> 16 address bytes. */
export function bytes6(words: Uint32Array, off = 0): Uint8Array {
  const out = new Uint8Array(16);
  for (let k = 0; k < 4; k++) {
    const w = words[off + k]!;
    out[k * 4] = w >>> 24;
    out[k * 4 + 1] = (w >>> 16) & 255;
    out[k * 4 + 2] = (w >>> 8) & 255;
    out[k * 4 + 3] = w & 255;
  }
  return out;
}

/** Compares address a (words at ai) with b (words at bi): <0, 0, >0. */
function cmp6(a: Uint32Array, ai: number, b: Uint32Array, bi: number): number {
  for (let k = 0; k < 4; k++) {
    const x = a[ai + k]!;
    const y = b[bi + k]!;
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

/** True when b (at bi) is a + 1 (at ai): adjacency for merging. */
function isNext6(a: Uint32Array, ai: number, b: Uint32Array, bi: number): boolean {
  let carry = 1;
  for (let k = 3; k >= 0; k--) {
    let v = a[ai + k]! + carry;
    carry = v > 0xffffffff ? 1 : 0;
    v = v >>> 0;
    if (v !== b[bi + k]) return false;
  }
  return carry === 0;
}

function toWords(x: Uint8Array | Uint32Array, out: Uint32Array, off: number): void {
  if (x instanceof Uint32Array) {
    for (let k = 0; k < 4; k++) out[off + k] = x[k]!;
  } else words6(x, out, off);
}

/** Collects IPv6 ranges (8 words per entry: start then end); build() sorts and merges. */
export class RangeBuilder6 {
  private w: Uint32Array;
  private n = 0;

  constructor(capacity = 256) {
    this.w = new Uint32Array(Math.max(16, capacity | 0) * 8);
  }

  get length(): number {
    return this.n;
  }

  /** Adds [start, end], each as 16 bytes or 4 words (start <= end; reversed pairs are ignored). */
  add(start: Uint8Array | Uint32Array, end: Uint8Array | Uint32Array): void {
    const o = this.reserve();
    toWords(start, this.w, o);
    toWords(end, this.w, o + 4);
  }

  /** add() without arrays: the words of start (s0 most significant) and of end. */
  addWords(s0: number, s1: number, s2: number, s3: number, e0: number, e1: number, e2: number, e3: number): void {
    const o = this.reserve();
    const w = this.w;
    w[o] = s0;
    w[o + 1] = s1;
    w[o + 2] = s2;
    w[o + 3] = s3;
    w[o + 4] = e0;
    w[o + 5] = e1;
    w[o + 6] = e2;
    w[o + 7] = e3;
  }

  private reserve(): number {
    if ((this.n + 1) * 8 > this.w.length) {
      const w = new Uint32Array(this.w.length * 2);
      w.set(this.w);
      this.w = w;
    }
    return this.n++ * 8;
  }

  build(): RangeSet6 {
    const n = this.n;
    const w = this.w;
    const idx = new Uint32Array(n);
    let sorted = true;
    for (let i = 0; i < n; i++) {
      idx[i] = i;
      if (sorted && i > 0 && cmp6(w, (i - 1) * 8, w, i * 8) > 0) sorted = false;
    }
    if (!sorted) idx.sort((a, b) => cmp6(w, a * 8, w, b * 8));
    const s = new Uint32Array(n * 4);
    const e = new Uint32Array(n * 4);
    let m = -1; // index of the current merged range
    for (let i = 0; i < n; i++) {
      const o = idx[i]! * 8;
      if (cmp6(w, o + 4, w, o) < 0) continue;
      if (m >= 0 && (cmp6(w, o, e, m * 4) <= 0 || isNext6(e, m * 4, w, o))) {
        if (cmp6(w, o + 4, e, m * 4) > 0) for (let k = 0; k < 4; k++) e[m * 4 + k] = w[o + 4 + k]!;
        continue;
      }
      m++;
      for (let k = 0; k < 4; k++) {
        s[m * 4 + k] = w[o + k]!;
        e[m * 4 + k] = w[o + 4 + k]!;
      }
    }
    const count = m + 1;
    // keep the merged set as the builder's content (later adds extend it)
    const nw = new Uint32Array(Math.max(16, count) * 8);
    for (let i = 0; i < count; i++) {
      for (let k = 0; k < 4; k++) {
        nw[i * 8 + k] = s[i * 4 + k]!;
        nw[i * 8 + 4 + k] = e[i * 4 + k]!;
      }
    }
    this.w = nw;
    this.n = count;
    return { start: s.slice(0, count * 4), end: e.slice(0, count * 4) };
  }
}

/** Number of ranges in a RangeSet6. */
export function rangeCount6(r: RangeSet6): number {
  return r.start.length >>> 2;
}

/** Number of addresses covered, as a double (exact up to 2^53, approximate above). */
export function addressCount6(r: RangeSet6): number {
  let total = 0;
  const s = r.start;
  const e = r.end;
  for (let i = 0; i < s.length; i += 4) {
    // end - start + 1 as a double: word differences (possibly negative) weighted by position
    let size = 1;
    for (let k = 0; k < 4; k++) size += (e[i + k]! - s[i + k]!) * 2 ** (96 - 32 * k);
    total += size;
  }
  return total;
}

/** Index of the last range whose start is <= the address (words at ai), or -1. */
function floor6(r: RangeSet6, a: Uint32Array, ai: number): number {
  let lo = 0;
  let hi = (r.start.length >>> 2) - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    if (cmp6(r.start, mid * 4, a, ai) <= 0) {
      found = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return found;
}

const scratch6 = new Uint32Array(8);

export function contains6(r: RangeSet6, ip16: Uint8Array): boolean {
  words6(ip16, scratch6, 0);
  const i = floor6(r, scratch6, 0);
  return i >= 0 && cmp6(r.end, i * 4, scratch6, 0) >= 0;
}

/** True when any address of [start, end] (16 bytes or 4 words each) is in the set. */
export function overlaps6(r: RangeSet6, start: Uint8Array | Uint32Array, end: Uint8Array | Uint32Array): boolean {
  return firstOverlap6(r, start, end) !== null;
}

/** The lowest address of [start, end] that the set covers (16 bytes), or null. */
export function firstOverlap6(r: RangeSet6, start: Uint8Array | Uint32Array, end: Uint8Array | Uint32Array): Uint8Array | null {
  const q = new Uint32Array(8);
  toWords(start, q, 0);
  toWords(end, q, 4);
  const i = floor6(r, q, 0);
  if (i >= 0 && cmp6(r.end, i * 4, q, 0) >= 0) return bytes6(q, 0);
  const j = i + 1;
  if (j < r.start.length >>> 2 && cmp6(r.start, j * 4, q, 4) <= 0) return bytes6(r.start, j * 4);
  return null;
}

/** Collects IPv4 ranges that arrive in address order, joining touching ones as they come (no
 *  sort, no builder copies): for walks that already produce sorted output. */
export class RangeAppender4 {
  private s: Uint32Array<ArrayBuffer>;
  private e: Uint32Array<ArrayBuffer>;
  private n = 0;

  constructor(capacity: number) {
    this.s = new Uint32Array(Math.max(16, capacity));
    this.e = new Uint32Array(Math.max(16, capacity));
  }

  add(start: number, end: number): void {
    const n = this.n;
    if (n > 0 && start <= this.e[n - 1]! + 1) {
      this.e[n - 1] = end;
      return;
    }
    if (n === this.s.length) {
      const s2 = new Uint32Array(n * 2);
      const e2 = new Uint32Array(n * 2);
      s2.set(this.s);
      e2.set(this.e);
      this.s = s2;
      this.e = e2;
    }
    this.s[n] = start;
    this.e[n] = end;
    this.n = n + 1;
  }

  build(): RangeSet4 {
    return { start: this.s.slice(0, this.n), end: this.e.slice(0, this.n) };
  }
}
