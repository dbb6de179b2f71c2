// The users service's rules on a real SQLite file: the last enabled admin stays; a user's
// sessions end when they are removed, disabled, demoted or given a new password (not when
// promoted), except the session kept by `keepSession`; `refuseSelf` (the console) refuses
// removing, disabling or demoting oneself; a refused change writes nothing (no row, no audit).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Sessions } from '../../../sync/local/sessions.ts';
import { generatePassword, MIN_PASSWORD, UserConflict, Users } from '../../../sync/local/users.ts';
import { Clock, tmpDb } from './helpers.ts';

const PW = 'a long enough password';

async function setup() {
  const { db } = tmpDb();
  const clock = new Clock();
  const users = new Users(db, clock.now);
  const sessions = new Sessions(db, { now: clock.now });
  const audits = () => (db.prepare("SELECT count(*) AS n FROM audit_log WHERE action LIKE 'user.%'").get() as { n: number }).n;
  return { db, users, sessions, audits };
}

test('the last enabled admin cannot be removed, demoted or disabled; a refusal changes nothing', async () => {
  const { users, sessions, audits } = await setup();
  const root = await users.create('root', 'admin', PW, 'test');
  await users.create('olga', 'operator', PW, 'test');
  const s = sessions.create(root.id);
  const n = audits();
  for (const [what, f] of [
    ['demote', () => users.update('root', { role: 'operator' }, 'user:olga')],
    ['disable', () => users.update('root', { disabled: true }, 'user:olga')],
    ['demote with a new password', () => users.update('root', { role: 'viewer', password: 'another long password' }, 'user:olga')],
    ['remove', async () => users.remove('root', 'user:olga')],
  ] as const) {
    await assert.rejects(f(), (e: unknown) => e instanceof UserConflict && /last enabled admin/.test(e.message), what);
  }
  assert.deepEqual(users.get('root'), root, 'unchanged');
  assert.ok(sessions.resolve(s.id), 'the admin\'s session lives on: the refused change ended nothing');
  assert.equal(audits(), n, 'no audit row for a refused change');
  assert.ok(await users.authenticate('root', PW), 'the password was not changed by the refused demotion');

  // A disabled admin does not count; an enabled second admin does.
  await users.create('backup', 'admin', PW, 'test');
  await users.update('backup', { disabled: true }, 'user:root');
  assert.throws(() => users.remove('root', 'user:olga'), UserConflict);
  await users.update('backup', { disabled: false }, 'user:root');
  assert.equal((await users.update('root', { role: 'viewer' }, 'user:backup'))!.role, 'viewer');
  await assert.rejects(users.update('backup', { role: 'operator' }, 'user:backup'), /last enabled admin/);
});

test('sessions end on removal, disabling, demotion and a new password; not on promotion or another user\'s change', async () => {
  const { users, sessions } = await setup();
  await users.create('root', 'admin', PW, 'test');
  const bob = await users.create('bob', 'viewer', PW, 'test');
  const eve = await users.create('eve', 'operator', PW, 'test');
  const other = sessions.create(eve.id);
  const live = (id: string) => sessions.resolve(id) !== null;

  let s = sessions.create(bob.id);
  await users.update('bob', { role: 'operator' }, 'user:root');
  assert.ok(live(s.id), 'a promotion keeps the session (the new role holds at once)');
  assert.equal(sessions.resolve(s.id)!.user.role, 'operator');
  await users.update('bob', { role: 'admin' }, 'user:root');
  assert.ok(live(s.id));

  await users.update('bob', { role: 'viewer' }, 'user:root');
  assert.equal(live(s.id), false, 'a demotion ends it');

  s = sessions.create(bob.id);
  await users.update('bob', { password: 'bob new password' }, 'user:root');
  assert.equal(live(s.id), false, 'a new password ends it');

  s = sessions.create(bob.id);
  await users.update('bob', { disabled: true }, 'user:root');
  assert.equal(live(s.id), false, 'disabling ends it');
  await users.update('bob', { disabled: false }, 'user:root');
  assert.equal(live(s.id), false, 'enabling again does not bring it back');

  s = sessions.create(bob.id);
  users.remove('bob', 'user:root');
  assert.equal(live(s.id), false, 'removal ends it');
  assert.ok(live(other.id), 'another user\'s session is untouched throughout');

  // keepSession: the session making the change (its own password) stays; the others end.
  const mine = sessions.create(eve.id);
  await users.update('eve', { password: 'eve new password' }, 'user:eve', { keepSession: sessions.resolve(mine.id)!.idHash });
  assert.ok(live(mine.id), 'the kept session');
  assert.equal(live(other.id), false, 'eve\'s other session ended');
  assert.ok(await users.authenticate('eve', 'eve new password'));
});

test('refuseSelf: the console refuses removing, disabling or demoting oneself; the API (no option) does not', async () => {
  const { users, sessions, audits } = await setup();
  await users.create('root', 'admin', PW, 'test');
  const ann = await users.create('ann', 'admin', PW, 'test');
  const s = sessions.create(ann.id);
  const n = audits();
  assert.throws(() => users.remove('ann', 'user:ann', { refuseSelf: true }), /you cannot delete yourself: another admin can/);
  await assert.rejects(users.update('ann', { role: 'operator' }, 'user:ann', { refuseSelf: true }), /you cannot demote yourself/);
  await assert.rejects(users.update('ann', { disabled: true }, 'user:ann', { refuseSelf: true }), /you cannot disable yourself/);
  assert.equal(audits(), n);
  assert.ok(sessions.resolve(s.id));
  // Her own password and a no-op role change are fine; another admin may do the rest.
  await users.update('ann', { role: 'admin', password: 'ann new password' }, 'user:ann', { refuseSelf: true, keepSession: sessions.resolve(s.id)!.idHash });
  assert.ok(sessions.resolve(s.id));
  assert.equal((await users.update('ann', { role: 'operator' }, 'user:root', { refuseSelf: true }))!.role, 'operator');
  assert.equal(sessions.resolve(s.id), null, 'demoted by root: her session ended');
  assert.ok(users.remove('ann', 'user:root', { refuseSelf: true }));
  // Without the option (the API): a second admin may remove themselves.
  await users.create('tmp', 'admin', PW, 'test');
  assert.ok(users.remove('tmp', 'user:tmp'));
});

test('generatePassword gives 24 characters, above the minimum, different each time', async () => {
  const a = generatePassword();
  assert.match(a, /^[\w-]{24}$/);
  assert.ok(a.length >= MIN_PASSWORD);
  assert.notEqual(a, generatePassword());
});

test('ifPassword: a password change applies only while the password is the one stamped (a form sent twice changes it once)', async () => {
  const { users, audits } = await setup();
  await users.create('root', 'admin', PW, 'test');
  await users.create('bob', 'viewer', PW, 'test');
  const st = users.passwordStamp('bob')!;
  assert.match(st, /^[\w-]{16}$/);
  assert.equal(users.passwordStamp('nobody'), null);
  await users.update('bob', { role: 'operator' }, 'user:root', { ifPassword: 'stale' });
  assert.equal(users.passwordStamp('bob'), st, 'a role change leaves the stamp (and ignores ifPassword)');
  await users.update('bob', { password: 'first new password' }, 'user:root', { ifPassword: st });
  assert.notEqual(users.passwordStamp('bob'), st);
  const n = audits();
  await assert.rejects(users.update('bob', { password: 'second new password' }, 'user:root', { ifPassword: st }), /was changed since this form was shown/);
  assert.equal(audits(), n);
  assert.ok(await users.authenticate('bob', 'first new password'), 'the first change holds');
});
