// What every provider fetcher returns: ranges with provenance, plus merged range sets the merge
// sweeps. Feeds are small (a few hundred prefixes), so one object per range is fine here.

import { RangeBuilder4, RangeBuilder6, type RangeSet4, type RangeSet6 } from '../../core/ranges.ts';
import type { BaselineInfo } from './baseline.ts';
import { parseProviderCidr } from './cidr.ts';

export interface ProviderRange {
  /** canonical CIDR (host bits cleared), e.g. '40.107.0.0/16', '2a01:111:f400::/48' */
  cidr: string;
  family: 4 | 6;
  prefix: number;
  /** first / last address: IPv4 one uint32 word, IPv6 four big-endian uint32 words */
  start: number[];
  end: number[];
  /** provider name from the config, e.g. 'microsoft365' */
  provider: string;
  /** feed name from the config, e.g. 'm365-worldwide' */
  feed: string;
  /** ms since the epoch when the data holding this range was fetched */
  fetchedAt: number;
  /** where exactly it came from: 'M365 endpoint set 10 (TCP 25), version 2024053000',
   *  'spf _spf.google.com > include:_netblocks.google.com' */
  detail: string;
  /** the range is point-in-time or otherwise doubtful: exemptions built on it want review */
  lowConfidence?: boolean;
  /** why: 'dynamic' (SPF a/mx), 'beyond RFC 7208 lookup limit', ... */
  confidenceNote?: string;
}

export interface ProviderFeedResult {
  provider: string;
  feed: string;
  fetchedAt: number;
  ranges: ProviderRange[];
  /** all ranges of the feed, merged (sorted, disjoint) */
  v4: RangeSet4;
  v6: RangeSet6;
  /** feed version when the feed has one (M365 web service `latest`) */
  version?: string;
  /** the feed was checked and had not changed: this is the previous result (fetchedAt unchanged) */
  notModified?: boolean;
  /** SPF: RFC 7208 DNS-querying terms and void lookups a receiver would count */
  lookups?: number;
  voidLookups?: number;
  /** SPF: a receiver would return permerror for this chain (limits, loops, syntax...) */
  wouldPermerror?: boolean;
  /** SPF: sender-dependent terms (ptr, exists, macros) that could not be expanded */
  unexpandable?: string[];
  warnings: string[];
  /** set when these ranges are the shipped baseline (data/providers), not a fetch */
  baseline?: BaselineInfo;
}

/** Everything a fetcher may need from its caller. */
export interface ProviderContext {
  /** state directory: client ids and last good copies live under <stateDir>/providers */
  stateDir: string;
  /** DNS resolver for SPF (default: the first nameserver of /etc/resolv.conf) */
  resolver?: { address: string; port: number };
  /** bound of one HTTP request or DNS query exchange, ms (default 30000 HTTP / 2000 DNS) */
  timeoutMs?: number;
  userAgent?: string;
  signal?: AbortSignal;
  /** the previous good result of this feed (M365 compares versions with it); loaded from
   *  <stateDir> when absent */
  previous?: ProviderFeedResult | null;
  /** clock (tests) */
  now?: () => number;
}

/** Input to finishResult: a range before provenance is attached. */
export interface RawRange {
  cidr: string;
  detail: string;
  lowConfidence?: boolean;
  confidenceNote?: string;
}

/** Parses, dedupes (first occurrence wins) and merges raw ranges into a feed result. Invalid CIDRs
 *  become warnings. */
export function finishResult(
  provider: string,
  feed: string,
  fetchedAt: number,
  raw: readonly RawRange[],
  extra: Partial<Omit<ProviderFeedResult, 'provider' | 'feed' | 'fetchedAt' | 'ranges' | 'v4' | 'v6'>> = {},
): ProviderFeedResult {
  const warnings = [...(extra.warnings ?? [])];
  const seen = new Map<string, ProviderRange>();
  for (const r of raw) {
    const p = parseProviderCidr(r.cidr);
    if (!p) {
      warnings.push(`not a CIDR: "${r.cidr}" (${r.detail})`);
      continue;
    }
    const old = seen.get(p.cidr);
    // a range seen with full confidence somewhere stays confident
    if (old) {
      if (old.lowConfidence && !r.lowConfidence) {
        delete old.lowConfidence;
        delete old.confidenceNote;
      }
      continue;
    }
    const range: ProviderRange = { cidr: p.cidr, family: p.family, prefix: p.prefix, start: p.start, end: p.end, provider, feed, fetchedAt, detail: r.detail };
    if (r.lowConfidence) {
      range.lowConfidence = true;
      if (r.confidenceNote) range.confidenceNote = r.confidenceNote;
    }
    seen.set(p.cidr, range);
  }
  const ranges = [...seen.values()];
  const { v4, v6 } = rangeSets(ranges);
  return { ...extra, provider, feed, fetchedAt, ranges, v4, v6, warnings };
}

/** Merged typed-array sets of a list of ranges. */
export function rangeSets(ranges: readonly ProviderRange[]): { v4: RangeSet4; v6: RangeSet6 } {
  const b4 = new RangeBuilder4(ranges.length);
  const b6 = new RangeBuilder6(ranges.length);
  for (const r of ranges) {
    if (r.family === 4) b4.add(r.start[0]!, r.end[0]!);
    else b6.addWords(r.start[0]!, r.start[1]!, r.start[2]!, r.start[3]!, r.end[0]!, r.end[1]!, r.end[2]!, r.end[3]!);
  }
  return { v4: b4.build(), v6: b6.build() };
}
