// GET /api/v1/reputation and GET /api/v1/audit (filters) over real HTTP (the real app, a real
// SQLite file), and the Reputation and Audit console pages' server side: who may read, who may
// report (a viewer gets 403 and changes nothing), CSRF and same-origin on the form, bad input as
// a 400 naming the field, the 303 back and its confirmation with the new score. (The browser
// test drives the pages against `serve`: test/web/browser/reputation-audit.test.ts.)

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readAudit } from '../../sync/local/audit.ts';
import { api, login, PW, setup, type Fixture, type Session } from './auth/helpers.ts';

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

const page = async (f: Fixture, path: string, s: Session) => {
  const r = await fetch(f.base + path, { headers: { cookie: s.cookie }, redirect: 'manual' });
  return { status: r.status, text: await r.text() };
};

test('GET /api/v1/reputation: reports, overrides and admin tokens and every console role read; top keys vs the bar, events paged and filtered', async () => {
  const f = await setup();
  const tok = {
    reports: f.store.tokens.create('rspamd', 'reports', 'test').token,
    overrides: f.store.tokens.create('helpdesk', 'overrides', 'test').token,
  };
  for (let i = 0; i < 3; i++) f.store.report({ key: '192.0.2.7', kind: 'spam', reporter: 'rspamd', note: `run ${i}` });
  f.store.report({ key: 'spam.example', kind: 'trap', reporter: 'trap' });
  f.store.report({ key: '192.0.2.8', kind: 'ham', reporter: 'alice' });
  assert.equal((await api(f, 'GET', '/api/v1/reputation')).status, 401);
  for (const token of [tok.reports, tok.overrides, f.adminToken]) assert.equal((await api(f, 'GET', '/api/v1/reputation', { token })).status, 200);
  const viewer = await login(f, 'vic', PW.viewer);
  const r = await api(f, 'GET', '/api/v1/reputation', { session: viewer });
  assert.equal(r.status, 200);
  assert.equal(r.json.bar, 3);
  assert.deepEqual(r.json.top.map((k: any) => [k.key, k.overBar, k.events]), [['192.0.2.7', true, 3], ['spam.example', false, 1]]);
  assert.equal(r.json.overBar, 1);
  assert.deepEqual(r.json.events.map((e: any) => e.key), ['192.0.2.8', 'spam.example', '192.0.2.7', '192.0.2.7', '192.0.2.7']);
  assert.equal(r.json.next, null);
  // Paging: two at a time, then the rest.
  const p1 = await api(f, 'GET', '/api/v1/reputation?limit=2', { token: tok.reports });
  assert.equal(p1.json.events.length, 2);
  const p2 = await api(f, 'GET', `/api/v1/reputation?limit=2&before=${p1.json.next}`, { token: tok.reports });
  const p3 = await api(f, 'GET', `/api/v1/reputation?limit=2&before=${p2.json.next}`, { token: tok.reports });
  assert.deepEqual([...p1.json.events, ...p2.json.events, ...p3.json.events].map((e: any) => e.id), r.json.events.map((e: any) => e.id));
  assert.equal(p3.json.next, null);
  // Filters: a key in another spelling, kind, reporter.
  assert.deepEqual((await api(f, 'GET', '/api/v1/reputation?key=SPAM.example.', { token: tok.overrides })).json.events.map((e: any) => e.kind), ['trap']);
  assert.equal((await api(f, 'GET', '/api/v1/reputation?kind=spam&reporter=rspamd', { token: tok.overrides })).json.events.length, 3);
  assert.deepEqual((await api(f, 'GET', '/api/v1/reputation?top=1', { token: tok.overrides })).json.top.map((k: any) => k.key), ['192.0.2.7']);
  // Bad input: 400 naming the field.
  for (const [q, field] of [['kind=bogus', 'kind'], ['key=192.0.2.0/24', 'key'], ['before=99999', 'before'], ['limit=0', 'limit'], ['top=x', 'top']]) {
    const bad = await api(f, 'GET', `/api/v1/reputation?${q}`, { token: tok.reports });
    assert.equal(bad.status, 400, q);
    assert.equal(bad.json.field, field, `${q}: ${JSON.stringify(bad.json)}`);
  }
  // Reads only: the route takes no POST (a report is POST /api/v1/reports).
  assert.equal((await api(f, 'POST', '/api/v1/reputation', { token: f.adminToken, body: {} })).status, 404);
});

test('GET /api/v1/audit: admin only; filters actor, target, action prefix, since/until; keyset paging; errors name the field; both routes in the OpenAPI document', async () => {
  const f = await setup();
  const ops = f.store.tokens.create('helpdesk', 'overrides', 'test').token;
  f.store.addOverride({ action: 'deny', key: '198.51.100.0/24', reason: 'r', author: 'olga' }, { actor: 'user:olga' });
  f.store.report({ key: '198.51.100.7', kind: 'spam', reporter: 'olga' }, 'user:olga');
  f.store.addOverride({ action: 'allow', key: '198.51.100.7', reason: 'r', author: 'root' }, { actor: 'token:root' });
  const operator = await login(f, 'olga', PW.operator);
  assert.equal((await api(f, 'GET', '/api/v1/audit', { token: ops })).status, 403);
  assert.equal((await api(f, 'GET', '/api/v1/audit', { session: operator })).status, 403);
  const get = async (q: string) => {
    const r = await api(f, 'GET', `/api/v1/audit?${q}`, { token: f.adminToken });
    assert.equal(r.status, 200, `${q}: ${JSON.stringify(r.json)}`);
    return r.json.entries.map((e: any) => `${e.action} ${e.actor} ${e.target}`);
  };
  assert.deepEqual(await get('actor=user:olga&action=override.'), ['override.add user:olga 198.51.100.0/24']);
  assert.deepEqual(await get('action=reputation.*'), ['reputation.report user:olga 198.51.100.7']);
  assert.deepEqual(await get('target=198.51.100.7&actor=token:root'), ['override.add token:root 198.51.100.7']);
  assert.deepEqual(await get(`since=${Date.now() + 86_400_000}`), []);
  assert.equal((await get(`since=2020-01-01&until=${new Date(Date.now() + 60_000).toISOString()}&action=override.`)).length, 2);
  const first = await api(f, 'GET', '/api/v1/audit?limit=2&action=override.', { token: f.adminToken });
  assert.equal(first.json.entries.length, 2);
  assert.equal(first.json.next, null, 'two override rows: one page');
  const seen: number[] = [];
  for (let before = '', n = 0; n < 20; n++) {
    const r = await api(f, 'GET', `/api/v1/audit?limit=2${before}`, { token: f.adminToken });
    seen.push(...r.json.entries.map((e: any) => e.id));
    if (r.json.next === null) break;
    before = `&before=${r.json.next}`;
  }
  assert.deepEqual(seen, readAudit(f.store.db, {}).map((e) => e.id), 'pages of 2 = the whole log');
  for (const [q, field] of [['since=yesterday', 'since'], ['until=2020-01-01&since=2021-01-01', 'until'], ['action=DROP%20TABLE', 'action'], ['before=0', 'before'], ['target=1.2.3.256', 'target']]) {
    const bad = await api(f, 'GET', `/api/v1/audit?${q}`, { token: f.adminToken });
    assert.equal(bad.status, 400, q);
    assert.equal(bad.json.field, field, `${q}: ${JSON.stringify(bad.json)}`);
  }
  const doc = (await (await fetch(`${f.base}/api/openapi.json`)).json()) as any;
  const names = (p: string) => doc.paths[p].get.parameters.map((x: any) => x.name).sort();
  assert.deepEqual(names('/audit'), ['action', 'actor', 'before', 'limit', 'since', 'target', 'until']);
  assert.deepEqual(names('/reputation'), ['before', 'key', 'kind', 'limit', 'reporter', 'top']);
  assert.ok(doc.paths['/reputation'].get.responses['200'].content['application/json'].schema);
});

test('Reputation page: every role reads; the report form (operator, admin) goes through LocalStore.report, 303 back naming the new score; a viewer gets no form and 403', async () => {
  const f = await setup();
  const operator = await login(f, 'olga', PW.operator);
  const viewer = await login(f, 'vic', PW.viewer);
  const v = await page(f, '/reputation', viewer);
  assert.equal(v.status, 200);
  assert.doesNotMatch(v.text, /action="\/reputation" method="post"|method="post" action="\/reputation"/, 'no form for a viewer');
  assert.match(v.text, /Your role \(viewer\) reads reputation/);
  assert.match((await page(f, '/reputation', operator)).text, /method="post" action="\/reputation"/);
  const report = (s: Session, extra: Record<string, string> = {}) => ({ _csrf: s.csrf, key: '192.0.2.7', kind: 'spam', note: 'from the form', ...extra });
  assert.equal((await form(f, '/reputation', report(viewer), viewer)).status, 403, 'viewer');
  assert.equal((await form(f, '/reputation', report(operator))).status, 401, 'no session');
  assert.equal((await form(f, '/reputation', report(operator, { _csrf: 'wrong' }), operator)).status, 403, 'CSRF');
  assert.equal((await form(f, '/reputation', report(operator), operator, { 'sec-fetch-site': 'cross-site' })).status, 403, 'cross-site');
  assert.equal(f.store.reputation.events('192.0.2.7').length, 0, 'nothing reported by the refusals');
  const bad = await form(f, '/reputation', report(operator, { key: '192.0.2.0/24' }), operator);
  assert.equal(bad.status, 400);
  assert.match(bad.text, /id="report-error">key &quot;192\.0\.2\.0\/24&quot;/);
  assert.match(bad.text, /value="192\.0\.2\.0\/24"/, 'the typed key is kept');
  const badKind = await form(f, '/reputation', report(operator, { kind: 'nice' }), operator);
  assert.equal(badKind.status, 400);
  assert.match(badKind.text, /kind must be one of spam, trap, ham, false-positive/);
  let loc = '';
  for (let i = 0; i < 3; i++) {
    const ok = await form(f, '/reputation', report(operator), operator);
    assert.equal(ok.status, 303);
    loc = ok.location!;
  }
  const id = f.store.reputation.events('192.0.2.7')[0]!.id;
  assert.equal(loc, `/reputation?done=${id}`);
  const after = await page(f, loc, operator);
  assert.match(after.text, new RegExp(`Recorded: spam on 192\\.0\\.2\\.7 \\(event #${id}\\)\\. Its score is now <strong>3\\.00</strong>, at or over the bar 3`));
  assert.equal(readAudit(f.store.db, { target: '192.0.2.7' })[0]!.actor, 'user:olga');
  assert.equal(f.store.reputation.events('192.0.2.7')[0]!.reporter, 'olga');
  assert.doesNotMatch((await page(f, loc, viewer)).text, /Recorded:/, 'a done= link confirms only the reporter\'s own event');
  // A bad filter is an inline error, not a 500.
  const badFilter = await page(f, '/reputation?key=not..valid', viewer);
  assert.equal(badFilter.status, 400);
  assert.match(badFilter.text, /id="filter-error"/);
});

test('Audit page: admins only (an operator gets 403, no nav entry); filters; a bad filter is a 400 naming the form field', async () => {
  const f = await setup();
  f.store.report({ key: '192.0.2.7', kind: 'spam', reporter: 'olga', note: '<b>bold</b>' }, 'user:olga');
  const operator = await login(f, 'olga', PW.operator);
  const admin = await login(f, 'admin', PW.admin);
  const o = await page(f, '/audit', operator);
  assert.equal(o.status, 403);
  assert.doesNotMatch((await page(f, '/reputation', operator)).text, /href="\/audit"/);
  assert.match((await page(f, '/reputation', admin)).text, /href="\/audit"/);
  const a = await page(f, '/audit?key=192.0.2.7&action=reputation.', admin);
  assert.equal(a.status, 200);
  assert.match(a.text, /reputation\.report/);
  assert.match(a.text, /&lt;b&gt;bold&lt;\/b&gt;/, 'JSON shown as escaped text');
  assert.doesNotMatch(a.text, /<b>bold/);
  const none = await page(f, '/audit?actor=user:nobody', admin);
  assert.match(none.text, /No entry matches/);
  const bad = await page(f, '/audit?from=yesterday', admin);
  assert.equal(bad.status, 400);
  assert.match(bad.text, /id="filter-error">from &quot;yesterday&quot;/);
});

test('Reputation form: a write failing on the database (read-only) is a 503 that changes nothing; the same form works afterwards', async () => {
  const f = await setup();
  const op = await login(f, 'olga', PW.operator);
  const before = readAudit(f.store.db, {}).length;
  f.store.db.pragma('query_only = ON'); // every write now fails with SQLITE_READONLY
  const r = await form(f, '/reputation', { _csrf: op.csrf, key: '192.0.2.1', kind: 'spam' }, op);
  assert.equal(r.status, 503, r.text);
  assert.match(r.text, /read-only|not saved/);
  // Reads keep working.
  assert.equal((await page(f, '/reputation', op)).status, 200);
  f.store.db.pragma('query_only = OFF');
  assert.equal(f.store.reputation.events('192.0.2.1').length, 0, 'no half-stored report');
  assert.equal(f.store.overlay.lookupKey('192.0.2.1').score, 0, 'the DNS overlay is unchanged');
  assert.equal(readAudit(f.store.db, {}).length, before, 'no audit row for what did not happen');
  assert.equal((await form(f, '/reputation', { _csrf: op.csrf, key: '192.0.2.1', kind: 'spam' }, op)).status, 303);
  assert.equal(f.store.overlay.lookupKey('192.0.2.1').score, 1, 'the DNS overlay has it');
});
