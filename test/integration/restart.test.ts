// Issue 9 requirement 1: a restart answers bl/wl correctly from its first packet. A real
// `bin/quorumbl serve` with 5 plain-list sources of 1M entries each (generated, fetched from
// local files), a static provider feed and two overrides, is restarted twice while a UDP client
// queries a fixed sample of listed, provider-exempt, unlisted, denied and allowed keys in a loop:
// every reply, before and after each restart, must be the truth computed from the generated
// lists (listed -> its A codes, not listed -> NXDOMAIN; never SERVFAIL).
//   1. a plain restart: the persisted evidence is current, the restart merge is skipped;
//   2. a restart after a source changed while serve was down: the old evidence answers until the
//      background merge ends (the change touches no sampled key, so both are the truth).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { freePort, makeTmpDir, poll, runQuorumbl, spawnQuorumbl, stopAll, waitForLog, type Proc } from './helpers.ts';
import { generate, queryLoop, writeServeConfig } from './restart-kit.ts';

const SOURCES = 5;
const ENTRIES = Number(process.env.RESTART_TEST_ENTRIES ?? 1_000_000);
const isMsg = (m: string) => (r: { msg?: string }) => r.msg === m;
const startsWith = (m: string) => (r: { msg?: string }) => typeof r.msg === 'string' && r.msg.startsWith(m);

test(`restart of serve with ${SOURCES} x ${ENTRIES} sources: every bl/wl reply correct from the first packet`, { timeout: 400_000 }, async (t) => {
  const dir = makeTmpDir('quorumbl-restart-');
  const data = generate(dir, SOURCES, ENTRIES);
  const port = await freePort();
  const cfg = writeServeConfig(dir, port, data.files);
  const sync = await runQuorumbl(['sync', '--config', cfg], { timeoutMs: 300_000 });
  assert.equal(sync.code, 0, sync.output);
  for (const [action, key] of [['deny', data.deny], ['allow', data.allow]] as const) {
    const r = await runQuorumbl(['override', 'add', action, key, '--reason', 'restart test', '--config', cfg]);
    assert.equal(r.code, 0, r.output);
  }
  const procs: Proc[] = [];
  t.after(() => stopAll(...procs));
  const serve = (env: Record<string, string> = {}) => {
    const p = spawnQuorumbl(['serve', '--config', cfg], { env });
    procs.push(p);
    return p;
  };

  // First start: no evidence file yet; it merges and persists.
  const a = serve();
  await waitForLog(a, 0, isMsg('evidence persisted'), 'evidence persisted', 200_000);
  const loop = queryLoop(port, data.sample);
  const repliesAtLeast = (n: number) => poll(async () => (loop.tally.replies >= n ? true : undefined), `${n} replies`, { timeoutMs: 60_000, describe: () => JSON.stringify(loop.tally) });
  await repliesAtLeast(data.sample.length * 2);

  // 1. Plain restart.
  await a.stop();
  loop.mark();
  const b = serve();
  await waitForLog(b, 0, isMsg('merge skipped: the persisted evidence was built from these inputs'), 'restart merge skipped', 120_000);
  await repliesAtLeast(loop.tally.replies + data.sample.length * 2);
  assert.ok(loop.tally.repliesAfterMark > 0);
  const afterFirstRestart = loop.tally.repliesAfterMark;
  assert.ok(b.logs().some((r) => r.msg === 'persisted evidence loaded: bl/wl/dbl answer from it'), b.tail());

  // 2. A source changes while serve is down: the restart answers from the old evidence, merges.
  await b.stop();
  data.changeSource0(7);
  const s2 = await runQuorumbl(['sync', 'src0', '--config', cfg], { timeoutMs: 120_000 });
  assert.equal(s2.code, 0, s2.output);
  loop.mark();
  // its merge holds its result 5 s more (test hook), so the first replies surely precede it
  const c = serve({ QBL_TEST_MERGE_PAUSE_MS: '5000' });
  await poll(async () => loop.tally.firstAfterMark ?? undefined, 'a reply from the restarted server', { timeoutMs: 120_000, describe: () => c.tail() });
  const merged = await waitForLog(c, 0, startsWith('merge done'), 'background merge after restart', 200_000);
  const answeredBeforeMerge = loop.tally.firstAfterMark! < Date.parse(String(merged.time));
  await waitForLog(c, 0, isMsg('evidence persisted'), 'new evidence persisted', 60_000);
  await repliesAtLeast(loop.tally.replies + data.sample.length * 2);
  const tally = await loop.stop();
  // the first replies of the third process came from the restored evidence (not from a merge)
  assert.ok(answeredBeforeMerge, 'the restarted server answered before its merge ended');
  assert.deepEqual(tally.wrong, [], `wrong answers: ${JSON.stringify(tally)}`);
  assert.equal(tally.servfail, 0);
  assert.ok(tally.correct === tally.replies && tally.replies > data.sample.length * 8, JSON.stringify(tally));
  if (process.env.RESTART_TEST_LOGS) for (const p of procs) process.stderr.write(p.output());
  t.diagnostic(`replies ${tally.replies} (${afterFirstRestart} after the first restart, ${tally.repliesAfterMark} after the second), all correct`);
});
