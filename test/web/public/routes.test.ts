// The public lookup page over real HTTP (its own listener and under a prefix of the main app),
// against a real SQLite store: what a sender sees (nothing internal), the removal request and
// every refusal a hostile client meets (rate limits with Retry-After, body and message size,
// a bad address, an unlisted key, a missing form token, a cross-site post, forged
// X-Forwarded-For), and that the public listener serves nothing else.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDb } from '../../../core/db.ts';
import { DEFAULT_REPUTATION } from '../../../sync/local/reputation.ts';
import { Removals } from '../../../sync/local/removals.ts';
import { LocalStore } from '../../../sync/local/store.ts';
import type { Explanation } from '../../../sync/merge/explain.ts';
import { parseKey } from '../../../sync/merge/explain.ts';
import { createApp } from '../../../web/app.ts';
import { publicApp, type PublicOptions } from '../../../web/public/routes.tsx';
import { publicVerdict, PUBLIC_REASONS } from '../../../web/public/verdict.ts';
import { startWeb, type WebServer } from '../../../web/server.ts';

const servers: WebServer[] = [];
after(async () => {
  for (const s of servers) await s.close();
});

/** A stand-in for MergeService.explain: LISTED by a source, DENIED by an override, with the
 *  internal details a real explanation carries (which must never reach the page). */
const LISTED = '198.51.100.7';
const DENIED = 'spam.example';
function explain(text: string): Explanation {
  const k = parseKey(text);
  const reasons = k.key === LISTED ? [2] : k.key === DENIED ? [5] : k.key === '192.0.2.2' ? [] : [];
  return {
    key: k.key, kind: k.kind, serial: 1, builtAt: new Date(0).toISOString(), block: reasons.length > 0 || k.key === '127.0.0.2', reasons, allow: 0,
    answer: { zone: k.kind === 'domain' ? 'dbl' : 'bl', a: reasons.length ? ['127.0.0.2'] : [], txt: 'Listed by dnsbl.test (sources: secret-feed)', wl: null, wlTxt: null },
    test: k.key === '127.0.0.2', class: { id: 1, sources: ['secret-feed'], providers: [], interval: null },
    sources: [{ name: 'secret-feed', weight: 1, entry: LISTED, lastSuccess: null, ageSeconds: null }], providers: [], protectedBy: null,
    reputation: { score: 2.5, events: [{ kind: 'spam', weight: 1, reporter: 'trap-7', at: 0 }] },
    override: k.key === DENIED ? { id: 4, key: DENIED, action: 'deny', reason: 'internal ticket 99 by mallory', author: 'mallory', expires: null } as never : null,
    arithmetic: ['secret-feed 1.0 = 1.0 >= threshold 1.0'],
  };
}

function setup(o: Partial<PublicOptions> = {}, limits = { perClientHour: 2, globalHour: 50, maxMessage: 200, openPerKey: 3 }) {
  const db = openDb(join(mkdtempSync(join(tmpdir(), 'qbl-public-')), 'state.sqlite'));
  const store = new LocalStore(db, { reputation: DEFAULT_REPUTATION });
  const removals = new Removals(store, limits);
  const opts: PublicOptions = { prefix: '/public', explain, removals, lookupsPerMinute: 100, ...o };
  return { db, store, removals, opts };
}

async function listen(app: { fetch: (r: Request) => Response | Promise<Response> }): Promise<string> {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const s = await startWeb({ app: app as any, listen: { address: '127.0.0.1', port: 0 } });
  servers.push(s);
  return `http://127.0.0.1:${s.port}`;
}

/** A sender with a cookie jar of one cookie. */
function sender(base: string) {
  let cookie = '';
  const req = async (path: string, init: RequestInit = {}) => {
    const r = await fetch(base + path, { redirect: 'manual', ...init, headers: { ...(cookie ? { cookie } : {}), ...(init.headers as Record<string, string>) } });
    const set = r.headers.get('set-cookie');
    if (set) cookie = set.split(';')[0]!;
    return { status: r.status, headers: r.headers, text: await r.text() };
  };
  const token = async (key = LISTED) => {
    const page = await req(`/public/lookup?key=${encodeURIComponent(key)}`);
    return /name="_csrf" value="([^"]+)"/.exec(page.text)?.[1] ?? '';
  };
  const post = async (fields: Record<string, string>, headers: Record<string, string> = {}) =>
    req('/public/request', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body: new URLSearchParams(fields).toString() });
  return { req, token, post, get cookie() { return cookie; } };
}

test('publicVerdict keeps the category, drops everything internal', () => {
  const v = publicVerdict(explain(LISTED));
  assert.deepEqual(v, { key: LISTED, zone: 'bl', listed: true, reasons: [PUBLIC_REASONS.blocklist] });
  assert.deepEqual(publicVerdict(explain(DENIED)), { key: DENIED, zone: 'dbl', listed: true, reasons: [PUBLIC_REASONS.policy] });
  assert.deepEqual(publicVerdict({ ...explain(LISTED), reasons: [3, 4, 5] }).reasons, [PUBLIC_REASONS.blocklist, PUBLIC_REASONS.reputation, PUBLIC_REASONS.policy]);
  assert.deepEqual(publicVerdict(explain('127.0.0.2')).reasons, [PUBLIC_REASONS.test]);
  assert.deepEqual(publicVerdict(explain('192.0.2.9')), { key: '192.0.2.9', zone: 'bl', listed: false, reasons: [] });
  assert.doesNotMatch(JSON.stringify(publicVerdict(explain(DENIED))), /secret|mallory|ticket|trap|2\.5/);
});

test('own listener: the lookup, nothing internal, a request filed, and nothing else reachable', async () => {
  const { opts, removals, db } = setup();
  const base = await listen(publicApp(opts));
  const s = sender(base);

  const home = await s.req('/');
  assert.equal(home.status, 302);
  assert.equal(home.headers.get('location'), '/public/lookup');
  const empty = await s.req('/public/lookup');
  assert.equal(empty.status, 200);
  assert.match(empty.headers.get('set-cookie') ?? '', /^qbl_public=[\w-]{43}; Max-Age=3600; Path=\/public; HttpOnly; SameSite=Strict$/);
  assert.doesNotMatch(empty.headers.get('set-cookie') ?? '', /qbl_session/);
  assert.match(empty.headers.get('content-security-policy') ?? '', /default-src 'none'/);
  assert.equal((await s.req('/public/style.css')).status, 200);

  for (const path of ['/api/v1/overrides', '/api/openapi.json', '/login', '/metrics', '/readyz', '/livez', '/lookup?key=1.2.3.4', '/requests', '/console/console.css', '/public/../api/v1/overrides']) {
    const r = await s.req(path);
    assert.equal(r.status, 404, path);
    assert.doesNotMatch(r.text, /\{"error"|"overrides"/, path);
  }
  assert.equal((await s.req('/api/v1/overrides', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).status, 404);

  // Listed: the category only. Denied by an override: "this site's policy", no reason, no author.
  const listed = await s.req(`/public/lookup?key=${LISTED}`);
  assert.equal(listed.status, 200);
  assert.match(listed.text, /<strong>198\.51\.100\.7<\/strong> is <strong>listed<\/strong>/);
  assert.match(listed.text, /Listed by a public blocklist\./);
  assert.match(listed.text, /Request removal of 198\.51\.100\.7/);
  const denied = await s.req(`/public/lookup?key=${DENIED.toUpperCase()}.`);
  assert.match(denied.text, /<strong>spam\.example<\/strong> is <strong>listed<\/strong>/);
  assert.match(denied.text, /Listed by this site&#39;s policy\./);
  for (const page of [listed.text, denied.text]) assert.doesNotMatch(page, /secret-feed|mallory|ticket 99|trap-7|2\.5|127\.0\.0\.2|threshold/);
  const clear = await s.req('/public/lookup?key=192.0.2.9');
  assert.match(clear.text, /is <strong>not listed<\/strong>/);
  assert.doesNotMatch(clear.text, /<form[^>]*\/public\/request/, 'no removal form for an unlisted key');
  const badKey = await s.req('/public/lookup?key=10.0.0.0/8');
  assert.equal(badKey.status, 400);
  assert.match(badKey.text, /a single address is expected here/);

  // A request: 303 back to the lookup with "request #N received" (and no internal data).
  const csrf = await s.token();
  const ok = await s.post({ _csrf: csrf, key: LISTED, contact: 'postmaster@example.net', message: 'We closed the open relay.\nThanks!' });
  assert.equal(ok.status, 303, ok.text);
  const loc = ok.headers.get('location')!;
  assert.match(loc, /^\/public\/lookup\?key=198\.51\.100\.7&received=\d+$/);
  const id = Number(/received=(\d+)/.exec(loc)![1]);
  const got = await s.req(loc);
  assert.match(got.text, new RegExp(`Your removal request #${id} for 198\\.51\\.100\\.7 was received`));
  const row = removals.get(id)!;
  assert.deepEqual([row.key, row.contact, row.message, row.client, row.state], [LISTED, 'postmaster@example.net', 'We closed the open relay.\nThanks!', '127.0.0.1', 'open']);
  // A crafted "received" link for another key confirms nothing.
  assert.doesNotMatch((await s.req(`/public/lookup?key=${DENIED}&received=${id}`)).text, /was received/);
  assert.match((await s.req(`/public/lookup?key=${LISTED}`)).text, /already waiting for review/);
  const count = () => (db.prepare('SELECT count(*) AS n FROM removal_requests').get() as { n: number }).n;
  assert.equal(count(), 1);
});

test('refusals: token, origin, bad address, sizes, unlisted key, rate limits with Retry-After', async () => {
  const { opts, db } = setup({ lookupsPerMinute: 40 });
  const base = await listen(publicApp(opts));
  const s = sender(base);
  const count = () => (db.prepare('SELECT count(*) AS n FROM removal_requests').get() as { n: number }).n;
  const csrf = await s.token();
  const good = { _csrf: csrf, key: LISTED, contact: 'a@example.net', message: 'fixed' };

  const noToken = await s.post({ ...good, _csrf: 'x'.repeat(43) });
  assert.equal(noToken.status, 403);
  assert.match(noToken.text, /The form had expired/);
  const cross = await s.post(good, { origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' });
  assert.equal(cross.status, 403);
  assert.match(cross.text, /cross-site request refused/);
  const json = await s.req('/public/request', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(good) });
  assert.equal(json.status, 400);

  const badMail = await s.post({ ...good, contact: 'not an address <script>' });
  assert.equal(badMail.status, 400);
  assert.match(badMail.text, /Your e-mail address: is not an e-mail address/);
  assert.match(badMail.text, /value="not an address &lt;script&gt;"/, 'shown back escaped, to correct it');
  const long = await s.post({ ...good, message: 'x'.repeat(201) });
  assert.equal(long.status, 400);
  assert.match(long.text, /too long \(201 characters, at most 200\)/);
  const huge = await s.post({ ...good, message: 'x'.repeat(100_000) });
  assert.equal(huge.status, 413);
  assert.match(huge.text, /at most 200 characters/);
  const unlisted = await s.post({ ...good, key: '192.0.2.9' });
  assert.equal(unlisted.status, 409);
  assert.match(unlisted.text, /192\.0\.2\.9 is not listed: there is nothing to remove/);
  const cidr = await s.post({ ...good, key: '198.51.100.0/24' });
  assert.equal(cidr.status, 400);
  assert.equal(count(), 0, 'nothing stored by any refusal');

  // Two requests an hour per client address; X-Forwarded-For is not believed without trust_proxy.
  assert.equal((await s.post(good)).status, 303);
  assert.equal((await s.post({ ...good, key: DENIED })).status, 303);
  const third = await s.post({ ...good, key: DENIED, message: 'again' }, { 'x-forwarded-for': '203.0.113.99' });
  assert.equal(third.status, 429);
  const wait = Number(third.headers.get('retry-after'));
  assert.ok(wait > 3500 && wait <= 3600, `Retry-After ${wait}`);
  assert.match(third.text, /Too many removal requests\. Try again in \d+ s\./);
  assert.equal(count(), 2);

  // Lookups per minute per client: the 41st is refused, with Retry-After, whatever XFF claims.
  let last = 0;
  let refusal: { status: number; headers: Headers; text: string } | undefined;
  for (let i = 0; i < 45 && !refusal; i++) {
    const r = await s.req(`/public/lookup?key=192.0.2.${i}`, { headers: { 'x-forwarded-for': `203.0.113.${i}` } });
    if (r.status === 429) refusal = r;
    else last = i;
  }
  assert.ok(refusal, 'refused within the minute');
  assert.ok(last < 40);
  assert.ok(Number(refusal.headers.get('retry-after')) >= 1);
  assert.match(refusal.text, /Too many lookups from your address/);
});

test('a state disk that cannot take writes: 503 with Retry-After, nothing stored, the lookup still answers', async () => {
  let writable = false;
  const { opts, db } = setup({ canWrite: () => writable });
  const base = await listen(publicApp(opts));
  const s = sender(base);
  const csrf = await s.token();
  const good = { _csrf: csrf, key: LISTED, contact: 'a@example.net', message: 'fixed' };
  const r = await s.post(good);
  assert.equal(r.status, 503);
  assert.equal(r.headers.get('retry-after'), '300');
  assert.match(r.text, /Requests cannot be taken right now/);
  assert.match(r.text, /is <strong>listed<\/strong>/, 'the verdict is still shown');
  assert.equal((db.prepare('SELECT count(*) AS n FROM removal_requests').get() as { n: number }).n, 0);
  writable = true;
  // The write itself failing (the disk turned read-only under us): 503, nothing half-stored.
  db.pragma('query_only = ON');
  const failed = await s.post(good);
  assert.equal(failed.status, 503);
  assert.match(failed.text, /Requests cannot be taken right now/);
  db.pragma('query_only = OFF');
  assert.equal((db.prepare('SELECT count(*) AS n FROM removal_requests').get() as { n: number }).n, 0);
  assert.equal((await s.post(good)).status, 303, 'taken once the disk is back');
});

test('trust_proxy: the client is the last X-Forwarded-For; the global hourly cap holds for all', async () => {
  const { opts, removals } = setup({ trustProxy: true }, { perClientHour: 1, globalHour: 2, maxMessage: 200, openPerKey: 5 });
  const base = await listen(publicApp(opts));
  const s = sender(base);
  const csrf = await s.token();
  const good = { _csrf: csrf, key: LISTED, contact: 'a@example.net', message: 'fixed' };
  assert.equal((await s.post(good, { 'x-forwarded-for': '203.0.113.1' })).status, 303);
  assert.equal((await s.post(good, { 'x-forwarded-for': '203.0.113.1' })).status, 429, 'the same client');
  assert.equal((await s.post(good, { 'x-forwarded-for': 'forged, 203.0.113.2' })).status, 303, 'another client (the last entry counts)');
  const capped = await s.post(good, { 'x-forwarded-for': '203.0.113.3' });
  assert.equal(capped.status, 429, 'the global cap');
  assert.ok(Number(capped.headers.get('retry-after')) > 0);
  assert.deepEqual(removals.list().map((r) => r.client), ['203.0.113.1', '203.0.113.2']);
});

test('under a prefix of the main app; the API lists and decides', async () => {
  const { opts, store, removals } = setup();
  const token = store.tokens.create('ops', 'overrides', 'test').token;
  const readOnly = store.tokens.create('rep', 'reports', 'test').token;
  const base = await listen(createApp({ store, public: opts }));
  const s = sender(base);
  const csrf = await s.token();
  assert.equal((await s.post({ _csrf: csrf, key: LISTED, contact: 'a@example.net', message: 'fixed <img src=x onerror=alert(1)>' })).status, 303);
  assert.equal((await s.post({ _csrf: csrf, key: DENIED, contact: 'b@example.net', message: 'please' })).status, 303);
  const api = async (method: string, path: string, body?: unknown, t = token) => {
    const r = await fetch(`${base}/api/v1/removals${path}`, { method, headers: { authorization: `Bearer ${t}`, ...(body ? { 'content-type': 'application/json' } : {}) }, body: body ? JSON.stringify(body) : undefined });
    return { status: r.status, json: (await r.json()) as any };
  };
  const l = await api('GET', '?state=open');
  assert.equal(l.status, 200);
  assert.equal(l.json.open, 2);
  assert.deepEqual(l.json.requests.map((r: { key: string }) => r.key), [LISTED, DENIED]);
  const [a, b] = l.json.requests as { id: number }[];
  assert.equal((await api('GET', '', undefined, readOnly)).status, 403);
  assert.equal((await api('GET', `/${a!.id}`)).json.request.message, 'fixed <img src=x onerror=alert(1)>');
  assert.equal((await api('GET', '/999')).status, 404);
  assert.equal((await api('GET', '/abc')).status, 400);

  const noNote = await api('POST', `/${b!.id}/reject`, {});
  assert.equal(noNote.status, 400);
  const rej = await api('POST', `/${b!.id}/reject`, { note: 'still spamming' });
  assert.equal(rej.status, 200, JSON.stringify(rej.json));
  assert.equal(rej.json.request.decidedBy, 'token:ops');
  const ap = await api('POST', `/${a!.id}/approve`, { note: 'relay fixed', expires: '30d' });
  assert.equal(ap.status, 200, JSON.stringify(ap.json));
  assert.equal(ap.json.override.reason, `removal request #${a!.id}: relay fixed`);
  assert.equal(ap.json.request.overrideId, ap.json.override.id);
  assert.equal(store.overlay.lookupKey(LISTED).override?.action, 'allow');
  assert.equal((await api('POST', `/${a!.id}/approve`, {})).status, 409);
  assert.equal((await api('POST', `/${a!.id}/approve`, { bogus: 1 })).status, 400);
  assert.equal(removals.openCount(), 0);
  const doc = await (await fetch(`${base}/api/openapi.json`)).json() as { paths: Record<string, unknown> };
  assert.ok(doc.paths['/removals/{id}/approve'], Object.keys(doc.paths).join(' '));
});
