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
import type { SourceConfig, SyncEngine } from './engine.ts';
import type { SyncState } from './state.ts';

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
