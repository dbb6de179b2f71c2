// The API when the state disk cannot take writes, and the health endpoints, through a real HTTP
// server and a real SQLite file. The write failures are real: the database is switched to
// query_only, so SQLite itself refuses each write with SQLITE_READONLY (the full-disk case with
// a real tmpfs is test/integration/disk.test.ts).

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { createApp } from '../../web/app.ts';
import { startWeb, type WebServer } from '../../web/server.ts';
import { LocalStore } from '../../sync/local/store.ts';
import { DiskHealth } from '../../core/disk-health.ts';
import { tmpDb } from '../sync/local/helpers.ts';

const CFG = { half_life: 7 * 86400, cap: 10 };
const servers: WebServer[] = [];
after(async () => {
  for (const s of servers) await s.close();
});

function capture(): { log: pino.Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      for (const l of String(chunk).split('\n')) if (l.trim()) lines.push(JSON.parse(l));
      cb();
    },
  });
  return { log: pino({ level: 'debug' }, sink), lines };
}

async function setup(opts: { withDisk?: boolean; jobs?: () => unknown } = {}) {
  const { db, path } = tmpDb();
  const { log, lines } = capture();
  const disk = new DiskHealth({ dir: mkdtempSync(join(tmpdir(), 'qbl-disk-')), dbPath: path, log, intervalMs: 60_000 });
  const store = new LocalStore(db, { reputation: CFG, disk: opts.withDisk === false ? undefined : disk });
  const token = store.tokens.create('ops', 'admin', 'test').token;
  let listening = true;
  const app = createApp({
    store,
    disk: opts.withDisk === false ? undefined : disk,
    health: {
      dns: () => ({ listening, addresses: listening ? ['udp/127.0.0.1:53'] : [] }),
      zones: () => ({ served: 3, failed: [] }),
      disk: () => disk.status(),
      jobs: opts.jobs,
    },
  });
  const server = await startWeb({ app, listen: { address: '127.0.0.1', port: 0 } });
  servers.push(server);
  const call = async (method: string, p: string, body?: unknown, auth = true) => {
    const headers: Record<string, string> = {};
    if (auth) headers.authorization = `Bearer ${token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(`http://127.0.0.1:${server.port}${p}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    return { status: res.status, json: (await res.json()) as Record<string, any>, headers: res.headers };
  };
  return { db, path, disk, store, call, lines, setListening: (v: boolean) => (listening = v) };
}

const deny = { action: 'deny', key: '192.0.2.0/24', reason: 'test' };

test('a write the database refuses is a 503 naming the cause; reads (and their token check) keep working', async () => {
  const f = await setup();
  f.db.pragma('query_only = ON'); // every write now fails in SQLite with SQLITE_READONLY
  // The token was never used: verify tries to record last_used, fails, and the read goes on.
  const read = await f.call('GET', '/api/v1/overrides');
  assert.equal(read.status, 200, JSON.stringify(read.json));
  assert.deepEqual(read.json.overrides, []);
  assert.equal(f.disk.state, 'read-only', 'the failed last_used write was reported');
  const w = await f.call('POST', '/api/v1/overrides', deny);
  assert.equal(w.status, 503);
  assert.match(w.json.error, /^the state directory is read-only \(SQLITE_READONLY writing .*\.sqlite\): writes are refused until it is writable again$/);
  assert.ok(Number(w.headers.get('retry-after')) >= 1);
  for (const [m, p] of [['PATCH', '/api/v1/overrides/1'], ['DELETE', '/api/v1/overrides/1'], ['POST', '/api/v1/reports']] as const) {
    const r = await f.call(m, p, m === 'DELETE' ? undefined : { expires: null, key: '192.0.2.1', kind: 'spam' });
    assert.equal(r.status, 503, `${m} ${p}: ${JSON.stringify(r.json)}`);
  }
  // Still 401 without a token: the disk state is not shown to strangers.
  assert.equal((await f.call('POST', '/api/v1/overrides', deny, false)).status, 401);
  // Logged once, not per request.
  const starts = f.lines.filter((l) => l.fault === 'read-only' && l.level === 50);
  assert.equal(starts.length, 1, JSON.stringify(f.lines));
  // Writable again (the probe proves it with a real file and a real database write).
  f.db.pragma('query_only = OFF');
  f.disk.sqliteProbe = () => void f.db.pragma('user_version = 0');
  (f.disk as unknown as { lastReportAt: number }).lastReportAt = 0; // as if one interval had passed
  assert.equal(f.disk.probe(), 'writable');
  assert.equal((await f.call('POST', '/api/v1/overrides', deny)).status, 201);
  assert.equal(f.lines.filter((l) => /^state disk writable again/.test(String(l.msg))).length, 1);
});

test('without a disk watcher a disk error is still a 503, not a 500', async () => {
  const f = await setup({ withDisk: false });
  assert.equal((await f.call('GET', '/api/v1/overrides')).status, 200); // last_used recorded
  f.db.pragma('query_only = ON');
  const w = await f.call('POST', '/api/v1/overrides', deny);
  assert.equal(w.status, 503);
  assert.match(w.json.error, /read-only \(SQLITE_READONLY\): the change was not saved/);
});

test('/healthz and /readyz: no token, JSON; 200 while DNS listens even when degraded, 503 when it does not', async () => {
  const f = await setup({ jobs: () => ({ sync: { runs: 3, failures: 1 } }) });
  const live = await f.call('GET', '/healthz', undefined, false);
  assert.equal(live.status, 200);
  assert.equal(live.json.status, 'alive');
  let r = await f.call('GET', '/readyz', undefined, false);
  assert.equal(r.status, 200);
  assert.equal(r.json.status, 'ready');
  assert.deepEqual(r.json.jobs, { sync: { runs: 3, failures: 1 } });
  assert.equal(r.json.state_dir.state, 'writable');
  assert.equal(r.headers.get('cache-control'), 'no-store');
  f.db.pragma('query_only = ON');
  await f.call('POST', '/api/v1/overrides', deny);
  r = await f.call('GET', '/readyz', undefined, false);
  assert.equal(r.status, 200, 'DNS still answers: ready for traffic');
  assert.equal(r.json.status, 'degraded');
  assert.match(r.json.reasons.join(' '), /read-only/);
  assert.equal(r.json.state_dir.last_errors[0].code, 'SQLITE_READONLY');
  f.setListening(false);
  r = await f.call('GET', '/readyz', undefined, false);
  assert.equal(r.status, 503);
  assert.equal(r.json.status, 'unready');
});
