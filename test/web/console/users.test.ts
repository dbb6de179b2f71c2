// The Users and tokens page over real HTTP (the real app, a real SQLite file): each form goes
// through the users/tokens services, audited as user:<admin>; a demotion, a password reset,
// disabling and deleting end the user's sessions; an admin's own password change keeps the
// session making it; generated secrets are in the POST's answer only (no-store, never in a
// Location); admins only (403 page), CSRF required; a state database that cannot take writes
// refuses the change (503) and leaves nothing half-made.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { login, PW, postLogin, setup, type Fixture, type Session } from '../auth/helpers.ts';

async function post(f: Fixture, s: Session, path: string, fields: Record<string, string>, opts: { csrf?: boolean } = {}) {
  const body = new URLSearchParams(opts.csrf === false ? fields : { _csrf: s.csrf, ...fields });
  const res = await fetch(f.base + path, {
    method: 'POST', redirect: 'manual', body: body.toString(),
    headers: { cookie: s.cookie, origin: f.base, 'sec-fetch-site': 'same-origin', 'content-type': 'application/x-www-form-urlencoded' },
  });
  return { status: res.status, location: res.headers.get('location'), cache: res.headers.get('cache-control'), html: await res.text() };
}

/** The password form's stamp on the user's page. */
async function stamp(f: Fixture, s: Session, name: string): Promise<string> {
  const html = await (await fetch(`${f.base}/users/u/${name}`, { headers: { cookie: s.cookie } })).text();
  return /name="stamp" value="([^"]+)"/.exec(html)![1]!;
}

const alive = async (f: Fixture, s: Session) => (await fetch(f.base + '/', { headers: { cookie: s.cookie }, redirect: 'manual' })).status === 200;
const secretOf = (html: string) => /<code id="secret"[^>]*>([^<]+)<\/code>/.exec(html)?.[1];

test('users page: role, password, disable, delete end the user\'s sessions; secrets shown once; audited as the admin', async () => {
  const f = await setup();
  const admin = await login(f, 'admin', PW.admin);
  let olga = await login(f, 'olga', PW.operator);

  // Demoted: her session ends.
  let r = await post(f, admin, '/users/u/olga/role', { role: 'viewer' });
  assert.equal(r.status, 303);
  assert.equal(r.location, '/users/u/olga?done=role');
  assert.equal(await alive(f, olga), false, 'demotion ended her session');
  assert.equal(f.users.get('olga')!.role, 'viewer');

  // A generated password: in this answer only (200, no-store), her sessions end, it signs in.
  olga = await login(f, 'olga', PW.operator);
  const st = await stamp(f, admin, 'olga');
  r = await post(f, admin, '/users/u/olga/password', { password: '', stamp: st });
  assert.equal(r.status, 200);
  assert.equal(r.cache, 'no-store');
  const pw = secretOf(r.html);
  assert.match(pw ?? '', /^[\w-]{24}$/);
  assert.equal(await alive(f, olga), false, 'a new password ended her session');
  assert.equal((await postLogin(f, 'olga', PW.operator)).status, 401);
  olga = await login(f, 'olga', pw!);
  // The same form posted again (a reload): refused, the password shown first still holds.
  r = await post(f, admin, '/users/u/olga/password', { password: '', stamp: st });
  assert.equal(r.status, 409);
  assert.match(r.html, /was changed since this form was shown/);
  assert.equal(secretOf(r.html), undefined);
  assert.ok(await alive(f, olga), 'nothing changed: her session lives');
  const again = await fetch(f.base + '/users/u/olga', { headers: { cookie: admin.cookie } });
  assert.equal(secretOf(await again.text()), undefined, 'not shown on the next visit');
  // Too short: the service's minimum, an inline error, nothing changed.
  r = await post(f, admin, '/users/u/olga/password', { password: 'short', stamp: await stamp(f, admin, 'olga') });
  assert.equal(r.status, 400);
  assert.match(r.html, /at least 12 characters/);
  assert.ok(await alive(f, olga));

  // Disabled: session ends, sign-in refused; enabled again: sign-in works.
  r = await post(f, admin, '/users/u/olga/state', { disabled: '1' });
  assert.equal(r.location, '/users/u/olga?done=disabled');
  assert.equal(await alive(f, olga), false);
  assert.equal((await postLogin(f, 'olga', pw!)).status, 401);
  await post(f, admin, '/users/u/olga/state', { disabled: '0' });
  olga = await login(f, 'olga', pw!);

  // Deleted: gone, session ended.
  r = await post(f, admin, '/users/u/olga/delete', {});
  assert.equal(r.location, '/users?done=deleted');
  assert.equal(f.users.get('olga'), null);
  assert.equal(await alive(f, olga), false);
  assert.equal((await post(f, admin, '/users/u/olga/delete', {})).status, 404);

  // A new user with a generated password: shown in the answer, not in a Location.
  r = await post(f, admin, '/users', { name: 'hank', role: 'operator', password: '' });
  assert.equal(r.status, 200);
  assert.equal(r.location, null);
  assert.ok(await login(f, 'hank', secretOf(r.html)!));
  r = await post(f, admin, '/users', { name: 'hank', role: 'operator', password: 'long enough password' });
  assert.equal(r.status, 409);
  assert.match(r.html, /a user named &#39;hank&#39; already exists|a user named 'hank' already exists/);

  // The admin's own password: their other sessions end, this one stays; self-removal refused.
  const other = await login(f, 'admin', PW.admin);
  r = await post(f, admin, '/users/u/admin/password', { password: 'admin new password', stamp: await stamp(f, admin, 'admin') });
  assert.equal(r.status, 303);
  assert.ok(await alive(f, admin), 'the session making the change stays');
  assert.equal(await alive(f, other), false, 'the admin\'s other session ended');
  for (const [path, fields, msg] of [
    ['/users/u/admin/delete', {}, /you cannot delete yourself/], ['/users/u/admin/state', { disabled: '1' }, /you cannot disable yourself/],
    ['/users/u/admin/role', { role: 'operator' }, /you cannot demote yourself/],
  ] as const) {
    r = await post(f, admin, path, fields);
    assert.equal(r.status, 409, path);
    assert.match(r.html, msg);
  }
  assert.equal(f.users.get('admin')!.role, 'admin');

  const audit = f.store.db.prepare("SELECT actor, action, target FROM audit_log WHERE actor = 'user:admin' AND action LIKE 'user.%' AND action NOT IN ('user.login', 'user.logout') ORDER BY id").all() as any[];
  assert.deepEqual(audit.map((a) => `${a.action} ${a.target}`), [
    'user.update user:olga', 'user.update user:olga', 'user.update user:olga', 'user.update user:olga', 'user.remove user:olga', 'user.create user:hank', 'user.update user:admin',
  ]);
});

test('tokens on the page: created (secret in the answer only), a duplicate refused, revoked; CSRF and admin required', async () => {
  const f = await setup();
  const admin = await login(f, 'admin', PW.admin);
  const olga = await login(f, 'olga', PW.operator);
  const vic = await login(f, 'vic', PW.viewer);
  let r = await post(f, admin, '/users/tokens', { name: 'helpdesk', scope: 'overrides' });
  assert.equal(r.status, 200);
  assert.equal(r.cache, 'no-store');
  const token = secretOf(r.html)!;
  assert.match(token, /^qbl_/);
  const live = f.store.tokens.list().find((t) => t.name === 'helpdesk')!;
  assert.equal(live.scope, 'overrides');
  const list = await (await fetch(f.base + '/users', { headers: { cookie: admin.cookie } })).text();
  assert.ok(!list.includes(token), 'the list never shows it');
  r = await post(f, admin, '/users/tokens', { name: 'helpdesk', scope: 'overrides' });
  assert.equal(r.status, 400);
  assert.equal(secretOf(r.html), undefined);
  r = await post(f, admin, '/users/tokens', { name: 'x', scope: 'everything' });
  assert.equal(r.status, 400);
  assert.match(r.html, /scope must be one of reports, overrides, admin/);

  // Operators and viewers: a 403 page, nothing created; no CSRF token: 403.
  for (const s of [olga, vic]) {
    assert.equal((await fetch(f.base + '/users', { headers: { cookie: s.cookie } })).status, 403);
    assert.equal((await post(f, s, '/users/tokens', { name: 'sneaky', scope: 'admin' })).status, 403);
    assert.equal((await post(f, s, '/users', { name: 'eve', role: 'admin', password: 'eve password long' })).status, 403);
    assert.doesNotMatch(await (await fetch(f.base + '/', { headers: { cookie: s.cookie } })).text(), /href="\/users"/, 'no nav entry');
  }
  assert.match(await (await fetch(f.base + '/', { headers: { cookie: admin.cookie } })).text(), /href="\/users"/);
  assert.equal((await post(f, admin, '/users/tokens', { name: 'nocsrf', scope: 'admin' }, { csrf: false })).status, 403);
  assert.deepEqual(f.store.tokens.list().map((t) => t.name).sort(), ['helpdesk', 'root']);
  assert.equal(f.users.get('eve'), null);

  r = await post(f, admin, `/users/tokens/${live.id}/revoke`, {});
  assert.equal(r.location, '/users?done=revoked');
  assert.equal(f.store.tokens.verify(token), null);
  assert.equal((await post(f, admin, `/users/tokens/${live.id}/revoke`, {})).status, 404);
  const audit = f.store.db.prepare("SELECT actor, action FROM audit_log WHERE action LIKE 'token.%' AND actor != 'test' ORDER BY id").all();
  assert.deepEqual(audit, [{ actor: 'user:admin', action: 'token.create' }, { actor: 'user:admin', action: 'token.revoke' }]);
});

test('a state database that cannot take writes: token creation and a password reset are refused (503), nothing half-made; the page still reads', async () => {
  const f = await setup();
  const admin = await login(f, 'admin', PW.admin);
  const olga = await login(f, 'olga', PW.operator);
  const audits = () => (f.store.db.prepare('SELECT count(*) AS n FROM audit_log').get() as { n: number }).n;
  const n = audits();
  f.store.db.pragma('query_only = ON');
  try {
    const t = await post(f, admin, '/users/tokens', { name: 'helpdesk', scope: 'overrides' });
    assert.equal(t.status, 503);
    assert.equal(secretOf(t.html), undefined, 'no secret for a token that was not stored');
    const p = await post(f, admin, '/users/u/olga/password', { password: '', stamp: await stamp(f, admin, 'olga') });
    assert.equal(p.status, 503);
    assert.equal(secretOf(p.html), undefined);
    assert.equal((await fetch(f.base + '/users', { headers: { cookie: admin.cookie } })).status, 200);
  } finally {
    f.store.db.pragma('query_only = OFF');
  }
  assert.equal(audits(), n);
  assert.deepEqual(f.store.tokens.list().map((t) => t.name), ['root']);
  assert.ok(await alive(f, olga), 'her session was not ended by the refused reset');
  assert.equal((await postLogin(f, 'olga', PW.operator)).status, 303, 'her password is unchanged');
});
