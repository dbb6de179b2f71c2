import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readAudit } from '../../../sync/local/audit.ts';
import { LocalStore } from '../../../sync/local/store.ts';
import { InputError } from '../../../sync/local/keys.ts';
import { Reputation } from '../../../sync/local/reputation.ts';
import { Clock, DAY, HOUR, T0, tmpDb } from './helpers.ts';

const CFG = { half_life: 7 * 86400, cap: 10 };
const close = (a: number, b: number, msg?: string) => assert.ok(Math.abs(a - b) < 1e-9, `${msg ?? ''} ${a} != ${b}`);

function setup(cfg = CFG) {
  const { db, path } = tmpDb();
  const clock = new Clock();
  return { db, path, clock, rep: new Reputation(db, cfg, clock.now) };
}

test('a spam report halves every half-life; a trap counts double', () => {
  const { rep, clock } = setup();
  const r = rep.report({ key: '192.0.2.1', kind: 'spam', reporter: 'rspamd' });
  assert.equal(r.score, 1);
  assert.deepEqual({ ...r.event, id: 0 }, { id: 0, key: '192.0.2.1', kind: 'spam', weight: 1, reporter: 'rspamd', at: T0, note: null });
  close(rep.score('192.0.2.1', T0 + 7 * DAY), 0.5);
  close(rep.score('192.0.2.1', T0 + 14 * DAY), 0.25);
  clock.advance(7 * DAY);
  const t = rep.report({ key: '192.0.2.1', kind: 'trap', weight: 1.5, reporter: 'trap' });
  close(t.score, 0.5 + 3);
  close(rep.score('192.0.2.1'), 3.5);
  assert.equal(rep.score('192.0.2.99'), 0);
});

test('without cap or false positives the score is sum(sign * weight * 0.5^(age/half_life))', () => {
  const { rep, clock } = setup({ half_life: 2 * 86400, cap: 1000 });
  const events = [
    { dt: 0, kind: 'spam', weight: 2, sign: 1 },
    { dt: 1 * DAY, kind: 'ham', weight: 1, sign: -1 },
    { dt: 3 * DAY + 5 * HOUR, kind: 'spam', weight: 1, sign: 1 },
    { dt: 4 * DAY, kind: 'trap', weight: 1, sign: 2 },
    { dt: 9 * DAY, kind: 'ham', weight: 0.5, sign: -1 },
  ] as const;
  for (const e of events) {
    clock.t = T0 + e.dt;
    rep.report({ key: 'spam.example', kind: e.kind, weight: e.weight, reporter: 'x' });
  }
  const at = T0 + 12 * DAY;
  const expected = events.reduce((s, e) => s + e.sign * e.weight * 0.5 ** ((at - T0 - e.dt) / (2 * DAY)), 0);
  close(rep.score('spam.example', at), expected);
  const ex = rep.explain('SPAM.example.', at);
  close(ex.score, expected);
  assert.deepEqual(ex.events.map((e) => e.kind), ['ham', 'trap', 'spam', 'ham', 'spam']);
});

test('the score is capped both ways and decays from the last event', () => {
  const { rep, clock } = setup();
  for (let i = 0; i < 30; i++) rep.report({ key: '2001:db8::25', kind: 'spam', weight: 3, reporter: 'x' });
  assert.equal(rep.score('2001:db8::25'), 10);
  clock.advance(7 * DAY);
  close(rep.score('2001:db8::25'), 5);
  for (let i = 0; i < 30; i++) rep.report({ key: 'good.example', kind: 'ham', reporter: 'x' });
  assert.equal(rep.score('good.example'), -10);
});

test('a false positive cancels positive evidence, counts as ham; every report is audited', () => {
  const { rep, clock, db } = setup();
  for (let i = 0; i < 8; i++) rep.report({ key: '198.51.100.7', kind: 'trap', reporter: 'trap' });
  assert.equal(rep.score('198.51.100.7'), 10);
  clock.advance(HOUR);
  const r = rep.report({ key: '198.51.100.7', kind: 'false-positive', reporter: 'helpdesk', note: 'invoice mail from a customer' }, 'token:console');
  assert.equal(r.score, -1);
  const a = readAudit(db, { target: '198.51.100.7' });
  assert.equal(a.length, 9);
  assert.deepEqual(a.slice(1).map((e) => [e.action, e.actor]), new Array(8).fill(['reputation.report', 'trap']));
  assert.equal(a[0]!.action, 'reputation.false-positive');
  assert.equal(a[0]!.actor, 'token:console');
  close((a[0]!.before as { score: number }).score, 10 * 0.5 ** (1 / (7 * 24)));
  assert.equal((a[0]!.after as { score: number }).score, -1);
  assert.equal((a[0]!.after as { event: { note: string } }).event.note, 'invoice mail from a customer');
  clock.advance(HOUR);
  assert.ok(rep.report({ key: '198.51.100.7', kind: 'spam', reporter: 'x' }).score > -0.01, 'new evidence counts again');
  assert.deepEqual(readAudit(db).map((e) => e.action).slice(0, 2), ['reputation.report', 'reputation.false-positive']);
});

test('a late event (reported with an earlier time) replays the history in order', () => {
  const a = setup();
  const b = setup();
  const evs = [
    { at: T0, kind: 'spam' }, { at: T0 + DAY, kind: 'false-positive' }, { at: T0 + 2 * DAY, kind: 'spam' },
  ] as const;
  a.clock.t = b.clock.t = T0 + 3 * DAY;
  for (const e of evs) a.rep.report({ key: '192.0.2.5', kind: e.kind, reporter: 'x', at: e.at });
  for (const e of [evs[2], evs[0], evs[1]]) b.rep.report({ key: '192.0.2.5', kind: e.kind, reporter: 'x', at: new Date(e.at).toISOString() });
  close(b.rep.score('192.0.2.5'), a.rep.score('192.0.2.5'));
  assert.equal(b.rep.state('192.0.2.5')!.events, 3);
});

test('a new half-life or cap recomputes the stored scores', () => {
  const { db, clock } = setup();
  const r1 = new Reputation(db, CFG, clock.now);
  for (let i = 0; i < 4; i++) r1.report({ key: '192.0.2.9', kind: 'spam', reporter: 'x' });
  clock.advance(DAY);
  const r2 = new Reputation(db, { half_life: 86400, cap: 3 }, clock.now);
  assert.equal(r2.syncConfig(), 1);
  close(r2.score('192.0.2.9'), 1.5);
  assert.equal(r2.syncConfig(), 0);
});

test('reports are validated', () => {
  const { rep, db } = setup();
  const bad = (input: object, field: string, re: RegExp) =>
    assert.throws(() => rep.report({ key: '192.0.2.1', kind: 'spam', reporter: 'x', ...input }), (e: unknown) => e instanceof InputError && e.field === field && re.test(e.message));
  bad({ kind: 'virus' }, 'kind', /one of spam, trap, ham, false-positive/);
  bad({ weight: 0 }, 'weight', /above 0/);
  bad({ weight: 101 }, 'weight', /at most 100/);
  bad({ weight: 'lots' }, 'weight', /number/);
  bad({ weight: Number.NaN }, 'weight', /number/);
  bad({ key: '192.0.2.0/24' }, 'key', /single address/);
  bad({ key: '*.example.com' }, 'key', /wildcard/);
  bad({ reporter: 'x'.repeat(101) }, 'reporter', /too long/);
  bad({ at: T0 + HOUR }, 'at', /future/);
  bad({ at: 'yesterday' }, 'at', /ISO 8601/);
  assert.equal((db.prepare('SELECT count(*) FROM reputation_events').pluck().get() as number), 0);
});

test('a report whose audit row cannot be written is not stored: event, score and overlay stay as they were', () => {
  const { db, clock } = setup();
  const swaps: unknown[] = [];
  const store = new LocalStore(db, { reputation: CFG, now: clock.now, onChange: (o) => swaps.push(o) });
  store.report({ key: '192.0.2.9', kind: 'spam', reporter: 'mx1' });
  db.exec(`CREATE TRIGGER no_audit BEFORE INSERT ON audit_log BEGIN SELECT RAISE(ABORT, 'simulated write failure'); END`);
  assert.throws(() => store.report({ key: '192.0.2.9', kind: 'spam', reporter: 'mx1' }), /simulated write failure/);
  assert.equal(store.reputation.events('192.0.2.9').length, 1);
  assert.equal(store.reputation.state('192.0.2.9')!.score, 1);
  assert.equal(store.overlay.lookupKey('192.0.2.9').score, 1);
  assert.equal(swaps.length, 1, 'no new overlay was published');
  db.exec('DROP TRIGGER no_audit');
  assert.ok(store.report({ key: '192.0.2.9', kind: 'spam', reporter: 'mx1' }).score > 1.99, 'works again once the log can be written');
  store.close();
});
