// The Requests page's forms over real HTTP (the real app, a real SQLite file): refused without a
// session, without the CSRF token, cross-site, and for a viewer (who reads the queue without
// forms); a reject needs a note; approve makes the allow override naming the request; a second
// decision is a 409 page; the message is escaped in the HTML.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readAudit } from '../../../sync/local/audit.ts';
import { Removals } from '../../../sync/local/removals.ts';
import { login, PW, setup, type Fixture, type Session } from '../auth/helpers.ts';

async function form(f: Fixture, path: string, fields: Record<string, string>, s?: Session, headers: Record<string, string> = {}) {
  const res = await fetch(f.base + path, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...(s ? { cookie: s.cookie, origin: f.base, 'sec-fetch-site': 'same-origin' } : {}), ...headers },
    body: new URLSearchParams(fields).toString(),
  });
  return { status: res.status, location: res.headers.get('location'), text: await res.text() };
}

test('requests page: roles, CSRF, same-origin; approve and reject through the same service, audited', async () => {
  const f = await setup();
  const removals = new Removals(f.store);
  const a = removals.file({ key: '192.0.2.7', contact: 'a@example.net', message: 'fixed <img src=x onerror=alert(1)>', client: '198.51.100.1' });
  const b = removals.file({ key: 'spam.example', contact: 'b@example.net', message: 'please', client: '198.51.100.2' });
  const admin = await login(f, 'admin', PW.admin);
  const oper = await login(f, 'olga', PW.operator);
  const viewer = await login(f, 'vic', PW.viewer);

  const page = async (s: Session) => fetch(f.base + '/requests', { headers: { cookie: s.cookie } }).then(async (r) => ({ status: r.status, text: await r.text() }));
  const seen = await page(viewer);
  assert.equal(seen.status, 200);
  assert.match(seen.text, /fixed &lt;img src=x onerror=alert\(1\)&gt;/, 'the message escaped');
  assert.doesNotMatch(seen.text, /action="\/requests\//, 'no forms for a viewer');
  assert.match((await page(oper)).text, /action="\/requests\/1\/approve"/);
  assert.equal((await fetch(f.base + '/requests', { redirect: 'manual' })).status, 302, 'to /login without a session');

  const approve = (csrf: string) => ({ _csrf: csrf, note: 'relay fixed', expires: '7d' });
  assert.equal((await form(f, `/requests/${a.id}/approve`, approve('x'))).status, 401, 'no session');
  assert.equal((await form(f, `/requests/${a.id}/approve`, approve('wrong'), oper)).status, 403, 'wrong CSRF token');
  assert.equal((await form(f, `/requests/${a.id}/approve`, approve(oper.csrf), oper, { 'sec-fetch-site': 'cross-site' })).status, 403, 'cross-site');
  assert.equal((await form(f, `/requests/${a.id}/approve`, approve(viewer.csrf), viewer)).status, 403, 'viewer');
  assert.equal((await form(f, `/requests/${b.id}/reject`, { _csrf: viewer.csrf, note: 'no' }, viewer)).status, 403, 'viewer reject');
  assert.equal(removals.openCount(), 2);
  assert.equal(f.store.overrides.list().length, 0);

  const noNote = await form(f, `/requests/${b.id}/reject`, { _csrf: oper.csrf, note: ' ' }, oper);
  assert.equal(noNote.status, 400);
  assert.match(noNote.text, /A note is required to reject/);
  const badExpiry = await form(f, `/requests/${a.id}/approve`, { ...approve(oper.csrf), expires: '5y' }, oper);
  assert.equal(badExpiry.status, 400);
  assert.equal(removals.openCount(), 2, 'nothing decided by a refused form');

  const ok = await form(f, `/requests/${a.id}/approve`, approve(oper.csrf), oper);
  assert.equal(ok.status, 303, ok.text);
  assert.equal(ok.location, `/requests?done=approved&id=${a.id}#r-${a.id}`);
  const o = f.store.overrides.byKey('192.0.2.7')!;
  assert.deepEqual([o.action, o.reason, o.author], ['allow', `removal request #${a.id}: relay fixed`, 'olga']);
  assert.equal(f.store.overlay.lookupKey('192.0.2.7').override?.action, 'allow');
  const done = await fetch(f.base + ok.location!, { headers: { cookie: oper.cookie } }).then((r) => r.text());
  assert.match(done, new RegExp(`Request #${a.id} approved: 192\\.0\\.2\\.7 is allowed \\(override #${o.id}\\)`));
  // Someone else's crafted confirmation link confirms nothing.
  assert.doesNotMatch(await fetch(f.base + ok.location!, { headers: { cookie: admin.cookie } }).then((r) => r.text()), /approved: 192/);
  const again = await form(f, `/requests/${a.id}/reject`, { _csrf: admin.csrf, note: 'late' }, admin);
  assert.equal(again.status, 409);
  assert.match(again.text, /already approved by user:olga/);

  assert.equal((await form(f, `/requests/${b.id}/reject`, { _csrf: admin.csrf, note: 'still spamming' }, admin)).status, 303);
  assert.equal(removals.get(b.id)!.state, 'rejected');
  assert.equal(f.store.overrides.byKey('spam.example'), null, 'a rejection changes no override');
  assert.deepEqual(readAudit(f.store.db, { target: '192.0.2.7' }).map((e) => [e.action, e.actor]), [['removal.approve', 'user:olga'], ['override.add', 'user:olga']]);
  assert.deepEqual(readAudit(f.store.db, { target: 'spam.example' }).map((e) => [e.action, e.actor]), [['removal.reject', 'user:admin']]);
  assert.equal((await form(f, '/requests/999/approve', approve(admin.csrf), admin)).status, 404);
});
