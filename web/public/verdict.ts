// What the public lookup page may say about a key: listed or not, and the public reason
// categories only. The explanation (MergeService.explain) knows source names, override reasons
// and authors, reporters and scores: none of that leaves this function.

import type { Explanation } from '../../sync/merge/explain.ts';
import { REASON } from '../../sync/merge/policy.ts';

export interface PublicVerdict {
  /** The canonical key that was looked up. */
  key: string;
  /** bl for addresses, dbl for domains. */
  zone: 'bl' | 'dbl';
  listed: boolean;
  /** Why, in words for an outside sender (empty when not listed). */
  reasons: string[];
}

export const PUBLIC_REASONS = {
  blocklist: 'listed by a public blocklist',
  reputation: 'listed by local reputation (reports of spam received by this site)',
  policy: "listed by this site's policy",
  test: 'an RFC 5782 test entry (always listed)',
} as const;

export function publicVerdict(x: Explanation): PublicVerdict {
  const reasons: string[] = [];
  if (x.block) {
    if (x.test) reasons.push(PUBLIC_REASONS.test);
    else {
      if (x.reasons.includes(REASON.policy) || x.reasons.includes(REASON.consensus)) reasons.push(PUBLIC_REASONS.blocklist);
      if (x.reasons.includes(REASON.reputation)) reasons.push(PUBLIC_REASONS.reputation);
      if (x.reasons.includes(REASON.deny)) reasons.push(PUBLIC_REASONS.policy);
    }
  }
  return { key: x.key, zone: x.answer.zone, listed: x.block, reasons };
}
