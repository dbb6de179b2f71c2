// Background jobs: a throw or a rejection is caught, counted and logged, never the end of the
// process. The process-level guards are tried in a real child process (an unhandled rejection
// or an uncaught exception there would otherwise end it with a non-zero status).

import { test, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { job, jobFailed, jobStats, jobsHealth, resetJobs, runJob, setJobClock, setJobLogger } from '../../core/jobs.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

const logged: { obj: Record<string, unknown>; msg: string }[] = [];
beforeEach(() => {
  resetJobs();
  logged.length = 0;
  let t = 1_700_000_000_000;
  setJobClock(() => (t += 10));
  const rec = (obj: Record<string, unknown>, msg: string) => void logged.push({ obj, msg });
  setJobLogger({ error: rec, fatal: rec } as never);
});

test('a job that throws, rejects or reports a soft failure is counted; runJob never rejects', async () => {
  await runJob('a', () => {
    throw new Error('sync throw');
  });
  await runJob('a', () => Promise.reject(new Error('async reject')));
  await runJob('a', async () => ({ failed: 'upstream down' }));
  await runJob('a', async () => 'fine');
  const s = jobStats('a')!;
  assert.equal(s.runs, 4);
  assert.equal(s.failures, 3);
  assert.equal(s.running, 0);
  assert.equal(s.lastError, 'upstream down');
  assert.ok(s.lastSuccess! > s.lastFailure!, 'the last run succeeded');
  // Throws and rejections are logged with the job's name; a soft failure was logged by the job.
  assert.deepEqual(logged.map((l) => [l.obj.job, l.obj.err]), [['a', 'sync throw'], ['a', 'async reject']]);
});

test('a failure counted inside the run (jobFailed) means the run did not succeed', async () => {
  await runJob('merge', () => jobFailed('merge', new Error('worker died')));
  const s = jobStats('merge')!;
  assert.equal(s.failures, 1);
  assert.equal(s.lastSuccess, null);
  assert.equal(s.lastError, 'worker died');
});

test('jobsHealth: JSON with ISO times, sorted by name, and the failure total', async () => {
  await runJob('z', () => undefined);
  await runJob('b', () => {
    throw new Error('x');
  });
  const h = jobsHealth();
  assert.deepEqual(Object.keys(h.jobs), ['b', 'z']);
  assert.equal(h.failures, 1);
  assert.match(h.jobs.z!.lastSuccess!, /^\d{4}-\d\d-\d\dT.*Z$/);
  assert.equal(h.jobs.b!.lastSuccess, null);
  assert.deepEqual(JSON.parse(JSON.stringify(h)), h);
});

function runChild(body: string): Promise<{ code: number | null; out: string }> {
  const d = mkdtempSync(join(tmpdir(), 'qbl-jobs-'));
  const f = join(d, 'child.ts');
  writeFileSync(f, `import * as J from ${JSON.stringify(join(ROOT, 'core/jobs.ts'))};\n${body}`);
  return new Promise((resolve) => {
    const c = spawn(process.execPath, ['--import', 'tsx', f], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    c.stdout.on('data', (b: Buffer) => (out += b));
    c.stderr.on('data', (b: Buffer) => (out += b));
    c.on('exit', (code) => {
      rmSync(d, { recursive: true, force: true });
      resolve({ code, out });
    });
  });
}

test('with the guards, a failing timer job, an unhandled rejection and an uncaught exception do not end the process', async () => {
  const r = await runChild(`
J.installProcessGuards();
setTimeout(J.job('timer-job', () => { throw new Error('timer boom'); }), 10);
setTimeout(J.job('timer-job', async () => { throw new Error('async timer boom'); }), 20);
setTimeout(() => { void Promise.reject(new Error('nobody handles me')); }, 30);
setTimeout(() => { throw new Error('callback bug'); }, 40);
setTimeout(() => { process.stdout.write('HEALTH ' + JSON.stringify(J.jobsHealth()) + '\\n'); }, 300);
`);
  assert.equal(r.code, 0, r.out);
  const h = JSON.parse(/HEALTH (.*)/.exec(r.out)![1]!) as ReturnType<typeof jobsHealth>;
  assert.equal(h.jobs['timer-job']!.failures, 2);
  assert.equal(h.jobs['process:unhandled-rejection']!.failures, 1);
  assert.equal(h.jobs['process:unhandled-rejection']!.lastError, 'nobody handles me');
  assert.equal(h.jobs['process:uncaught-exception']!.failures, 1);
  assert.match(r.out, /unhandled promise rejection.*DNS keeps answering/);
  assert.match(r.out, /uncaught exception \(a bug\)/);
});

test('without the guards the same rejection ends the process (the test above can fail)', async () => {
  const r = await runChild(`setTimeout(() => { void Promise.reject(new Error('nobody handles me')); }, 10);
setTimeout(() => process.stdout.write('still here\\n'), 300);`);
  assert.notEqual(r.code, 0);
  assert.doesNotMatch(r.out, /still here/);
});

test('uncaught exceptions in a burst exit with 70 (a loop failing is left to the supervisor)', async () => {
  const r = await runChild(`
J.installProcessGuards({ burstLimit: 3, burstWindowMs: 10_000 });
for (let i = 0; i < 10; i++) setTimeout(() => { throw new Error('loop bug ' + i); }, 10 + i);
setTimeout(() => process.stdout.write('still here\\n'), 500);
`);
  assert.equal(r.code, 70, r.out);
  assert.match(r.out, /burst/);
  assert.doesNotMatch(r.out, /still here/);
});

test('job() makes a callback for timers and signals that never throws', async () => {
  const cb = job('signal:SIGHUP', () => {
    throw new Error('reload failed');
  });
  assert.doesNotThrow(cb);
  await new Promise((r) => setImmediate(r));
  assert.equal(jobStats('signal:SIGHUP')!.failures, 1);
});
