// Errors of console form posts are pages in the console's layout (what happened, what to do,
// Retry-After kept), not the API's JSON; the API's errors stay JSON. Over real HTTP with a real
// SQLite file: the disk gate (a state disk that cannot take writes), a write failing on a full
// disk (SQLITE_FULL), a form too large (413), a bug (500), no session (401), a missing CSRF
// token (403). The same with a real `serve` on a full tmpfs: test/web/browser/error-page.test.ts.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createApp } from '../../../web/app.ts';
import { startWeb, type WebServer } from '../../../web/server.ts';
import { LocalStore } from '../../../sync/local/store.ts';
import { Users } from '../../../sync/local/users.ts';
import { DiskUnavailableError, type DiskGuard } from '../../../core/disk.ts';
import { Clock, tmpDb } from '../../sync/local/helpers.ts';
import { api, login, PW, type Fixture, type Session } from '../auth/helpers.ts';

const servers: WebServer[] = [];
after(async () => {
  for (const s of servers) await s.close();
});

async function setup() {
  const { db } = tmpDb();
  const clock = new Clock(Date.now());
  const store = new LocalStore(db, { reputation: { half_life: 7 * 86400, cap: 10 }, now: clock.now });
  const users = new Users(db, clock.now);
  await users.create('admin', 'admin', PW.admin, 'test');
  let full = false;
  const disk: DiskGuard = {
    get writable() { return !full; },
    report: () => false,
    refusal: () => (full ? new DiskUnavailableError('full', 'the state disk is full (ENOSPC writing /state/x): writes are refused until space returns', 10) : null),
  };
  const logged: unknown[] = [];
  const app = createApp({ store, disk, onError: (e) => logged.push(e), console: { now: clock.now } });
  const server = await startWeb({ app, listen: { address: '127.0.0.1', port: 0 } });
  servers.push(server);
  const host = `127.0.0.1:${server.port}`;
  const f = { base: `http://${host}`, host, store, users, clock, failures: [], adminToken: store.tokens.create('root', 'admin', 'test').token } as Fixture;
  return { f, store, logged, setFull: (v: boolean) => (full = v) };
}

async function post(f: Fixture, path: string, s: Session | null, fields: Record<string, string>) {
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded', origin: f.base, 'sec-fetch-site': 'same-origin', referer: `${f.base}/lookup?key=192.0.2.9` };
  if (s) headers.cookie = s.cookie;
  const res = await fetch(f.base + path, { method: 'POST', redirect: 'manual', headers, body: new URLSearchParams(fields).toString() });
  return { status: res.status, headers: res.headers, html: await res.text() };
}

const allow = (s: Session, extra: Record<string, string> = {}) => ({ _csrf: s.csrf, key: '192.0.2.9', action: 'allow', reason: 'ticket 1', expires: '1d', ...extra });

function assertPage(r: { status: number; headers: Headers; html: string }, status: number, title: RegExp) {
  assert.equal(r.status, status, r.html.slice(0, 300));
  assert.match(r.headers.get('content-type') ?? '', /^text\/html/);
  assert.match(r.html, /^<!DOCTYPE html>|^<html/i);
  assert.match(r.html, /<link rel="stylesheet" href="\/console\/console.css"/, 'the console layout');
  assert.match(r.html, title);
  assert.equal(r.headers.get('content-security-policy'), "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'");
  assert.equal(r.headers.get('cache-control'), 'no-store');
}

test('a console form post while the state disk cannot take writes: a 503 page saying what to do, Retry-After kept; the API still answers JSON', async () => {
  const { f, store, setFull } = await setup();
  const s = await login(f, 'admin', PW.admin);
  setFull(true);
  const r = await post(f, '/lookup/override', s, allow(s));
  assertPage(r, 503, /<h1>The change was not saved<\/h1>/);
  assert.equal(r.headers.get('retry-after'), '10');
  assert.match(r.html, /The state disk is full \(ENOSPC writing \/state\/x\): writes are refused until space returns/);
  assert.match(r.html, /Free space on the state disk/);
  assert.match(r.html, /in 10 s at the earliest/);
  assert.match(r.html, /signed in as <strong>admin<\/strong>/, 'the user is shown: still signed in');
  assert.match(r.html, /<a href="\/lookup\?key=192\.0\.2\.9">Go back<\/a>/, 'back to the page the form was on');
  assert.equal(store.overrides.list().length, 0);
  // The API: JSON as before.
  const a = await api(f, 'POST', '/api/v1/overrides', { token: f.adminToken, body: { action: 'deny', key: '192.0.2.1', reason: 'x' } });
  assert.equal(a.status, 503);
  assert.match(a.headers.get('content-type')!, /^application\/json/);
  assert.match(a.json.error, /state disk is full/);
  // Reads go on; once writable the same form works.
  assert.equal((await fetch(f.base + '/lookup?key=192.0.2.9', { headers: { cookie: s.cookie } })).status, 200);
  setFull(false);
  assert.equal((await post(f, '/lookup/override', s, allow(s))).status, 303);
  assert.equal(store.overrides.list().length, 1);
});

test('a write failing on the disk (SQLITE_FULL), a form too large, a bug, no session, no CSRF token: each a page with its status', async () => {
  const { f, store, logged } = await setup();
  const s = await login(f, 'admin', PW.admin);
  const real = store.addOverride.bind(store);
  store.addOverride = () => {
    throw Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' });
  };
  const full = await post(f, '/lookup/override', s, allow(s));
  assertPage(full, 503, /The change was not saved/);
  assert.match(full.html, /The state disk is full \(SQLITE_FULL\): the change was not saved/);
  assert.ok(Number(full.headers.get('retry-after')) > 0);

  store.addOverride = () => {
    throw new Error('a bug <script>alert(1)</script>');
  };
  const loggedBefore = logged.length;
  const bug = await post(f, '/lookup/override', s, allow(s));
  assertPage(bug, 500, /<h1>Something went wrong<\/h1>/);
  assert.match(bug.html, /Internal error/);
  assert.doesNotMatch(bug.html, /a bug|<script>/, 'the error itself stays in the log');
  assert.equal(logged.length, loggedBefore + 1, 'the 500 is logged');
  store.addOverride = real;

  const big = await post(f, '/lookup/override', s, allow(s, { reason: 'x'.repeat(20_000) }));
  assertPage(big, 413, /<h1>The form is too large<\/h1>/);
  assert.match(big.html, /Shorten the text/);
  const bigOverrides = await post(f, '/overrides', s, { ...allow(s), reason: 'x'.repeat(20_000) });
  assertPage(bigOverrides, 413, /The form is too large/);
  const bigLogout = await post(f, '/logout', s, { _csrf: s.csrf, pad: 'x'.repeat(20_000) });
  assertPage(bigLogout, 413, /The form is too large/);

  const anon = await post(f, '/lookup/override', null, { key: '192.0.2.9' });
  assertPage(anon, 401, /<h1>Not signed in<\/h1>/);
  assert.match(anon.html, /<a href="\/login">Sign in<\/a>/);

  const csrf = await post(f, '/lookup/override', s, { ...allow(s), _csrf: 'wrong' });
  assertPage(csrf, 403, /<h1>The form could not be accepted<\/h1>/);
  assert.match(csrf.html, /reload the page/);
  assert.equal(store.overrides.list().length, 0, 'nothing was stored');

  // An unknown console path: a page; an unknown API path and the API's own errors: JSON.
  const nf = await fetch(f.base + '/nothing-here', { headers: { cookie: s.cookie } });
  assert.equal(nf.status, 404);
  assert.match(await nf.text(), /<h1>Not found<\/h1>/);
  const apiNf = await fetch(f.base + '/api/v1/nothing', { headers: { authorization: `Bearer ${f.adminToken}` } });
  assert.equal(apiNf.status, 404);
  assert.match(apiNf.headers.get('content-type')!, /^application\/json/);
  const apiBig = await api(f, 'POST', '/api/v1/overrides', { token: f.adminToken, body: { action: 'deny', key: '192.0.2.1', reason: 'x'.repeat(100_000) } });
  assert.equal(apiBig.status, 413);
  assert.match(apiBig.json.error, /larger than/);
});
