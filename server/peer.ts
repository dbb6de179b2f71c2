// The client address for rbldnsd ACLs: the bytes the trie lookup needs (from the transport, or
// parsed from its address string without allocating) and the text an always-listed TXT puts
// in place of `$` (getnameinfo's numeric form: `::ffff:a.b.c.d` for v4-mapped clients).

import { formatIp6 } from '../core/ip6.ts';

const HEX = new Int8Array(128).fill(-1);
for (let i = 0; i < 10; i++) HEX[48 + i] = i;
for (let i = 0; i < 6; i++) HEX[65 + i] = HEX[97 + i] = 10 + i;

/** Parses dotted-quad IPv4 text (`a.b.c.d`, each 0..255) into a uint32, or -1. */
export function parseIp4Text(s: string, from = 0, to = s.length): number {
  let ip = 0;
  let octets = 0;
  let v = -1;
  for (let i = from; i <= to; i++) {
    const c = i < to ? s.charCodeAt(i) : 46;
    if (c === 46 /* . */) {
      if (v < 0 || octets === 4) return -1;
      ip = ip * 256 + v;
      octets++;
      v = -1;
    } else {
      const d = c - 48;
      if (d < 0 || d > 9) return -1;
      v = v < 0 ? d : v * 10 + d;
      if (v > 255) return -1;
    }
  }
  return octets === 4 ? ip : -1;
}

/** Parses IPv6 text (with `::`, an IPv4 tail, a `%scope` suffix) into `out[0..16)`. */
export function parseIp6Text(s: string, out: Uint8Array): boolean {
  let end = s.indexOf('%');
  if (end < 0) end = s.length;
  let n = 0; // bytes written
  let gap = -1;
  let i = 0;
  if (s.charCodeAt(0) === 58) {
    if (s.charCodeAt(1) !== 58) return false;
    gap = 0;
    i = 2;
  }
  while (i < end) {
    // an IPv4 tail takes the last 4 bytes
    let j = i;
    let v = 0;
    while (j < end) {
      const c = s.charCodeAt(j);
      const h = c < 128 ? HEX[c]! : -1;
      if (h < 0) break;
      v = v * 16 + h;
      j++;
    }
    if (j < end && s.charCodeAt(j) === 46) {
      const ip = parseIp4Text(s, i, end);
      if (ip < 0 || n > 12) return false;
      out[n] = ip >>> 24;
      out[n + 1] = (ip >>> 16) & 255;
      out[n + 2] = (ip >>> 8) & 255;
      out[n + 3] = ip & 255;
      n += 4;
      i = end;
      break;
    }
    if (j === i || j - i > 4 || n > 14) return false;
    out[n] = v >> 8;
    out[n + 1] = v & 255;
    n += 2;
    i = j;
    if (i === end) break;
    if (s.charCodeAt(i) !== 58) return false;
    i++;
    if (s.charCodeAt(i) === 58) {
      if (gap >= 0) return false;
      gap = n;
      i++;
    } else if (i === end) return false;
  }
  if (gap < 0) return n === 16;
  if (n > 14) return false;
  const zeros = 16 - n;
  out.copyWithin(gap + zeros, gap, n);
  out.fill(0, gap, gap + zeros);
  return true;
}

/** getnameinfo(NI_NUMERICHOST) text of an IPv6 address: `::ffff:a.b.c.d` / `::a.b.c.d` for
 *  v4-mapped and v4-compatible addresses. Only an always-listed TXT with `$` needs it. */
export function ip6ClientText(a: Uint8Array, off = 0): string {
  return formatIp6(a, off, true);
}
