// Disk trouble under a real `quorumbl serve`: the state directory is a small tmpfs that the test
// fills up or remounts read-only. DNS must keep answering, API reads keep working, writes get a
// 503 naming the cause, /readyz shows it, the condition is logged once when it starts and once
// when it clears, and everything recovers by itself when space returns. Leftover partial files
// are removed at start and never served.
//
// Mounting needs root (CAP_SYS_ADMIN): without it the tmpfs tests are skipped with a message
// outside CI and fail with CI=true. The partial-file test needs no mount.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { once } from 'node:events';
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { dig, freePort, makeTmpDir, poll, runQuorumbl, spawnQuorumbl, stopAll, toolsOrSkip, waitReady, writeConfig, LEVEL, type Proc, type LogLine } from './helpers.ts';
import { fill } from '../core/tmpfs.ts';

const skipTools = toolsOrSkip(['dig']);

// ---------------------------------------------------------------------------------------------
// tmpfs mounts

const mounts: string[] = [];

function mountTmpfs(dir: string, size = '16m'): void {
  mkdirSync(dir, { recursive: true });
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0755`, 'tmpfs', dir], { stdio: 'pipe' });
  mounts.push(dir);
}

function remount(dir: string, mode: 'ro' | 'rw'): void {
  execFileSync('mount', ['-o', `remount,${mode}`, dir], { stdio: 'pipe' });
}

function unmountAll(): void {
  for (const d of mounts.splice(0).reverse()) {
    try {
      execFileSync('umount', ['-l', d], { stdio: 'pipe' });
    } catch {
      /* already gone */
    }
  }
}
process.on('exit', unmountAll);

/** false when a tmpfs can be mounted here; a skip message otherwise (a failure with CI=true). */
function mountOrSkip(): false | string {
  const probe = makeTmpDir('quorumbl-mnt-');
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', probe], { stdio: 'pipe' });
    execFileSync('umount', [probe], { stdio: 'pipe' });
    return false;
  } catch (e) {
    const msg = `cannot mount a tmpfs (needs root / CAP_SYS_ADMIN): ${String((e as { stderr?: Buffer }).stderr ?? (e as Error).message).trim()}`;
    if (process.env.CI === 'true') throw new Error(msg);
    return msg;
  }
}

const skipMount = skipTools || mountOrSkip();


// ---------------------------------------------------------------------------------------------
// A loopback upstream: a plain list, a new version at every request (so every sync downloads)

let upstream: Server;
let served = 0;
let extra = '';

function list(n: number): string {
  const lines = ['# synthetic list', '127.0.0.2'];
  for (let i = 0; i < n; i++) lines.push(`198.51.${100 + (i >> 8)}.${i & 255}`);
  return lines.join('\n') + '\n';
}

before(async () => {
  upstream = createServer((_req, res) => {
    served++;
    // A comment that changes makes a new download every time (no validators: never a 304).
    res.writeHead(200, { 'content-type': 'text/plain' }).end(list(1000) + extra + `# version ${served}\n`);
  });
  upstream.listen(0, '127.0.0.1');
  await once(upstream, 'listening');
});

const procs: Proc[] = [];
after(async () => {
  await stopAll(...procs);
  upstream.close();
  unmountAll();
});

const Z = 'trap.mirror.dnsbl.test';

async function setup(opts: { mount: boolean; schedule?: string }): Promise<{ dir: string; state: string; cfg: string; port: number; web: number }> {
  const dir = makeTmpDir();
  const state = join(dir, 'state');
  if (opts.mount) mountTmpfs(state);
  const port = await freePort();
  const web = await freePort();
  const url = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}/list.txt`;
  const cfg = writeConfig(dir, [
    `server: { listen: ["127.0.0.1:${port}"] }`,
    `web: { listen: "127.0.0.1:${web}" }`,
    'state_dir: state',
    'reload: { check_interval: 1s }',
    'base: dnsbl.test',
    'providers: []',
    'sources:',
    '  - name: trap',
    '    kind: ip',
    `    fetch: ${url}`,
    '    format: plain',
    `    schedule: "${opts.schedule ?? '0 0 1 1 *'}"`,
    '    min_interval: 0',
    '    jitter: 0',
    '    retries: 0',
    '    max_prefix: { v4: 24 }',
    '    guards: { test_point: true }',
    '',
  ].join('\n'));
  return { dir, state, cfg, port, web };
}

async function cli(args: string[], cfg: string): Promise<string> {
  const r = await runQuorumbl([...args, '--config', cfg]);
  assert.equal(r.code, 0, `quorumbl ${args.join(' ')}: ${r.output}`);
  return r.stdout;
}

async function adminToken(cfg: string): Promise<string> {
  const out = await cli(['token', 'create', '--name', 'ops', '--scope', 'admin'], cfg);
  const m = /qbl_[A-Za-z0-9_-]+/.exec(out);
  assert.ok(m, out);
  return m[0];
}

async function api(web: number, method: string, path: string, token?: string, body?: unknown) {
  const headers: Record<string, string> = {};
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`http://127.0.0.1:${web}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  let json: Record<string, any> = {};
  try {
    json = JSON.parse(text);
  } catch {
    assert.fail(`${method} ${path}: not JSON (${res.status}): ${text}`);
  }
  return { status: res.status, json, headers: res.headers };
}

const deny = (n: number) => ({ action: 'deny', key: `203.0.113.${n}`, reason: `disk test ${n}` });

function logsSince(p: Proc, from: number): LogLine[] {
  return spawnedLogs(p.output().slice(from));
}

function spawnedLogs(text: string): LogLine[] {
  const out: LogLine[] = [];
  for (const l of text.split('\n')) {
    if (!l.trim().startsWith('{')) continue;
    try {
      out.push(JSON.parse(l) as LogLine);
    } catch {
      /* partial */
    }
  }
  return out;
}

async function listed(port: number, ip: string): Promise<string> {
  return (await dig('127.0.0.1', port, [`${ip.split('.').reverse().join('.')}.${Z}`, 'A'])).status;
}

// ---------------------------------------------------------------------------------------------

test('a full state disk: DNS and API reads go on, writes get 503 naming the cause, /readyz says so; all recovers when space returns', { skip: skipMount }, async (t) => {
  const { state, cfg, port, web } = await setup({ mount: true, schedule: '*/2 * * * * *' });
  const token = await adminToken(cfg);
  const serve = spawnQuorumbl(['serve', '--config', cfg], { env: { QUORUMBL_SYNC__ENABLED: 'true' } });
  procs.push(serve);
  await waitReady(serve, '127.0.0.1', port, Z);
  await poll(async () => ((await listed(port, '198.51.100.5')) === 'NOERROR' ? true : undefined), 'the first sync served');
  assert.equal((await api(web, 'POST', '/api/v1/overrides', token, deny(1))).status, 201);
  const ready0 = await api(web, 'GET', '/readyz');
  assert.equal(ready0.status, 200);
  assert.equal(ready0.json.status, 'ready', JSON.stringify(ready0.json));
  assert.equal(ready0.json.state_dir.state, 'writable');

  // Fill the disk to the last block.
  const from = serve.output().length;
  const syncsBefore = served;
  fill(join(state, 'filler'));
  // The condition shows in /readyz (from the probe or from a failed sync/write).
  const degraded = await poll(async () => {
    const r = await api(web, 'GET', '/readyz');
    return r.json.state_dir?.state === 'full' ? r : undefined;
  }, '/readyz to report the full disk', { timeoutMs: 20000 });
  assert.equal(degraded.status, 200, 'DNS answers, so /readyz stays 200');
  assert.equal(degraded.json.status, 'degraded');
  assert.match(degraded.json.state_dir.cause, /state disk is full/);
  assert.equal(degraded.json.dns.listening, true);

  // A sync runs while the disk is full (every 2 s): it fails or is skipped, serve stays up.
  await poll(async () => (served > syncsBefore + 1 || logsSince(serve, from).some((l) => /^sync skipped|^sync failed/.test(l.msg ?? '')) ? true : undefined),
    'a sync attempt on the full disk', { timeoutMs: 15000 });
  const detectedBy = logsSince(serve, from).find((l) => l.fault === 'full');
  t.diagnostic(`full disk noticed via ${String(detectedBy?.path)} (${String(detectedBy?.code)}); sync lines: ${logsSince(serve, from).filter((l) => /^sync/.test(l.msg ?? '')).map((l) => l.msg).join(' | ')}`);
  // An override write: 503 naming the cause, with Retry-After.
  const refused = await api(web, 'POST', '/api/v1/overrides', token, deny(2));
  assert.equal(refused.status, 503, JSON.stringify(refused.json));
  assert.match(refused.json.error, /the state disk is full \((SQLITE_FULL|ENOSPC) writing \/[^)]+\): writes are refused until space returns/);
  assert.ok(Number(refused.headers.get('retry-after')) > 0, 'Retry-After');
  // Reads with a token still work (the token's last use is not recorded, the read is not failed).
  const read = await api(web, 'GET', '/api/v1/overrides', token);
  assert.equal(read.status, 200, JSON.stringify(read.json));
  assert.deepEqual(read.json.overrides.map((o: { key: string }) => o.key), ['203.0.113.1']);
  // DNS answers correctly from memory.
  assert.equal(await listed(port, '198.51.100.5'), 'NOERROR');
  assert.equal(await listed(port, '192.0.2.99'), 'NXDOMAIN');
  assert.equal(serve.exitStatus, null, 'serve is still running');
  // Logged once when it started, not per request or per sync.
  for (let i = 0; i < 5; i++) await api(web, 'POST', '/api/v1/overrides', token, deny(10 + i));
  const starts = logsSince(serve, from).filter((l) => l.level === LEVEL.error && /state disk is full/.test(l.msg ?? '') && l.fault === 'full');
  assert.equal(starts.length, 1, JSON.stringify(starts));

  // Space returns: writes work again within a bounded wait, /readyz is clean.
  const freedAt = Date.now();
  rmSync(join(state, 'filler'));
  await poll(async () => ((await api(web, 'POST', '/api/v1/overrides', token, deny(3))).status === 201 ? true : undefined),
    'writes to work again after space returned', { timeoutMs: 30000, intervalMs: 250 });
  const recoveredMs = Date.now() - freedAt;
  t.diagnostic(`writes accepted again ${recoveredMs} ms after space returned`);
  const ready = await api(web, 'GET', '/readyz');
  assert.equal(ready.json.status, 'ready', JSON.stringify(ready.json));
  assert.equal(ready.json.state_dir.state, 'writable');
  assert.ok(ready.json.state_dir.last_errors.length > 0, 'the last errors stay visible');
  const clears = logsSince(serve, from).filter((l) => /^state disk writable again/.test(l.msg ?? ''));
  assert.equal(clears.length, 1);
  // Syncs land again.
  const after = serve.output().length;
  await waitForMsg(serve, after, /sync: new data in place/);
  // The override written after recovery answers in DNS.
  assert.equal((await dig('127.0.0.1', port, ['3.113.0.203.bl.dnsbl.test', 'A'])).status, 'NOERROR');
  assert.equal(serve.exitStatus, null);
  const leftovers = readdirSync(join(state, 'sources', 'trap', 'staging'));
  assert.deepEqual(leftovers, [], 'no partial download left behind');
  await serve.stop();
});

async function waitForMsg(p: Proc, from: number, re: RegExp, timeoutMs = 20000): Promise<void> {
  await p.waitForOutput((out) => spawnedLogs(out.slice(from)).some((l) => re.test(l.msg ?? '')), `log ${re}`, timeoutMs);
}

test('a read-only state directory: serve starts read-only with a warning, answers DNS and API reads, refuses writes', { skip: skipMount }, async () => {
  const { state, cfg, port, web } = await setup({ mount: true, schedule: '*/2 * * * * *' });
  await cli(['sync'], cfg);
  const token = await adminToken(cfg);
  await cli(['override', 'add', 'deny', '203.0.113.7', '--reason', 'before the remount'], cfg);
  remount(state, 'ro');
  const serve = spawnQuorumbl(['serve', '--config', cfg], { env: { QUORUMBL_SYNC__ENABLED: 'true' } });
  procs.push(serve);
  await waitReady(serve, '127.0.0.1', port, Z);
  const warn = spawnedLogs(serve.output()).find((l) => (l.level ?? 0) >= LEVEL.warn && /read-only/.test(l.msg ?? ''));
  assert.ok(warn, `a read-only warning at start:\n${serve.tail()}`);
  assert.equal(await listed(port, '198.51.100.5'), 'NOERROR');
  assert.equal(await listed(port, '192.0.2.99'), 'NXDOMAIN');
  await poll(async () => ((await dig('127.0.0.1', port, ['7.113.0.203.bl.dnsbl.test', 'A'])).status === 'NOERROR' ? true : undefined), 'the stored override in bl');
  const read = await api(web, 'GET', '/api/v1/overrides', token);
  assert.equal(read.status, 200, JSON.stringify(read.json));
  assert.deepEqual(read.json.overrides.map((o: { key: string }) => o.key), ['203.0.113.7']);
  const refused = await api(web, 'POST', '/api/v1/overrides', token, deny(8));
  assert.equal(refused.status, 503, JSON.stringify(refused.json));
  assert.match(refused.json.error, /read-only/);
  assert.ok(Number(refused.headers.get('retry-after')) > 0);
  const ready = await api(web, 'GET', '/readyz');
  assert.equal(ready.status, 200);
  assert.equal(ready.json.status, 'degraded');
  assert.equal(ready.json.state_dir.state, 'read-only');
  assert.equal((await api(web, 'GET', '/healthz')).json.status, 'alive');
  // Scheduled syncs (every 2 s) are skipped with a warning; serve stays up.
  await waitForMsg(serve, 0, /^sync skipped/);
  assert.equal(serve.exitStatus, null);
  assert.equal(await listed(port, '198.51.100.5'), 'NOERROR');
  await serve.stop();
  remount(state, 'rw');
});

test('leftover partial files are removed at start and never served', { skip: skipTools }, async () => {
  const { state, cfg, port } = await setup({ mount: false });
  // Version B lists 192.0.2.77: its snapshot and text become the "leftovers".
  extra = '192.0.2.77\n';
  await cli(['sync'], cfg);
  const snaps = join(state, 'snapshots');
  const snapB = readdirSync(snaps).find((n) => n.endsWith('.qsnap'))!;
  assert.ok(snapB, 'the sync staged a snapshot');
  const keepB = join(state, 'b.qsnap');
  copyFileSync(join(snaps, snapB), keepB);
  copyFileSync(join(state, 'sources', 'trap', 'current'), join(state, 'b.txt'));
  // Version A (without it) is the last good copy.
  extra = '';
  await cli(['sync'], cfg);
  rmSync(join(snaps, snapB)); // so only the text of A, or a leftover, could answer
  const planted = [
    join(snaps, `${snapB}.staged`),
    join(state, 'sources', 'trap', 'staging', 'download'),
    join(state, 'sources', 'trap', 'staging', '.download.0123456789ab.part'),
    join(state, 'sources', 'trap', '.current.0123456789ab.part'),
    join(snaps, `${snapB}.tmp-999999`),
    join(state, 'providers', 'last-good', 'example', 'feed.json.999999.tmp'),
  ];
  mkdirSync(join(state, 'sources', 'trap', 'staging'), { recursive: true });
  mkdirSync(join(state, 'providers', 'last-good', 'example'), { recursive: true });
  copyFileSync(keepB, planted[0]!);
  for (const p of planted.slice(1, 4)) copyFileSync(join(state, 'b.txt'), p);
  copyFileSync(keepB, planted[4]!);
  writeFileSync(planted[5]!, '{"format":1}');
  const serve = spawnQuorumbl(['serve', '--config', cfg]);
  procs.push(serve);
  await waitReady(serve, '127.0.0.1', port, Z);
  await poll(async () => ((await listed(port, '198.51.100.5')) === 'NOERROR' ? true : undefined), 'the last good copy served');
  assert.equal(await listed(port, '192.0.2.77'), 'NXDOMAIN', 'nothing of the leftovers is served');
  for (const p of planted) assert.equal(existsSync(p), false, `${p} removed at start`);
  assert.ok(spawnedLogs(serve.output()).some((l) => /leftover partial file/.test(l.msg ?? '')), 'the removal is logged');
  await serve.stop();
});
