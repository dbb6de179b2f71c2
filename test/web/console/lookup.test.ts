// The Lookup page's forms over real HTTP (the real app, a real SQLite file): refused without a
// session, without the CSRF token, cross-site, and for a viewer; a bad key is a 400 page with
// the InputError's words; a write that fails on the database (read-only) changes nothing, and
// the same form then works. (The browser test drives the whole flow against `serve`.)

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readAudit } from '../../../sync/local/audit.ts';
import { login, PW, setup, type Fixture, type Session } from '../auth/helpers.ts';

async function form(f: Fixture, path: string, fields: Record<string, string>, s?: Session, headers: Record<string, string> = {}) {
  const res = await fetch(f.base + path, {
    method: 'POST',
    redirect: 'manual',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      ...(s ? { cookie: s.cookie, origin: f.base, 'sec-fetch-site': 'same-origin' } : {}),
      ...headers,
    },
    body: new URLSearchParams(fields).toString(),
  });
  return { status: res.status, location: res.headers.get('location'), text: await res.text() };
}

const allow = (csrf: string) => ({ _csrf: csrf, key: '192.0.2.1', action: 'allow', reason: 'ticket 1', expires: '1d' });

test('lookup forms: session, CSRF, same-origin and role are required; bad input is a clear 400 page', async () => {
  const f = await setup();
  const admin = await login(f, 'admin', PW.admin);
  const viewer = await login(f, 'vic', PW.viewer);
  assert.equal((await form(f, '/lookup/override', allow('x'))).status, 401, 'no session');
  assert.equal((await form(f, '/lookup/override', allow('wrong'), admin)).status, 403, 'wrong CSRF token');
  assert.equal((await form(f, '/lookup/override', allow(admin.csrf), admin, { 'sec-fetch-site': 'cross-site' })).status, 403, 'cross-site');
  assert.equal((await form(f, '/lookup/override', allow(viewer.csrf), viewer)).status, 403, 'viewer');
  assert.equal((await form(f, '/lookup/report', { _csrf: viewer.csrf, key: '192.0.2.1', kind: 'spam' }, viewer)).status, 403, 'viewer report');
  assert.equal(f.store.overrides.list().length, 0);
  assert.equal(f.store.reputation.events('192.0.2.1').length, 0);

  const bad = await fetch(f.base + '/lookup?key=' + encodeURIComponent('01.2.3.4'), { headers: { cookie: admin.cookie } });
  assert.equal(bad.status, 400);
  assert.match(await bad.text(), /leading zeros in an IPv4 address are ambiguous/);
  const noReason = await form(f, '/lookup/override', { ...allow(admin.csrf), reason: '  ' }, admin);
  assert.equal(noReason.status, 400);
  assert.match(noReason.text, /A reason is required/);
  const badExpiry = await form(f, '/lookup/override', { ...allow(admin.csrf), expires: '5y' }, admin);
  assert.equal(badExpiry.status, 400);
  assert.match(badExpiry.text, /1 day, 7 days, 30 days or never/);

  const ok = await form(f, '/lookup/override', allow(admin.csrf), admin);
  assert.equal(ok.status, 303);
  assert.equal(ok.location, '/lookup?key=192.0.2.1&done=allow');
  const o = f.store.overrides.byKey('192.0.2.1')!;
  assert.equal(o.action, 'allow');
  assert.equal(readAudit(f.store.db, { target: '192.0.2.1' })[0]!.actor, 'user:admin');
});

test('lookup forms: a write failing on the database changes nothing; the same form works afterwards', async () => {
  const f = await setup();
  const op = await login(f, 'olga', PW.operator);
  const before = readAudit(f.store.db, {}).length;
  f.store.db.pragma('query_only = ON'); // every write now fails with SQLITE_READONLY
  const r = await form(f, '/lookup/override', allow(op.csrf), op);
  assert.equal(r.status, 503, r.text);
  assert.match(r.text, /read-only|not saved/);
  const rep = await form(f, '/lookup/report', { _csrf: op.csrf, key: '192.0.2.1', kind: 'false-positive' }, op);
  assert.equal(rep.status, 503, rep.text);
  f.store.db.pragma('query_only = OFF');
  assert.equal(f.store.overrides.byKey('192.0.2.1'), null, 'no half-stored override');
  assert.equal(f.store.reputation.events('192.0.2.1').length, 0, 'no half-stored report');
  assert.equal(readAudit(f.store.db, {}).length, before, 'no audit row for what did not happen');
  assert.equal((await form(f, '/lookup/override', allow(op.csrf), op)).status, 303);
  assert.equal(f.store.overrides.byKey('192.0.2.1')?.author, 'olga');
  assert.equal(f.store.overlay.overrides.length, 1, 'the DNS overlay has it');
});
