// Feed state that outlives a log line: the outcome of each feed's last check, kept in
// <stateDir>/providers/status/<provider>/<feed>.json (next to the last good copy, written
// atomically), so `quorumbl providers` in another process shows what a running `serve` saw.
// feedState() turns a feed's ranges in use and this record into what the CLI and the API show.
//
// Files, not the state database: the last good copies already live there, the CLI needs no write
// access to read them, and a full or read-only SQLite cannot hide a feed's failure.

import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { baselineFor, baselineResult, type Baseline, type BaselineInfo } from './baseline.ts';
import type { ProviderConfig } from '../../core/config/providers.ts';
import { feedFile, loadLastGood } from './store.ts';
import type { ProviderFeedResult } from './types.ts';

const FORMAT = 1;

export type CheckStatus = 'updated' | 'unchanged' | 'rejected' | 'failed';

export interface FeedStatus {
  /** last check (fetch attempt), ms */
  lastAttempt: number | null;
  lastStatus: CheckStatus | null;
  /** last check that confirmed the data (updated or unchanged), ms */
  lastSuccess: number | null;
  /** last failure or refusal, with its time */
  lastError: string | null;
  lastErrorAt: number | null;
}

export const NO_STATUS: FeedStatus = { lastAttempt: null, lastStatus: null, lastSuccess: null, lastError: null, lastErrorAt: null };

export function saveStatus(stateDir: string, provider: string, feed: string, s: FeedStatus): void {
  const file = feedFile(stateDir, 'status', provider, feed);
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify({ format: FORMAT, provider, feed, ...s }));
  renameSync(tmp, file);
}

export function loadStatus(stateDir: string, provider: string, feed: string): FeedStatus | null {
  try {
    const d = JSON.parse(readFileSync(feedFile(stateDir, 'status', provider, feed), 'utf8')) as Partial<FeedStatus> & { format?: number };
    if (d?.format !== FORMAT) return null;
    const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : null);
    const str = (v: unknown) => (typeof v === 'string' ? v : null);
    const st = str(d.lastStatus);
    return {
      lastAttempt: num(d.lastAttempt),
      lastStatus: st === 'updated' || st === 'unchanged' || st === 'rejected' || st === 'failed' ? st : null,
      lastSuccess: num(d.lastSuccess),
      lastError: str(d.lastError),
      lastErrorAt: num(d.lastErrorAt),
    };
  } catch {
    return null;
  }
}

/** The status after one check. */
export function nextStatus(prev: FeedStatus, status: CheckStatus, reasons: readonly string[], at: number): FeedStatus {
  const ok = status === 'updated' || status === 'unchanged';
  return {
    lastAttempt: at,
    lastStatus: status,
    lastSuccess: ok ? at : prev.lastSuccess,
    lastError: ok ? prev.lastError : reasons.join('; ') || status,
    lastErrorAt: ok ? prev.lastErrorAt : at,
  };
}

export type Origin = 'fetched' | 'baseline' | 'static' | 'none';

/** One feed as `quorumbl providers --json` and `GET /api/v1/providers` show it. Times are ISO. */
export interface FeedState {
  provider: string;
  feed: string;
  type: ProviderConfig['type'];
  /** the merge uses it (enabled and exempt) */
  active: boolean;
  /** where the ranges in use come from */
  origin: Origin;
  ranges: number;
  ranges4: number;
  ranges6: number;
  version: string | null;
  /** when the data in use was fetched (the baseline's date for a baseline) */
  dataAt: string | null;
  lastAttempt: string | null;
  lastStatus: CheckStatus | null;
  lastSuccess: string | null;
  lastError: string | null;
  lastErrorAt: string | null;
  /** seconds since the data was last confirmed (last success, else dataAt); null without data */
  ageSeconds: number | null;
  maxAgeSeconds: number;
  /** an active non-static feed with no data or data older than max_age */
  stale: boolean;
  /** the shipped baseline for this feed, in use or not */
  baseline: BaselineInfo | null;
  warnings: string[];
}

const iso = (t: number | null | undefined) => (t == null || !Number.isFinite(t) ? null : new Date(t).toISOString());

export function feedState(cfg: ProviderConfig, current: ProviderFeedResult | null, status: FeedStatus, baseline: Baseline | null, now: number): FeedState {
  const active = cfg.enabled && cfg.exempt;
  const origin: Origin = !current ? 'none' : current.baseline ? 'baseline' : cfg.type === 'static' ? 'static' : 'fetched';
  // A baseline's age runs from its date, whatever the checks did; fetched data from its last
  // confirmation (an unchanged M365 version confirms it without a new fetchedAt).
  const since = !current ? null : current.baseline ? current.fetchedAt : Math.max(current.fetchedAt, status.lastSuccess ?? 0);
  const ageSeconds = since === null ? null : Math.max(0, Math.round((now - since) / 1000));
  const stale = active && origin !== 'static' && (ageSeconds === null || ageSeconds > cfg.max_age);
  const r4 = current?.ranges.filter((r) => r.family === 4).length ?? 0;
  return {
    provider: cfg.provider,
    feed: cfg.feed,
    type: cfg.type,
    active,
    origin,
    ranges: current?.ranges.length ?? 0,
    ranges4: r4,
    ranges6: (current?.ranges.length ?? 0) - r4,
    version: current?.version ?? null,
    dataAt: iso(current?.fetchedAt),
    lastAttempt: iso(status.lastAttempt),
    lastStatus: status.lastStatus,
    lastSuccess: iso(status.lastSuccess),
    lastError: status.lastError,
    lastErrorAt: iso(status.lastErrorAt),
    ageSeconds,
    maxAgeSeconds: cfg.max_age,
    stale,
    baseline: baseline ? { file: baseline.file, date: baseline.date, source: baseline.source, title: baseline.title } : null,
    warnings: current?.warnings ?? [],
  };
}

/** The ranges a feed starts with: its last good copy, else its shipped baseline, else none. */
export function initialResult(cfg: ProviderConfig, stateDir: string, baseline: Baseline | null): ProviderFeedResult | null {
  return loadLastGood(stateDir, cfg.provider, cfg.feed) ?? (baseline ? baselineResult(baseline, cfg.provider, cfg.feed) : null);
}

/** Every configured feed's state from the files alone (the CLI: serve may or may not run). */
export function readFeedStates(configs: readonly ProviderConfig[], stateDir: string, baselines: readonly Baseline[], now: number): FeedState[] {
  return configs.map((cfg) => {
    const b = baselineFor(cfg, baselines);
    return feedState(cfg, initialResult(cfg, stateDir, b), loadStatus(stateDir, cfg.provider, cfg.feed) ?? NO_STATUS, b, now);
  });
}

/** A feed's age for people: 3 d 4 h, 25 min, 40 s. */
export function fmtAge(s: number): string {
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  if (s < 172800) return `${Math.floor(s / 3600)} h ${Math.round((s % 3600) / 60)} min`;
  return `${Math.floor(s / 86400)} d ${Math.round((s % 86400) / 3600)} h`;
}
