// Collisions: which listings of each public source fall inside each provider feed's ranges (the
// listings the provider exemption neutralises: "spamcop lists 237 addresses in Microsoft 365
// outbound ranges"), and the rule that turns their history into a "sharp rise" alert.
//
// Both inputs are sorted, disjoint, merged range sets (core/ranges.ts). Provider feeds are small
// (hundreds of ranges), sources large (millions): each provider range is binary-searched into the
// source's starts and the overlapping source ranges walked, O(m log n + hits), not O(n + m).
// Pure: no I/O; MergeService runs it after each merge (sync/collisions-store.ts keeps history).

import { ip4Dotted } from '../../core/ip4.ts';
import { formatIp6 } from '../../core/ip6.ts';
import { bytes6, floor4, type RangeSet4, type RangeSet6 } from '../../core/ranges.ts';
import type { ProviderRange } from '../providers/types.ts';

/** Colliding pieces kept per source x provider for display. */
export const SAMPLE_LIMIT = 100;

/** One listed piece inside a provider range. */
export interface CollisionSample {
  /** The listed addresses inside the provider range: an address, a CIDR or `a-b`. */
  listed: string;
  /** The provider's range it falls in, as the feed names it (its CIDR), else the merged range. */
  providerRange: string;
  /** The feed's provenance of that range (e.g. 'M365 endpoint set 10 (TCP 25), version ...'). */
  detail?: string;
}

/** A source x provider feed pair. keys = IPv4 addresses + IPv6 ranges (IPv6 address counts are
 *  astronomical: a listed IPv6 range counts as one key); ranges = the source's (merged) ranges
 *  that overlap the feed, IPv4 + IPv6. */
export interface PairCollision {
  source: string;
  provider: string;
  keys: number;
  ranges: number;
  addresses4: number;
  ranges4: number;
  ranges6: number;
  /** The first SAMPLE_LIMIT colliding pieces in address order (IPv4, then IPv6). */
  samples: CollisionSample[];
  /** More pieces collide than the samples show. */
  truncated: boolean;
}

export interface CollisionSourceInput {
  name: string;
  v4: RangeSet4;
  v6: RangeSet6;
}

export interface CollisionProviderInput {
  name: string;
  v4: RangeSet4;
  v6: RangeSet6;
  /** The feed's ranges with provenance (names the range a sample hits). */
  ranges?: readonly ProviderRange[];
}


/** Walks the intersection of a source set with a provider set: onPiece(start, end, providerIndex)
 *  for every maximal piece, in address order. Returns the addresses in it and how many distinct
 *  source ranges touch it. */
export function intersect4(src: RangeSet4, prov: RangeSet4, onPiece?: (start: number, end: number, p: number) => void): { addresses: number; ranges: number } {
  const S = src.start;
  const E = src.end;
  const n = S.length;
  let addresses = 0;
  let ranges = 0;
  let last = -1; // the last source range counted (provider ranges ascend, so indices do too)
  for (let p = 0; p < prov.start.length; p++) {
    const a = prov.start[p]!;
    const b = prov.end[p]!;
    let j = floor4(S, a);
    if (j < 0 || E[j]! < a) j++;
    for (; j < n && S[j]! <= b; j++) {
      const lo = S[j]! > a ? S[j]! : a;
      const hi = E[j]! < b ? E[j]! : b;
      addresses += hi - lo + 1;
      if (j !== last) {
        ranges++;
        last = j;
      }
      onPiece?.(lo, hi, p);
    }
  }
  return { addresses, ranges };
}

function cmp6(a: Uint32Array, ai: number, b: Uint32Array, bi: number): number {
  for (let k = 0; k < 4; k++) {
    const x = a[ai + k]!;
    const y = b[bi + k]!;
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

function floor6(s: Uint32Array, x: Uint32Array, xi: number): number {
  let lo = 0;
  let hi = (s.length >>> 2) - 1;
  let f = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    if (cmp6(s, mid * 4, x, xi) <= 0) {
      f = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return f;
}

/** The IPv6 intersection: onPiece(words of start, offset, words of end, offset, providerIndex);
 *  returns how many distinct source ranges overlap the provider set (and the pieces). */
export function intersect6(
  src: RangeSet6,
  prov: RangeSet6,
  onPiece?: (s: Uint32Array, si: number, e: Uint32Array, ei: number, p: number) => void,
): { pieces: number; ranges: number } {
  const S = src.start;
  const E = src.end;
  const n = S.length >>> 2;
  let pieces = 0;
  let ranges = 0;
  let last = -1;
  for (let p = 0; p < prov.start.length >>> 2; p++) {
    const A = prov.start;
    const B = prov.end;
    const ai = p * 4;
    let j = floor6(S, A, ai);
    if (j < 0 || cmp6(E, j * 4, A, ai) < 0) j++;
    for (; j < n && cmp6(S, j * 4, B, ai) <= 0; j++) {
      pieces++;
      if (j !== last) {
        ranges++;
        last = j;
      }
      if (onPiece) {
        const lo = cmp6(S, j * 4, A, ai) > 0;
        const hi = cmp6(E, j * 4, B, ai) < 0;
        onPiece(lo ? S : A, lo ? j * 4 : ai, hi ? E : B, hi ? j * 4 : ai, p);
      }
    }
  }
  return { pieces, ranges };
}

/** [s, e] as an address, a CIDR when it is one, else `s-e`. */
export function rangeText4(s: number, e: number): string {
  if (s === e) return ip4Dotted(s);
  const size = e - s + 1;
  if (Number.isInteger(Math.log2(size)) && s % size === 0) return `${ip4Dotted(s)}/${32 - Math.log2(size)}`;
  return `${ip4Dotted(s)}-${ip4Dotted(e)}`;
}

/** The same for IPv6 (4 words each). */
export function rangeText6(s: Uint32Array, si: number, e: Uint32Array, ei: number): string {
  const a = formatIp6(bytes6(s, si));
  if (cmp6(s, si, e, ei) === 0) return a;
  // a CIDR: equal words, then one whose difference is a low mask clear in s, then all 0 / all 1
  const range = `${a}-${formatIp6(bytes6(e, ei))}`;
  let k = 0;
  while (k < 4 && s[si + k] === e[ei + k]) k++;
  const x = s[si + k]!;
  const d = (x ^ e[ei + k]!) >>> 0;
  if ((d & (d + 1)) !== 0 || (x & d) !== 0) return range;
  for (let j = k + 1; j < 4; j++) if (s[si + j] !== 0 || e[ei + j] !== 0xffffffff) return range;
  return `${a}/${32 * k + Math.clz32(d)}`;
}

/** The feed range (narrowest) holding an address, for naming a sample. */
function feedRange4(ranges: readonly ProviderRange[] | undefined, ip: number): ProviderRange | undefined {
  let best: ProviderRange | undefined;
  for (const r of ranges ?? []) if (r.family === 4 && r.start[0]! <= ip && ip <= r.end[0]! && (!best || r.prefix > best.prefix)) best = r;
  return best;
}

function feedRange6(ranges: readonly ProviderRange[] | undefined, w: Uint32Array, wi: number): ProviderRange | undefined {
  let best: ProviderRange | undefined;
  for (const r of ranges ?? []) {
    if (r.family !== 6) continue;
    const s = Uint32Array.from(r.start);
    const e = Uint32Array.from(r.end);
    if (cmp6(s, 0, w, wi) <= 0 && cmp6(e, 0, w, wi) >= 0 && (!best || r.prefix > best.prefix)) best = r;
  }
  return best;
}

/** One source x provider pair, with up to `limit` samples. */
export function collidePair(src: CollisionSourceInput, prov: CollisionProviderInput, limit = SAMPLE_LIMIT): PairCollision {
  const samples: CollisionSample[] = [];
  let pieces = 0;
  const sample = (listed: string, named: ProviderRange | undefined, merged: string) => {
    samples.push({ listed, providerRange: named?.cidr ?? merged, ...(named?.detail ? { detail: named.detail } : {}) });
  };
  const r4 = intersect4(src.v4, prov.v4, (lo, hi, p) => {
    if (pieces++ >= limit) return;
    sample(rangeText4(lo, hi), feedRange4(prov.ranges, lo), rangeText4(prov.v4.start[p]!, prov.v4.end[p]!));
  });
  const r6 = intersect6(src.v6, prov.v6, (s, si, e, ei, p) => {
    if (pieces++ >= limit) return;
    sample(rangeText6(s, si, e, ei), feedRange6(prov.ranges, s, si), rangeText6(prov.v6.start, p * 4, prov.v6.end, p * 4));
  });
  return {
    source: src.name,
    provider: prov.name,
    keys: r4.addresses + r6.ranges,
    ranges: r4.ranges + r6.ranges,
    addresses4: r4.addresses,
    ranges4: r4.ranges,
    ranges6: r6.ranges,
    samples,
    truncated: pieces > limit,
  };
}

/** Every source x provider pair (zeros included: a gauge per pair), sources in order. */
export function computeCollisions(sources: readonly CollisionSourceInput[], providers: readonly CollisionProviderInput[], limit = SAMPLE_LIMIT): PairCollision[] {
  const out: PairCollision[] = [];
  for (const s of sources) for (const p of providers) out.push(collidePair(s, p, limit));
  return out;
}

// ---- rise alerts ----

/** A sharp rise: keys rose by at least max(RISE_MIN, RISE_SHARE x before) within RISE_WINDOW_MS. */
export const RISE_MIN = 10;
export const RISE_SHARE = 0.5;
export const RISE_WINDOW_MS = 24 * 3600_000;

/** One history point: the pair's keys from `at` on (a row is written when the count changes). */
export interface HistoryPoint {
  at: number;
  keys: number;
}

export interface RiseAlert {
  source: string;
  provider: string;
  /** The lowest count of the window (the last 24 h, the value in force 24 h ago included). */
  before: number;
  now: number;
  /** When the count first stood that far above `before` (ISO). */
  since: string;
  /** When `before` was in force (ISO; the window start when it was in force 24 h ago). */
  beforeAt: string;
}

export function riseThreshold(before: number): number {
  return Math.max(RISE_MIN, Math.ceil(before * RISE_SHARE));
}

/** The rise alert of one pair, or null. points: its history sorted by time (oldest first);
 *  current: the count now. The first point ever is the baseline, never a rise (a fresh install
 *  shows its counts, it does not alert on them). An alert lasts while the count stays that far
 *  above the window's low: about a day after the rise, less when the count falls back. */
export function riseOf(source: string, provider: string, points: readonly HistoryPoint[], current: number, now: number): RiseAlert | null {
  if (points.length === 0) return null;
  const from = now - RISE_WINDOW_MS;
  // the point in force at the window start (or the first point, as the baseline)
  let i0 = 0;
  for (let i = 0; i < points.length; i++) if (points[i]!.at <= from) i0 = i;
  let low = points[i0]!.keys;
  let lowAt = Math.max(points[i0]!.at, from);
  let lowIdx = i0;
  for (let i = i0 + 1; i < points.length; i++) {
    const p = points[i]!;
    if (p.at > now) break;
    if (p.keys < low) {
      low = p.keys;
      lowAt = p.at;
      lowIdx = i;
    }
  }
  const bar = low + riseThreshold(low);
  if (current < bar) return null;
  // since: the first point after the low that reached the bar (now, when none was written yet)
  let since = now;
  for (let i = lowIdx + 1; i < points.length; i++) {
    if (points[i]!.keys >= bar) {
      since = points[i]!.at;
      break;
    }
  }
  return { source, provider, before: low, now: current, since: new Date(since).toISOString(), beforeAt: new Date(lowAt).toISOString() };
}
