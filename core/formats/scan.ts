// Byte-level scanner for the address tokens of list files: an IPv4 or IPv6 address, `addr/len`
// or `a-b` (blanks allowed around the dash). Works on the file's bytes directly: no strings,
// no regex, no allocation per token (it runs once per line of 10M-line files).
//
// Choices: IPv4 octets are decimal (a zero-padded `010.001.002.003` is 10.1.2.3, as zero-padded
// lists mean it); a CIDR with host bits set is masked to its network (`192.0.2.7/24` ->
// 192.0.2.0/24) and counted in `masked`, not reported as an error.

export const ERR_SYNTAX = 1;
export const ERR_PREFIX = 2;
export const ERR_ORDER = 3;
export const ERR_FAMILY = 4;

export const ERROR_TEXT: Record<number, string> = {
  [ERR_SYNTAX]: 'not an IP address, CIDR or a-b range',
  [ERR_PREFIX]: 'invalid prefix length',
  [ERR_ORDER]: 'range ends before it starts',
  [ERR_FAMILY]: 'range mixes IPv4 and IPv6',
};

const HEX = new Int8Array(256).fill(-1);
for (let i = 0; i < 10; i++) HEX[48 + i] = i;
for (let i = 0; i < 6; i++) HEX[65 + i] = HEX[97 + i] = 10 + i;

/** Bytes that may not directly follow an address (it would continue it): alnum, '.', ':'. */
const CONT = new Uint8Array(256);
for (let c = 48; c <= 57; c++) CONT[c] = 1;
for (let c = 65; c <= 90; c++) CONT[c] = CONT[c + 32] = 1;
CONT[46] = CONT[58] = 1;

/** The result of scanAddr, reused between calls. */
export class AddrToken {
  /** 4 or 6. */
  family = 0;
  /** IPv4 range (uint32 numbers). */
  start4 = 0;
  end4 = 0;
  /** IPv6 range: words 0-3 start, 4-7 end (most significant first). */
  readonly w6 = new Uint32Array(8);
  /** Prefix length of the token (a range: of the smallest CIDR block size that holds it, so a
   *  range is wider than /N exactly when it covers more addresses than a /N). */
  width = 0;
  /** A CIDR whose host bits were set (masked off). */
  masked = false;
  /** Index just after the token. */
  end = 0;
  /** ERR_* code when scanAddr returned false. */
  error = 0;
}

let V4 = 0; // result of parseV4

/** Dotted quad at p (not past e): returns the index after it or -1; the value is left in V4. */
function parseV4(b: Uint8Array, p: number, e: number): number {
  let ip = 0;
  for (let k = 0; ; k++) {
    if (p >= e) return -1;
    let d = b[p]! - 48;
    if (d < 0 || d > 9) return -1;
    let v = d;
    p++;
    while (p < e && (d = b[p]! - 48) >= 0 && d <= 9) {
      v = v * 10 + d;
      if (v > 255) return -1;
      p++;
    }
    ip = ip * 256 + v;
    if (k === 3) break;
    if (p >= e || b[p] !== 46) return -1;
    p++;
  }
  if (p < e && CONT[b[p]!] === 1) return -1;
  V4 = ip;
  return p;
}

const G = new Uint16Array(8);

/** IPv6 address at p: returns the index after it or -1; the 4 words go to out[off..off+3]. */
function parseV6(b: Uint8Array, p: number, e: number, out: Uint32Array, off: number): number {
  let n = 0;
  let gap = -1;
  if (p + 1 < e && b[p] === 58 && b[p + 1] === 58) {
    gap = 0;
    p += 2;
  } else if (p < e && b[p] === 58) return -1;
  while (p < e) {
    const start = p;
    let v = 0;
    let h: number;
    while (p < e && (h = HEX[b[p]!]!) >= 0 && p - start < 4) {
      v = v * 16 + h;
      p++;
    }
    if (p === start) {
      if (gap === 0 && n === 0) break; // `::` alone
      return -1;
    }
    if (p < e && b[p] === 46) {
      // embedded IPv4 tail (`::ffff:192.0.2.1`)
      if (n > 6) return -1;
      const q = parseV4(b, start, e);
      if (q < 0) return -1;
      G[n++] = V4 >>> 16;
      G[n++] = V4 & 0xffff;
      p = q;
      break;
    }
    if (p < e && HEX[b[p]!]! >= 0) return -1; // more than 4 hex digits
    G[n++] = v;
    if (n === 8) break;
    if (p < e && b[p] === 58) {
      if (p + 1 < e && b[p + 1] === 58) {
        if (gap >= 0) return -1;
        gap = n;
        p += 2;
        if (p >= e || HEX[b[p]!]! < 0) break;
      } else if (++p >= e || HEX[b[p]!]! < 0) return -1; // a single ':' needs a group after it
      continue;
    }
    break;
  }
  if (gap < 0 ? n !== 8 : n === 8) return -1;
  if (p < e && CONT[b[p]!] === 1) return -1;
  if (gap >= 0) {
    const zeros = 8 - n;
    for (let k = n - 1; k >= gap; k--) G[k + zeros] = G[k]!;
    for (let k = gap; k < gap + zeros; k++) G[k] = 0;
  }
  for (let k = 0; k < 4; k++) out[off + k] = (G[2 * k]! * 65536 + G[2 * k + 1]!) >>> 0;
  return p;
}

/** Network mask of a /bits prefix restricted to word k of an IPv6 address. */
function wordMask(bits: number, k: number): number {
  const wb = bits - 32 * k;
  if (wb <= 0) return 0;
  if (wb >= 32) return 0xffffffff;
  return (0xffffffff << (32 - wb)) >>> 0;
}

/** Prefix length of the smallest CIDR-sized block that holds end - start + 1 addresses:
 *  32 - ceil(log2(size)), i.e. the leading zero bits of end - start. */
function width4(diff: number): number {
  return Math.clz32(diff);
}

/** The same for IPv6 range w[0..3]-w[4..7]: the leading zero bits of the 128-bit end - start. */
function width6(w: Uint32Array): number {
  let borrow = 0;
  for (let k = 3; k >= 0; k--) {
    let v = w[4 + k]! - w[k]! - borrow;
    borrow = v < 0 ? 1 : 0;
    if (v < 0) v += 4294967296;
    D[k] = v;
  }
  for (let k = 0; k < 4; k++) {
    const v = D[k]!;
    if (v !== 0) return 32 * k + Math.clz32(v);
  }
  return 128;
}
const D = new Uint32Array(4);

function cmpWords(w: Uint32Array): number {
  for (let k = 0; k < 4; k++) {
    if (w[k] !== w[4 + k]) return w[k]! < w[4 + k]! ? -1 : 1;
  }
  return 0;
}

/** Scans an address token at p (not past e) into t. On false, t.error says why. The caller
 *  checks what follows t.end (end of line, blank, comment). */
export function scanAddr(b: Uint8Array, p: number, e: number, t: AddrToken): boolean {
  let q = parseV4(b, p, e);
  const w = t.w6;
  if (q >= 0) {
    t.family = 4;
    t.start4 = V4;
  } else {
    q = parseV6(b, p, e, w, 0);
    if (q < 0) {
      t.error = ERR_SYNTAX;
      return false;
    }
    t.family = 6;
  }
  t.masked = false;
  const v4 = t.family === 4;
  const max = v4 ? 32 : 128;
  if (q < e && b[q] === 47) {
    // `/len`
    q++;
    let len = 0;
    const s = q;
    let d: number;
    while (q < e && (d = b[q]! - 48) >= 0 && d <= 9 && q - s < 3) {
      len = len * 10 + d;
      q++;
    }
    if (q === s || len > max || (q < e && CONT[b[q]!] === 1)) {
      t.error = ERR_PREFIX;
      return false;
    }
    if (v4) {
      const mask = len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
      const start = (t.start4 & mask) >>> 0;
      t.masked = start !== t.start4;
      t.start4 = start;
      t.end4 = (start | ~mask) >>> 0;
    } else {
      for (let k = 0; k < 4; k++) {
        const m = wordMask(len, k);
        const st = (w[k]! & m) >>> 0;
        if (st !== w[k]) t.masked = true;
        w[k] = st;
        w[4 + k] = (st | ~m) >>> 0;
      }
    }
    t.width = len;
    t.end = q;
    return true;
  }
  // `a-b`, blanks allowed around the dash
  let r = q;
  while (r < e && (b[r] === 32 || b[r] === 9)) r++;
  if (r < e && b[r] === 45) {
    r++;
    while (r < e && (b[r] === 32 || b[r] === 9)) r++;
    let r2 = parseV4(b, r, e);
    if (r2 >= 0) {
      if (!v4) {
        t.error = ERR_FAMILY;
        return false;
      }
      if (V4 < t.start4) {
        t.error = ERR_ORDER;
        return false;
      }
      t.end4 = V4;
      t.width = width4(V4 - t.start4);
    } else {
      r2 = parseV6(b, r, e, w, 4);
      if (r2 < 0) {
        t.error = ERR_SYNTAX;
        return false;
      }
      if (v4) {
        t.error = ERR_FAMILY;
        return false;
      }
      if (cmpWords(w) > 0) {
        t.error = ERR_ORDER;
        return false;
      }
      t.width = width6(w);
    }
    t.end = r2;
    return true;
  }
  // a single address
  if (v4) t.end4 = t.start4;
  else for (let k = 0; k < 4; k++) w[4 + k] = w[k]!;
  t.width = max;
  t.end = q;
  return true;
}

/** True when the byte is a blank (space, tab, CR: CRLF files end lines in CR). */
export function isBlank(c: number | undefined): boolean {
  return c === 32 || c === 9 || c === 13;
}
