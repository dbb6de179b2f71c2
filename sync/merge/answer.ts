// The TXT of the merged zones: one string of at most 255 bytes that is safe to show an outside
// sender (Postfix puts it in the reject reply): which public sources list the key and where to
// look it up, never override reasons, reporters or scores.

import type { Verdict } from './policy.ts';
import { REASON } from './policy.ts';
import type { Evidence } from './types.ts';

export const TXT_MAX = 255;

export interface TxtOptions {
  /** The base zone name shown to senders (e.g. dnsbl.internal). */
  base: string;
  /** Public lookup page; `$` = the listed key. null = no link. */
  lookupUrl: string | null;
}

function names(e: Evidence, mask: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < e.sourceNames.length; i++) if (mask & (1 << i)) out.push(e.sourceNames[i]!);
  return out;
}

/** Replaces each `$` of the URL with the key (`$$` = a literal `$`). */
function expand(url: string, key: string): string {
  return url.replace(/\$\$|\$/g, (m) => (m === '$$' ? '$' : key));
}

function fit(head: string, parts: string[], tail: string): string {
  const whole = `${head} (${parts.join('; ')})${tail}`;
  return whole.length <= TXT_MAX ? whole : whole.slice(0, TXT_MAX);
}

/** Block zones (bl, dbl). */
export function blockTxt(v: Verdict, key: string, e: Evidence, o: TxtOptions): string {
  const tail = o.lookupUrl ? `; see ${expand(o.lookupUrl, key)}` : '';
  if (v.test) return fit(`Listed by ${o.base}`, ['RFC 5782 test point'], tail);
  const parts: string[] = [];
  if (v.reasons.includes(REASON.policy) || v.reasons.includes(REASON.consensus)) {
    let list = names(e, v.sources);
    // too many names: keep the first few and count the rest
    let text = `sources: ${list.join(', ')}`;
    while (text.length > 120 && list.length > 1) {
      list = list.slice(0, -1);
      text = `sources: ${list.join(', ')} +${names(e, v.sources).length - list.length} more`;
    }
    parts.push(text);
  }
  if (v.reasons.includes(REASON.reputation)) parts.push('local reports');
  if (v.reasons.includes(REASON.deny)) parts.push('local policy');
  return fit(`Listed by ${o.base}`, parts, tail);
}

/** wl. */
export function allowTxt(v: Verdict, e: Evidence, o: TxtOptions): string {
  if (v.test) return fit(`Allowed by ${o.base}`, ['RFC 5782 test point'], '');
  const parts: string[] = [];
  if (v.allow & 1) parts.push('local policy');
  if (v.allow & 2) parts.push(`provider: ${providerNamesOf(e, v.providers)}`);
  return fit(`Allowed by ${o.base}`, parts, '');
}

export function providerNamesOf(e: Evidence, mask: number): string {
  const out: string[] = [];
  for (let i = 0; i < e.providerNames.length; i++) if (mask & (1 << i)) out.push(e.providerNames[i]!);
  return [...new Set(out)].join(', ');
}
