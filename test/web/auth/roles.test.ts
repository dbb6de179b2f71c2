// Roles over real HTTP: viewer reads only, operator changes overrides and reports but not users
// or tokens, admin does everything; /api/v1/users and /api/v1/tokens; the last admin stays.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { api, login, PW, postLogin, setup } from './helpers.ts';

const deny = (key: string) => ({ action: 'deny', key, reason: 'role test' });

test('viewer reads but cannot change; operator changes overrides and reports; neither manages users or tokens', async () => {
  const f = await setup();
  const viewer = await login(f, 'vic', PW.viewer);
  const operator = await login(f, 'olga', PW.operator);

  assert.equal((await api(f, 'GET', '/api/v1/overrides', { session: viewer })).status, 200);
  const v = await api(f, 'POST', '/api/v1/overrides', { session: viewer, body: deny('192.0.2.10') });
  assert.equal(v.status, 403);
  assert.match(v.json.error, /user 'vic' has role 'viewer'/);
  assert.equal((await api(f, 'POST', '/api/v1/reports', { session: viewer, body: { key: '192.0.2.10', kind: 'spam' } })).status, 403);

  const o = await api(f, 'POST', '/api/v1/overrides', { session: operator, body: deny('192.0.2.10') });
  assert.equal(o.status, 201);
  assert.equal((await api(f, 'DELETE', `/api/v1/overrides/${o.json.override.id}`, { session: viewer })).status, 403);
  assert.equal((await api(f, 'PATCH', `/api/v1/overrides/${o.json.override.id}`, { session: operator, body: { expires: '1d' } })).status, 200);
  assert.equal((await api(f, 'POST', '/api/v1/reports', { session: operator, body: { key: '192.0.2.11', kind: 'spam' } })).status, 201);
  // Within the override limits only: a /8 needs force, and force needs an admin.
  const wide = await api(f, 'POST', '/api/v1/overrides', { session: operator, body: { ...deny('10.0.0.0/8'), force: true } });
  assert.equal(wide.status, 403);

  for (const s of [viewer, operator]) {
    assert.equal((await api(f, 'GET', '/api/v1/users', { session: s })).status, 403);
    assert.equal((await api(f, 'POST', '/api/v1/users', { session: s, body: { name: 'eve', role: 'admin', password: 'eve-password-123' } })).status, 403);
    assert.equal((await api(f, 'PATCH', '/api/v1/users/olga', { session: s, body: { role: 'admin' } })).status, 403);
    assert.equal((await api(f, 'GET', '/api/v1/tokens', { session: s })).status, 403);
    assert.equal((await api(f, 'POST', '/api/v1/tokens', { session: s, body: { name: 'x', scope: 'admin' } })).status, 403);
    assert.equal((await api(f, 'GET', '/api/v1/audit', { session: s })).status, 403);
  }
  assert.equal(f.users.get('olga')!.role, 'operator');
  assert.equal(f.users.get('eve'), null);

  const admin = await login(f, 'admin', PW.admin);
  const w = await api(f, 'POST', '/api/v1/overrides', { session: admin, body: { ...deny('10.0.0.0/8'), force: true } });
  assert.equal(w.status, 201, JSON.stringify(w.json));
  const actors = f.store.db.prepare("SELECT actor, action FROM audit_log WHERE action LIKE 'override.%' OR action LIKE 'reputation.%' ORDER BY id").all();
  assert.deepEqual(actors.map((a: any) => a.actor), ['user:olga', 'user:olga', 'user:olga', 'user:admin']);
});

test('every mutating route refuses without a session or token (401) and with a bad session', async () => {
  const f = await setup();
  const routes: [string, string, unknown][] = [
    ['POST', '/api/v1/overrides', deny('192.0.2.1')], ['PATCH', '/api/v1/overrides/1', { expires: null }], ['DELETE', '/api/v1/overrides/1', undefined],
    ['POST', '/api/v1/reports', { key: '192.0.2.1', kind: 'spam' }],
    ['POST', '/api/v1/users', { name: 'eve', role: 'admin', password: 'eve-password-123' }], ['PATCH', '/api/v1/users/admin', { disabled: true }], ['DELETE', '/api/v1/users/olga', undefined],
    ['POST', '/api/v1/tokens', { name: 'x', scope: 'admin' }], ['DELETE', '/api/v1/tokens/root', undefined],
    ['POST', '/api/v1/removals/1/approve', {}], ['POST', '/api/v1/removals/1/reject', { note: 'x' }],
  ];
  for (const [method, path, body] of routes) {
    assert.equal((await api(f, method, path, { body })).status, 401, `${method} ${path} without credentials`);
    const fake = { cookie: 'qbl_session=' + 'A'.repeat(43), csrf: 'A'.repeat(43) };
    assert.equal((await api(f, method, path, { body, session: fake })).status, 401, `${method} ${path} with an unknown session`);
  }
  assert.equal(f.users.list().length, 3);
  assert.equal(f.store.tokens.list().length, 1);
  // Logout without a session changes nothing and just sends to /login.
  const out = await fetch(f.base + '/logout', { method: 'POST', redirect: 'manual' });
  assert.equal(out.status, 303);
});

test('users REST: create, change role/password/disabled, delete; clear 400s; the last admin stays', async () => {
  const f = await setup({ roles: false });
  const admin = await login(f, 'admin', PW.admin);
  const bad = async (body: unknown, field: string) => {
    const r = await api(f, 'POST', '/api/v1/users', { session: admin, body });
    assert.equal(r.status, 400, JSON.stringify(r.json));
    assert.equal(r.json.field, field, r.json.error);
    return r.json.error as string;
  };
  assert.match(await bad({ name: 'bob', role: 'root', password: 'long-enough-pw' }, 'role'), /role/);
  assert.match(await bad({ name: 'bob', role: 'viewer', password: 'short' }, 'password'), /at least 12 characters/);
  assert.match(await bad({ name: '<b>', role: 'viewer', password: 'long-enough-pw' }, 'name'), /user name/);
  assert.match(await bad({ name: 'bob', role: 'viewer', password: 'long-enough-pw', admin: true }, 'admin'), /unknown field 'admin'/);

  const c = await api(f, 'POST', '/api/v1/users', { session: admin, body: { name: 'bob', role: 'viewer', password: 'bob-password-1' } });
  assert.equal(c.status, 201);
  assert.equal(c.json.user.role, 'viewer');
  assert.equal(JSON.stringify(c.json).includes('scrypt'), false, 'no hash in answers');
  assert.equal((await api(f, 'POST', '/api/v1/users', { session: admin, body: { name: 'bob', role: 'viewer', password: 'bob-password-1' } })).status, 409);
  const list = await api(f, 'GET', '/api/v1/users', { token: f.adminToken });
  assert.deepEqual(list.json.users.map((u: any) => u.name), ['admin', 'bob']);

  const bob = await login(f, 'bob', 'bob-password-1');
  assert.equal((await api(f, 'PATCH', '/api/v1/users/bob', { session: admin, body: { role: 'operator' } })).json.user.role, 'operator');
  assert.equal((await api(f, 'POST', '/api/v1/overrides', { session: bob, body: deny('192.0.2.5') })).status, 201, 'the new role holds at once');
  // A new password ends bob's sessions; the old password no longer works.
  assert.equal((await api(f, 'PATCH', '/api/v1/users/bob', { session: admin, body: { password: 'bob-password-2' } })).status, 200);
  assert.equal((await api(f, 'GET', '/api/v1/overrides', { session: bob })).status, 401);
  assert.equal((await postLogin(f, 'bob', 'bob-password-1')).status, 401);
  const bob2 = await login(f, 'bob', 'bob-password-2');
  // Disabled: sessions end, sign-in refused.
  assert.equal((await api(f, 'PATCH', '/api/v1/users/bob', { token: f.adminToken, body: { disabled: true } })).status, 200);
  assert.equal((await api(f, 'GET', '/api/v1/overrides', { session: bob2 })).status, 401);
  assert.equal((await postLogin(f, 'bob', 'bob-password-2')).status, 401);
  assert.equal((await api(f, 'PATCH', '/api/v1/users/bob', { session: admin, body: {} })).status, 400);
  assert.equal((await api(f, 'PATCH', '/api/v1/users/nobody', { session: admin, body: { role: 'viewer' } })).status, 404);

  // The last enabled admin: not demoted, disabled or deleted (409), by a session or a token.
  for (const body of [{ role: 'viewer' }, { disabled: true }]) {
    const r = await api(f, 'PATCH', '/api/v1/users/admin', { session: admin, body });
    assert.equal(r.status, 409);
    assert.match(r.json.error, /last enabled admin/);
  }
  assert.equal((await api(f, 'DELETE', '/api/v1/users/admin', { token: f.adminToken })).status, 409);
  // bob (disabled) made admin does not count until enabled.
  await api(f, 'PATCH', '/api/v1/users/bob', { session: admin, body: { role: 'admin' } });
  assert.equal((await api(f, 'DELETE', '/api/v1/users/admin', { session: admin })).status, 409);
  await api(f, 'PATCH', '/api/v1/users/bob', { session: admin, body: { disabled: false } });
  assert.equal((await api(f, 'DELETE', '/api/v1/users/admin', { session: admin })).status, 200);
  assert.equal((await api(f, 'GET', '/api/v1/users', { session: admin })).status, 401, 'the deleted admin\'s session is gone');
  assert.deepEqual(f.users.list().map((u) => [u.name, u.role]), [['bob', 'admin']]);
  const audit = f.store.db.prepare("SELECT action, actor, target FROM audit_log WHERE action IN ('user.create','user.update','user.remove') AND actor != 'test' ORDER BY id").all() as any[];
  assert.equal(audit[0].action, 'user.create');
  assert.equal(audit[0].actor, 'user:admin');
  assert.deepEqual(audit.at(-1), { action: 'user.remove', actor: 'user:admin', target: 'user:admin' });
  assert.equal(JSON.stringify(f.store.db.prepare('SELECT before, after FROM audit_log').all()).includes('scrypt$'), false, 'no hash in the audit log');
});

test('tokens REST: created by an admin session, shown once, scoped, revoked; the same service as the CLI', async () => {
  const f = await setup({ roles: false });
  const admin = await login(f, 'admin', PW.admin);
  const bad = await api(f, 'POST', '/api/v1/tokens', { session: admin, body: { name: 'rspamd', scope: 'everything' } });
  assert.equal(bad.status, 400);
  assert.equal(bad.json.field, 'scope');
  const c = await api(f, 'POST', '/api/v1/tokens', { session: admin, body: { name: 'rspamd', scope: 'reports' } });
  assert.equal(c.status, 201);
  assert.match(c.json.token, /^qbl_/);
  const list = await api(f, 'GET', '/api/v1/tokens', { session: admin });
  assert.deepEqual(list.json.tokens.map((t: any) => [t.name, t.scope]), [['rspamd', 'reports'], ['root', 'admin']]);
  assert.equal(JSON.stringify(list.json).includes(c.json.token), false, 'the secret is not listed');
  // Scoped: it reports, it cannot read overrides.
  assert.equal((await api(f, 'POST', '/api/v1/reports', { token: c.json.token, body: { key: '192.0.2.1', kind: 'spam' } })).status, 201);
  assert.equal((await api(f, 'GET', '/api/v1/overrides', { token: c.json.token })).status, 403);
  assert.equal((await api(f, 'GET', '/api/v1/tokens', { token: c.json.token })).status, 403);
  assert.equal((await api(f, 'DELETE', '/api/v1/tokens/rspamd', { session: admin })).status, 200);
  assert.equal((await api(f, 'POST', '/api/v1/reports', { token: c.json.token, body: { key: '192.0.2.1', kind: 'spam' } })).status, 401);
  assert.equal((await api(f, 'DELETE', '/api/v1/tokens/rspamd', { session: admin })).status, 404);
  const audit = f.store.db.prepare("SELECT actor, action FROM audit_log WHERE action LIKE 'token.%' AND actor != 'test' ORDER BY id").all();
  assert.deepEqual(audit, [{ actor: 'user:admin', action: 'token.create' }, { actor: 'user:admin', action: 'token.revoke' }]);
});
