// The Query handed to datasets, built straight from the packet: ip4 is computed from the
// label bytes, the label strings are only made when a dataset asks for them (dnset,
// generic, combined), so an ip4set lookup allocates nothing.

import type { Query } from '../core/datasets/types.ts';
import { makeQuery } from '../core/query.ts';
import type { ParsedQuery } from './wire.ts';

const scratch = Buffer.allocUnsafe(64);

/** Lowercases ASCII only (label bytes are latin1; Ã€ must stay as it is). */
function labelString(b: Buffer, o: number): string {
  const l = b[o]!;
  let upper = false;
  for (let j = 1; j <= l; j++) {
    const c = b[o + j]!;
    if (c >= 65 && c <= 90) {
      upper = true;
      break;
    }
  }
  if (!upper) return b.toString('latin1', o + 1, o + 1 + l);
  for (let j = 0; j < l; j++) {
    const c = b[o + 1 + j]!;
    scratch[j] = c >= 65 && c <= 90 ? c | 32 : c;
  }
  return scratch.toString('latin1', 0, l);
}

/** Decimal octet label (1-3 digits, <= 255, leading zeros allowed) or -1. */
function octet(b: Buffer, o: number): number {
  const l = b[o]!;
  if (l < 1 || l > 3) return -1;
  let v = 0;
  for (let j = 1; j <= l; j++) {
    const c = b[o + j]! - 48;
    if (c < 0 || c > 9) return -1;
    v = v * 10 + c;
  }
  return v > 255 ? -1 : v;
}

/** A label of one hex digit (either case). */
function isNibble(b: Buffer, o: number): boolean {
  if (b[o] !== 1) return false;
  const c = b[o + 1]!;
  return (c >= 48 && c <= 57) || (c >= 97 && c <= 102) || (c >= 65 && c <= 70);
}

export class WireQuery implements Query {
  ip4 = -1;
  ip6: Uint8Array | null = null;
  qtype = 0;
  private q: ParsedQuery | null = null;
  /** Number of labels below the zone. */
  private n = 0;
  private cached: string[] | null = null;

  /** Points the query at the `n` leading labels of the parsed question; `zoneHasIp4`: see
   *  makeQuery (32-nibble names are mapped to IPv4 only in zones with IPv4 datasets). */
  set(q: ParsedQuery, n: number, qtype: number, zoneHasIp4 = true): this {
    this.q = q;
    this.n = n;
    this.qtype = qtype;
    this.cached = null;
    this.ip6 = null;
    if (n === 4) {
      const b = q.buf;
      const off = q.labelOff;
      const d = octet(b, off[0]!);
      const c = octet(b, off[1]!);
      const bb = octet(b, off[2]!);
      const a = octet(b, off[3]!);
      this.ip4 = (d | c | bb | a) < 0 ? -1 : a * 0x1000000 + bb * 0x10000 + c * 0x100 + d;
    } else if (n === 32) {
      const mq = makeQuery(this.labels, qtype, zoneHasIp4); // v4-mapped / 6to4 rules live in core/query.ts
      this.ip4 = mq.ip4;
      this.ip6 = mq.ip6;
    } else {
      this.ip4 = -1;
    }
    return this;
  }

  /** Query.ipPrefix, from the label bytes (asked only for names nothing listed). */
  get ipPrefix(): boolean {
    const n = this.n;
    if (n === 0 || n >= 32) return false;
    const q = this.q!;
    const b = q.buf;
    const off = q.labelOff;
    let i = 0;
    if (n < 4) {
      while (i < n && octet(b, off[i]!) >= 0) i++;
      if (i === n) return true;
    }
    for (i = 0; i < n; i++) if (!isNibble(b, off[i]!)) return false;
    return true;
  }

  get labels(): readonly string[] {
    if (this.cached) return this.cached;
    const q = this.q!;
    const out = new Array<string>(this.n);
    for (let i = 0; i < this.n; i++) out[i] = labelString(q.buf, q.labelOff[i]!);
    this.cached = out;
    return out;
  }
}
