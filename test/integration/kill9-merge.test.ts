// Issue 9 requirements 1 and 9: kill -9 of `serve` during the evidence write and during a merge,
// and a corrupt evidence file. After each, the restarted server answers every sampled bl/wl
// query correctly (listed -> A codes, not listed -> NXDOMAIN), a partial file is never loaded
// (a leftover temp file is removed at start), and the state database passes integrity_check.
// A corrupt evidence file is ignored with a warning: SERVFAIL until the first merge, never a
// wrong NXDOMAIN.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { freePort, makeTmpDir, poll, runQuorumbl, spawnQuorumbl, stopAll, waitForLog, LEVEL, type Proc } from './helpers.ts';
import { generate, queryLoop, writeServeConfig } from './restart-kit.ts';
import { evidencePath, readEvidenceFile } from '../../sync/merge/persist.ts';
import { dbPath } from '../../cli/sync.ts';

const ENTRIES = Number(process.env.KILL9_TEST_ENTRIES ?? 300_000);
const isMsg = (m: string) => (r: { msg?: string }) => r.msg === m;
const startsWith = (m: string) => (r: { msg?: string }) => typeof r.msg === 'string' && r.msg.startsWith(m);

function kill9(p: Proc): Promise<unknown> {
  process.kill(-p.pid, 'SIGKILL'); // the process group: node and its worker threads
  return p.exited;
}

test('kill -9 during the evidence write and during a merge, a corrupt evidence file: restarts answer correctly', { timeout: 600_000 }, async (t) => {
  const dir = makeTmpDir('quorumbl-kill9-');
  const data = generate(dir, 3, ENTRIES, 3);
  const port = await freePort();
  const cfg = writeServeConfig(dir, port, data.files);
  const stateDir = join(dir, 'state');
  const file = evidencePath(stateDir);
  const mergeDir = join(stateDir, 'merge');
  const sync = async (...names: string[]) => {
    const r = await runQuorumbl(['sync', ...names, '--config', cfg], { timeoutMs: 300_000 });
    assert.equal(r.code, 0, r.output);
  };
  const integrityOk = () => {
    const db = new Database(dbPath(stateDir), { readonly: true, fileMustExist: true });
    try {
      assert.equal(db.pragma('integrity_check', { simple: true }), 'ok');
    } finally {
      db.close();
    }
  };
  await sync();
  for (const [action, key] of [['deny', data.deny], ['allow', data.allow]] as const) {
    const r = await runQuorumbl(['override', 'add', action, key, '--reason', 'kill9 test', '--config', cfg]);
    assert.equal(r.code, 0, r.output);
  }
  const procs: Proc[] = [];
  t.after(() => stopAll(...procs));
  const serve = (env: Record<string, string> = {}) => {
    const p = spawnQuorumbl(['serve', '--config', cfg], { env });
    procs.push(p);
    return p;
  };
  const loop = queryLoop(port, data.sample, { allowServfail: true });
  const repliesAtLeast = (n: number, p: Proc) =>
    poll(async () => (loop.tally.replies >= n ? true : undefined), `${n} replies`, { timeoutMs: 120_000, describe: () => `${JSON.stringify(loop.tally)}\n${p.tail()}` });

  // Evidence E1.
  const a = serve();
  await waitForLog(a, 0, isMsg('evidence persisted'), 'evidence persisted', 200_000);
  await a.stop();
  const e1 = readEvidenceFile(file)!;

  const sub = (name: string, fn: () => Promise<void>) => t.test(name, async () => {
    try {
      await fn();
    } finally {
      await stopAll(...procs); // a failed step leaves no server holding the port
    }
  });

  await sub('kill -9 while the evidence file is being written', async () => {
    data.changeSource0(11);
    await sync('src0');
    // B loads E1, merges the changed source, and its writer pauses halfway through the file.
    const b = serve({ QBL_TEST_EVIDENCE_WRITE_PAUSE_MS: '600000' });
    await waitForLog(b, 0, startsWith('merge done'), 'merge done', 200_000);
    const tmp = await poll(async () => readdirSync(mergeDir).find((n) => n.startsWith('evidence.qev.tmp-')), 'a temp evidence file', { timeoutMs: 60_000 });
    await kill9(b);
    assert.ok(existsSync(join(mergeDir, tmp)), 'the half-written temp file is left behind');
    assert.equal(readEvidenceFile(file)!.evidence.serial, e1.evidence.serial, 'the evidence file is still E1, whole');
    integrityOk();

    const from = loop.tally.replies;
    const servfail = loop.tally.servfail; // (the very first start, without evidence, had some)
    loop.mark();
    // its merge is held 5 s (test hook): the first answers come from the restored E1
    const c = serve({ QBL_TEST_MERGE_PAUSE_MS: '5000' });
    await waitForLog(c, 0, (r) => r.level === LEVEL.warn && r.msg === 'removed partial evidence files left by an interrupted write', 'leftover removed', 60_000);
    const loaded = await waitForLog(c, 0, startsWith('persisted evidence loaded'), 'E1 loaded', 60_000);
    assert.equal(loaded.serial, e1.evidence.serial);
    assert.ok(!existsSync(join(mergeDir, tmp)));
    await repliesAtLeast(from + data.sample.length, c);
    const firstReply = loop.tally.firstAfterMark!;
    const merged = await waitForLog(c, 0, startsWith('merge done'), 'merge done', 200_000);
    await waitForLog(c, 0, isMsg('evidence persisted'), 'E2 persisted', 200_000);
    assert.ok(firstReply < Date.parse(String(merged.time)), 'answers came from the restored E1 before the merge ended');
    assert.deepEqual(loop.tally.wrong, []);
    assert.equal(loop.tally.servfail, servfail, 'no SERVFAIL with a good evidence file');
    await c.stop();
  });

  await sub('kill -9 during a merge', async () => {
    const before = readEvidenceFile(file)!;
    // its merges hold their result 10 min (test hook): the kill comes while one runs
    const d = serve({ QBL_TEST_MERGE_PAUSE_MS: '600000' });
    await waitForLog(d, 0, startsWith('merge skipped: the persisted evidence'), 'restart merge skipped', 120_000);
    // a new copy of src0 while d runs: d reloads it and merges; killed as soon as it reloads
    const mark = d.output().length;
    data.changeSource0(12);
    await sync('src0');
    await waitForLog(d, mark, (r) => r.msg === 'dataset loaded' && String(r.dataset).includes('src0'), 'src0 reloaded', 60_000);
    await waitForLog(d, mark, isMsg('merge started'), 'the merge of the new copy', 60_000);
    await kill9(d);
    assert.ok(!d.output().slice(mark).includes('"merge done'), 'killed before its merge ended');
    assert.equal(readEvidenceFile(file)!.evidence.serial, before.evidence.serial, 'the evidence file is the previous one, whole');
    integrityOk();

    const from = loop.tally.replies;
    const servfail = loop.tally.servfail;
    const e = serve();
    await waitForLog(e, 0, startsWith('persisted evidence loaded'), 'previous evidence loaded', 60_000);
    await repliesAtLeast(from + data.sample.length, e);
    await waitForLog(e, 0, isMsg('evidence persisted'), 'merged and persisted', 200_000);
    assert.deepEqual(loop.tally.wrong, []);
    assert.equal(loop.tally.servfail, servfail, 'no SERVFAIL with a good evidence file');
    await e.stop();
  });

  await sub('a corrupt evidence file: warning, SERVFAIL until the first merge, never a wrong answer', async () => {
    const b = readFileSync(file);
    for (let i = b.length >> 1; i < (b.length >> 1) + 64; i++) b[i] ^= 0x5a;
    writeFileSync(file, b);
    const from = loop.tally.replies;
    const f = serve();
    await waitForLog(f, 0, (r) => r.level === LEVEL.warn && r.msg === 'persisted evidence ignored: bl/wl/dbl answer SERVFAIL until the first merge', 'corrupt file ignored', 60_000);
    await waitForLog(f, 0, isMsg('evidence persisted'), 'merged and persisted', 200_000);
    const afterMerge = loop.tally.correct;
    await poll(async () => (loop.tally.correct >= afterMerge + data.sample.length * 2 ? true : undefined), 'correct answers after the merge', { timeoutMs: 60_000, describe: () => JSON.stringify(loop.tally) });
    assert.ok(loop.tally.replies > from);
    assert.deepEqual(loop.tally.wrong, []);
    assert.ok(readEvidenceFile(file), 'a good file again');
    await f.stop();
  });

  const tally = await loop.stop();
  await stopAll(...procs);

  await sub('a source dropped from the config since the file was written: the file is ignored', async () => {
    const yaml = JSON.parse(readFileSync(cfg, 'utf8')) as { sources: { name: string }[] };
    yaml.sources = yaml.sources.filter((x) => x.name !== 'src2');
    writeFileSync(cfg, JSON.stringify(yaml, null, 2));
    const g = serve();
    const rec = await waitForLog(g, 0, (r) => r.level === LEVEL.warn && String(r.msg).startsWith('persisted evidence ignored: built with sources or provider feeds no longer configured'), 'evidence with a dropped source ignored', 60_000);
    assert.deepEqual(rec.removed, ['src2']);
    await waitForLog(g, 0, isMsg('evidence persisted'), 'merged without src2 and persisted', 200_000);
    assert.deepEqual(readEvidenceFile(file)!.evidence.sourceNames, ['src0', 'src1']);
  });
  t.diagnostic(`replies ${tally.replies}, correct ${tally.correct}, SERVFAIL ${tally.servfail} (first start and corrupt-file windows only), wrong ${tally.wrong.length}`);
  assert.deepEqual(tally.wrong, []);
});
