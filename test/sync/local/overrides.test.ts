import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openDb } from '../../../core/db.ts';
import { readAudit } from '../../../sync/local/audit.ts';
import { InputError } from '../../../sync/local/keys.ts';
import { OverrideConflict, OverrideGuard, Overrides, parseExpires } from '../../../sync/local/overrides.ts';
import { Clock, DAY, HOUR, T0, tmpDb } from './helpers.ts';

test('add, list, remove; each change has its audit row with before and after', () => {
  const { db, path } = tmpDb();
  const clock = new Clock();
  const o = new Overrides(db, clock.now);
  const a = o.add({ action: 'deny', key: '192.0.2.0/24', reason: 'snowshoe range', author: 'alice' });
  assert.deepEqual(a, { id: a.id, key: '192.0.2.0/24', kind: 'ip4', action: 'deny', reason: 'snowshoe range', author: 'alice', created: T0, expires: null });
  clock.advance(HOUR);
  const b = o.add({ action: 'allow', key: '*.Partner.example', reason: 'partner', author: 'bob', expires: '2d' }, { actor: 'token:console' });
  assert.equal(b.key, '*.partner.example');
  assert.equal(b.expires, T0 + HOUR + 2 * DAY);
  assert.deepEqual(o.list().map((x) => x.key), ['192.0.2.0/24', '*.partner.example']);
  clock.advance(HOUR);
  const e = o.setExpiry(a.id, '2025-04-01T00:00:00Z', 'carol');
  assert.equal(e.expires, Date.parse('2025-04-01T00:00:00Z'));
  clock.advance(HOUR);
  o.remove(b.id, 'dave');
  assert.deepEqual(o.list().map((x) => x.id), [a.id]);

  // Survives reopening: a real file.
  db.close();
  const db2 = openDb(path);
  const log = readAudit(db2);
  assert.deepEqual(log.map((r) => [r.action, r.actor, r.target, r.at]), [
    ['override.remove', 'dave', '*.partner.example', T0 + 3 * HOUR],
    ['override.expiry', 'carol', '192.0.2.0/24', T0 + 2 * HOUR],
    ['override.add', 'token:console', '*.partner.example', T0 + HOUR],
    ['override.add', 'alice', '192.0.2.0/24', T0],
  ]);
  assert.deepEqual(log[0]!.after, null);
  assert.deepEqual((log[0]!.before as { id: number }).id, b.id);
  assert.deepEqual((log[1]!.before as { expires: unknown }).expires, null);
  assert.deepEqual((log[1]!.after as { expires: unknown }).expires, Date.parse('2025-04-01T00:00:00Z'));
  assert.equal(log[3]!.before, null);
  assert.deepEqual(readAudit(db2, { target: '192.0.2.0/24' }).map((r) => r.action), ['override.expiry', 'override.add']);
  assert.deepEqual(new Overrides(db2).get(a.id)!.reason, 'snowshoe range');
  db2.close();
});

test('one override per key: an active one conflicts unless replaced; an expired one is replaced', () => {
  const { db } = tmpDb();
  const clock = new Clock();
  const o = new Overrides(db, clock.now);
  const a = o.add({ action: 'deny', key: '2001:db8::1', reason: 'r1', author: 'a', expires: '1h' });
  assert.throws(() => o.add({ action: 'allow', key: '2001:DB8:0::1', reason: 'r2', author: 'b' }),
    (e: unknown) => e instanceof OverrideConflict && e.status === 409 && /2001:db8::1 already has an override \(#\d+, deny: r1\)/.test(e.message));
  const r = o.add({ action: 'allow', key: '2001:db8::1', reason: 'r2', author: 'b' }, { replace: true });
  assert.equal(r.id, a.id);
  assert.equal(r.action, 'allow');
  o.setExpiry(a.id, '1h', 'b');
  clock.advance(2 * HOUR);
  assert.deepEqual(o.list(), []);
  assert.equal(o.list({ expired: true }).length, 1);
  const c = o.add({ action: 'deny', key: '2001:db8::1', reason: 'r3', author: 'c' });
  assert.equal(c.id, a.id);
  const actions = readAudit(db, { target: '2001:db8::1' }).map((x) => x.action);
  assert.deepEqual(actions, ['override.replace', 'override.expiry', 'override.replace', 'override.add']);
  const last = readAudit(db, { limit: 1 })[0]!;
  assert.equal((last.before as { reason: string }).reason, 'r2');
  assert.equal((last.after as { reason: string }).reason, 'r3');
});

test('bad input is rejected before anything is written', () => {
  const { db } = tmpDb();
  const o = new Overrides(db, () => T0);
  const bad = (input: object, field: string, re: RegExp) =>
    assert.throws(() => o.add({ action: 'deny', key: '192.0.2.1', reason: 'r', author: 'a', ...input }), (e: unknown) => e instanceof InputError && e.field === field && re.test(e.message));
  bad({ action: 'block' }, 'action', /'allow' or 'deny'/);
  bad({ key: '300.1.1.1' }, 'key', /not an octet/);
  bad({ reason: '' }, 'reason', /empty/);
  bad({ reason: 'x'.repeat(501) }, 'reason', /at most 500/);
  bad({ author: 'a\u0000b' }, 'author', /control/);
  bad({ expires: '2020-01-01' }, 'expires', /not in the future/);
  bad({ expires: 'tomorrow' }, 'expires', /neither a duration/);
  bad({ expires: '0d' }, 'expires', /zero duration/);
  bad({ expires: { at: 1 } }, 'expires', /must be a string/);
  assert.deepEqual(o.list({ expired: true }), []);
  assert.deepEqual(readAudit(db), []);
  assert.throws(() => o.remove(99, 'x'), (e: unknown) => e instanceof OverrideConflict && e.status === 404);
  assert.throws(() => o.setExpiry(99, '1d', 'x'), (e: unknown) => e instanceof OverrideConflict && e.status === 404);
});

test('hostile-looking text is stored verbatim', () => {
  const { db } = tmpDb();
  const o = new Overrides(db, () => T0);
  const reason = `Robert'); DROP TABLE overrides;-- <script>alert(1)</script> "quoted" \\ ünïcödé 🚫`;
  const a = o.add({ action: 'deny', key: 'spam.example', reason, author: "O'Brien" });
  assert.equal(o.get(a.id)!.reason, reason);
  assert.equal(o.get(a.id)!.author, "O'Brien");
  assert.equal(o.list().length, 1);
});

test('expiry forms', () => {
  assert.equal(parseExpires(undefined, T0), null);
  assert.equal(parseExpires('never', T0), null);
  assert.equal(parseExpires('90m', T0), T0 + 90 * 60_000);
  assert.equal(parseExpires('1w', T0), T0 + 7 * DAY);
  assert.equal(parseExpires('2025-03-02', T0), Date.parse('2025-03-02T00:00:00Z'));
  assert.equal(parseExpires('2025-03-01T14:00+01:00', T0), T0 + HOUR);
  assert.throws(() => parseExpires('2025-03-01T13:00+01:00', T0), /2025-03-01T12:00:00.000Z is not in the future/);
  assert.throws(() => parseExpires('2025-02-30', T0), /"2025-02-30" is not a valid date/);
});

test('a key wider than the limits needs force by an admin; refused changes leave nothing behind; forced ones are audited as such', () => {
  const { db } = tmpDb();
  const clock = new Clock();
  const o = new Overrides(db, clock.now);
  const refused = (f: () => unknown, needs: 'force' | 'admin', text: RegExp) =>
    assert.throws(f, (e: unknown) => e instanceof OverrideGuard && e.status === 403 && e.needs === needs && text.test(e.message));
  const deny = (key: string) => ({ action: 'deny', key, reason: 'r', author: 'a' });
  refused(() => o.add(deny('0.0.0.0/0'), { actor: 'token:helpdesk' }), 'force',
    /^deny 0\.0\.0\.0\/0 covers \/0 \(all of IPv4\), wider than the limit \/16 \(policy\.override_limits\.v4\): it needs force/);
  refused(() => o.add(deny('0.0.0.0/0'), { force: true }), 'admin', /force needs the admin scope/);
  refused(() => o.add(deny('*.com'), { admin: true }), 'force', /every name below the public suffix com/);
  refused(() => o.add({ ...deny('2001:db8::/31'), action: 'allow' }, { admin: true }), 'force', /^allow 2001:db8::\/31 .*\/32 \(policy\.override_limits\.v6\)/);
  assert.deepEqual(o.list({ expired: true }), [], 'nothing stored');
  assert.deepEqual(readAudit(db), [], 'nothing audited');

  // Within the limits, force changes nothing and nothing is marked forced.
  const n = o.add(deny('10.1.0.0/16'), { actor: 'token:helpdesk' });
  assert.equal((readAudit(db)[0]!.after as { forced?: boolean }).forced, undefined);

  const w = o.add(deny('0.0.0.0/0'), { actor: 'token:root', force: true, admin: true });
  assert.equal(w.key, '0.0.0.0/0');
  const a = readAudit(db)[0]!;
  assert.deepEqual([a.action, a.actor, a.target], ['override.add', 'token:root', '0.0.0.0/0']);
  assert.deepEqual(a.after, { ...w, forced: true, width: '/0 (all of IPv4)', limit: '/16 (policy.override_limits.v4)' });
  // replacing a wide key is a new decision: guarded again
  refused(() => o.add({ ...deny('0.0.0.0/0'), expires: '1h' }, { replace: true, admin: true }), 'force', /wider than the limit/);
  const x = o.add({ ...deny('0.0.0.0/0'), expires: '1h' }, { replace: true, force: true, admin: true });
  assert.equal((readAudit(db)[0]!.after as { forced: boolean }).forced, true);
  // living longer is guarded, ending sooner is not
  refused(() => o.setExpiry(x.id, 'never', 'token:helpdesk'), 'force', /^extending deny 0\.0\.0\.0\/0 covers/);
  refused(() => o.setExpiry(x.id, '2h', 'token:helpdesk', { force: true }), 'admin', /admin scope/);
  assert.equal(o.setExpiry(x.id, '30m', 'token:helpdesk').expires, T0 + 30 * 60_000);
  assert.equal(o.setExpiry(n.id, 'never', 'token:helpdesk').expires, null, 'a narrow key is not guarded');
  const forever = o.setExpiry(x.id, 'never', 'token:root', { force: true, admin: true });
  assert.equal(forever.expires, null);
  assert.deepEqual(readAudit(db)[0]!.after, { ...forever, forced: true, width: '/0 (all of IPv4)', limit: '/16 (policy.override_limits.v4)' });
  // removing is always allowed
  assert.equal(o.remove(x.id, 'token:helpdesk').key, '0.0.0.0/0');

  // The limits come from the config.
  const loose = new Overrides(db, clock.now, { v4: 8, v6: 24 });
  assert.equal(loose.add(deny('10.0.0.0/8')).key, '10.0.0.0/8');
  refused(() => loose.add(deny('10.0.0.0/7')), 'force', /\/8 \(policy\.override_limits\.v4\)/);
  assert.equal(new Overrides(db, clock.now, { v4: 0, v6: 0 }).add(deny('::/0')).key, '::/0', '0 = no limit');
  refused(() => loose.add(deny('co.uk')), 'force', /the public suffix co\.uk/);
});

test('a forced override whose audit row cannot be written is not stored', () => {
  const { db } = tmpDb();
  const o = new Overrides(db, new Clock().now);
  db.exec(`CREATE TRIGGER no_audit BEFORE INSERT ON audit_log BEGIN SELECT RAISE(ABORT, 'simulated write failure'); END`);
  assert.throws(() => o.add({ action: 'deny', key: '0.0.0.0/0', reason: 'r', author: 'a' }, { force: true, admin: true }), /simulated write failure/);
  assert.deepEqual(o.list({ expired: true }), []);
});
