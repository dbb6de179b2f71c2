// /api/v1/sources over real HTTP: a real SQLite state file, a real sync engine fetching from a
// loopback HTTP upstream (a 1,000-entry list, then a 90 % shrink the guards quarantine), the
// scheduler's "sync now". Viewers read, operators act, tokens need the overrides scope; a busy
// lease is a 409 naming the holder; unknown sources are 404s naming the configured ones; every
// action is audited with its actor.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { configSchema } from '../../core/config/schema.ts';
import { openDb } from '../../core/db.ts';
import { SyncEngine } from '../../sync/engine.ts';
import { SyncScheduler } from '../../sync/scheduler.ts';
import { SyncLeases } from '../../sync/lease.ts';
import { SourcesService } from '../../sync/sources-service.ts';
import { SyncState, sourcePaths } from '../../sync/state.ts';
import { LocalStore } from '../../sync/local/store.ts';
import { Users } from '../../sync/local/users.ts';
import { readAudit } from '../../sync/local/audit.ts';
import { createApp } from '../../web/app.ts';
import { startWeb, type WebServer } from '../../web/server.ts';
import { api, login, PW, type Fixture } from './auth/helpers.ts';

function list(n: number): string {
  const lines = ['# synthetic list', '127.0.0.2'];
  for (let i = 0; i < n; i++) lines.push(`198.51.${100 + (i >> 8)}.${i & 255}`);
  return lines.join('\n') + '\n';
}

const bodies = new Map<string, string>();
let upstream: Server;
const servers: WebServer[] = [];

before(async () => {
  upstream = createServer((req, res) => {
    const b = bodies.get(req.url ?? '');
    if (b === undefined) return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': 'text/plain' }).end(b);
  });
  upstream.listen(0, '127.0.0.1');
  await once(upstream, 'listening');
});

after(async () => {
  for (const s of servers) await s.close();
  upstream.close();
});

async function setup() {
  const dir = mkdtempSync(join(tmpdir(), 'qbl-api-sources-'));
  const url = (p: string) => `http://127.0.0.1:${(upstream.address() as AddressInfo).port}${p}`;
  const tag = dir.slice(-6);
  bodies.set(`/${tag}/trap.txt`, list(1000));
  bodies.set(`/${tag}/fresh.txt`, list(50));
  bodies.delete(`/${tag}/gone.txt`); // a 404 upstream
  const sources = configSchema.parse({
    sources: [
      { name: 'trap', kind: 'ip', fetch: url(`/${tag}/trap.txt`), format: 'plain', retries: 0, timeout: 5, max_prefix: { v4: 16 }, min_interval: '1h' },
      { name: 'fresh', kind: 'ip', fetch: url(`/${tag}/fresh.txt`), format: 'plain', retries: 0, timeout: 5, max_prefix: { v4: 16 }, min_interval: '1h' },
      { name: 'gone', kind: 'ip', fetch: url(`/${tag}/gone.txt`), format: 'plain', retries: 0, timeout: 5, max_prefix: { v4: 16 }, min_interval: '1h' },
    ],
  }).sources;
  const dbFile = join(dir, 'state.sqlite');
  const db = openDb(dbFile);
  const state = new SyncState(db);
  const log = pino({ level: 'silent' });
  const engine = new SyncEngine(sources, { stateDir: dir, state, log, userAgent: 'quorumbl-test', settings: { ttl: { def: 2100, min: 0, max: 2 ** 31 }, acceptHostBits: false, gunzip: true } });
  // A good copy, then a 90 % shrink: quarantined.
  assert.equal((await engine.sync('trap')).outcome, 'ok');
  bodies.set(`/${tag}/trap.txt`, list(100));
  assert.equal((await engine.sync('trap')).outcome, 'quarantined');
  const scheduler = new SyncScheduler(sources, { engine, state, log });

  const appDb = openDb(dbFile); // the API's own connection, as in serve
  const store = new LocalStore(appDb, { reputation: { half_life: 7 * 86400, cap: 10 } });
  const users = new Users(appDb);
  await users.create('olga', 'operator', PW.operator, 'test');
  await users.create('vic', 'viewer', PW.viewer, 'test');
  const service = new SourcesService(appDb, { stateDir: dir, sources });
  const app = createApp({ store, console: {}, sources: { service, syncNow: (n, a) => scheduler.requestNow(n, a) } });
  const server = await startWeb({ app, listen: { address: '127.0.0.1', port: 0 } });
  servers.push(server);
  const f = { base: `http://127.0.0.1:${server.port}` } as Fixture;
  return {
    f, db, dir, state, engine, tag,
    overrides: store.tokens.create('ops', 'overrides', 'test').token,
    reports: store.tokens.create('rspamd', 'reports', 'test').token,
    operator: await login(f, 'olga', PW.operator),
    viewer: await login(f, 'vic', PW.viewer),
  };
}

test('viewers and overrides tokens read every source with its quarantine and what it would change; a reports token may not', async () => {
  const s = await setup();
  for (const who of [{ session: s.viewer }, { token: s.overrides }]) {
    const r = await api(s.f, 'GET', '/api/v1/sources', who);
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.deepEqual(r.json.sources.map((x: any) => [x.name, x.status]), [['trap', 'quarantined'], ['fresh', 'never-synced'], ['gone', 'never-synced']]);
    const trap = r.json.sources[0];
    assert.equal(trap.entries, 1001);
    assert.equal(trap.config.minInterval, 3600);
    assert.equal(trap.config.guards.max_shrink, 0.5);
    assert.match(trap.quarantine.reasons.join('\n'), /entries shrank from 1,001 to 101 \(-90%\), limit -50%/);
    assert.deepEqual([trap.quarantine.change.entriesBefore, trap.quarantine.change.entriesAfter, trap.quarantine.change.entriesDelta], [1001, 101, -900]);
    assert.ok(Math.abs(trap.quarantine.change.entriesShare + 0.899) < 0.001);
  }
  const one = await api(s.f, 'GET', '/api/v1/sources/trap', { session: s.viewer });
  assert.equal(one.status, 200);
  assert.deepEqual(one.json.runs.map((r: any) => r.outcome), ['quarantined', 'ok']);
  const refused = await api(s.f, 'GET', '/api/v1/sources', { token: s.reports });
  assert.equal(refused.status, 403);
  assert.match(refused.json.error, /token 'rspamd' has scope 'reports'; this needs 'overrides'/);
  assert.equal((await api(s.f, 'GET', '/api/v1/sources')).status, 401);
  // The routes are in the OpenAPI document.
  const doc = await (await fetch(`${s.f.base}/api/openapi.json`)).json() as any;
  for (const p of ['/sources', '/sources/{name}', '/sources/{name}/accept', '/sources/{name}/drop', '/sources/{name}/sync', '/sources/{name}/runs/{id}']) assert.ok(doc.paths[p], p);
  assert.ok(doc.paths['/sources/{name}/sync'].post.responses['409']);
});

test('unknown sources are 404s naming the configured ones, for reads and actions', async () => {
  const s = await setup();
  for (const [m, p] of [['GET', '/api/v1/sources/nosuch'], ['POST', '/api/v1/sources/nosuch/accept'], ['POST', '/api/v1/sources/nosuch/sync']] as const) {
    const r = await api(s.f, m, p, { token: s.overrides });
    assert.equal(r.status, 404, `${m} ${p}`);
    assert.equal(r.json.error, "unknown source 'nosuch'; configured sources: trap, fresh, gone");
  }
});

test('a viewer cannot act; an operator accepts: the quarantined copy serves, audited user:olga with before and after', async () => {
  const s = await setup();
  const current = sourcePaths(s.dir, 'trap').current;
  for (const a of ['accept', 'drop', 'sync']) {
    const r = await api(s.f, 'POST', `/api/v1/sources/trap/${a}`, { session: s.viewer });
    assert.equal(r.status, 403, a);
    assert.match(r.json.error, /role 'viewer'/);
  }
  assert.equal((await api(s.f, 'POST', '/api/v1/sources/trap/accept', { session: s.operator, csrf: null })).status, 403, 'no CSRF token');
  assert.equal(readAudit(s.db).filter((e) => e.action.startsWith('source.')).length, 0);
  assert.equal(readFileSync(current, 'utf8'), list(1000), 'still the good copy');

  // A decision on a quarantine other than the one read is refused (a newer one came meanwhile).
  const seen = (await api(s.f, 'GET', '/api/v1/sources/trap', { session: s.operator })).json.source.quarantine.atMs;
  const stale = await api(s.f, 'POST', '/api/v1/sources/trap/accept', { session: s.operator, body: { quarantinedAt: seen - 1 } });
  assert.equal(stale.status, 409);
  assert.match(stale.json.error, /changed since you looked/);
  assert.equal((await api(s.f, 'POST', '/api/v1/sources/trap/accept', { session: s.operator, body: { quarantinedAt: 'x' } })).status, 400);

  const r = await api(s.f, 'POST', '/api/v1/sources/trap/accept', { session: s.operator, body: { quarantinedAt: seen } });
  assert.equal(r.status, 200, JSON.stringify(r.json));
  assert.equal(r.json.decision.decision, 'accept');
  assert.equal(r.json.decision.run.note, 'accepted by operator');
  assert.equal(readFileSync(current, 'utf8'), list(100), 'the accepted copy is the last good copy');
  const src = s.state.getSource('trap')!;
  assert.equal(src.quarantine, null);
  assert.equal(src.entries, 101);
  const a = readAudit(s.db).filter((e) => e.action.startsWith('source.'));
  assert.deepEqual(a.map((e) => [e.action, e.actor, e.target]), [['source.accept', 'user:olga', 'source:trap']]);
  assert.match(JSON.stringify(a[0]!.before), /entries shrank from 1,001 to 101/);
  assert.deepEqual(a[0]!.after, { current, bytes: Buffer.byteLength(list(100)) });

  const again = await api(s.f, 'POST', '/api/v1/sources/trap/drop', { token: s.overrides });
  assert.equal(again.status, 409);
  assert.equal(again.json.error, "source 'trap' has no quarantined update: nothing to drop");
});

test('drop with a token: the file is deleted, the good copy stays, audited token:ops', async () => {
  const s = await setup();
  const q = s.state.getQuarantine('trap')!;
  assert.ok(existsSync(q.path));
  const r = await api(s.f, 'POST', '/api/v1/sources/trap/drop', { token: s.overrides });
  assert.equal(r.status, 200, JSON.stringify(r.json));
  assert.equal(r.json.decision.deleted, q.path);
  assert.equal(existsSync(q.path), false);
  assert.equal(s.state.getSource('trap')!.entries, 1001);
  const a = readAudit(s.db).filter((e) => e.action === 'source.drop');
  assert.deepEqual(a.map((e) => [e.actor, e.target, e.after]), [['token:ops', 'source:trap', { deleted: q.path }]]);
});

test('a sync running elsewhere holds the lease: accept, drop and sync now are 409s naming the holder; nothing changes', async () => {
  const s = await setup();
  const other = new SyncLeases(s.db, { command: 'quorumbl sync trap', host: 'mx2', pid: 4242 });
  const got = other.tryAcquire('trap');
  assert.ok('lease' in got);
  const q = s.state.getQuarantine('trap')!;
  for (const a of ['accept', 'drop']) {
    const r = await api(s.f, 'POST', `/api/v1/sources/trap/${a}`, { session: s.operator });
    assert.equal(r.status, 409, a);
    assert.match(r.json.error, /^a sync of 'trap' is running in pid 4242 on mx2 \(quorumbl sync trap\), since \d+ s; try again when it has ended$/);
  }
  // min_interval is not the refusal here: the never-synced source, held too.
  assert.ok('lease' in other.tryAcquire('fresh'));
  const r = await api(s.f, 'POST', '/api/v1/sources/fresh/sync', { session: s.operator });
  assert.equal(r.status, 409);
  assert.match(r.json.error, /pid 4242 on mx2 \(quorumbl sync trap\)/);
  assert.deepEqual(s.state.getQuarantine('trap'), q);
  assert.equal(existsSync(q.path), true);
  assert.equal(readAudit(s.db).filter((e) => e.action.startsWith('source.')).length, 0, 'refusals are not audited');
  other.release(got.lease);
  assert.equal((await api(s.f, 'POST', '/api/v1/sources/trap/accept', { session: s.operator })).status, 200, 'free again');
});

test('sync now: 202 with the run to watch, which ends ok; within min_interval a 429 says when; audited source.sync', async () => {
  const s = await setup();
  const r = await api(s.f, 'POST', '/api/v1/sources/fresh/sync', { session: s.operator });
  assert.equal(r.status, 202, JSON.stringify(r.json));
  assert.equal(r.json.run.source, 'fresh');
  assert.equal(r.json.watch, `/api/v1/sources/fresh/runs/${r.json.run.id}`);
  assert.equal(r.headers.get('location'), r.json.watch);
  let run: any;
  for (let i = 0; i < 200; i++) {
    run = (await api(s.f, 'GET', r.json.watch, { session: s.viewer })).json.run;
    if (run.outcome !== null) break;
    await new Promise((res) => setTimeout(res, 50));
  }
  assert.equal(run.outcome, 'ok', JSON.stringify(run));
  assert.equal(run.entries, 51);
  assert.equal(s.state.getSource('fresh')!.entries, 51);
  const a = readAudit(s.db).filter((e) => e.action === 'source.sync');
  assert.deepEqual(a.map((e) => [e.actor, e.target, e.after]), [['user:olga', 'source:fresh', { run: r.json.run.id }]]);
  assert.equal(a[0]!.before, null, 'never synced before');

  const soon = await api(s.f, 'POST', '/api/v1/sources/fresh/sync', { token: s.overrides });
  assert.equal(soon.status, 429);
  assert.match(soon.json.error, /^'fresh' was last fetched 0 min ago; its min_interval is 1 h \(the upstream's fetch limit\), so it may sync again at \d{4}-\d\d-\d\d \d\d:\d\d UTC$/);
  const retry = Number(soon.headers.get('retry-after'));
  assert.ok(retry > 3500 && retry <= 3600, String(retry));
  assert.equal(readAudit(s.db).filter((e) => e.action === 'source.sync').length, 1);
  assert.equal((await api(s.f, 'GET', '/api/v1/sources/trap/runs/999', { token: s.overrides })).status, 404);
});

test('sync now of a failing upstream: 202, the run ends failed with the upstream\'s error, the last good copy untouched', async () => {
  const s = await setup();
  const r = await api(s.f, 'POST', '/api/v1/sources/gone/sync', { token: s.overrides });
  assert.equal(r.status, 202, JSON.stringify(r.json));
  let run: any;
  for (let i = 0; i < 200; i++) {
    run = (await api(s.f, 'GET', r.json.watch, { token: s.overrides })).json.run;
    if (run.outcome !== null) break;
    await new Promise((res) => setTimeout(res, 50));
  }
  assert.equal(run.outcome, 'failed');
  assert.match(run.error, /HTTP 404/);
  const v = (await api(s.f, 'GET', '/api/v1/sources/gone', { token: s.overrides })).json.source;
  assert.equal(v.status, 'failing');
  assert.match(v.lastError, /HTTP 404/);
  assert.equal(existsSync(sourcePaths(s.dir, 'gone').current), false);
  assert.deepEqual(readAudit(s.db).filter((e) => e.action === 'source.sync').map((e) => e.actor), ['token:ops']);
});

test('console: a viewer sees no forms and a crafted POST is refused; an operator\'s form needs the CSRF token and decides (303, audited)', async () => {
  const s = await setup();
  const page = async (who: { cookie: string }) => (await fetch(`${s.f.base}/sources`, { headers: { cookie: who.cookie } })).text();
  const v = await page(s.viewer);
  assert.match(v, /quarantined since/);
  assert.doesNotMatch(v, /action="\/sources\/trap\/(accept|drop)"|action="\/sources\/fresh\/sync"/);
  assert.match(v, /An operator can accept or drop it/);
  const o = await page(s.operator);
  assert.match(o, /action="\/sources\/trap\/accept"/);
  assert.match(o, /action="\/sources\/fresh\/sync"/);
  const at = /name="at" value="(\d+)"/.exec(o)![1]!;
  const post = (who: { cookie: string }, form: Record<string, string>) => fetch(`${s.f.base}/sources/trap/drop`, {
    method: 'POST', redirect: 'manual',
    headers: { cookie: who.cookie, origin: s.f.base, 'sec-fetch-site': 'same-origin', 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(form).toString(),
  });
  assert.equal((await post(s.viewer, { _csrf: s.viewer.csrf, at })).status, 403);
  assert.equal((await post(s.operator, { at })).status, 403, 'no CSRF token');
  assert.equal(readAudit(s.db).filter((e) => e.action.startsWith('source.')).length, 0);
  const stale = await post(s.operator, { _csrf: s.operator.csrf, at: String(Number(at) - 1) });
  assert.equal(stale.status, 409);
  assert.match(await stale.text(), /Not dropped: the quarantined update of &#39;trap&#39; changed since you looked/);
  const r = await post(s.operator, { _csrf: s.operator.csrf, at });
  assert.equal(r.status, 303);
  assert.equal(r.headers.get('location'), '/sources?done=dropped#source-trap');
  assert.deepEqual(readAudit(s.db).filter((e) => e.action.startsWith('source.')).map((e) => [e.action, e.actor]), [['source.drop', 'user:olga']]);
  assert.equal((await fetch(`${s.f.base}/sources/nosuch`, { headers: { cookie: s.viewer.cookie } })).status, 404);
});
