// The scheduler with a stand-in engine: a source another process is syncing is skipped, logged
// with its holder and tried again later; a failed or throwing sync is counted as a job failure
// and never escapes into the timer.

import { test, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { configSchema } from '../../core/config/schema.ts';
import { jobStats, resetJobs, setJobLogger } from '../../core/jobs.ts';
import type { SyncEngine, SyncResult } from '../../sync/engine.ts';
import { SyncScheduler } from '../../sync/scheduler.ts';
import type { SyncState } from '../../sync/state.ts';

const sources = configSchema.parse({
  sources: [{ name: 'trap', kind: 'ip', fetch: 'http://127.0.0.1:9/x', format: 'plain', min_interval: 0, jitter: 0, schedule: '0 0 1 1 *' }],
}).sources;

const holder = { source: 'trap', holder: 't', pid: 4242, host: 'mx1', command: 'quorumbl sync trap', acquired: Date.now(), expires: Date.now() + 30_000 };

function setup(results: Array<SyncResult | Error>) {
  const calls: unknown[] = [];
  const engine = {
    async sync(name: string, opts: unknown) {
      calls.push(opts);
      const r = results.shift() ?? { name, outcome: 'ok', ms: 0 };
      if (r instanceof Error) throw r;
      return r;
    },
  } as unknown as SyncEngine;
  const state = { getSource: () => null } as unknown as SyncState;
  const logs: { obj: Record<string, unknown>; msg: string }[] = [];
  const rec = (obj: Record<string, unknown>, msg: string) => void logs.push({ obj, msg });
  const log = { info: rec, debug: rec, warn: rec, error: rec } as never;
  const s = new SyncScheduler(sources, { engine, state, log, startupDelayMs: 0, busyRetryMs: 20, random: () => 0 });
  return { s, calls, logs };
}

async function until(f: () => boolean, what: string): Promise<void> {
  const end = Date.now() + 5000;
  while (!f()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

beforeEach(() => {
  resetJobs();
  setJobLogger({ error: () => {}, fatal: () => {} } as never);
});

test('a busy source is skipped with its holder logged, then retried; the scheduler never waits', async () => {
  const { s, calls, logs } = setup([{ name: 'trap', outcome: 'busy', holder, ms: 0 }, { name: 'trap', outcome: 'ok', ms: 0 }]);
  s.start();
  await until(() => calls.length === 2, 'the retry');
  await s.stop();
  assert.deepEqual(calls, [{ waitMs: 0 }, { waitMs: 0 }]);
  const skipped = logs.find((l) => l.msg.startsWith('scheduled sync skipped'));
  assert.match(String(skipped?.obj.holder), /^pid 4242 on mx1 \(quorumbl sync trap\)/);
  const st = jobStats('sync:trap')!;
  assert.equal(st.runs, 2);
  assert.equal(st.failures, 0);
});

test('a failed sync and a throwing engine are counted as failures of sync:<name>, nothing escapes', async () => {
  const { s, calls } = setup([new Error('database is locked')]);
  s.start();
  await until(() => (jobStats('sync:trap')?.runs ?? 0) === 1 && jobStats('sync:trap')!.running === 0, 'the first run');
  await s.stop();
  assert.equal(calls.length, 1);
  assert.equal(jobStats('sync:trap')!.failures, 1);
  assert.equal(jobStats('sync:trap')!.lastError, 'database is locked');

  resetJobs();
  const b = setup([{ name: 'trap', outcome: 'failed', error: 'HTTP 500', ms: 0 }]);
  b.s.start();
  await until(() => (jobStats('sync:trap')?.runs ?? 0) === 1 && jobStats('sync:trap')!.running === 0, 'the failed run');
  await b.s.stop();
  assert.equal(jobStats('sync:trap')!.failures, 1);
  assert.equal(jobStats('sync:trap')!.lastError, 'HTTP 500');
});
