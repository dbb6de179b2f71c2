// Turns the labels of a query name (relative to a zone) into the keys datasets look up.

import type { Query } from './datasets/types.ts';

function decOctet(l: string): number {
  const n = l.length;
  if (n < 1 || n > 3) return -1;
  let v = 0;
  for (let i = 0; i < n; i++) {
    const c = l.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return -1;
    v = v * 10 + c;
  }
  return v > 255 ? -1 : v;
}

function hexNibble(l: string): number {
  if (l.length !== 1) return -1;
  const c = l.charCodeAt(0);
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

/** `d.c.b.a` labels -> a.b.c.d as uint32, or -1. */
export function ip4FromLabels(labels: readonly string[]): number {
  if (labels.length !== 4) return -1;
  let v = 0;
  for (let i = 3; i >= 0; i--) {
    const o = decOctet(labels[i]!);
    if (o < 0) return -1;
    v = v * 256 + o;
  }
  return v;
}

/** 32 nibble labels, least significant first -> 16 bytes, or null. */
export function ip6FromLabels(labels: readonly string[]): Uint8Array | null {
  if (labels.length !== 32) return null;
  const b = new Uint8Array(16);
  for (let i = 0; i < 32; i++) {
    const n = hexNibble(labels[i]!);
    if (n < 0) return null;
    const pos = 31 - i; // nibble index from the most significant end
    b[pos >> 1]! |= pos & 1 ? n : n << 4;
  }
  return b;
}

/** `zoneHasIp4`: rbldnsd maps 32-nibble names to IPv4 (v4-mapped: IPv4 only; 6to4: both) only
 *  in zones that hold an IPv4 dataset; elsewhere they stay plain IPv6 names. */
export function makeQuery(labels: readonly string[], qtype: number, zoneHasIp4 = true): Query {
  let ip4 = ip4FromLabels(labels);
  let ip6: Uint8Array | null = null;
  if (ip4 < 0 && labels.length === 32) {
    ip6 = ip6FromLabels(labels);
    if (ip6 && zoneHasIp4) {
      const mapped = ip6.subarray(0, 10).every((x) => x === 0) && ip6[10] === 0xff && ip6[11] === 0xff;
      if (mapped) {
        ip4 = ((ip6[12]! << 24) | (ip6[13]! << 16) | (ip6[14]! << 8) | ip6[15]!) >>> 0;
        ip6 = null; // v4-mapped: looked up as IPv4 only
      } else if (ip6[0] === 0x20 && ip6[1] === 0x02) {
        ip4 = ((ip6[2]! << 24) | (ip6[3]! << 16) | (ip6[4]! << 8) | ip6[5]!) >>> 0; // 6to4: both
      }
    }
  }
  return { labels, ip4, ip6, qtype, ipPrefix: isIpPrefix(labels) };
}

/** See Query.ipPrefix. */
export function isIpPrefix(labels: readonly string[]): boolean {
  const n = labels.length;
  if (n === 0 || n >= 32) return false;
  if (n < 4 && labels.every((l) => decOctet(l) >= 0)) return true;
  return labels.every((l) => hexNibble(l) >= 0);
}

export function ip4ToString(ip: number): string {
  return `${ip >>> 24}.${(ip >>> 16) & 255}.${(ip >>> 8) & 255}.${ip & 255}`;
}
