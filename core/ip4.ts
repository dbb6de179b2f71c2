// rbldnsd-style IPv4 keys of data lines: `a.b.c.d`, prefix forms `a.b.c` / `a.b`, `prefix/len`,
// ranges `p1-p2` / `p1-n`. Hand-written scanner (no regex, no allocation): it runs once per
// line of 10M-line files.

/** What a dataset type accepts as a key. */
export interface Ip4KeySyntax {
  /** ip4set: `p1-p2` and `p1-n` ranges. */
  readonly ranges: boolean;
  /** ip4trie: `/0` is allowed (ip4set rejects it). */
  readonly zeroLength: boolean;
  /** ip4tset: only complete dotted quads, no `/len`, no ranges. */
  readonly quadOnly: boolean;
}

export const IP4SET_KEYS: Ip4KeySyntax = { ranges: true, zeroLength: false, quadOnly: false };
export const IP4TRIE_KEYS: Ip4KeySyntax = { ranges: false, zeroLength: true, quadOnly: false };
export const IP4TSET_KEYS: Ip4KeySyntax = { ranges: false, zeroLength: false, quadOnly: true };

/** Result of a successful parse; reused between calls to keep the hot path allocation-free. */
export class Ip4Key {
  /** First and last address of the range, as uint32 numbers. */
  first = 0;
  last = 0;
  /** Prefix length for CIDR/prefix forms (the range is first/bits); -1 for `p1-p2` ranges. */
  bits = 0;
  /** Index in the line just after the key (where the value text may start). */
  end = 0;
  /** Scanner scratch: octets seen and their left-aligned value. */
  count = 0;
  value = 0;
}

export const ERR_ADDRESS = 'invalid address';
export const ERR_HOST_BITS = 'invalid range (non-zero host part)';

const POW8 = [2 ** 32, 2 ** 24, 2 ** 16, 2 ** 8, 1];

/** Scans 1..4 dot-separated decimal octets at `i` into `out` (scratch fields): `count` (0 =
 *  invalid), `value` (left-aligned: `10.2` -> 10.2.0.0) and `end`. Any number of digits is
 *  accepted as long as the value is <= 255 (rbldnsd reads `0001.2.3.4` as 1.2.3.4). */
function scanOctets(s: string, i: number, out: Ip4Key): void {
  const n = s.length;
  let count = 0;
  let value = 0;
  out.count = 0;
  for (;;) {
    let c = i < n ? s.charCodeAt(i) - 48 : -1;
    if (c < 0 || c > 9) return;
    let v = 0;
    do {
      v = v * 10 + c;
      if (v > 255) return;
      i++;
      c = i < n ? s.charCodeAt(i) - 48 : -1;
    } while (c >= 0 && c <= 9);
    value = value * 256 + v;
    count++;
    if (count === 4 || c !== -2 /* '.' - 48 */) break;
    i++;
  }
  out.count = count;
  out.value = value * POW8[count]!;
  out.end = i;
}

/** The common data line, read straight from file bytes: exactly `a.b.c.d` (1-3 digits per
 *  octet, each <= 255) filling bytes [s, e). Returns the address as uint32, or -1 for anything
 *  else (the caller then parses the line as text). */
export function parseIp4QuadBytes(b: Uint8Array, s: number, e: number): number {
  let ip = 0;
  for (let k = 0; ; k++) {
    if (s >= e) return -1;
    let d = b[s]! - 48;
    if (d < 0 || d > 9) return -1;
    let v = d;
    s++;
    if (s < e && (d = b[s]! - 48) >= 0 && d <= 9) {
      v = v * 10 + d;
      s++;
      if (s < e && (d = b[s]! - 48) >= 0 && d <= 9) {
        v = v * 10 + d;
        s++;
        if (v > 255) return -1;
      }
    }
    ip = (ip << 8) | v;
    if (k === 3) return s === e ? ip >>> 0 : -1;
    if (s >= e || b[s] !== 46 /* . */) return -1;
    s++;
  }
}

/** True when the character at `i` may follow a key: end, blank, `#`, `;`, `:`. */
export function keyEndsAt(s: string, i: number): boolean {
  if (i >= s.length) return true;
  const c = s.charCodeAt(i);
  return c === 32 || c === 9 || c === 35 || c === 59 || c === 58;
}

/** Mask of the low (host) bits of a /bits prefix, as a non-negative number. */
function hostMask(bits: number): number {
  return 2 ** (32 - bits) - 1;
}

/**
 * Parses the key at `start` of a data line into `out`. Returns null on success or the
 * warning text (rbldnsd's wording) when the line is invalid. With `acceptHostBits` (-e) a
 * CIDR with host bits set is masked instead of rejected.
 */
export function parseIp4Key(s: string, start: number, syntax: Ip4KeySyntax, acceptHostBits: boolean, out: Ip4Key): string | null {
  scanOctets(s, start, out);
  const n1 = out.count;
  if (n1 === 0) return ERR_ADDRESS;
  let first = out.value;
  let i = out.end;
  const c = i < s.length ? s.charCodeAt(i) : -1;
  if (syntax.quadOnly) {
    if (n1 !== 4 || !keyEndsAt(s, i)) return ERR_ADDRESS;
    out.first = out.last = first;
    out.bits = 32;
    out.end = i;
    return null;
  }
  let last: number;
  let bits: number;
  if (c === 47 /* / */) {
    i++;
    let len = -1;
    while (i < s.length) {
      const d = s.charCodeAt(i) - 48;
      if (d < 0 || d > 9) break;
      len = (len < 0 ? 0 : len * 10) + d;
      if (len > 32) return ERR_ADDRESS;
      i++;
    }
    if (len < 0 || (len === 0 && !syntax.zeroLength)) return ERR_ADDRESS;
    if (!keyEndsAt(s, i)) return ERR_ADDRESS;
    const host = hostMask(len);
    if (first % (host + 1) !== 0) {
      if (!acceptHostBits) return ERR_HOST_BITS;
      first -= first % (host + 1);
    }
    last = first + host;
    bits = len;
  } else if (c === 45 /* - */ && syntax.ranges) {
    scanOctets(s, i + 1, out);
    const n2 = out.count;
    if (n2 === 0) return ERR_ADDRESS;
    const second = out.value;
    i = out.end;
    if (!keyEndsAt(s, i)) return ERR_ADDRESS;
    const fill = hostMask(8 * n1);
    if (n2 === n1) {
      last = second + fill;
    } else if (n2 === 1) {
      // `p1-n`: n replaces the last given octet of p1
      const unit = fill + 1;
      const lastOctet = Math.floor(first / unit) % 256;
      last = first + (second / 2 ** 24 - lastOctet) * unit + fill;
    } else {
      return ERR_ADDRESS;
    }
    if (last < first) return ERR_ADDRESS;
    bits = -1;
  } else {
    if (n1 < 2 || !keyEndsAt(s, i)) return ERR_ADDRESS; // a bare `a` is not a key
    bits = 8 * n1;
    last = first + hostMask(bits);
  }
  out.first = first;
  out.last = last;
  out.bits = bits;
  out.end = i;
  return null;
}

/** Index where the value text of a key line starts (blanks after the key skipped). */
export function valueStart(s: string, keyEnd: number): number {
  let i = keyEnd;
  while (i < s.length) {
    const c = s.charCodeAt(i);
    if (c !== 32 && c !== 9) break;
    i++;
  }
  return i;
}

/** Splits a key line into key and value text (`1.2.3.4 :2:txt` -> ['1.2.3.4', ':2:txt']). */
export function splitKeyLine(line: string): [key: string, value: string] {
  let i = 0;
  if (line.charCodeAt(0) === 33 /* ! */) i = valueStart(line, 1);
  while (i < line.length && !keyEndsAt(line, i)) i++;
  return [line.slice(0, i), line.slice(valueStart(line, i))];
}

/** True when the value text is empty or a comment (the entry takes the current default). */
export function isDefaultValue(s: string, i: number): boolean {
  if (i >= s.length) return true;
  const c = s.charCodeAt(i);
  return c === 35 || c === 59;
}

/** Dotted quad of a uint32. */
export function ip4Dotted(ip: number): string {
  return `${ip >>> 24}.${(ip >>> 16) & 255}.${(ip >>> 8) & 255}.${ip & 255}`;
}

/** Reversed-octet owner name of the first `octets` octets of ip (`*.` is added by callers). */
export function ip4ReverseName(ip: number, octets: number): string {
  const o = [ip >>> 24, (ip >>> 16) & 255, (ip >>> 8) & 255, ip & 255].slice(0, octets);
  return o.reverse().join('.');
}
