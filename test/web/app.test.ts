// The REST API through a real HTTP server on loopback, with a real SQLite file behind it.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { createApp } from '../../web/app.ts';
import { startWeb, type WebServer } from '../../web/server.ts';
import { LocalStore } from '../../sync/local/store.ts';
import { parseKey } from '../../sync/local/keys.ts';
import type { Overlay } from '../../sync/local/overlay.ts';
import { tmpDb } from '../sync/local/helpers.ts';
import { buildEvidence } from '../../sync/merge/evidence.ts';
import { MergeView } from '../../sync/merge/evaluate.ts';
import { explain } from '../../sync/merge/explain.ts';

const CFG = { half_life: 7 * 86400, cap: 10 };

interface Fixture {
  base: string;
  store: LocalStore;
  swaps: Overlay[];
  tok: { reports: string; overrides: string; admin: string };
  server: WebServer;
}

const servers: WebServer[] = [];
after(async () => {
  for (const s of servers) await s.close();
});

async function setup(explain?: (key: string) => unknown): Promise<Fixture> {
  const { db } = tmpDb();
  const swaps: Overlay[] = [];
  const store = new LocalStore(db, { reputation: CFG, onChange: (o) => swaps.push(o) });
  const tok = {
    reports: store.tokens.create('rspamd', 'reports', 'test').token,
    overrides: store.tokens.create('helpdesk', 'overrides', 'test').token,
    admin: store.tokens.create('root', 'admin', 'test').token,
  };
  const server = await startWeb({ app: createApp({ store, explain, maxBodyBytes: 16 * 1024 }), listen: { address: '127.0.0.1', port: 0 } });
  servers.push(server);
  return { base: `http://127.0.0.1:${server.port}`, store, swaps, tok, server };
}

async function call(f: Fixture, method: string, path: string, opts: { token?: string; body?: unknown; raw?: string; type?: string } = {}) {
  const headers: Record<string, string> = {};
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  let body: string | undefined;
  if (opts.raw !== undefined || opts.body !== undefined) {
    body = opts.raw ?? JSON.stringify(opts.body);
    headers['content-type'] = opts.type ?? 'application/json';
  }
  const res = await fetch(f.base + path, { method, headers, body });
  const text = await res.text();
  assert.match(res.headers.get('content-type') ?? '', /^application\/json/, `${method} ${path}: ${text}`);
  return { status: res.status, json: JSON.parse(text) as Record<string, any>, headers: res.headers };
}

test('authentication: 401 without, with a malformed, unknown or revoked token', async () => {
  const f = await setup();
  const r1 = await call(f, 'GET', '/api/v1/overrides');
  assert.equal(r1.status, 401);
  assert.match(r1.json.error, /missing bearer token/);
  assert.match(r1.headers.get('www-authenticate')!, /^Bearer/);
  const r2 = await fetch(f.base + '/api/v1/overrides', { headers: { authorization: `Basic ${Buffer.from('a:b').toString('base64')}` } });
  assert.equal(r2.status, 401);
  assert.match(((await r2.json()) as { error: string }).error, /must be "Bearer <token>"/);
  assert.equal((await call(f, 'GET', '/api/v1/overrides', { token: 'qbl_' + 'A'.repeat(43) })).status, 401);
  assert.equal((await call(f, 'GET', '/api/v1/overrides', { token: f.tok.overrides.slice(0, -1) + 'x' })).status, 401);
  assert.equal((await call(f, 'GET', '/api/v1/overrides', { token: f.tok.overrides })).status, 200);
  f.store.tokens.revoke('helpdesk', 'test');
  const r3 = await call(f, 'GET', '/api/v1/overrides', { token: f.tok.overrides });
  assert.equal(r3.status, 401);
  assert.match(r3.json.error, /invalid or revoked/);
});

test('scopes: each token does its own job; admin does everything', async () => {
  const f = await setup();
  const report = { key: '192.0.2.1', kind: 'spam' };
  const ovr = { action: 'deny', key: '192.0.2.0/24', reason: 'test' };
  const expect = async (token: string, method: string, path: string, body: unknown, status: number) =>
    assert.equal((await call(f, method, path, { token, body })).status, status, `${method} ${path}`);
  await expect(f.tok.reports, 'POST', '/api/v1/reports', report, 201);
  await expect(f.tok.reports, 'GET', '/api/v1/overrides', undefined, 403);
  await expect(f.tok.reports, 'POST', '/api/v1/overrides', ovr, 403);
  await expect(f.tok.reports, 'GET', '/api/v1/audit', undefined, 403);
  await expect(f.tok.overrides, 'POST', '/api/v1/reports', report, 403);
  await expect(f.tok.overrides, 'POST', '/api/v1/overrides', ovr, 201);
  await expect(f.tok.overrides, 'GET', '/api/v1/audit', undefined, 403);
  await expect(f.tok.admin, 'POST', '/api/v1/reports', report, 201);
  await expect(f.tok.admin, 'GET', '/api/v1/overrides', undefined, 200);
  await expect(f.tok.admin, 'GET', '/api/v1/audit', undefined, 200);
  const r = await call(f, 'GET', '/api/v1/audit', { token: f.tok.overrides });
  assert.match(r.json.error, /token 'helpdesk' has scope 'overrides'; this needs 'admin'/);
});

test('POST /reports stores the event and returns it with the score', async () => {
  const f = await setup();
  const r = await call(f, 'POST', '/api/v1/reports', { token: f.tok.reports, body: { key: '2001:DB8::25', kind: 'trap', weight: 1.5, note: 'hit trap@' } });
  assert.equal(r.status, 201);
  assert.deepEqual({ ...r.json.event, id: 0, at: 0 }, { id: 0, at: 0, key: '2001:db8::25', kind: 'trap', weight: 1.5, reporter: 'rspamd', note: 'hit trap@' });
  // The real clock runs on: the score has decayed by a hair.
  assert.ok(Math.abs(r.json.score - 3) < 1e-3, String(r.json.score));
  assert.ok(Math.abs(f.store.overlay.lookupKey('2001:db8::25').score - 3) < 1e-3, 'the overlay has it when the call returns');
  const fp = await call(f, 'POST', '/api/v1/reports', { token: f.tok.reports, body: { key: '2001:db8::25', kind: 'false-positive', reporter: 'alice' } });
  assert.ok(Math.abs(fp.json.score + 1) < 1e-3);
  const audit = await call(f, 'GET', '/api/v1/audit?target=2001:db8:0::25', { token: f.tok.admin });
  assert.deepEqual(audit.json.entries.map((e: any) => [e.action, e.actor, e.target]), [
    ['reputation.false-positive', 'token:rspamd', '2001:db8::25'],
    ['reputation.report', 'token:rspamd', '2001:db8::25'],
  ]);
});

test('overrides: add (visible when the call returns), list, change expiry, remove, audit', async () => {
  const f = await setup();
  const t = f.tok.overrides;
  const swapsBefore = f.swaps.length;
  const add = await call(f, 'POST', '/api/v1/overrides', { token: t, body: { action: 'deny', key: '198.51.100.0/24', reason: 'snowshoe', expires: '2d' } });
  assert.equal(add.status, 201);
  const o = add.json.override;
  assert.equal(add.headers.get('location'), `/api/v1/overrides/${o.id}`);
  assert.equal(o.author, 'helpdesk');
  assert.equal(f.swaps.length, swapsBefore + 1, 'onChange ran before the response');
  assert.equal(f.store.overlay.lookup4(0xc6336407).override?.id, o.id);

  const list = await call(f, 'GET', '/api/v1/overrides', { token: t });
  assert.deepEqual(list.json.overrides.map((x: any) => x.key), ['198.51.100.0/24']);
  assert.equal((await call(f, 'GET', `/api/v1/overrides/${o.id}`, { token: t })).json.override.reason, 'snowshoe');

  const dup = await call(f, 'POST', '/api/v1/overrides', { token: t, body: { action: 'allow', key: '198.51.100.0/24', reason: 'again', author: 'bob' } });
  assert.equal(dup.status, 409);
  assert.match(dup.json.error, /already has an override/);
  const rep = await call(f, 'POST', '/api/v1/overrides', { token: t, body: { action: 'allow', key: '198.51.100.0/24', reason: 'again', author: 'bob', replace: true } });
  assert.equal(rep.status, 201);
  assert.equal(f.store.overlay.lookup4(0xc6336407).override?.action, 'allow');

  const patch = await call(f, 'PATCH', `/api/v1/overrides/${o.id}`, { token: t, body: { expires: null } });
  assert.equal(patch.status, 200);
  assert.equal(patch.json.override.expires, null);

  const del = await call(f, 'DELETE', `/api/v1/overrides/${o.id}`, { token: t });
  assert.equal(del.status, 200);
  assert.equal(del.json.removed.id, o.id);
  assert.equal(f.store.overlay.lookup4(0xc6336407).override, undefined);
  assert.equal((await call(f, 'DELETE', `/api/v1/overrides/${o.id}`, { token: t })).status, 404);
  assert.equal((await call(f, 'GET', `/api/v1/overrides/${o.id}`, { token: t })).status, 404);
  assert.equal((await call(f, 'PATCH', `/api/v1/overrides/${o.id}`, { token: t, body: { expires: '1d' } })).status, 404);
  const badId = await call(f, 'DELETE', '/api/v1/overrides/1;DROP', { token: t });
  assert.equal(badId.status, 400);
  assert.equal(badId.json.field, 'id');

  const audit = await call(f, 'GET', '/api/v1/audit?target=198.51.100.0/24', { token: f.tok.admin });
  const entries = audit.json.entries;
  assert.deepEqual(entries.map((e: any) => e.action), ['override.remove', 'override.expiry', 'override.replace', 'override.add']);
  assert.ok(entries.every((e: any) => e.actor === 'token:helpdesk'));
  assert.equal(entries[2].before.action, 'deny');
  assert.equal(entries[2].after.action, 'allow');
  assert.equal(entries[2].after.author, 'bob');
  assert.equal((await call(f, 'GET', '/api/v1/audit?limit=1', { token: f.tok.admin })).json.entries.length, 1);
  assert.equal((await call(f, 'GET', '/api/v1/audit?limit=0', { token: f.tok.admin })).json.field, 'limit');
  assert.equal((await call(f, 'GET', '/api/v1/audit?target=not..valid', { token: f.tok.admin })).json.field, 'target');
});

test('hostile input: clear 4xx errors, nothing stored', async () => {
  const f = await setup();
  const t = f.tok.admin;
  const post = (body: unknown, raw?: string, type?: string) => call(f, 'POST', '/api/v1/overrides', { token: t, body, raw, type });
  const ok = { action: 'deny', key: '192.0.2.1', reason: 'r' };

  const cases: [string, Promise<{ status: number; json: any }>, number, string | undefined, RegExp][] = [
    ['bad JSON', post(undefined, '{"action": "deny",'), 400, undefined, /not valid JSON/],
    ['array body', post([ok]), 400, undefined, /the body must be a JSON object/],
    ['not JSON', post(undefined, 'action=deny', 'application/x-www-form-urlencoded'), 415, undefined, /Content-Type: application\/json/],
    ['key as number', post({ ...ok, key: 3221225985 }), 400, 'key', /key/],
    ['reason as object', post({ ...ok, reason: { $ne: null } }), 400, 'reason', /reason/],
    ['action unknown', post({ ...ok, action: 'block' }), 400, 'action', /action/],
    ['unknown field', post({ ...ok, admin: true }), 400, 'admin', /unknown field 'admin'/],
    ['garbage key', post({ ...ok, key: '1.2.3.4.5' }), 400, 'key', /not a valid IPv4/],
    ['key with host bits', post({ ...ok, key: '192.0.2.1/24' }), 400, 'key', /the network is 192\.0\.2\.0\/24/],
    ['NUL in reason', post({ ...ok, reason: 'a\u0000b' }), 400, 'reason', /control characters/],
    ['terminal escape in author', post({ ...ok, author: '\u001b[2J' }), 400, 'author', /control characters/],
    ['long reason', post({ ...ok, reason: 'x'.repeat(501) }), 400, 'reason', /at most 500/],
    ['long key', post({ ...ok, key: 'a'.repeat(5000) }), 400, 'key', /too long/],
    ['past expiry', post({ ...ok, expires: '2001-01-01T00:00Z' }), 400, 'expires', /not in the future/],
    ['report weight string', call(f, 'POST', '/api/v1/reports', { token: t, body: { key: '192.0.2.1', kind: 'spam', weight: '1e9' } }), 400, 'weight', /weight/],
    ['report weight huge', call(f, 'POST', '/api/v1/reports', { token: t, body: { key: '192.0.2.1', kind: 'spam', weight: 1e9 } }), 400, 'weight', /at most 100/],
    ['report kind', call(f, 'POST', '/api/v1/reports', { token: t, body: { key: '192.0.2.1', kind: 'virus' } }), 400, 'kind', /kind/],
    ['report CIDR', call(f, 'POST', '/api/v1/reports', { token: t, body: { key: '192.0.2.0/24', kind: 'spam' } }), 400, 'key', /single address/],
  ];
  for (const [name, p, status, field, re] of cases) {
    const r = await p;
    assert.equal(r.status, status, `${name}: ${JSON.stringify(r.json)}`);
    assert.equal(r.json.field, field, name);
    assert.match(r.json.error, re, name);
  }

  const huge = await post({ ...ok, reason: 'x'.repeat(100_000) });
  assert.equal(huge.status, 413);
  assert.match(huge.json.error, /larger than 16384 bytes/);
  // Chunked, without Content-Length: the limit still holds.
  const chunked = await new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = request(`${f.base}/api/v1/overrides`, { method: 'POST', headers: { authorization: `Bearer ${t}`, 'content-type': 'application/json', 'transfer-encoding': 'chunked' } }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    });
    req.on('error', reject);
    for (let i = 0; i < 64; i++) req.write('x'.repeat(1024));
    req.end();
  });
  assert.equal(chunked.status, 413, chunked.body);

  const nf = await call(f, 'GET', '/api/v1/nothing', { token: t });
  assert.equal(nf.status, 404);
  assert.equal((await call(f, 'GET', '/', {})).status, 404);

  assert.deepEqual(f.store.overrides.list({ expired: true }), []);
  assert.equal(f.store.reputation.allStates().length, 0);
});

test('injection-looking strings are stored verbatim and come back as JSON', async () => {
  const f = await setup();
  const reason = `'); DROP TABLE overrides; -- <script>alert("x")</script> \\u0000 ${'${7*7}'} {{7*7}} 🚫`;
  const author = `"><img src=x onerror=alert(1)>`;
  const r = await call(f, 'POST', '/api/v1/overrides', { token: f.tok.admin, body: { action: 'deny', key: '*.Evil.example', reason, author } });
  assert.equal(r.status, 201);
  const list = await call(f, 'GET', '/api/v1/overrides', { token: f.tok.admin });
  assert.equal(list.json.overrides[0].reason, reason);
  assert.equal(list.json.overrides[0].author, author);
  assert.equal(list.json.overrides[0].key, '*.evil.example');
  assert.equal(f.store.overrides.list().length, 1, 'the table is still there');
});

test('explain: mounted only when given; any token may call it', async () => {
  const without = await setup();
  assert.equal((await call(without, 'GET', '/api/v1/explain/192.0.2.1', { token: without.tok.reports })).status, 404);
  const f = await setup((key) => {
    const k = parseKey(key, { cidr: false, wildcard: false }).key;
    return k === '192.0.2.99' ? null : { key: k, verdict: 'pass' };
  });
  const r = await call(f, 'GET', '/api/v1/explain/192.0.2.1', { token: f.tok.reports });
  assert.equal(r.status, 200);
  assert.deepEqual(r.json, { key: '192.0.2.1', verdict: 'pass' });
  assert.equal((await call(f, 'GET', '/api/v1/explain/192.0.2.99', { token: f.tok.reports })).status, 404);
  const bad = await call(f, 'GET', '/api/v1/explain/not..a..key', { token: f.tok.reports });
  assert.equal(bad.status, 400);
  assert.equal(bad.json.field, 'key');
  assert.equal((await call(f, 'GET', '/api/v1/explain/192.0.2.1')).status, 401);
});

test('startWeb reports a port in use', async () => {
  const f = await setup();
  await assert.rejects(startWeb({ app: createApp({ store: f.store }), listen: { address: '127.0.0.1', port: f.server.port } }), /cannot listen on 127\.0\.0\.1:\d+ for the web API: .*EADDRINUSE/);
});

test('a wide override: an overrides token gets 403 naming the limit, with or without force; an admin token with force stores it, audited as forced', async () => {
  const f = await setup();
  const body = { action: 'deny', key: '0.0.0.0/0', reason: 'whole Internet' };
  const r1 = await call(f, 'POST', '/api/v1/overrides', { token: f.tok.overrides, body });
  assert.equal(r1.status, 403);
  assert.equal(r1.json.field, 'force');
  assert.equal(r1.json.error, `deny 0.0.0.0/0 covers /0 (all of IPv4), wider than the limit /16 (policy.override_limits.v4): it needs force (CLI --force, API "force": true) by an admin; token 'helpdesk' has scope 'overrides'`);
  const r2 = await call(f, 'POST', '/api/v1/overrides', { token: f.tok.overrides, body: { ...body, force: true } });
  assert.equal(r2.status, 403);
  assert.match(r2.json.error, /force needs the admin scope; token 'helpdesk' has scope 'overrides'$/);
  const r3 = await call(f, 'POST', '/api/v1/overrides', { token: f.tok.admin, body });
  assert.equal(r3.status, 403, 'an admin must still say force');
  assert.match(r3.json.error, /it needs force .* by an admin$/);
  const pub = await call(f, 'POST', '/api/v1/overrides', { token: f.tok.overrides, body: { action: 'allow', key: '*.com', reason: 'x' } });
  assert.equal(pub.status, 403);
  assert.match(pub.json.error, /^allow \*\.com covers every name below the public suffix com/);
  assert.equal(f.store.overlay.lookup4(0xcb007109).override, undefined, 'nothing reached the overlay');
  assert.deepEqual((await call(f, 'GET', '/api/v1/audit', { token: f.tok.admin })).json.entries.filter((e: any) => !e.action.startsWith('token.')), [], 'refusals change nothing');

  const ok = await call(f, 'POST', '/api/v1/overrides', { token: f.tok.admin, body: { ...body, force: true, expires: '1h' } });
  assert.equal(ok.status, 201);
  const id = ok.json.override.id;
  assert.equal(f.store.overlay.lookup4(0xcb007109).override?.id, id, '203.0.113.9 is denied');
  // an overrides token may shorten or remove it, not make it last longer
  const longer = await call(f, 'PATCH', `/api/v1/overrides/${id}`, { token: f.tok.overrides, body: { expires: null } });
  assert.equal(longer.status, 403);
  assert.match(longer.json.error, /^extending deny 0\.0\.0\.0\/0/);
  assert.equal((await call(f, 'PATCH', `/api/v1/overrides/${id}`, { token: f.tok.overrides, body: { expires: '10m' } })).status, 200);
  const audit = (await call(f, 'GET', '/api/v1/audit?target=0.0.0.0/0', { token: f.tok.admin })).json.entries;
  assert.deepEqual(audit.map((e: any) => [e.action, e.actor, e.after.forced ?? false, e.after.width ?? null]), [
    ['override.expiry', 'token:helpdesk', false, null],
    ['override.add', 'token:root', true, '/0 (all of IPv4)'],
  ]);
  assert.equal((await call(f, 'DELETE', `/api/v1/overrides/${id}`, { token: f.tok.overrides })).status, 200);
});

test('explain with the real explain function: a bad key is a 400 naming the key, not a 500', async () => {
  const { db } = tmpDb();
  const store = new LocalStore(db, { reputation: CFG });
  const view = new MergeView(buildEvidence({ sources: [], providers: [], serial: 1 }), { threshold: 1, consensus: 2, providerExempt: true, providerBar: 5, reputationBar: 3, protectedDomains: [], weights: [] }, store.overlay);
  const errors: unknown[] = [];
  const admin = store.tokens.create('root', 'admin', 'test').token;
  const server = await startWeb({
    app: createApp({ store, explain: (key) => explain(key, { view, txt: { base: 'dnsbl.internal', lookupUrl: null } }), onError: (e) => errors.push(e) }),
    listen: { address: '127.0.0.1', port: 0 },
  });
  servers.push(server);
  const f = { base: `http://127.0.0.1:${server.port}` } as Fixture;
  for (const bad of ['not..a..key', '192.0.2.0%2F24', '1%3A2%3A3', 'a%20b']) {
    const r = await call(f, 'GET', `/api/v1/explain/${bad}`, { token: admin });
    assert.equal(r.status, 400, `${bad}: ${JSON.stringify(r.json)}`);
    assert.equal(r.json.field, 'key');
    assert.match(r.json.error, /^key "/);
  }
  assert.equal((await call(f, 'GET', '/api/v1/explain/192.0.2.1', { token: admin })).status, 200);
  assert.deepEqual(errors, [], 'no 500 was logged');
});
