// Shipped baseline of the default providers' ranges (data/providers/*.json): what a feed uses until
// its first good fetch, so a fresh install with the network partly down never merges without the
// Microsoft 365, Google or Amazon SES exemptions. Each file names its source and its date; a
// baseline is matched to a configured feed by what the feed fetches (m365 instance, SPF domain),
// not by its provider/feed names, and its ranges take that feed's names.

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packagePath } from '../../core/package-root.ts';
import type { ProviderConfig } from '../../core/config/providers.ts';
import { finishResult, type ProviderFeedResult } from './types.ts';

export const BASELINE_DIR = packagePath('data/providers/');

const FORMAT = 1;

/** Provenance of a baseline (kept on the feed result while it is in use). */
export interface BaselineInfo {
  /** file name under data/providers */
  file: string;
  /** YYYY-MM-DD: the ranges were published by the provider at least on this date */
  date: string;
  /** where the provider publishes them (URL or DNS name) */
  source: string;
  title: string;
}

export interface Baseline extends BaselineInfo {
  provider: string;
  match: { type: 'm365'; instance: string } | { type: 'spf'; domain: string };
  ranges: { cidr: string; detail: string }[];
}

export class BaselineError extends Error {}

/** Parses one baseline file; throws a BaselineError naming the file and the problem. */
export function parseBaseline(file: string, text: string): Baseline {
  const bad = (what: string): never => {
    throw new BaselineError(`provider baseline ${file}: ${what}`);
  };
  let d: Record<string, unknown>;
  try {
    d = JSON.parse(text) as Record<string, unknown>;
  } catch (e) {
    return bad(`not JSON (${(e as Error).message})`);
  }
  if (d?.format !== FORMAT) bad(`format must be ${FORMAT}`);
  for (const k of ['provider', 'source', 'title', 'date']) if (typeof d[k] !== 'string' || !d[k]) bad(`"${k}" must be a non-empty string`);
  const date = d.date as string;
  if (!/^\d{4}-\d{2}-\d{2}$/.test(date) || Number.isNaN(Date.parse(`${date}T00:00:00Z`))) bad(`"date" must be YYYY-MM-DD, got "${date}"`);
  const m = d.match as Record<string, unknown> | undefined;
  let match: Baseline['match'];
  if (m?.type === 'm365' && typeof m.instance === 'string') match = { type: 'm365', instance: m.instance };
  else if (m?.type === 'spf' && typeof m.domain === 'string') match = { type: 'spf', domain: m.domain.toLowerCase().replace(/\.$/, '') };
  else return bad('"match" must be { type: m365, instance } or { type: spf, domain }');
  if (!Array.isArray(d.ranges) || d.ranges.length === 0) bad('"ranges" must be a non-empty list');
  const ranges = (d.ranges as unknown[]).map((r, i) => {
    const x = r as { cidr?: unknown; detail?: unknown };
    if (typeof x?.cidr !== 'string' || typeof x.detail !== 'string') bad(`ranges[${i}] needs "cidr" and "detail" strings`);
    return { cidr: x.cidr as string, detail: x.detail as string };
  });
  const b: Baseline = { file, provider: d.provider as string, title: d.title as string, source: d.source as string, date, match, ranges };
  // every CIDR must parse: a typo would silently drop an exemption
  const r = baselineResult(b, b.provider, 'check');
  if (r.warnings.length) bad(r.warnings.join('; '));
  return b;
}

/** Every baseline in `dir` (default data/providers). A broken file throws: it ships with the code. */
export function loadBaselines(dir = BASELINE_DIR): Baseline[] {
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => n.endsWith('.json')).sort();
  } catch (e) {
    throw new BaselineError(`provider baselines: cannot read ${dir}: ${(e as Error).message}`);
  }
  return names.map((n) => parseBaseline(n, readFileSync(join(dir, n), 'utf8')));
}

/** The baseline for a configured feed: same m365 instance or same SPF domain; null for others. */
export function baselineFor(cfg: ProviderConfig, baselines: readonly Baseline[]): Baseline | null {
  for (const b of baselines) {
    if (cfg.type === 'm365' && b.match.type === 'm365' && b.match.instance === cfg.instance) return b;
    if (cfg.type === 'spf' && b.match.type === 'spf' && b.match.domain === cfg.domain) return b;
  }
  return null;
}

/** The baseline as a feed result under the feed's names. fetchedAt = the baseline's date; no
 *  version, so the first M365 check always downloads the endpoint sets. */
export function baselineResult(b: Baseline, provider: string, feed: string): ProviderFeedResult {
  const at = Date.parse(`${b.date}T00:00:00Z`);
  const raw = b.ranges.map((r) => ({ cidr: r.cidr, detail: `shipped baseline dated ${b.date} (data/providers/${b.file}): ${r.detail}` }));
  const res = finishResult(provider, feed, at, raw);
  res.baseline = { file: b.file, date: b.date, source: b.source, title: b.title };
  return res;
}
