import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openDb } from '../../../core/db.ts';
import { readAudit } from '../../../sync/local/audit.ts';
import { InputError } from '../../../sync/local/keys.ts';
import { parseContact, parseMessage, RemovalRefused, Removals } from '../../../sync/local/removals.ts';
import { LocalStore } from '../../../sync/local/store.ts';
import { Clock, DAY, HOUR, T0, tmpDb } from './helpers.ts';

const REP = { half_life: 7 * 86400, cap: 10, bar: 3 };

function setup(limits = { perClientHour: 2, globalHour: 5, maxMessage: 50, openPerKey: 2 }) {
  const { db, path } = tmpDb();
  const clock = new Clock();
  const overlays: number[] = [];
  const store = new LocalStore(db, { reputation: REP, now: clock.now, onChange: (o) => overlays.push(o.serial) });
  return { db, path, clock, store, overlays, removals: new Removals(store, limits, clock.now) };
}

const refused = (status: number, re: RegExp) => (e: unknown) => e instanceof RemovalRefused && e.status === status && re.test(e.message);
const bad = (field: string, re: RegExp) => (e: unknown) => e instanceof InputError && e.field === field && re.test(e.message);

test('contact and message checks name what is wrong', () => {
  assert.equal(parseContact(' Postmaster@Mail.Example.COM '), 'Postmaster@mail.example.com');
  for (const v of ['', 'nobody', '@example.com', 'a@b', 'a b@example.com', 'a@exa mple.com', '"x"@example.com', 'a..b@example.com', 'a@1.2.3.4', `${'x'.repeat(65)}@example.com`, 'a@example.com\r\nBcc: x@y.z']) {
    assert.throws(() => parseContact(v), bad('contact', /contact/), v);
  }
  assert.throws(() => parseContact(7), bad('contact', /must be a string/));
  assert.equal(parseMessage('line one\r\nline two\t.', 100), 'line one\nline two\t.');
  assert.throws(() => parseMessage('  ', 100), bad('message', /required/));
  assert.throws(() => parseMessage('x'.repeat(101), 100), bad('message', /too long \(101 characters, at most 100\)/));
  assert.throws(() => parseMessage('evil \u001b[31m red', 100), bad('message', /control characters/));
  assert.throws(() => parseMessage('rtl \u202e trick', 100), bad('message', /control characters/));
});

test('file: the key is canonical, one address or domain; limits per client, in all and per key', () => {
  const { clock, removals, db } = setup();
  const a = removals.file({ key: ' 2001:DB8:0::1 ', contact: 'a@example.com', message: 'we fixed it', client: '192.0.2.1' });
  assert.deepEqual(a, {
    id: a.id, key: '2001:db8::1', contact: 'a@example.com', message: 'we fixed it', client: '192.0.2.1', created: T0, state: 'open',
    decidedBy: null, decidedAt: null, note: null, overrideId: null,
  });
  assert.throws(() => removals.file({ key: '192.0.2.0/24', contact: 'a@example.com', message: 'm', client: 'x' }), bad('key', /single address/));
  assert.throws(() => removals.file({ key: '*.example.com', contact: 'a@example.com', message: 'm', client: 'x' }), bad('key', /wildcard/));
  assert.throws(() => removals.file({ key: '198.51.100.7', contact: 'a@example.com', message: 'x'.repeat(51), client: 'x' }), bad('message', /at most 50/));

  // per client: 2 an hour; the refusal says when one is free again
  clock.advance(10 * 60_000);
  removals.file({ key: '198.51.100.7', contact: 'a@example.com', message: 'm', client: '192.0.2.1' });
  assert.throws(() => removals.file({ key: '198.51.100.8', contact: 'a@example.com', message: 'm', client: '192.0.2.1' }), refused(429, /try again in 3000 s/));
  assert.equal(removals.retryAfter('192.0.2.1'), 3000);
  assert.equal(removals.retryAfter('192.0.2.2'), 0);
  // per key: 2 open at a time (another client)
  removals.file({ key: '2001:db8::1', contact: 'b@example.com', message: 'm', client: '192.0.2.2' });
  assert.throws(() => removals.file({ key: '2001:db8::1', contact: 'c@example.com', message: 'm', client: '192.0.2.3' }), refused(409, /2001:db8::1 already has 2 open removal requests/));
  // in all: 5 an hour, whoever asks
  removals.file({ key: '198.51.100.9', contact: 'c@example.com', message: 'm', client: '192.0.2.3' });
  removals.file({ key: '198.51.100.10', contact: 'd@example.com', message: 'm', client: '192.0.2.4' });
  assert.throws(() => removals.file({ key: '198.51.100.11', contact: 'e@example.com', message: 'm', client: '192.0.2.5' }), refused(429, /try again in \d+ s/));
  const n = (db.prepare('SELECT count(*) AS n FROM removal_requests').get() as { n: number }).n;
  assert.equal(n, 5, 'nothing stored by a refusal');
  // an hour after the first: one is free again
  clock.advance(50 * 60_000 + 1);
  assert.equal(removals.retryAfter('192.0.2.1'), 0);
  removals.file({ key: '198.51.100.11', contact: 'e@example.com', message: 'm', client: '192.0.2.5' });
  assert.equal(removals.openCount(), 6);
  assert.deepEqual(removals.list({ state: 'open' }).map((r) => r.id), [...removals.list({ state: 'open' }).map((r) => r.id)].sort((x, y) => x - y), 'the queue is oldest first');
});

test('approve: an allow override replacing the deny, in the overlay on return, both audited in one transaction', () => {
  const { clock, store, removals, db, path } = setup();
  const deny = store.addOverride({ action: 'deny', key: '198.51.100.7', reason: 'spam run', author: 'alice' });
  assert.equal(store.overlay.lookupKey('198.51.100.7').override?.action, 'deny');
  const r = removals.file({ key: '198.51.100.7', contact: 'ops@example.net', message: 'cleaned the compromised box', client: '192.0.2.1' });
  clock.advance(HOUR);
  const { request, override } = removals.approve(r.id, { note: 'ticket 12', expires: '30d', actor: 'user:bob', author: 'bob' });
  assert.equal(override.id, deny.id, 'the deny is replaced, not doubled');
  assert.equal(override.action, 'allow');
  assert.equal(override.reason, `removal request #${r.id}: ticket 12`);
  assert.equal(override.expires, T0 + HOUR + 30 * DAY);
  assert.equal(store.overlay.lookupKey('198.51.100.7').override?.action, 'allow', 'the overlay has it when approve returns');
  assert.deepEqual({ ...request }, { ...r, state: 'approved', decidedBy: 'user:bob', decidedAt: T0 + HOUR, note: 'ticket 12', overrideId: override.id });
  const log = readAudit(db, { target: '198.51.100.7' });
  assert.deepEqual(log.map((e) => [e.action, e.actor]), [['removal.approve', 'user:bob'], ['override.replace', 'user:bob'], ['override.add', 'alice']]);
  assert.equal((log[0]!.before as { state: string }).state, 'open');
  assert.equal((log[0]!.after as { overrideId: number }).overrideId, override.id);
  assert.throws(() => removals.approve(r.id, { actor: 'user:carol', author: 'carol' }), refused(409, /already approved by user:bob/));
  assert.throws(() => removals.reject(r.id, { note: 'no', actor: 'user:carol' }), refused(409, /already approved/));
  assert.throws(() => removals.approve(999, { actor: 'user:carol', author: 'carol' }), refused(404, /no removal request #999/));
  // survives reopening: a real file
  db.close();
  const again = new Removals(new LocalStore(openDb(path), { reputation: REP }));
  assert.equal(again.get(r.id)!.overrideId, override.id);
});

test('reject: note required; nothing changes in DNS; a failure halfway stores nothing', () => {
  const { store, removals, db, overlays } = setup();
  store.addOverride({ action: 'deny', key: 'spam.example', reason: 'spam', author: 'alice' });
  const r = removals.file({ key: 'Spam.Example.', contact: 'a@example.com', message: 'please', client: 'c' });
  assert.equal(r.key, 'spam.example');
  assert.throws(() => removals.reject(r.id, { note: ' ', actor: 'user:bob' }), bad('note', /empty/));
  const seen = overlays.length;
  const done = removals.reject(r.id, { note: 'still sending spam', actor: 'user:bob' });
  assert.equal(done.state, 'rejected');
  assert.equal(done.note, 'still sending spam');
  assert.equal(overlays.length, seen, 'no overlay rebuilt');
  assert.equal(store.overlay.lookupKey('spam.example').override?.action, 'deny');
  assert.deepEqual(readAudit(db, { target: 'spam.example' }).map((e) => e.action), ['removal.reject', 'override.add']);

  // Approval failing halfway (the audit insert fails): neither the override nor the decision is stored.
  const r2 = removals.file({ key: '203.0.113.9', contact: 'a@example.com', message: 'please', client: 'c2' });
  db.exec("CREATE TRIGGER fail_audit BEFORE INSERT ON audit_log WHEN NEW.action = 'removal.approve' BEGIN SELECT RAISE(ABORT, 'disk trouble'); END");
  const before = overlays.length;
  assert.throws(() => removals.approve(r2.id, { actor: 'user:bob', author: 'bob' }), /disk trouble/);
  assert.equal(removals.get(r2.id)!.state, 'open');
  assert.equal(store.overrides.byKey('203.0.113.9'), null);
  assert.equal(store.overlay.lookupKey('203.0.113.9').override, undefined);
  assert.equal(overlays.length, before, 'the overlay was not touched');
  assert.deepEqual(readAudit(db, { target: '203.0.113.9' }), []);
  // the queue: open ones first, then the decided ones
  assert.deepEqual(removals.list().map((x) => [x.id, x.state]), [[r2.id, 'open'], [r.id, 'rejected']]);
  assert.deepEqual(removals.list({ state: 'rejected' }).map((x) => x.id), [r.id]);
});
