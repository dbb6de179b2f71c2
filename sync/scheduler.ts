// Runs each source's sync on its cron schedule (node-cron), never more often than its minimum
// interval, with random jitter so many installations do not hit an upstream at the same second
// (dnswl, CBL and SURBL ask for this). A source that is overdue at start-up syncs soon after.
// When another process (`quorumbl sync` from a shell) is syncing the same source, the scheduled
// sync is skipped, logged with who holds it, and tried again later. Every sync runs as a job
// (core/jobs.ts): a failure is counted, never thrown into a timer.

import cron, { type ScheduledTask } from 'node-cron';
import type { Logger } from '../core/log.ts';
import { runJob } from '../core/jobs.ts';
import { describeHolder } from './lease.ts';
import type { SourceConfig, SyncEngine, SyncResult } from './engine.ts';
import type { SyncRun, SyncState } from './state.ts';
import { writeAudit } from './local/audit.ts';
import { SourceBusy, SourceError, UnknownSource } from './sources-service.ts';

/** A "sync now" before the source's min_interval has passed since its last attempt. */
export class SyncTooSoon extends SourceError {
  constructor(readonly source: string, readonly minIntervalS: number, readonly lastAttempt: number, readonly notBefore: number, now = Date.now()) {
    super(429, `'${source}' was last fetched ${Math.max(0, Math.round((now - lastAttempt) / 60_000))} min ago; its min_interval is ` +
      `${minIntervalS >= 3600 && minIntervalS % 3600 === 0 ? `${minIntervalS / 3600} h` : `${Math.ceil(minIntervalS / 60)} min`} ` +
      `(the upstream's fetch limit), so it may sync again at ${new Date(notBefore).toISOString().slice(0, 16).replace('T', ' ')} UTC`);
  }

  get retryAfterS(): number {
    return Math.max(1, Math.ceil((this.notBefore - Date.now()) / 1000));
  }
}

export interface SchedulerOptions {
  engine: SyncEngine;
  state: SyncState;
  log: Logger;
  /** Upper bound of the start-up delay for overdue sources, in ms. */
  startupDelayMs?: number;
  random?: () => number;
  /** Delay before trying again a sync skipped because another process held it (ms). */
  busyRetryMs?: number;
}

export class SyncScheduler {
  private readonly tasks: ScheduledTask[] = [];
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(
    private readonly sources: SourceConfig[],
    private readonly opts: SchedulerOptions,
  ) {}

  private later(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      void runJob('sync-scheduler', fn);
    }, ms);
    t.unref();
    this.timers.add(t);
  }

  /** When the source may run again (its last attempt + min_interval), or null when it may now. */
  notBefore(src: SourceConfig, now = Date.now()): number | null {
    const last = this.opts.state.getSource(src.name)?.lastAttempt ?? null;
    return last === null || now - last >= src.min_interval * 1000 ? null : last + src.min_interval * 1000;
  }

  /** An operator's "sync now" (API, console): one sync of `name` at once, without jitter. It
   *  respects what protects the upstream and the data: the source's min_interval since its last
   *  attempt (SyncTooSoon, saying when it may run: upstreams such as Spamhaus firewall excess
   *  fetches) and the sync lease (SourceBusy naming the holder). Resolves once the run is
   *  recorded, with it and the sync's end; audited as `source.sync` by `actor`. */
  async requestNow(name: string, actor: string): Promise<{ run: SyncRun; done: Promise<SyncResult> }> {
    const { engine, state, log } = this.opts;
    const src = this.sources.find((s) => s.name === name);
    if (!src) throw new UnknownSource(name, this.sources.map((s) => s.name));
    const holder = engine.leases.holderOf(name);
    if (holder) throw new SourceBusy(name, holder);
    const before = state.getSource(name);
    const notBefore = this.notBefore(src);
    if (notBefore !== null) throw new SyncTooSoon(name, src.min_interval, before!.lastAttempt!, notBefore);
    let started!: (id: number) => void;
    const run = new Promise<number>((res) => (started = res));
    const onStarted = (id: number) => {
      started(id);
      try {
        writeAudit(state.db, {
          at: Date.now(), actor, action: 'source.sync', target: `source:${name}`,
          before: before && { lastAttempt: before.lastAttempt, lastOutcome: before.lastOutcome, lastSuccess: before.lastSuccess, entries: before.entries },
          after: { run: id },
        });
      } catch (err) {
        log.error({ source: name, actor, err: (err as Error).message }, 'sync now: audit row not written');
      }
    };
    log.info({ source: name, actor }, 'sync requested');
    const done = engine.sync(name, { waitMs: 0, onStarted });
    void runJob(`sync:${name}`, async () => {
      const r = await done;
      if (r.outcome === 'failed') return { failed: r.error ?? 'sync failed' };
    });
    const first = await Promise.race([run, done]);
    if (typeof first === 'number') return { run: state.run(first)!, done };
    // Ended before a run was recorded: another process took the lease meanwhile, or the disk refused.
    if (first.outcome === 'busy' && first.holder) throw new SourceBusy(name, first.holder);
    if (engine.isRunning(name) || first.outcome === 'busy') throw new SourceError(409, `a sync of '${name}' is already running in this server`);
    throw new SourceError(500, `the sync of '${name}' did not start: ${first.error ?? first.outcome}`);
  }

  /** True when the source may run now (minimum interval since the last attempt). */
  due(src: SourceConfig, now = Date.now()): boolean {
    const last = this.opts.state.getSource(src.name)?.lastAttempt ?? null;
    return last === null || now - last >= src.min_interval * 1000;
  }

  private run(src: SourceConfig, why: string): void {
    if (!this.due(src)) {
      this.opts.log.debug({ source: src.name }, `sync skipped (${why}): minimum interval not reached`);
      return;
    }
    const rnd = this.opts.random ?? Math.random;
    const delay = Math.floor(rnd() * src.jitter * 1000);
    this.later(delay, () => {
      this.opts.log.info({ source: src.name, reason: why }, 'sync starting');
      return this.syncNow(src);
    });
  }

  /** One sync as the job `sync:<name>`; a busy source is retried later. */
  private syncNow(src: SourceConfig): Promise<void> {
    return runJob(`sync:${src.name}`, async () => {
      const r = await this.opts.engine.sync(src.name, { waitMs: 0 });
      if (r.outcome === 'busy') {
        const retry = this.opts.busyRetryMs ?? 60_000;
        this.opts.log.info({ source: src.name, holder: r.holder && describeHolder(r.holder), retryInSeconds: Math.round(retry / 1000) },
          'scheduled sync skipped: another process is syncing this source');
        this.later(retry, () => this.run(src, 'retry after a busy source'));
        return;
      }
      if (r.outcome === 'failed') return { failed: r.error ?? 'sync failed' };
    });
  }

  start(): void {
    const rnd = this.opts.random ?? Math.random;
    for (const src of this.sources) {
      const task = cron.schedule(src.schedule, () => runJob('sync-scheduler', () => this.run(src, 'schedule')), { name: `sync:${src.name}`, noOverlap: true });
      this.tasks.push(task);
      if (this.due(src)) {
        // Overdue (or never synced): fetch soon; a short random delay spreads several sources.
        this.later(Math.floor(rnd() * (this.opts.startupDelayMs ?? 10_000)), () => this.syncNow(src));
      }
    }
  }

  async stop(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    await Promise.all(this.tasks.map((t) => t.destroy()));
    this.tasks.length = 0;
  }
}
