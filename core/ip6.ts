// IPv6 keys as rbldnsd reads and prints them: colon notation with optional `::` and `/len`,
// 16-bit group granularity when no `/len` is given, and the TXT `$` form of an address.

const HEX = new Int8Array(128).fill(-1);
for (let i = 0; i < 10; i++) HEX[48 + i] = i;
for (let i = 0; i < 6; i++) HEX[65 + i] = HEX[97 + i] = 10 + i;

/** Scans IPv6 prefixes out of data lines without allocating per line. After a successful
 *  `prefix()`/`cidr()`, `addr` holds the 16 bytes, `bits` the length and `end` the index of the
 *  first character after the key. */
export class Ip6Scanner {
  readonly addr = new Uint8Array(16);
  bits = -1;
  end = 0;

  /** Groups of up to 4 hex digits (value <= 0xffff) separated by `:`, at most one `::`.
   *  Without `::` the length is 16 bits per group; with `::` it is 128. Stops at the first
   *  character that does not continue the address (so `2001:db8::1 :127.0.0.2` stops at the
   *  blank). Returns false when no valid prefix starts at `pos`. */
  prefix(text: string, pos: number): boolean {
    const a = this.addr;
    a.fill(0);
    let i = pos;
    let bytes = 0;
    let gap = -1; // byte offset of `::`
    let bits = -1;
    const n = text.length;
    if (text.charCodeAt(i) === 58 && text.charCodeAt(i + 1) === 58) {
      gap = 0;
      i += 2;
    }
    for (;;) {
      let v = 0;
      const start = i;
      while (i < n) {
        const c = text.charCodeAt(i);
        const h = c < 128 ? HEX[c]! : -1;
        if (h < 0) break;
        v = v * 16 + h;
        if (v > 0xffff) break;
        i++;
      }
      if (i === start || v > 0xffff) break;
      a[bytes++] = v >> 8;
      a[bytes++] = v & 0xff;
      if (text.charCodeAt(i) !== 58 || bytes + 2 > 16) {
        bits = bytes * 8;
        break;
      }
      i++;
      if (gap < 0 && text.charCodeAt(i) === 58) {
        gap = bytes;
        i++;
      }
    }
    if (gap >= 0) {
      const zeros = 16 - bytes;
      if (zeros === 0) bits = -1;
      else {
        a.copyWithin(gap + zeros, gap, bytes);
        a.fill(0, gap, gap + zeros);
        bits = 128;
      }
    }
    this.end = i;
    this.bits = bits;
    return bits >= 0;
  }

  /** `prefix` plus an optional `/len` (0..128). A single group without `/len` is invalid. */
  cidr(text: string, pos: number): boolean {
    if (!this.prefix(text, pos)) return false;
    let i = this.end;
    if (text.charCodeAt(i) === 47) {
      i++;
      let bits = -1;
      for (; i < text.length; i++) {
        const d = text.charCodeAt(i) - 48;
        if (d < 0 || d > 9) break;
        bits = (bits < 0 ? 0 : bits * 10) + d;
        if (bits > 128) return false;
      }
      if (bits < 0) return false;
      this.bits = bits;
      this.end = i;
    } else if (this.bits === 16) {
      this.bits = -1;
      return false;
    }
    return true;
  }
}

/** True when the address has bits set beyond `bits`; with `clear` they are zeroed. */
export function ip6HostBits(addr: Uint8Array, bits: number, clear: boolean): boolean {
  let set = false;
  let i = bits >> 3;
  const rem = bits & 7;
  if (rem && i < 16) {
    const mask = 0xff >> rem;
    if (addr[i]! & mask) {
      set = true;
      if (clear) addr[i]! &= ~mask & 0xff;
    }
    i++;
  }
  for (; i < 16; i++) {
    if (addr[i]) {
      set = true;
      if (clear) addr[i] = 0;
    }
  }
  return set;
}

export interface Ip6Cidr {
  addr: Uint8Array;
  bits: number;
}

/** Parses a whole string as an rbldnsd IPv6 CIDR key (e.g. `2001:db8::/32`, `2001:db8:c000/36`).
 *  Host bits are an error unless `acceptHostBits` (then they are masked off). Returns an error
 *  text when invalid. */
export function parseIp6Cidr(text: string, acceptHostBits = false): Ip6Cidr | string {
  const s = new Ip6Scanner();
  if (!s.cidr(text, 0) || s.end !== text.length) return 'invalid address';
  if (ip6HostBits(s.addr, s.bits, acceptHostBits) && !acceptHostBits) return 'invalid range (non-zero host part)';
  return { addr: s.addr, bits: s.bits };
}

/** rbldnsd's printed form (the TXT `$` of ip6 datasets): lowercase, no leading zeros, the
 *  longest run of two or more zero groups (the first one on a tie) written as `::`. The address
 *  is the 16 bytes at `off`. With `v4Tail` it is getnameinfo(NI_NUMERICHOST)'s text instead (as
 *  glibc's inet_ntop writes it): v4-mapped and v4-compatible addresses end in a dotted quad,
 *  `::ffff:a.b.c.d` / `::a.b.c.d`. */
export function formatIp6(addr: Uint8Array, off = 0, v4Tail = false): string {
  const g = [0, 0, 0, 0, 0, 0, 0, 0];
  for (let i = 0; i < 8; i++) g[i] = (addr[off + 2 * i]! << 8) | addr[off + 2 * i + 1]!;
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      bestLen = j - i;
      best = i;
    }
    i = j;
  }
  const dotted = v4Tail && best === 0 && (bestLen === 6 || (bestLen === 5 && g[5] === 0xffff));
  let out = '';
  for (let i = 0; i < 8; i++) {
    if (best >= 0 && i >= best && i < best + bestLen) {
      if (i === best) out += ':';
      continue;
    }
    if (i !== 0) out += ':';
    if (dotted && i === 6) {
      out += `${addr[off + 12]}.${addr[off + 13]}.${addr[off + 14]}.${addr[off + 15]}`;
      break;
    }
    out += g[i]!.toString(16);
  }
  if (best >= 0 && best + bestLen === 8) out += ':';
  return out;
}

/** Big-endian 32-bit word `w` (0..3) of a 16-byte address. */
export function ip6Word(addr: Uint8Array, w: number): number {
  const o = w * 4;
  return ((addr[o]! << 24) | (addr[o + 1]! << 16) | (addr[o + 2]! << 8) | addr[o + 3]!) >>> 0;
}

/** The nibble labels of an address, least significant first, for the first `nibbles`
 *  nibbles (from the most significant end): rbldnsd dump owner names. */
export function ip6NibbleName(addr: Uint8Array, nibbles: number): string {
  const out: string[] = [];
  for (let i = nibbles - 1; i >= 0; i--) {
    const b = addr[i >> 1]!;
    out.push(((i & 1 ? b : b >> 4) & 15).toString(16));
  }
  return out.join('.');
}

/** Stable LSD radix sort of `n` records of `stride` 32-bit words (word 0 most significant),
 *  by their first `keyWords` words. Returns the sorted order as record indices. 16-bit digits;
 *  digits that are equal in every record are skipped (e.g. the zero tail of /48 keys). */
export function sortWordRecords(words: Uint32Array, stride: number, keyWords: number, n: number): Uint32Array {
  let order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  let next = new Uint32Array(n);
  const count = new Uint32Array(65536);
  for (let w = keyWords - 1; w >= 0; w--) {
    for (let shift = 0; shift <= 16; shift += 16) {
      count.fill(0);
      for (let i = 0; i < n; i++) count[(words[i * stride + w]! >>> shift) & 0xffff]!++;
      if (n === 0 || count[(words[w]! >>> shift) & 0xffff] === n) continue; // constant digit
      let sum = 0;
      for (let d = 0; d < 65536; d++) {
        const c = count[d]!;
        count[d] = sum;
        sum += c;
      }
      for (let i = 0; i < n; i++) {
        const r = order[i]!;
        next[count[(words[r * stride + w]! >>> shift) & 0xffff]!++] = r;
      }
      const t = order;
      order = next;
      next = t;
    }
  }
  return order;
}

/** A growable Uint32Array for collecting fixed-size word records while loading. */
export class WordList {
  words: Uint32Array;
  n = 0;

  constructor(
    readonly stride: number,
    capacity = 1024,
  ) {
    this.words = new Uint32Array(capacity * stride);
  }

  /** Appends a record and returns the offset of its first word (fill the rest by index). */
  add(): number {
    const o = this.n * this.stride;
    if (o + this.stride > this.words.length) {
      const bigger = new Uint32Array(this.words.length * 2);
      bigger.set(this.words);
      this.words = bigger;
    }
    this.n++;
    return o;
  }
}

/** Binary search for a record equal to (k0, k1[, k2, k3]) among `n` sorted records of
 *  `stride` words, comparing the first `keyWords` (2 or 4) words. Returns its index or -1. */
export function findWordRecord(
  words: Uint32Array, stride: number, keyWords: number, lo: number, hi: number,
  k0: number, k1: number, k2: number, k3: number,
): number {
  hi--;
  while (lo <= hi) {
    const m = (lo + hi) >>> 1;
    const o = m * stride;
    let d = words[o]! - k0;
    if (d === 0) d = words[o + 1]! - k1;
    if (d === 0 && keyWords > 2) {
      d = words[o + 2]! - k2;
      if (d === 0) d = words[o + 3]! - k3;
    }
    if (d === 0) return m;
    if (d < 0) lo = m + 1;
    else hi = m - 1;
  }
  return -1;
}
