// Response rate limiting (RRL) for UDP, after Knot's `rrl` module and BIND's rate-limit:
// replies are counted in token buckets keyed by (class, client prefix, name); a bucket out of
// tokens drops the reply, and every `slip`-th dropped reply goes out truncated (TC=1, no
// records) so a real client behind a spoofed address retries over TCP, which RRL never limits.
//   class        key name             rate
//   positive     qname + qtype        responsesPerSecond   (NOERROR with answers)
//   nodata       qname + qtype        responsesPerSecond   (NOERROR, no answers)
//   nxdomain     the zone             nxdomainsPerSecond   (random labels share one bucket)
//   error        (none)               errorsPerSecond      (REFUSED, FORMERR, SERVFAIL, ...)
// The table is a fixed set of buckets in typed arrays (4-way set associative, the least
// recently used of the 4 is taken over): no allocation per reply, and a spoofed flood over
// many prefixes only recycles buckets. Both UDP listeners (dgram and the native batch) call
// `filter` on the reply the responder wrote, so RRL needs nothing from the transport but the
// client address.

import { parseCidr } from '../core/cidr.ts';
import type { Counters } from './counters.ts';
import { parseIp4Text, parseIp6Text } from './peer.ts';
import type { Responder } from './responder.ts';

export interface RrlOptions {
  /** Replies per second per bucket for answers and NODATA (0 = no limit). */
  responsesPerSecond: number;
  /** NXDOMAIN replies per second per client prefix and zone (0 = no limit). */
  nxdomainsPerSecond: number;
  /** Error replies per second per client prefix (0 = no limit). */
  errorsPerSecond: number;
  /** Every Nth limited reply is sent truncated (TC=1); 0 = drop them all, 1 = truncate all. */
  slip: number;
  ipv4Prefix: number;
  ipv6Prefix: number;
  /** Buckets (rounded up to a power of two). */
  tableSize: number;
  /** Clients never limited (CIDR list). */
  exempt: readonly string[];
  /** Private clients (the ranges of `isPrivateAddress`) are never limited either: `auto`
   *  mode, where a wildcard listener serves both the LAN and the Internet. */
  exemptPrivate: boolean;
}

export const RRL_DEFAULTS: RrlOptions = {
  responsesPerSecond: 20,
  nxdomainsPerSecond: 100,
  errorsPerSecond: 10,
  slip: 2,
  ipv4Prefix: 24,
  ipv6Prefix: 56,
  tableSize: 65536,
  exempt: [],
  exemptPrivate: false,
};

/** Result of `decide`. */
export const RRL_PASS = 0;
export const RRL_DROP = 1;
export const RRL_SLIP = 2;

const CLS_POSITIVE = 1;
const CLS_NODATA = 2;
const CLS_NXDOMAIN = 3;
const CLS_ERROR = 4;
const WAYS = 4;

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

interface ExemptNet {
  bytes: Uint8Array;
  prefix: number;
}

/** Whether a listener on `address` faces private networks only (RRL `auto` leaves it off):
 *  loopback, RFC 1918, RFC 6598 shared space, link-local, ULA. A wildcard bind (0.0.0.0, ::)
 *  may receive from the Internet, so it counts as public. */
export function isPrivateAddress(address: string): boolean {
  const v4 = parseIp4Text(address);
  if (v4 >= 0) return isPrivate4(v4 >>> 24, (v4 >>> 16) & 0xff);
  const s = new Uint8Array(16);
  return parseIp6Text(address, s) && isPrivateBytes(s);
}

function isPrivate4(a: number, b: number): boolean {
  return a === 127 || a === 10 || (a === 172 && b >= 16 && b < 32) || (a === 192 && b === 168) ||
    (a === 100 && b >= 64 && b < 128) || (a === 169 && b === 254);
}

/** isPrivateAddress for an address as 4 or 16 bytes. */
export function isPrivateBytes(s: Uint8Array): boolean {
  if (s.length === 4) return isPrivate4(s[0]!, s[1]!);
  if (isMapped(s)) return isPrivate4(s[12]!, s[13]!);
  let zero15 = true;
  for (let i = 0; i < 15; i++) if (s[i] !== 0) zero15 = false;
  if (zero15 && s[15] === 1) return true; // ::1
  if ((s[0]! & 0xfe) === 0xfc) return true; // fc00::/7
  return s[0] === 0xfe && (s[1]! & 0xc0) === 0x80; // fe80::/10
}

export class Rrl {
  private readonly mask: number;
  private readonly keys: Uint32Array;
  /** Last visit (ms, monotonic); 0 = never used. */
  private readonly times: Float64Array;
  private readonly tokens: Float64Array;
  private readonly limited: Uint32Array;
  private readonly exempt4: ExemptNet[] = [];
  private readonly exempt6: ExemptNet[] = [];
  private readonly ip6Scratch = new Uint8Array(16);
  private readonly ip4Scratch = new Uint8Array(4);
  private readonly opts: RrlOptions;
  private readonly v4Bytes: number;
  private readonly v4LastMask: number;
  private readonly v6Bytes: number;
  private readonly v6LastMask: number;
  /** Overridable clock (ms) for tests. */
  now: () => number = () => performance.now();
  /** The time `decide` uses, read by `tick()`: once per batch of datagrams, not per reply. */
  private clock = 0;

  constructor(
    opts: Partial<RrlOptions>,
    private readonly counters: Counters | null = null,
  ) {
    const o = { ...RRL_DEFAULTS, ...opts };
    for (const [k, v] of Object.entries({ responsesPerSecond: o.responsesPerSecond, nxdomainsPerSecond: o.nxdomainsPerSecond, errorsPerSecond: o.errorsPerSecond, slip: o.slip })) {
      if (!Number.isFinite(v) || v < 0) throw new Error(`rrl: ${k} must be a number >= 0 (got ${v})`);
    }
    if (!Number.isInteger(o.ipv4Prefix) || o.ipv4Prefix < 1 || o.ipv4Prefix > 32) throw new Error(`rrl: ipv4Prefix must be 1..32 (got ${o.ipv4Prefix})`);
    if (!Number.isInteger(o.ipv6Prefix) || o.ipv6Prefix < 1 || o.ipv6Prefix > 128) throw new Error(`rrl: ipv6Prefix must be 1..128 (got ${o.ipv6Prefix})`);
    this.opts = o;
    let size = WAYS;
    while (size < o.tableSize && size < 1 << 24) size *= 2;
    this.mask = size - 1;
    this.keys = new Uint32Array(size);
    this.times = new Float64Array(size);
    this.tokens = new Float64Array(size);
    this.limited = new Uint32Array(size);
    this.v4Bytes = Math.ceil(o.ipv4Prefix / 8);
    this.v4LastMask = (0xff << (this.v4Bytes * 8 - o.ipv4Prefix)) & 0xff;
    this.v6Bytes = Math.ceil(o.ipv6Prefix / 8);
    this.v6LastMask = (0xff << (this.v6Bytes * 8 - o.ipv6Prefix)) & 0xff;
    for (const text of o.exempt) {
      const c = parseCidr(text);
      if (!c) throw new Error(`rrl: exempt: invalid address or CIDR "${text}"`);
      const bytes = new Uint8Array(c.family === 4 ? 4 : 16);
      if (c.family === 4) {
        const ip = parseIp4Text(c.address);
        bytes.set([ip >>> 24, (ip >>> 16) & 255, (ip >>> 8) & 255, ip & 255]);
      } else parseIp6Text(c.address, bytes);
      (c.family === 4 ? this.exempt4 : this.exempt6).push({ bytes, prefix: c.prefix });
    }
  }

  /** Buckets in the table. */
  get size(): number {
    return this.mask + 1;
  }

  /** Reads the clock; listeners call it once per batch of datagrams (before `filter`). */
  tick(): void {
    this.clock = this.now();
  }

  /** For a client given as text (node:dgram): see `filter`. */
  filterText(r: Responder, n: number, client: string): number {
    const ip = parseIp4Text(client);
    if (ip >= 0) {
      const b = this.ip4Scratch;
      b[0] = ip >>> 24;
      b[1] = (ip >>> 16) & 255;
      b[2] = (ip >>> 8) & 255;
      b[3] = ip & 255;
      return this.filter(r, n, b);
    }
    if (!parseIp6Text(client, this.ip6Scratch)) return n; // no address: nothing to key on
    return this.filter(r, n, this.ip6Scratch);
  }

  /** Applies RRL to the reply `r.out[0..n)` for the client `peer` (4 or 16 bytes). Returns the
   *  length to send: n, 0 (dropped) or the length of the truncated reply now in `r.out`. */
  filter(r: Responder, n: number, peer: Uint8Array): number {
    if (n < 12) return n;
    const out = r.out;
    const qEnd = r.lastQEnd;
    const d = this.decide(out, qEnd, peer, out[3]! & 0xf, (out[6]! << 8) | out[7]!, r);
    if (d === RRL_PASS) return n;
    if (d === RRL_DROP) {
      if (this.counters) this.counters.rrlDropped++;
      return 0;
    }
    if (this.counters) this.counters.rrlSlipped++;
    return truncate(out, n, qEnd, r.lastEdns);
  }

  /** The verdict for one reply: its question ends at `qEnd` in `msg` (12 + name + 4). */
  decide(msg: Uint8Array, qEnd: number, peer: Uint8Array, rcode: number, ancount: number, zoneOf: { lastZone(): number } | null): number {
    const o = this.opts;
    let cls: number;
    let rate: number;
    if (rcode === 0) {
      cls = ancount > 0 ? CLS_POSITIVE : CLS_NODATA;
      rate = o.responsesPerSecond;
    } else if (rcode === 3) {
      cls = CLS_NXDOMAIN;
      rate = o.nxdomainsPerSecond;
    } else {
      cls = CLS_ERROR;
      rate = o.errorsPerSecond;
    }
    if (rate === 0) return RRL_PASS;
    // Key: class, client prefix, then the qname (lowercased) + qtype, or the zone.
    let h = Math.imul(FNV_OFFSET ^ cls, FNV_PRIME);
    let v4 = peer.length === 4;
    let off = 0;
    if (!v4 && isMapped(peer)) {
      v4 = true;
      off = 12;
    }
    const nb = v4 ? this.v4Bytes : this.v6Bytes;
    const last = v4 ? this.v4LastMask : this.v6LastMask;
    for (let i = 0; i < nb; i++) {
      const b = i === nb - 1 ? peer[off + i]! & last : peer[off + i]!;
      h = Math.imul(h ^ b, FNV_PRIME);
    }
    h = Math.imul(h ^ (v4 ? 4 : 6), FNV_PRIME);
    if (cls === CLS_POSITIVE || cls === CLS_NODATA) {
      const end = qEnd - 2; // name + qtype
      for (let i = 12; i < end && i < msg.length; i++) {
        let c = msg[i]!;
        if (c >= 65 && c <= 90) c |= 32;
        h = Math.imul(h ^ c, FNV_PRIME);
      }
    } else if (cls === CLS_NXDOMAIN) {
      const z = zoneOf ? zoneOf.lastZone() : -1;
      h = Math.imul(h ^ (z & 0xff), FNV_PRIME);
      h = Math.imul(h ^ ((z >>> 8) & 0xff), FNV_PRIME);
    }
    h >>>= 0;
    const now = this.clock;
    const b = this.bucket(h);
    const times = this.times;
    const tokens = this.tokens;
    if (this.keys[b] !== h || times[b] === 0) {
      this.keys[b] = h;
      tokens[b] = rate;
      this.limited[b] = 0;
    } else {
      const t = tokens[b]! + ((now - times[b]!) * rate) / 1000;
      tokens[b] = t > rate ? rate : t;
    }
    times[b] = now > 0 ? now : 1e-9;
    if (tokens[b]! >= 1) {
      tokens[b]! -= 1;
      return RRL_PASS;
    }
    if (this.isExempt(peer)) return RRL_PASS;
    const k = ++this.limited[b]!;
    return o.slip > 0 && k % o.slip === 0 ? RRL_SLIP : RRL_DROP;
  }

  /** The bucket of key h: its own if among the WAYS slots of its set, else the set's least
   *  recently used slot. */
  private bucket(h: number): number {
    const base = (Math.imul(h, 0x9e3779b1) >>> 0) & this.mask & ~(WAYS - 1);
    let lru = base;
    for (let i = 0; i < WAYS; i++) {
      const s = base + i;
      if (this.keys[s] === h && this.times[s] !== 0) return s;
      if (this.times[s]! < this.times[lru]!) lru = s;
    }
    return lru;
  }

  private isExempt(peer: Uint8Array): boolean {
    if (this.opts.exemptPrivate && isPrivateBytes(peer)) return true;
    let off = 0;
    let list = this.exempt6;
    if (peer.length === 4) list = this.exempt4;
    else if (isMapped(peer)) {
      list = this.exempt4;
      off = 12;
    }
    for (let i = 0; i < list.length; i++) if (prefixMatch(list[i]!, peer, off)) return true;
    return false;
  }
}

function isMapped(p: Uint8Array): boolean {
  if (p.length !== 16) return false;
  for (let i = 0; i < 10; i++) if (p[i] !== 0) return false;
  return p[10] === 0xff && p[11] === 0xff;
}

function prefixMatch(net: ExemptNet, peer: Uint8Array, off: number): boolean {
  const full = net.prefix >> 3;
  for (let i = 0; i < full; i++) if (net.bytes[i] !== peer[off + i]) return false;
  const rest = net.prefix & 7;
  if (rest === 0) return true;
  const m = (0xff << (8 - rest)) & 0xff;
  return (net.bytes[full]! & m) === (peer[off + full]! & m);
}

/** Rewrites the reply `msg[0..n)` as a truncated one: header (TC set, counts zeroed) and the
 *  question, plus the OPT record when the reply had one (always its last 11 bytes). */
export function truncate(msg: Uint8Array, n: number, qEnd: number, edns: boolean): number {
  msg[2] = msg[2]! | 2;
  msg[6] = msg[7] = msg[8] = msg[9] = msg[10] = msg[11] = 0;
  if (qEnd > n) qEnd = n;
  if (edns && n - 11 >= qEnd) {
    msg.copyWithin(qEnd, n - 11, n);
    msg[11] = 1;
    return qEnd + 11;
  }
  return qEnd;
}
