// Provider range feeds (exemptions): fetchers per feed type, the config schema, the shrink guard
// and the last good copy per feed. refreshProvider() is the whole cycle a scheduler runs.

import { fetchJsonFeed } from './jsonfeed.ts';
import { fetchM365 } from './m365.ts';
import type { ProviderConfig } from '../../core/config/providers.ts';
import { fetchSpf } from './spf.ts';
import { fetchStatic } from './static.ts';
import { loadLastGood, saveLastGood } from './store.ts';
import { providerGuard } from './guard.ts';
import type { ProviderContext, ProviderFeedResult } from './types.ts';

export { providerSchema, providersSchema, DEFAULT_PROVIDERS, type ProviderConfig, type ProviderConfigInput } from '../../core/config/providers.ts';
export { providerGuard, type ProviderGuardOptions } from './guard.ts';
export { saveLastGood, loadLastGood } from './store.ts';
export { loadBaselines, baselineFor, baselineResult, BASELINE_DIR, type Baseline, type BaselineInfo } from './baseline.ts';
export { m365ClientId } from './m365.ts';
export { expandSpf, type SpfExpansion } from './spf.ts';
export { DnsClient, DnsError, systemResolver } from './dns.ts';
export type { ProviderRange, ProviderFeedResult, ProviderContext } from './types.ts';

/** Fetches one feed (no guard, nothing stored). Throws on transport errors. */
export function fetchProvider(cfg: ProviderConfig, ctx: ProviderContext): Promise<ProviderFeedResult> {
  const c: ProviderContext = { timeoutMs: cfg.timeout * 1000, ...ctx };
  switch (cfg.type) {
    case 'm365':
      return fetchM365(cfg, c);
    case 'spf':
      return fetchSpf(cfg, c);
    case 'json':
      return fetchJsonFeed(cfg, c);
    case 'static':
      return fetchStatic(cfg, c);
  }
}

export interface RefreshOutcome {
  /** the ranges to use now: the new result when accepted, else the last good copy (maybe null) */
  current: ProviderFeedResult | null;
  /** 'updated' = new data stored; 'unchanged' = M365 version unchanged; 'rejected' = guard said
   *  no; 'failed' = fetch error */
  status: 'updated' | 'unchanged' | 'rejected' | 'failed';
  /** guard reasons or the error text */
  reasons: string[];
  /** the refused result, for display */
  refused?: ProviderFeedResult;
  /** 'updated' but the last good copy could not be written (it is used, not kept) */
  saveError?: string;
}

/** Fetch, guard, store: a failing or shrinking feed leaves the last good copy in place. */
export async function refreshProvider(cfg: ProviderConfig, ctx: ProviderContext): Promise<RefreshOutcome> {
  const prev = ctx.previous !== undefined ? ctx.previous : loadLastGood(ctx.stateDir, cfg.provider, cfg.feed);
  let next: ProviderFeedResult;
  try {
    next = await fetchProvider(cfg, { ...ctx, previous: prev });
  } catch (e) {
    return { current: prev, status: 'failed', reasons: [(e as Error).message] };
  }
  if (next.notModified) return { current: prev, status: 'unchanged', reasons: [] };
  // Against the shipped baseline only covered addresses count (see ProviderGuardOptions).
  const reasons = providerGuard(prev, next, prev?.baseline ? { countRanges: false } : {});
  if (reasons.length > 0) return { current: prev, status: 'rejected', reasons, refused: next };
  // A full or read-only state dir must not throw good ranges away: use them, say they are not kept.
  try {
    if (!saveLastGood(ctx.stateDir, next)) return { current: next, status: 'updated', reasons: [], saveError: 'the state disk cannot take writes (full or read-only)' };
  } catch (e) {
    return { current: next, status: 'updated', reasons: [], saveError: (e as Error).message };
  }
  return { current: next, status: 'updated', reasons: [] };
}
