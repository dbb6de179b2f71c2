// Background jobs against a real `serve` and real shell commands on the same state directory:
//  - `quorumbl sync` from a shell while serve syncs the same source (a slow loopback upstream
//    makes them overlap): serve keeps answering and does not exit (it did: the shell's start-up
//    closed serve's live run and serve's endRun threw into a void promise); the shell waits and
//    names the holder, or with --no-wait says who holds it and exits 75; one fetch, no run
//    marked interrupted;
//  - the reverse: serve's scheduled sync finds the shell's sync running, skips it and logs who;
//  - what a shell changes reaches the running serve without SIGHUP (reload.check_interval is
//    1 h here): `sync`, `sources accept`, an override. Latencies are printed, not asserted.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server, type ServerResponse } from 'node:http';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import {
  digRaw, freePort, makeTmpDir, poll, runQuorumbl, spawnQuorumbl, stopAll, toolsOrSkip, waitForLog, waitReady, writeConfig, type Proc,
} from './helpers.ts';

const skip = toolsOrSkip(['dig']);
const BASE = 'dnsbl.test';
const MIRROR = `trap.mirror.${BASE}`;

let upstream: Server;
let body = '';
let requests = 0;
/** While set, requests are held until release() (a slow upstream). */
let held: ServerResponse[] | null = null;

function list(from: number, n: number): string {
  const lines = ['# synthetic trap list', '127.0.0.2'];
  for (let i = from; i < from + n; i++) lines.push(`198.51.${100 + (i >> 8)}.${i & 255}`);
  return lines.join('\n') + '\n';
}
const ip = (i: number) => `198.51.${100 + (i >> 8)}.${i & 255}`;
const rev = (a: string) => a.split('.').reverse().join('.');

function hold(): void {
  held = [];
}
function release(): void {
  const h = held ?? [];
  held = null;
  for (const res of h) res.writeHead(200, { 'content-type': 'text/plain' }).end(body);
}

before(async () => {
  upstream = createServer((_req, res) => {
    requests++;
    if (held) held.push(res);
    else res.writeHead(200, { 'content-type': 'text/plain' }).end(body);
  });
  upstream.listen(0, '127.0.0.1');
  await once(upstream, 'listening');
});

const procs: Proc[] = [];
after(async () => {
  release();
  await stopAll(...procs);
  upstream.closeAllConnections();
  upstream.close();
});

function config(dir: string, port: number): string {
  const url = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}/list.txt`;
  const providers = join(dir, 'providers.txt');
  writeFileSync(providers, '203.0.113.0/24\n');
  return writeConfig(dir, [
    `server: { listen: ["127.0.0.1:${port}"] }`,
    'state_dir: state',
    'reload: { check_interval: 1h }', // only the sync-state watch can bring a shell's change in time
    `base: ${BASE}`,
    'web: { enabled: false }',
    'log: { level: debug }',
    'sources:',
    '  - name: trap',
    '    kind: ip',
    `    fetch: ${url}`,
    '    format: plain',
    '    schedule: "0 0 1 1 *"',
    '    min_interval: 0s',
    '    jitter: 0s',
    '    retries: 0',
    '    max_prefix: { v4: 24 }',
    '    guards: { max_shrink: 0.5, max_grow: 100, test_point: true }',
    'providers:',
    `  - { provider: microsoft365, type: static, file: ${providers} }`,
    '',
  ].join('\n'));
}

async function status(port: number, name: string): Promise<string> {
  const r = await digRaw('127.0.0.1', port, [name, 'A']);
  return r.replies[0]?.status ?? `no reply (${r.stderr.trim() || r.stdout.trim()})`;
}

/** Polls dig every 20 ms until `name` has `want`; returns ms since `since`. */
async function until(port: number, name: string, want: string, since: number, what: string): Promise<number> {
  await poll(async () => ((await status(port, name)) === want ? true : undefined), what, { timeoutMs: 5000, intervalMs: 20 });
  return Date.now() - since;
}

/** dig in a loop while `p` runs: every query must get a reply. */
function digLoop(port: number): { stop: () => Promise<{ ok: number; failed: string[] }> } {
  let running = true;
  let ok = 0;
  const failed: string[] = [];
  const loop = (async () => {
    while (running) {
      const s = await status(port, `2.0.0.127.${MIRROR}`);
      if (s === 'NOERROR') ok++;
      else failed.push(s);
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  return { stop: async () => { running = false; await loop; return { ok, failed }; } };
}

test('shell sync while serve syncs the same source, and the reverse: serve lives, one waits or names the holder', { skip, timeout: 180_000 }, async () => {
  const dir = makeTmpDir();
  const port = await freePort();
  const cfg = config(dir, port);
  body = list(0, 1000);
  const first = await runQuorumbl(['sync', '--config', cfg]);
  assert.equal(first.code, 0, first.output);
  const env = { QUORUMBL_SYNC__ENABLED: 'true' };

  // 1. serve's start-up sync (the source is overdue: min_interval 0) hangs on the upstream.
  hold();
  requests = 0;
  body = list(0, 1100);
  const serve = spawnQuorumbl(['serve', '--config', cfg], { env });
  procs.push(serve);
  await waitReady(serve, '127.0.0.1', port, MIRROR);
  const loop = digLoop(port);
  await poll(async () => (requests >= 1 ? true : undefined), "serve's sync reaching the upstream", { timeoutMs: 20_000 });

  const noWait = await runQuorumbl(['sync', '--config', cfg, '--no-wait', 'trap']);
  assert.equal(noWait.code, 75, noWait.output);
  assert.match(noWait.stderr, new RegExp(`trap: not synced: a sync is already running in pid ${serve.pid} on \\S+ \\(quorumbl serve\\)`));

  const waiter = spawnQuorumbl(['sync', '--config', cfg, 'trap']);
  procs.push(waiter);
  await waiter.waitForOutput((o) => o.includes('waiting for the sync already running in'), 'the shell sync to wait');
  assert.match(waiter.output(), new RegExp(`waiting for the sync already running in pid ${serve.pid} on \\S+ \\(quorumbl serve\\)`));
  release();
  const w = await waiter.exited;
  assert.equal(w.code, 0, waiter.output());
  assert.match(waiter.output(), new RegExp(`trap: synced meanwhile by pid ${serve.pid} \\(quorumbl serve\\): ok`));
  assert.equal(requests, 1, 'one fetch for the two syncs');
  assert.equal(await until(port, `${rev(ip(1050))}.${MIRROR}`, 'NOERROR', Date.now(), 'serve serving its own sync') >= 0, true);

  // 2. The reverse: the shell's sync hangs on the upstream; serve restarts meanwhile, its
  // start-up sync finds the lease taken and skips; its start-up does not close the shell's run.
  const r1 = await loop.stop();
  assert.deepEqual(r1.failed, [], 'serve answered every query while the two syncs overlapped');
  assert.ok(r1.ok > 0);
  assert.equal(serve.exitStatus, null, 'serve is still running');
  await serve.stop();
  hold();
  requests = 0;
  body = list(0, 1200);
  const shell = spawnQuorumbl(['sync', '--config', cfg, 'trap']);
  procs.push(shell);
  await poll(async () => (requests >= 1 ? true : undefined), "the shell's sync reaching the upstream", { timeoutMs: 20_000 });
  const serve2 = spawnQuorumbl(['serve', '--config', cfg], { env });
  procs.push(serve2);
  await waitReady(serve2, '127.0.0.1', port, MIRROR);
  const loop2 = digLoop(port);
  const skipped = await waitForLog(serve2, 0, (r) => r.msg === 'scheduled sync skipped: another process is syncing this source', 'serve skipping the busy source', 20_000);
  assert.match(String(skipped.holder), new RegExp(`^pid ${shell.pid} on \\S+ \\(quorumbl sync trap\\)`));
  release();
  const s = await shell.exited;
  assert.equal(s.code, 0, shell.output());
  const done = Date.now();
  const ms = await until(port, `${rev(ip(1150))}.${MIRROR}`, 'NOERROR', done, "the shell's data in serve");
  console.log(`# shell sync (serve running) -> new data in dig: ${ms} ms after the shell exited`);

  const r2 = await loop2.stop();
  assert.deepEqual(r2.failed, [], 'the second serve answered every query');
  assert.ok(r2.ok > 0);
  assert.equal(serve2.exitStatus, null, 'serve is still running');
  assert.doesNotMatch(serve.output() + serve2.output(), /unhandled|uncaught|already finished/i);
  const runs = await runQuorumbl(['sources', '--config', cfg, 'show', 'trap', '--json']);
  const outcomes = (JSON.parse(runs.stdout) as { runs: { outcome: string; error: string | null }[] }).runs.map((r) => r.outcome);
  assert.deepEqual(outcomes, ['ok', 'ok', 'ok'], 'the first sync, serve\'s, the shell\'s: none interrupted, none open');
  await stopAll(serve2);
});

test('shell changes reach a running serve without SIGHUP: sync, sources accept, an override', { skip, timeout: 180_000 }, async () => {
  const dir = makeTmpDir();
  const port = await freePort();
  const cfg = config(dir, port);
  body = list(0, 1000);
  const first = await runQuorumbl(['sync', '--config', cfg]);
  assert.equal(first.code, 0, first.output);
  const serve = spawnQuorumbl(['serve', '--config', cfg]); // scheduler off: only the shell syncs
  procs.push(serve);
  await waitReady(serve, '127.0.0.1', port, MIRROR);
  await waitForLog(serve, 0, (r) => r.msg === 'merge done: bl/wl/dbl updated', 'the first merge');

  const mirrorMs: number[] = [];
  const blMs: number[] = [];
  for (let round = 1; round <= 4; round++) {
    const n = 1000 + round * 20;
    body = list(0, n);
    const key = rev(ip(n - 1));
    assert.equal(await status(port, `${key}.${MIRROR}`), 'NXDOMAIN');
    const r = await runQuorumbl(['sync', '--config', cfg, 'trap']);
    assert.equal(r.code, 0, r.output);
    const t = Date.now();
    mirrorMs.push(await until(port, `${key}.${MIRROR}`, 'NOERROR', t, `round ${round}: the mirror zone`));
    blMs.push(await until(port, `${key}.bl.${BASE}`, 'NOERROR', t, `round ${round}: bl`));
  }
  console.log(`# shell sync -> serve: mirror zone ${mirrorMs.join(', ')} ms; bl (after the merge) ${blMs.join(', ')} ms`);

  // A 90% shrink is quarantined; `sources accept` makes it the served copy.
  body = list(0, 100);
  const q = await runQuorumbl(['sync', '--config', cfg, 'trap']);
  assert.equal(q.code, 1, q.output);
  const gone = `${rev(ip(500))}.${MIRROR}`;
  assert.equal(await status(port, gone), 'NOERROR', 'the quarantined update is not served');
  const mark = serve.output().length;
  const a = await runQuorumbl(['sources', '--config', cfg, 'accept', 'trap']);
  assert.equal(a.code, 0, a.output);
  const acceptMs = await until(port, gone, 'NXDOMAIN', Date.now(), 'the accepted copy in serve');
  console.log(`# sources accept -> serve: ${acceptMs} ms`);
  // The snapshot parsed when the update was quarantined is loaded, not the text parsed again.
  await waitForLog(serve, mark, (r) => r.msg === 'dataset loaded' && r.from === 'the snapshot staged by the sync', 'the accepted copy loaded from its snapshot');

  // An override from the shell (LocalStore's data_version watch).
  const key = '77.2.0.192';
  assert.equal(await status(port, `${key}.bl.${BASE}`), 'NXDOMAIN');
  const o = await runQuorumbl(['override', '--config', cfg, 'add', 'deny', '192.0.2.77', '--reason', 'test']);
  assert.equal(o.code, 0, o.output);
  const overrideMs = await until(port, `${key}.bl.${BASE}`, 'NOERROR', Date.now(), 'the override in bl');
  console.log(`# override add -> bl: ${overrideMs} ms`);
  assert.equal(serve.exitStatus, null);
  assert.doesNotMatch(serve.output(), /unhandled|uncaught/i);
  await stopAll(serve);
});

test('kill -9 of a shell sync mid-fetch: the next sync starts at once, the killed run is recorded as interrupted', { skip, timeout: 180_000 }, async () => {
  const dir = makeTmpDir();
  const port = await freePort();
  const cfg = config(dir, port);
  body = list(0, 1000);
  const first = await runQuorumbl(['sync', '--config', cfg]);
  assert.equal(first.code, 0, first.output);
  hold();
  requests = 0;
  const victim = spawnQuorumbl(['sync', '--config', cfg, 'trap']);
  procs.push(victim);
  await poll(async () => (requests >= 1 ? true : undefined), "the shell's sync reaching the upstream", { timeoutMs: 20_000 });
  process.kill(victim.pid, 'SIGKILL');
  await victim.exited;
  release();
  // The lease's TTL (30 s) has not run out: the holder's pid being gone frees it.
  const next = await runQuorumbl(['sync', '--config', cfg, '--no-wait', 'trap']);
  assert.equal(next.code, 0, next.output);
  const show = await runQuorumbl(['sources', '--config', cfg, 'show', 'trap', '--json']);
  const runs = (JSON.parse(show.stdout) as { runs: { outcome: string; error: string | null }[] }).runs;
  assert.deepEqual(runs.map((r) => r.outcome), ['ok', 'failed', 'ok']);
  assert.match(runs[1]!.error ?? '', /interrupted/);
});
