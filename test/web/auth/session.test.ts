// Console sign-in over real HTTP: login/logout, cookie flags, session expiry, CSRF and origin
// checks, throttling per user and per client, escaping.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { api, cookieOf, login, loginForm, PW, postLogin, setCookieLine, setup } from './helpers.ts';

test('GET / sends a visitor to /login; signing in shows who and the role; logout ends the session', async () => {
  const f = await setup();
  const r0 = await fetch(f.base + '/', { redirect: 'manual' });
  assert.equal(r0.status, 302);
  assert.equal(r0.headers.get('location'), '/login');
  const form = await loginForm(f);
  assert.match(form.html, /<label>\s*User name\s*<input type="text" name="name"/);

  const s = await login(f, 'olga', PW.operator);
  const home = await fetch(f.base + '/', { headers: { cookie: s.cookie } });
  const html = await home.text();
  assert.match(html, /signed in as <strong>olga<\/strong> \(operator\)/);
  assert.match(home.headers.get('content-security-policy') ?? '', /frame-ancestors 'none'/);
  assert.equal(home.headers.get('cache-control'), 'no-store');
  assert.equal(f.users.get('olga')!.lastLogin, f.clock.t);
  // Only the id's SHA-256 is stored, never the id.
  const id = s.cookie.split('=')[1]!;
  const stored = (f.store.db.prepare('SELECT id_hash FROM sessions').all() as { id_hash: string }[]).map((r) => r.id_hash);
  assert.deepEqual(stored, [createHash('sha256').update(id).digest('hex')]);
  // The session also works on the API.
  assert.equal((await api(f, 'GET', '/api/v1/overrides', { session: s })).status, 200);

  const out = await fetch(f.base + '/logout', {
    method: 'POST', redirect: 'manual',
    headers: { cookie: s.cookie, 'content-type': 'application/x-www-form-urlencoded', origin: f.base },
    body: `_csrf=${encodeURIComponent(s.csrf)}`,
  });
  assert.equal(out.status, 303);
  assert.equal(out.headers.get('location'), '/login');
  assert.match(setCookieLine(out, 'qbl_session')!, /Max-Age=0/);
  // The old cookie is dead on the server, not only in the browser.
  assert.equal((await fetch(f.base + '/', { headers: { cookie: s.cookie }, redirect: 'manual' })).status, 302);
  assert.equal((await api(f, 'GET', '/api/v1/overrides', { session: s })).status, 401);
  const audit = f.store.db.prepare("SELECT actor, action FROM audit_log WHERE action LIKE 'user.log%' ORDER BY id").all();
  assert.deepEqual(audit, [{ actor: 'user:olga', action: 'user.login' }, { actor: 'user:olga', action: 'user.logout' }]);
});

test('cookie flags: HttpOnly, SameSite=Strict, Path=/; Secure only with web.tls or a trusted proxy saying https', async () => {
  const plain = await setup({ roles: false });
  const r1 = await postLogin(plain, 'admin', PW.admin, { headers: { 'x-forwarded-proto': 'https' } });
  assert.equal(r1.status, 303);
  const c1 = setCookieLine(r1, 'qbl_session')!;
  assert.match(c1, /; HttpOnly/);
  assert.match(c1, /; SameSite=Strict/);
  assert.match(c1, /; Path=\//);
  assert.doesNotMatch(c1, /Secure/, 'X-Forwarded-Proto is not believed without trust_proxy');
  assert.match(cookieOf(r1, 'qbl_session')!, /^[\w-]{43}$/, '256 bits, base64url');

  const proxied = await setup({ roles: false, trustProxy: true });
  const r2 = await postLogin(proxied, 'admin', PW.admin, { headers: { 'x-forwarded-proto': 'https' } });
  assert.match(setCookieLine(r2, 'qbl_session')!, /; Secure/);
  const r3 = await postLogin(proxied, 'admin', PW.admin, { headers: { 'x-forwarded-proto': 'http' } });
  assert.doesNotMatch(setCookieLine(r3, 'qbl_session')!, /Secure/);

  const tls = await setup({ roles: false, tls: true });
  assert.match(setCookieLine(await postLogin(tls, 'admin', PW.admin), 'qbl_session')!, /; Secure/);
});

test('sessions expire after the idle timeout and after the absolute timeout', async () => {
  const f = await setup({ roles: false, idleMs: 30 * 60_000, absoluteMs: 2 * 3_600_000 });
  const s = await login(f, 'admin', PW.admin);
  const ok = async () => (await fetch(f.base + '/', { headers: { cookie: s.cookie }, redirect: 'manual' })).status === 200;
  // Used every 20 min: alive past the idle timeout...
  for (let i = 0; i < 5; i++) {
    f.clock.advance(20 * 60_000);
    assert.ok(await ok(), `alive after ${(i + 1) * 20} min of use`);
  }
  // ...but not past the absolute one.
  f.clock.advance(25 * 60_000);
  assert.equal(await ok(), false, 'ended 2 h after login');

  const s2 = await login(f, 'admin', PW.admin);
  f.clock.advance(30 * 60_000);
  assert.equal((await fetch(f.base + '/', { headers: { cookie: s2.cookie }, redirect: 'manual' })).status, 302, 'ended after 30 min idle');
  assert.equal((await api(f, 'GET', '/api/v1/users', { session: s2 })).status, 401);
});

test('CSRF: a cookie-authenticated change without or with a wrong token is 403; a bearer call needs none', async () => {
  const f = await setup();
  const s = await login(f, 'olga', PW.operator);
  const body = { action: 'deny', key: '192.0.2.1', reason: 'csrf test' };
  const none = await api(f, 'POST', '/api/v1/overrides', { session: s, body, csrf: null });
  assert.equal(none.status, 403);
  assert.match(none.json.error, /CSRF/);
  assert.equal((await api(f, 'POST', '/api/v1/overrides', { session: s, body, csrf: 'x'.repeat(43) })).status, 403);
  // Another session's token is wrong for this one.
  const other = await login(f, 'olga', PW.operator);
  assert.equal((await api(f, 'POST', '/api/v1/overrides', { session: s, body, csrf: other.csrf })).status, 403);
  assert.equal(f.store.overrides.list().length, 0, 'nothing was changed');
  const good = await api(f, 'POST', '/api/v1/overrides', { session: s, body });
  assert.equal(good.status, 201, JSON.stringify(good.json));
  assert.equal(good.json.override.author, 'olga');
  assert.equal((f.store.db.prepare("SELECT actor FROM audit_log WHERE action = 'override.add'").get() as { actor: string }).actor, 'user:olga');
  // Bearer: no CSRF token, no Origin.
  assert.equal((await api(f, 'DELETE', `/api/v1/overrides/${good.json.override.id}`, { token: f.adminToken })).status, 200);

  // The logout form and the login form are checked too.
  const out = await fetch(f.base + '/logout', { method: 'POST', redirect: 'manual', headers: { cookie: s.cookie, 'content-type': 'application/x-www-form-urlencoded' }, body: '_csrf=wrong' });
  assert.equal(out.status, 403);
  assert.equal((await fetch(f.base + '/', { headers: { cookie: s.cookie }, redirect: 'manual' })).status, 200, 'still signed in');
  const badLogin = await postLogin(f, 'admin', PW.admin, { csrf: 'forged' });
  assert.equal(badLogin.status, 403);
  assert.equal(cookieOf(badLogin, 'qbl_session'), undefined);
});

test('cross-origin: a cookie-authenticated change from another origin or site is 403, even with the token', async () => {
  const f = await setup();
  const s = await login(f, 'olga', PW.operator);
  const body = { action: 'deny', key: '192.0.2.2', reason: 'cross' };
  const evil = await api(f, 'POST', '/api/v1/overrides', { session: s, body, headers: { origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' } });
  assert.equal(evil.status, 403);
  assert.match(evil.json.error, /cross-site/);
  const evil2 = await api(f, 'POST', '/api/v1/overrides', { session: s, body, headers: { origin: 'http://evil.example', 'sec-fetch-site': 'same-origin' } });
  assert.equal(evil2.status, 403);
  assert.match(evil2.json.error, /cross-origin request refused \(Origin: http:\/\/evil\.example\)/);
  assert.equal((await api(f, 'POST', '/api/v1/overrides', { session: s, body, headers: { origin: 'null' } })).status, 403);
  assert.equal((await api(f, 'POST', '/api/v1/overrides', { session: s, body, headers: { 'sec-fetch-site': 'same-site' } })).status, 403);
  const login2 = await postLogin(f, 'admin', PW.admin, { headers: { origin: 'https://evil.example' } });
  assert.equal(login2.status, 403);
  assert.equal(f.store.overrides.list().length, 0);
});

test('throttling per user: after 5 wrong passwords even the right one gets 429 with Retry-After, unchecked', async () => {
  const f = await setup({ throttle: { perUser: 5, perClient: 100 } });
  for (let i = 0; i < 5; i++) assert.equal((await postLogin(f, 'olga', 'wrong-password-x')).status, 401);
  const r = await postLogin(f, 'olga', PW.operator);
  assert.equal(r.status, 429);
  assert.ok(Number(r.headers.get('retry-after')) >= 1);
  assert.match(await r.text(), /Too many failed sign-ins/);
  assert.equal(cookieOf(r, 'qbl_session'), undefined);
  // Another user from the same client is not locked.
  assert.equal((await postLogin(f, 'vic', PW.viewer)).status, 303);
  // A further failure after the wait doubles it.
  f.clock.advance(1000);
  assert.equal((await postLogin(f, 'olga', 'wrong-password-x')).status, 401);
  const r2 = await postLogin(f, 'olga', PW.operator);
  assert.equal(r2.status, 429);
  assert.equal(r2.headers.get('retry-after'), '2');
  f.clock.advance(2000);
  assert.equal((await postLogin(f, 'olga', PW.operator)).status, 303, 'the right password works once the wait is over');
  // Failures are logged (rate limited: the clock stood still, so one line stands for many).
  assert.ok(f.failures.length >= 1 && f.failures.length < 8);
  assert.equal(f.failures[0]!.user, 'olga');
  assert.equal((f.store.db.prepare("SELECT count(*) AS n FROM audit_log WHERE action = 'user.login'").get() as { n: number }).n, 2, 'failures are not audited');
});

test('throttling per client: guessing many names from one address locks that address, not others', async () => {
  const f = await setup({ trustProxy: true, throttle: { perUser: 100, perClient: 6 } });
  const from = (ip: string) => ({ headers: { 'x-forwarded-for': `203.0.113.9, ${ip}` } });
  for (let i = 0; i < 6; i++) assert.equal((await postLogin(f, `nobody${i}`, 'wrong-password-x', from('198.51.100.7'))).status, 401);
  const r = await postLogin(f, 'admin', PW.admin, from('198.51.100.7'));
  assert.equal(r.status, 429);
  assert.ok(Number(r.headers.get('retry-after')) >= 1);
  assert.equal((await postLogin(f, 'admin', PW.admin, from('198.51.100.8'))).status, 303, 'another client signs in');
  // An IPv6 client is its /64: rotating the interface id does not reset the count.
  f.clock.advance(10_000); // past the failure log's rate limit: the next failure is logged
  for (let i = 1; i <= 6; i++) assert.equal((await postLogin(f, `nobody${i}`, 'wrong-password-x', from(`2001:db8:1:2::${i}`))).status, 401);
  assert.equal((await postLogin(f, 'admin', PW.admin, from('2001:db8:1:2:ffff::7'))).status, 429);
  assert.equal((await postLogin(f, 'admin', PW.admin, from('2001:db8:1:3::1'))).status, 303);
  assert.ok(f.failures.some((l) => l.client === '2001:db8:1:2::/64'), JSON.stringify(f.failures));
});

test('escaping: a script in the user name comes back as text on the login page', async () => {
  const f = await setup({ roles: false });
  const xss = '"><script>alert(1)</script><img src=x onerror=alert(2)>';
  const r = await postLogin(f, xss, 'whatever-password');
  assert.equal(r.status, 401);
  const html = await r.text();
  assert.doesNotMatch(html, /<script>alert|<img src=x/);
  assert.match(html, /value="&quot;&gt;&lt;script&gt;alert\(1\)&lt;\/script&gt;&lt;img src=x onerror=alert\(2\)&gt;"/);
  assert.match(html, /Wrong user name or password/);
});

test('a state database that cannot take writes: sign-in is refused (503) and half a login is not left; a signed-in user keeps reading', async () => {
  const f = await setup();
  const s = await login(f, 'vic', PW.viewer);
  const sessions = () => (f.store.db.prepare('SELECT count(*) AS n FROM sessions').get() as { n: number }).n;
  const logins = () => (f.store.db.prepare("SELECT count(*) AS n FROM audit_log WHERE action = 'user.login'").get() as { n: number }).n;
  const before = { sessions: sessions(), logins: logins() };
  f.store.db.pragma('query_only = ON'); // every write now fails with SQLITE_READONLY
  try {
    const r = await postLogin(f, 'olga', PW.operator);
    assert.equal(r.status, 503);
    assert.ok(r.headers.get('retry-after'));
    assert.equal(cookieOf(r, 'qbl_session'), undefined);
    // The session's last use cannot be recorded: reads still pass.
    f.clock.advance(5 * 60_000);
    assert.equal((await fetch(f.base + '/', { headers: { cookie: s.cookie }, redirect: 'manual' })).status, 200);
    assert.equal((await api(f, 'GET', '/api/v1/overrides', { session: s })).status, 200);
  } finally {
    f.store.db.pragma('query_only = OFF');
  }
  assert.deepEqual({ sessions: sessions(), logins: logins() }, before, 'no session and no audit row from the refused sign-in');
  assert.equal(f.users.get('olga')!.lastLogin, null);
  assert.equal((await postLogin(f, 'olga', PW.operator)).status, 303, 'works again once writes do');
});

test('console pages: a signed-out GET (or an unknown session) goes to /login; the stylesheet comes from the package', async () => {
  const f = await setup({ roles: false });
  assert.equal((await fetch(f.base + '/', { method: 'POST', redirect: 'manual' })).status, 404);
  const r = await fetch(f.base + '/', { redirect: 'manual', headers: { cookie: 'qbl_session=' + 'x'.repeat(43) } });
  assert.equal(r.status, 302);
  assert.equal(r.headers.get('location'), '/login');
  const css = await fetch(f.base + '/console/console.css');
  assert.equal(css.status, 200);
  assert.match(css.headers.get('content-type')!, /^text\/css/);
  assert.match(await css.text(), /:focus-visible/);
});
