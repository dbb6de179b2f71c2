// The first admin: created from QUORUMBL_ADMIN_PASSWORD (not a config key) or with a generated
// password logged once; both through real `quorumbl serve` processes and a real sign-in.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from '../../../core/config/load.ts';
import { openDb } from '../../../core/db.ts';
import { Users } from '../../../sync/local/users.ts';
import { bootstrapAdmin } from '../../../web/console/bootstrap.ts';
import { freePort, LEVEL, makeTmpDir, spawnQuorumbl, stopAll, waitForLog, writeConfig, type Proc } from '../../integration/helpers.ts';
import { tmpDb } from '../../sync/local/helpers.ts';

const procs: Proc[] = [];
after(() => stopAll(...procs));

async function config(dir: string): Promise<{ file: string; web: number }> {
  const dns = await freePort();
  const web = await freePort();
  const file = writeConfig(dir, [
    `server: { listen: ["127.0.0.1:${dns}"] }`,
    'state_dir: state',
    'base: example.test',
    `web: { enabled: true, listen: "127.0.0.1:${web}" }`,
    'providers: []',
    '',
  ].join('\n'));
  return { file, web };
}

async function start(file: string, env: Record<string, string> = {}): Promise<Proc> {
  const p = spawnQuorumbl(['serve', '-c', file], { env });
  procs.push(p);
  await waitForLog(p, 0, (r) => r.msg === 'REST API listening', 'REST API listening', 60_000);
  return p;
}

async function signIn(web: number, name: string, password: string): Promise<number> {
  const base = `http://127.0.0.1:${web}`;
  const form = await fetch(base + '/login');
  const csrf = /name="_csrf" value="([^"]+)"/.exec(await form.text())![1]!;
  const cookie = form.headers.getSetCookie().find((c) => c.startsWith('qbl_login='))!.split(';')[0]!;
  const r = await fetch(base + '/login', {
    method: 'POST', redirect: 'manual',
    headers: { cookie, 'content-type': 'application/x-www-form-urlencoded', origin: base },
    body: new URLSearchParams({ _csrf: csrf, name, password }).toString(),
  });
  return r.status;
}

test('serve without QUORUMBL_ADMIN_PASSWORD: a generated password is logged once (warn), works, and is not logged again', async () => {
  const dir = makeTmpDir();
  const { file, web } = await config(dir);
  const p1 = await start(file);
  const line = p1.logs().find((r) => typeof r.password === 'string');
  assert.ok(line, p1.tail());
  assert.equal(line.level, LEVEL.warn);
  assert.match(line.msg!, /ONLY THIS ONCE/);
  const password = line.password as string;
  assert.ok(password.length >= 24);
  assert.equal(await signIn(web, 'admin', password), 303);
  assert.equal(await signIn(web, 'admin', password + 'x'), 401);
  await p1.stop();

  const p2 = await start(file);
  assert.equal(p2.output().includes(password), false, 'the password is never printed again');
  assert.equal(p2.logs().some((r) => 'password' in r), false);
  assert.equal(await signIn(web, 'admin', password), 303, 'and still works after a restart');
  await p2.stop();
});

test('serve with QUORUMBL_ADMIN_PASSWORD: admin gets it, nothing secret is logged, and it is not taken for a config key', async () => {
  const dir = makeTmpDir();
  const { file, web } = await config(dir);
  const secret = 'from-the-environment-42';
  const p = await start(file, { QUORUMBL_ADMIN_PASSWORD: secret });
  assert.equal(p.output().includes(secret), false);
  assert.ok(p.logs().some((r) => /created with the password from QUORUMBL_ADMIN_PASSWORD/.test(r.msg ?? '')));
  assert.equal(await signIn(web, 'admin', secret), 303);
  await p.stop();
  // The config loader ignores it (no "unknown key admin_password").
  assert.doesNotThrow(() => loadConfig(file, { QUORUMBL_ADMIN_PASSWORD: secret, QUORUMBL_WEB__TRUST_PROXY: 'true' }));
  assert.equal(loadConfig(file, { QUORUMBL_ADMIN_PASSWORD: secret, QUORUMBL_WEB__TRUST_PROXY: 'true' }).config.web.trust_proxy, true);
  assert.equal(loadConfig(file, {}).config.web.tls, false);
});

test('bootstrap: a too short QUORUMBL_ADMIN_PASSWORD creates nobody and says why; a later good one works', async () => {
  const { db } = tmpDb();
  const users = new Users(db);
  const lines: { level: string; obj: object; msg: string }[] = [];
  const log = { warn: (obj: object, msg: string) => lines.push({ level: 'warn', obj, msg }), info: (obj: object, msg: string) => lines.push({ level: 'info', obj, msg }), error: (obj: object, msg: string) => lines.push({ level: 'error', obj, msg }) };
  assert.equal(await bootstrapAdmin(users, { QUORUMBL_ADMIN_PASSWORD: 'short' }, log), 'failed');
  assert.equal(users.count(), 0);
  assert.match(lines[0]!.msg, /NOT created.*at least 12 characters/);
  assert.equal(JSON.stringify(lines).includes('short"'), false);
  assert.equal(await bootstrapAdmin(users, { QUORUMBL_ADMIN_PASSWORD: 'long-enough-password' }, log), 'env');
  assert.ok(await users.authenticate('admin', 'long-enough-password'));
  assert.equal(await bootstrapAdmin(users, { QUORUMBL_ADMIN_PASSWORD: 'another-password-9' }, log), 'exists');
  assert.equal(await users.authenticate('admin', 'another-password-9'), null, 'the variable never overwrites a password');
});

test('passwords: scrypt with its salt and parameters stored, never the password', async () => {
  const dir = makeTmpDir();
  const path = join(dir, 'state.sqlite');
  writeFileSync(path, '');
  const db = openDb(path);
  const users = new Users(db);
  await users.create('a', 'viewer', 'same-password-1', 'test');
  await users.create('b', 'viewer', 'same-password-1', 'test');
  const rows = db.prepare('SELECT password FROM users ORDER BY name').all() as { password: string }[];
  for (const r of rows) assert.match(r.password, /^scrypt\$65536\$8\$1\$[\w-]{22}\$[\w-]{43}$/);
  assert.notEqual(rows[0]!.password, rows[1]!.password, 'per-user salt');
  assert.equal(JSON.stringify(rows).includes('same-password'), false);
  assert.ok(await users.authenticate('a', 'same-password-1'));
  assert.equal(await users.authenticate('a', 'same-password-2'), null);
  assert.equal(await users.authenticate('nobody', 'same-password-1'), null);
  db.close();
});
