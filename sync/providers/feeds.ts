// The provider feeds of a running `serve`: what each feed's ranges are now (last good copy, else
// the shipped baseline), when each is checked, what each check did (kept on disk for the CLI), and
// the warnings an admin must see (a feed stale or never fetched). The merge service reads `list`
// and is told through onChange when ranges (or their provenance) change.

import type { Logger } from '../../core/log.ts';
import { baselineFor, BaselineError, loadBaselines, type Baseline } from './baseline.ts';
import { refreshProvider } from './index.ts';
import type { ProviderConfig } from '../../core/config/providers.ts';
import { feedState, fmtAge, initialResult, loadStatus, nextStatus, NO_STATUS, saveStatus, type FeedState, type FeedStatus } from './status.ts';
import type { ProviderFeedResult } from './types.ts';
import { jobFailed, runJob } from '../../core/jobs.ts';

export interface Feed {
  cfg: ProviderConfig;
  /** the ranges in use: last good copy, baseline or null */
  result: ProviderFeedResult | null;
  status: FeedStatus;
  baseline: Baseline | null;
  /** a check is running (the interval and a retry never overlap) */
  running?: Promise<void>;
  /** next retry delay while the feed has never been fetched, s */
  retryS?: number;
}

export interface ProviderFeedsOptions {
  stateDir: string;
  log: Logger;
  /** ranges or their provenance changed: merge again */
  onChange: () => void;
  /** default: data/providers */
  baselines?: Baseline[];
  /** how long the first merge waits for a feed with neither a last good copy nor a baseline */
  firstFetchWaitMs?: number;
  now?: () => number;
}

/** First retry of a feed never fetched, s (doubles up to the feed's interval). */
const FIRST_RETRY_S = 60;

export class ProviderFeeds {
  /** the feeds the merge uses (enabled, exempt), in config order */
  readonly list: Feed[];
  private readonly all: readonly ProviderConfig[];
  private readonly baselines: Baseline[];
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly now: () => number;
  private stopped = false;
  /** one "cannot record" warning per feed, not one per check */
  private readonly saveWarned = new Set<Feed>();

  constructor(configs: readonly ProviderConfig[], private readonly opts: ProviderFeedsOptions) {
    this.now = opts.now ?? Date.now;
    this.all = configs;
    this.baselines = opts.baselines ?? safeBaselines(opts.log);
    this.list = configs
      .filter((cfg) => cfg.enabled && cfg.exempt)
      .map((cfg) => {
        const baseline = baselineFor(cfg, this.baselines);
        return { cfg, baseline, result: initialResult(cfg, opts.stateDir, baseline), status: loadStatus(opts.stateDir, cfg.provider, cfg.feed) ?? NO_STATUS };
      });
  }

  /** Every configured feed (inactive ones too) as the CLI and the API show it. */
  states(): FeedState[] {
    const now = this.now();
    return this.all.map((cfg) => {
      const f = this.list.find((x) => x.cfg === cfg);
      if (f) return feedState(cfg, f.result, f.status, f.baseline, now);
      return feedState(cfg, null, loadStatus(this.opts.stateDir, cfg.provider, cfg.feed) ?? NO_STATUS, baselineFor(cfg, this.baselines), now);
    });
  }

  /**
   * Before the first merge. Logs every stale feed. With `fetch`: checks at once every feed never
   * fetched (in the background when it has a baseline), waits (bounded) for those with nothing
   * at all, and schedules the checks. A merge never runs without a default feed: those have a
   * baseline; a feed with no baseline that is still empty after the wait is merged without, and
   * that is an error in the log and `stale` in `quorumbl providers`.
   */
  async start(fetch: boolean): Promise<void> {
    for (const f of this.list) this.warnIfStale(f, 'start');
    if (!fetch) {
      for (const f of this.list.filter((x) => !x.result)) {
        this.opts.log.error({ provider: f.cfg.provider, feed: f.cfg.feed }, 'provider feed has no ranges (never fetched, no shipped baseline) and sync.enabled is false: merging without it');
      }
      return;
    }
    const never = this.list.filter((f) => f.cfg.type !== 'static' && (!f.result || f.result.baseline));
    const checks = never.map((f) => this.check(f));
    const empty = never.filter((f) => !f.result);
    if (empty.length > 0) {
      const wait = this.opts.firstFetchWaitMs ?? 20_000;
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.all(empty.map((f) => checks[never.indexOf(f)])),
        new Promise((r) => (timer = setTimeout(r, wait))),
      ]);
      clearTimeout(timer);
      for (const f of empty) {
        if (f.result) continue;
        this.opts.log.error(
          { provider: f.cfg.provider, feed: f.cfg.feed, waitedMs: wait, lastError: f.status.lastError },
          'provider feed has no ranges (never fetched, no shipped baseline): merging without it; public lists can block its senders until its first good fetch',
        );
      }
    }
    if (!this.stopped) this.schedule();
  }

  /** Static lists are read at every merge (an edit applies at once; a broken file keeps the last
   *  good ranges, and says so). */
  async refreshStatic(): Promise<void> {
    for (const f of this.list) if (f.cfg.type === 'static') await this.check(f, false);
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
  }

  private schedule(): void {
    for (const f of this.list) {
      const every = f.cfg.interval * 1000;
      const t = setInterval(() => void this.check(f), every);
      t.unref();
      this.timers.push(t);
      // Fetched data older than its interval: check soon after start.
      if (f.result && !f.result.baseline && f.cfg.type !== 'static' && this.now() - f.result.fetchedAt > every) {
        this.later(2000 + Math.random() * 8000, () => void this.check(f));
      }
    }
  }

  private later(ms: number, fn: () => void): void {
    const t = setTimeout(fn, ms);
    t.unref();
    this.timers.push(t);
  }

  /** One check of a feed: fetch, guard, store, record; a failure keeps the ranges in use. */
  check(f: Feed, remerge = true): Promise<void> {
    if (f.running) return f.running;
    // A background job (core/jobs.ts): whatever goes wrong is logged and counted, never an
    // unhandled rejection; a failed or rejected fetch counts as a failure of the job.
    f.running = runJob(`provider:${f.cfg.provider}/${f.cfg.feed}`, () => this.doCheck(f, remerge))
      .finally(() => (f.running = undefined));
    return f.running;
  }

  private async doCheck(f: Feed, remerge: boolean): Promise<void> {
    const { log, stateDir } = this.opts;
    const { cfg } = f;
    const out = await refreshProvider(cfg, { stateDir, previous: f.result, now: this.now }).catch((e: unknown) => ({
      current: f.result,
      status: 'failed' as const,
      reasons: [(e as Error).message],
    }));
    const ctx = { provider: cfg.provider, feed: cfg.feed, status: out.status };
    const before = f.result;
    const changed = out.status === 'updated' && (JSON.stringify(before?.ranges.map((r) => r.cidr)) !== JSON.stringify(out.current?.ranges.map((r) => r.cidr)) || !!before?.baseline);
    if (out.status === 'updated') f.result = out.current;
    if ('saveError' in out && out.saveError) log.warn({ ...ctx, err: out.saveError }, 'provider feed updated but its last good copy could not be written: a restart falls back to the older copy');
    f.status = nextStatus(f.status, out.status, out.reasons, this.now());
    this.record(f);
    if (out.status === 'failed' || out.status === 'rejected') {
      jobFailed(`provider:${cfg.provider}/${cfg.feed}`, (out.reasons ?? []).join('; ') || out.status);
      log.error({ ...ctx, reasons: out.reasons, origin: f.result?.baseline ? 'baseline' : f.result ? 'last good' : 'none' }, 'provider feed not updated; previous ranges kept');
    } else {
      // Static lists are re-read at every merge: only a change is worth an info line.
      log[cfg.type === 'static' && !changed ? 'debug' : 'info']({ ...ctx, changed, ranges: f.result?.ranges.length ?? 0, replacedBaseline: !!before?.baseline && out.status === 'updated' }, 'provider feed checked');
    }
    this.warnIfStale(f, 'check');
    // Never fetched: retry sooner than the interval (1 min, doubling), the network may be back.
    if (cfg.type !== 'static' && (!f.result || f.result.baseline) && !this.stopped && (out.status === 'failed' || out.status === 'rejected')) {
      f.retryS = Math.min((f.retryS ?? FIRST_RETRY_S / 2) * 2, cfg.interval);
      if (f.retryS < cfg.interval) this.later(f.retryS * 1000, () => void this.check(f));
    }
    if (changed && remerge) this.opts.onChange();
  }

  private record(f: Feed): void {
    try {
      saveStatus(this.opts.stateDir, f.cfg.provider, f.cfg.feed, f.status);
      this.saveWarned.delete(f);
    } catch (e) {
      if (this.saveWarned.has(f)) return;
      this.saveWarned.add(f);
      this.opts.log.warn({ provider: f.cfg.provider, feed: f.cfg.feed, err: (e as Error).message }, 'cannot record the provider feed state (quorumbl providers shows older state)');
    }
  }

  private warnIfStale(f: Feed, when: 'start' | 'check'): void {
    const s = feedState(f.cfg, f.result, f.status, f.baseline, this.now());
    if (!s.stale || s.ageSeconds === null) return; // no data at all: logged as an error elsewhere
    this.opts.log.warn(
      {
        provider: s.provider, feed: s.feed, origin: s.origin, age: fmtAge(s.ageSeconds), ageSeconds: s.ageSeconds, maxAgeSeconds: s.maxAgeSeconds,
        ...(s.baseline && s.origin === 'baseline' ? { baseline: `${s.baseline.file} dated ${s.baseline.date}` } : {}),
        lastSuccess: s.lastSuccess, lastError: s.lastError, when,
      },
      s.origin === 'baseline'
        ? 'provider feed stale: still on the shipped baseline (never fetched); its senders stay exempt, but ranges added since are not'
        : 'provider feed stale: its last good fetch is older than max_age',
    );
  }
}

function safeBaselines(log: Logger): Baseline[] {
  try {
    return loadBaselines();
  } catch (e) {
    // Ships with the code: a broken install, not a user error. Feeds then wait for their fetch.
    log.error({ err: e instanceof BaselineError ? e.message : String(e) }, 'provider baselines not loaded');
    return [];
  }
}
