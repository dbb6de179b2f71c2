// Provider feed guard: a feed that suddenly shrinks (or empties) is more likely broken than a
// provider giving up half its mail servers. Exemptions lost by mistake would let public lists
// block Microsoft or Google again, so the caller keeps the previous ranges when this says no.

import { addressCount4, addressCount6, rangeCount6 } from '../../core/ranges.ts';
import type { ProviderFeedResult } from './types.ts';

export interface ProviderGuardOptions {
  /** largest share of ranges or covered addresses (per family) a feed may lose; default 0.5 */
  maxShrink?: number;
  /** compare the number of ranges too (default true). Off against a shipped baseline: a provider
   *  that regroups its prefixes is not shrinking, and a baseline must never lock a feed out. */
  countRanges?: boolean;
}

/** Reasons to refuse `next` (empty when it may replace `prev`). */
export function providerGuard(prev: ProviderFeedResult | null, next: ProviderFeedResult, opts: ProviderGuardOptions = {}): string[] {
  const maxShrink = opts.maxShrink ?? 0.5;
  const reasons: string[] = [];
  const name = `${next.provider}/${next.feed}`;
  if (next.ranges.length === 0) {
    reasons.push(prev && prev.ranges.length > 0
      ? `${name} is empty while the ${prev.baseline ? 'shipped baseline' : 'last good copy'} had ${prev.ranges.length} ranges`
      : `${name} is empty`);
    return reasons;
  }
  if (!prev || prev.ranges.length === 0) return reasons;
  const shrank = (what: string, before: number, now: number) => {
    if (before > 0 && now < before && (before - now) / before > maxShrink) {
      reasons.push(`${name}: ${what} shrank from ${fmt(before)} to ${fmt(now)} (-${Math.round(((before - now) / before) * 100)}%), limit -${Math.round(maxShrink * 100)}%`);
    }
  };
  if (opts.countRanges !== false) shrank('ranges', prev.ranges.length, next.ranges.length);
  shrank('covered IPv4 addresses', addressCount4(prev.v4), addressCount4(next.v4));
  // IPv6: compare coverage when both have it; a feed that loses all its IPv6 is caught too
  if (rangeCount6(prev.v6) > 0) shrank('covered IPv6 addresses', addressCount6(prev.v6), addressCount6(next.v6));
  return reasons;
}

function fmt(n: number): string {
  return n >= 1e15 ? n.toExponential(2) : new Intl.NumberFormat('en-US').format(n);
}
