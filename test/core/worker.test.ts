import assert from 'node:assert/strict';
import { test } from 'node:test';
import { existsSync } from 'node:fs';
import { JobWorker } from '../../core/worker.ts';
import { THREAD_PRIO_PATH } from '../../core/thread-priority.ts';
import { schedPolicy } from '../fixtures/workers/job-echo.ts';

type Req = { say: string; bytes?: ArrayBuffer };
type Reply = { said: string; threadId: number; got: number; out: Uint8Array; policy: number };
const ECHO = new URL('../fixtures/workers/job-echo.ts', import.meta.url);

test('a JobWorker runs jobs in order on one kept thread, transferring what it is told to', async (t) => {
  const w = new JobWorker<Req, Reply>(ECHO);
  t.after(() => w.close());
  const bytes = new ArrayBuffer(16);
  const [a, b, c] = await Promise.all([w.run({ say: 'a', bytes }, [bytes]), w.run({ say: 'b' }), w.run({ say: 'c' })]);
  assert.deepEqual([a.said, b.said, c.said], ['a', 'b', 'c']);
  assert.equal(a.got, 16);
  assert.equal(bytes.byteLength, 0, 'the input buffer was moved, not copied');
  assert.deepEqual([...a.out], [7, 7, 7, 7]);
  assert.equal(new Set([a.threadId, b.threadId, c.threadId]).size, 1, 'one thread for all jobs');
});

test('a JobWorker whose thread dies rejects that job and starts a new thread for the next', async (t) => {
  const w = new JobWorker<Req, Reply>(ECHO);
  t.after(() => w.close());
  const first = await w.run({ say: 'x' });
  await assert.rejects(w.run({ say: 'exit' }), /worker thread exited \(code 3\)/);
  await assert.rejects(w.run({ say: 'throw' }), /job blew up/);
  const after = await w.run({ say: 'y' });
  assert.equal(after.said, 'y');
  assert.notEqual(after.threadId, first.threadId);
});

test('job threads run under SCHED_IDLE (DNS keeps the CPU), the thread that started them does not', { skip: existsSync(THREAD_PRIO_PATH) ? false : 'server/native thread_prio not built' }, async (t) => {
  const w = new JobWorker<Req, Reply>(ECHO);
  t.after(() => w.close());
  const r = await w.run({ say: 'prio' });
  assert.equal(r.policy, 5, 'SCHED_IDLE is policy 5');
  assert.equal(schedPolicy(), 0, 'this thread is still SCHED_OTHER');
});
