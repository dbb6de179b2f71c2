// Upstream sources inside `serve`: the scheduler (built before the web so the API and the
// console can ask it for a "sync now"; started after the merge) and the watch on what a shell
// changes.

import { job, jobFailed } from '../../core/jobs.ts';
import { SyncScheduler } from '../../sync/scheduler.ts';
import { SyncStateWatch } from '../../sync/watch.ts';
import type { Serving } from './context.ts';

export function makeScheduler(s: Serving): SyncScheduler | undefined {
  const c = s.cfg.config;
  return c.sources.length && c.sync.enabled ? new SyncScheduler(c.sources, { engine: s.sync.engine, state: s.sync.state, log: s.log }) : undefined;
}

/** `quorumbl sync` / `sources accept` from a shell replace a source's last good copy: reload
 *  it (the merge follows) without waiting for the next file check or a SIGHUP. */
export function watchSyncState(s: Serving): SyncStateWatch {
  const watch = new SyncStateWatch(s.sync.state, {
    onChange: (names) => {
      s.log.info({ sources: names }, 'sources changed by another process: reloading');
      void job('reload:sources', () => s.store.check())();
    },
    onError: (e) => {
      jobFailed('sync-state-watch', e);
      s.log.error({ err: (e as Error).message }, 'sync state not read');
    },
  });
  watch.start();
  return watch;
}
