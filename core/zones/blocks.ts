// Address ranges as owner names (relative to the zone): what a standard DNS server needs to
// answer every address of an inclusive range. A single address is its exact name; an
// octet-aligned IPv4 block or a nibble-aligned IPv6 block is one wildcard; any other block is
// split to the next aligned level.
//
// The family clash: IPv4 names (4 decimal labels) and IPv6 names (32 one-nibble labels) share
// the labels 0-9. `*.2` (2.0.0.0/8) would also match every IPv6 name whose top nibble is 2, and
// `*.3.2.1` as an IPv6 wildcard (123::/12) would match the IPv4 names 1.2.3.x. So an IPv4
// wildcard is written only when one of its labels is >= 10 (no nibble), else split one octet
// deeper; an IPv6 wildcard only when it has >= 4 labels (an IPv4 name has 4, so nothing of it
// is strictly below) or one label is a-f, else split one nibble deeper. `*` alone (the apex
// wildcard) is never written for an address range.

import type { MaterialiseOptions } from './records.ts';
import { formatIp6 } from '../ip6.ts';

/** One owner name and the key it stands for: the address for an exact name, the CIDR for a
 *  wildcard (what a TXT `$` becomes; a wildcard has no single key). */
export interface AddressName {
  readonly name: string;
  readonly key: string;
}

// ---------- IPv4 ----------

/** Names an all-digit (every label < 10) octet-aligned block of prefix p needs (p = 0: the apex). */
const DIGIT4: number[] = [];
DIGIT4[24] = 256;
for (let p = 16; p >= 0; p -= 8) DIGIT4[p] = 246 + 10 * DIGIT4[p + 8]!;

/** True when some of the top p/8 octets of ip is >= 10 (the wildcard cannot match IPv6 names). */
function hasWideOctet(ip: number, p: number): boolean {
  for (let k = 0; k < p / 8; k++) if (((ip >>> (24 - 8 * k)) & 255) >= 10) return true;
  return false;
}

/** Names for the aligned block ip/p (p a multiple of 8 or not): counted, or written when `out` is given. */
function block4(ip: number, p: number, out: AddressName[] | null): number {
  if (p === 32) {
    out?.push({ name: rev4(ip, 4), key: dotted(ip) });
    return 1;
  }
  if (p % 8 !== 0) {
    const q = p + 8 - (p % 8);
    const step = 2 ** (32 - q);
    let n = 0;
    for (let k = 0; k < 2 ** (q - p); k++) n += block4(ip + k * step, q, out);
    return n;
  }
  if (p > 0 && hasWideOctet(ip, p)) {
    out?.push({ name: '*.' + rev4(ip, p / 8), key: `${dotted(ip)}/${p}` });
    return 1;
  }
  if (out === null && p > 0) return DIGIT4[p]!;
  // all digits (or the apex): one octet deeper
  const step = 2 ** (24 - p);
  let n = 0;
  for (let k = 0; k < 256; k++) n += block4(ip + k * step, p + 8, out);
  return n;
}

/** The maximal CIDR blocks of [a, b] (uint32, inclusive), as [start, prefix] pairs. */
export function cidrs4(a: number, b: number): [number, number][] {
  const out: [number, number][] = [];
  let x = a >>> 0;
  const end = b >>> 0;
  while (x <= end) {
    let size = x === 0 ? 2 ** 32 : 2 ** ctz32(x);
    while (x + size - 1 > end) size /= 2;
    out.push([x, 32 - Math.log2(size)]);
    x += size;
  }
  return out;
}

function ctz32(x: number): number {
  let n = 0;
  while (n < 32 && (x & 1) === 0) {
    x = Math.floor(x / 2);
    n++;
  }
  return n;
}

/** How many names the IPv4 range [a, b] needs. */
export function count4(a: number, b: number): number {
  let n = 0;
  for (const [s, p] of cidrs4(a, b)) n += block4(s, p, null);
  return n;
}

/** The names of the IPv4 range [a, b] (inclusive, uint32), ascending; null when it needs more
 *  than opts.maxExpansion names (reported through opts.report, naming the range and the count). */
export function names4(a: number, b: number, opts: MaterialiseOptions): AddressName[] | null {
  const n = count4(a, b);
  if (n > opts.maxExpansion) {
    opts.report(`IPv4 range ${dotted(a)}-${dotted(b)} needs ${n} names, more than max_expansion ${opts.maxExpansion}: left out`);
    return null;
  }
  const out: AddressName[] = [];
  for (const [s, p] of cidrs4(a, b)) block4(s, p, out);
  return out;
}

function dotted(ip: number): string {
  return `${ip >>> 24}.${(ip >>> 16) & 255}.${(ip >>> 8) & 255}.${ip & 255}`;
}

/** Reversed first `octets` octets: `3.2.1` for 1.2.3.x. */
function rev4(ip: number, octets: number): string {
  let s = String(ip >>> 24);
  for (let k = 1; k < octets; k++) s = `${(ip >>> (24 - 8 * k)) & 255}.${s}`;
  return s;
}

// ---------- IPv6 ----------

const ONES128 = (1n << 128n) - 1n;

/** Names an all-digit nibble-aligned block of prefix p (< 16) needs. */
const DIGIT6: number[] = [];
DIGIT6[12] = 16;
for (let p = 8; p >= 0; p -= 4) DIGIT6[p] = 6 + 10 * DIGIT6[p + 4]!;

function nibble(ip: bigint, k: number): number {
  return Number((ip >> BigInt(124 - 4 * k)) & 15n);
}

function hasLetter(ip: bigint, p: number): boolean {
  for (let k = 0; k < p / 4; k++) if (nibble(ip, k) >= 10) return true;
  return false;
}

/** Reversed first `n` nibbles, joined with dots. */
function rev6(ip: bigint, n: number): string {
  let s = '';
  for (let k = n - 1; k >= 0; k--) s += (k === n - 1 ? '' : '.') + nibble(ip, k).toString(16);
  return s;
}

function block6(ip: bigint, p: number, out: AddressName[] | null, text: (ip: bigint) => string): number {
  if (p === 128) {
    out?.push({ name: rev6(ip, 32), key: text(ip) });
    return 1;
  }
  if (p % 4 !== 0) {
    const q = p + 4 - (p % 4);
    const step = 1n << BigInt(128 - q);
    let n = 0;
    for (let k = 0n; k < 1n << BigInt(q - p); k++) n += block6(ip + k * step, q, out, text);
    return n;
  }
  if (p >= 16 || (p > 0 && hasLetter(ip, p))) {
    out?.push({ name: '*.' + rev6(ip, p / 4), key: `${text(ip)}/${p}` });
    return 1;
  }
  if (out === null && p > 0) return DIGIT6[p]!;
  const step = 1n << BigInt(124 - p);
  let n = 0;
  for (let k = 0n; k < 16n; k++) n += block6(ip + k * step, p + 4, out, text);
  return n;
}

/** The maximal CIDR blocks of [a, b] (128-bit, inclusive). */
export function cidrs6(a: bigint, b: bigint): [bigint, number][] {
  const out: [bigint, number][] = [];
  let x = a;
  while (x <= b) {
    let bits = 0;
    while (bits < 128 && ((x >> BigInt(bits)) & 1n) === 0n) bits++;
    while (x + (1n << BigInt(bits)) - 1n > b) bits--;
    out.push([x, 128 - bits]);
    x += 1n << BigInt(bits);
    if (x > ONES128) break;
  }
  return out;
}

export function count6(a: bigint, b: bigint): number {
  let n = 0;
  for (const [s, p] of cidrs6(a, b)) n += block6(s, p, null, text6);
  return n;
}

/** The names of the IPv6 range [a, b] (inclusive, 128-bit), ascending; null when over the
 *  bound (reported). `text` prints an address for the keys (default: rbldnsd's form). */
export function names6(a: bigint, b: bigint, opts: MaterialiseOptions, text: (ip: bigint) => string = text6): AddressName[] | null {
  const n = count6(a, b);
  if (n > opts.maxExpansion) {
    opts.report(`IPv6 range ${text(a)}-${text(b)} needs ${n} names, more than max_expansion ${opts.maxExpansion}: left out`);
    return null;
  }
  const out: AddressName[] = [];
  for (const [s, p] of cidrs6(a, b)) block6(s, p, out, text);
  return out;
}

/** 16 bytes -> 128-bit integer. */
export function big6(b: Uint8Array): bigint {
  let v = 0n;
  for (let i = 0; i < 16; i++) v = (v << 8n) | BigInt(b[i]!);
  return v;
}

/** 4 big-endian words at `off` -> 128-bit integer. */
export function bigWords6(w: Uint32Array, off = 0): bigint {
  return (BigInt(w[off]!) << 96n) | (BigInt(w[off + 1]!) << 64n) | (BigInt(w[off + 2]!) << 32n) | BigInt(w[off + 3]!);
}

export function bytes16(v: bigint): Uint8Array {
  const b = new Uint8Array(16);
  for (let i = 15; i >= 0; i--) {
    b[i] = Number(v & 255n);
    v >>= 8n;
  }
  return b;
}

/** rbldnsd's printed form (core/ip6.ts formatIp6: what the datasets' TXT `$` shows). */
export function text6(v: bigint): string {
  return formatIp6(bytes16(v));
}

// ---------- IPv4 as v4-mapped IPv6 (::ffff:a.b.c.d) ----------

/** The labels of ::ffff:0:0/96 above the IPv4 part, least significant first. */
const MAPPED_TAIL = 'f.f.f.f' + '.0'.repeat(20);

function mappedBlock(ip: number, p: number, out: AddressName[] | null): number {
  if (p === 32) {
    out?.push({ name: `${nib4(ip, 8)}.${MAPPED_TAIL}`, key: formatIp6(bytes16(0xffff00000000n + BigInt(ip))) });
    return 1;
  }
  if (p % 4 !== 0) {
    const q = p + 4 - (p % 4);
    const step = 2 ** (32 - q);
    let n = 0;
    for (let k = 0; k < 2 ** (q - p); k++) n += mappedBlock(ip + k * step, q, out);
    return n;
  }
  // 24 + p/4 labels >= 4: never clashes with an IPv4 name
  const head = p === 0 ? '' : nib4(ip, p / 4) + '.';
  out?.push({ name: `*.${head}${MAPPED_TAIL}`, key: `${formatIp6(bytes16(0xffff00000000n + BigInt(ip)))}/${96 + p}` });
  return 1;
}

/** Reversed top `n` nibbles of an IPv4 address. */
function nib4(ip: number, n: number): string {
  let s = '';
  for (let k = n - 1; k >= 0; k--) s += (k === n - 1 ? '' : '.') + ((ip >>> (28 - 4 * k)) & 15).toString(16);
  return s;
}

/** The IPv4 range [a, b] as the v4-mapped IPv6 names ::ffff:a .. ::ffff:b (a zone that looks
 *  v4-mapped names up as IPv4 keys: bl, wl). Never more names than 8 per CIDR block. */
export function namesMapped(a: number, b: number): AddressName[] {
  const out: AddressName[] = [];
  for (const [s, p] of cidrs4(a, b)) mappedBlock(s, p, out);
  return out;
}

/** The IPv4 range [a, b] as the 32-nibble names a zone with IPv4 datasets also answers as IPv4
 *  (core/query.ts): `mapped` ::ffff:a.b.c.d, `6to4` 2002:aabb:ccdd::/48. Each name's key is the
 *  IPv4 text of its CIDR block (the address itself for one address: what rbldnsd's `$` shows). */
export function namesEmbedded4(a: number, b: number, kind: 'mapped' | '6to4'): AddressName[] {
  const out: AddressName[] = [];
  const all = { maxExpansion: Infinity, report: () => {} };
  for (const [s, p] of cidrs4(a, b)) {
    const key = p === 32 ? dotted(s) : `${dotted(s)}/${p}`;
    const base = kind === 'mapped' ? 0xffff00000000n + BigInt(s) : (0x2002n << 112n) | (BigInt(s) << 80n);
    const len = kind === 'mapped' ? 96 + p : 16 + p;
    const names = names6(base, base + (1n << BigInt(128 - len)) - 1n, all)!;
    for (const n of names) out.push({ name: n.name, key });
  }
  return out;
}
