// How wide an override key is, and whether it is wider than the configured limit. A deny of
// 0.0.0.0/0 or `*.com` lists a whole part of the Internet; an allow that wide switches the
// blocklist off for it. Both need an explicit force by an admin (overrides.ts enforces it).
//
// Wide means: an IPv4 prefix shorter than `v4` bits, an IPv6 prefix shorter than `v6` bits, or a
// domain key on a public suffix (Public Suffix List via tldts, ICANN and private sections: `*.com`,
// `*.co.uk`, `*.github.io`, and the bare suffixes `com`, `co.uk`). A name the list does not know
// (a single label such as `internal`) counts as a suffix too: the list's default rule is `*`.

import { getPublicSuffix } from 'tldts';
import type { ParsedKey } from './keys.ts';

export interface OverrideLimits {
  /** Shortest IPv4 prefix allowed without force (0 = no limit). */
  v4: number;
  /** Shortest IPv6 prefix allowed without force (0 = no limit). */
  v6: number;
}

export const DEFAULT_OVERRIDE_LIMITS: OverrideLimits = Object.freeze({ v4: 16, v6: 32 });

/** A key wider than the limit: what it covers and the limit it exceeds, in words. */
export interface Wide {
  /** `/8 (16777216 addresses)`, `/0 (all of IPv4)`, `public suffix co.uk`. */
  width: string;
  /** `/16 (policy.override_limits.v4)`, `one registrable domain (Public Suffix List)`. */
  limit: string;
}

/** Whether `name` (lowercase ASCII, no trailing dot) is itself a public suffix. */
export function isPublicSuffix(name: string): boolean {
  return getPublicSuffix(name, { allowPrivateDomains: true }) === name;
}

/** null when the key is within the limits. */
export function wideness(k: ParsedKey, limits: OverrideLimits): Wide | null {
  if (k.kind === 'ip4') {
    if (k.bits >= limits.v4) return null;
    return { width: k.bits === 0 ? '/0 (all of IPv4)' : `/${k.bits} (${2 ** (32 - k.bits)} addresses)`, limit: `/${limits.v4} (policy.override_limits.v4)` };
  }
  if (k.kind === 'ip6') {
    if (k.bits >= limits.v6) return null;
    return { width: k.bits === 0 ? '/0 (all of IPv6)' : `/${k.bits} (2^${128 - k.bits} addresses)`, limit: `/${limits.v6} (policy.override_limits.v6)` };
  }
  if (!isPublicSuffix(k.name)) return null;
  return { width: k.kind === 'wildcard' ? `every name below the public suffix ${k.name}` : `the public suffix ${k.name}`, limit: 'one registrable domain (Public Suffix List)' };
}
