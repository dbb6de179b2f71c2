// The audit log's reader: filters (target in any spelling, actor, action exact or prefix, time
// range in ISO or Unix ms), newest first by time, keyset pages that cover every row once, clear
// errors naming the field, and every filter served by an index (100k rows stay fast:
// test/bench/reputation-audit.ts).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pageAudit, parseAuditFilter, readAudit, writeAudit, type AuditAction } from '../../../sync/local/audit.ts';
import { InputError } from '../../../sync/local/keys.ts';
import { LocalStore } from '../../../sync/local/store.ts';
import { Clock, HOUR, T0, tmpDb } from './helpers.ts';

function setup() {
  const { db } = tmpDb();
  const clock = new Clock();
  const store = new LocalStore(db, { reputation: { half_life: 7 * 86400, cap: 10 }, now: clock.now });
  return { db, clock, store };
}

/** A log written through the real services: overrides, reports, a token, by three actors. */
function history() {
  const s = setup();
  const { store, clock } = s;
  store.addOverride({ action: 'deny', key: '2001:DB8:0::25', reason: 'spam run', author: 'alice' }, { actor: 'user:alice' }); // T0
  clock.advance(HOUR);
  store.report({ key: '192.0.2.7', kind: 'spam', reporter: 'rspamd' }, 'token:rspamd'); // T0+1h
  clock.advance(HOUR);
  const o = store.addOverride({ action: 'allow', key: '192.0.2.7', reason: 'customer relay', author: 'bob' }, { actor: 'user:bob' }); // T0+2h
  clock.advance(HOUR);
  store.setOverrideExpiry(o.id, '1d', 'user:alice'); // T0+3h
  clock.advance(24 * HOUR);
  store.report({ key: '192.0.2.7', kind: 'false-positive', reporter: 'alice' }, 'user:alice'); // T0+27h
  store.tokens.create('mta', 'reports', 'cli:root'); // T0+27h
  return s;
}

const acts = (q: Parameters<typeof parseAuditFilter>[0], db: ReturnType<typeof setup>['db']) =>
  pageAudit(db, parseAuditFilter(q)).entries.map((e) => `${e.action} ${e.actor} ${e.target}`);

test('filters: target in any spelling, actor, action exact or prefix, since/until; newest first', () => {
  const { db } = history();
  assert.deepEqual(acts({}, db), [
    'token.create cli:root token:mta',
    'reputation.false-positive user:alice 192.0.2.7',
    'override.expiry user:alice 192.0.2.7',
    'override.add user:bob 192.0.2.7',
    'reputation.report token:rspamd 192.0.2.7',
    'override.add user:alice 2001:db8::25',
  ]);
  assert.deepEqual(acts({ target: '2001:db8:0:0::25' }, db), ['override.add user:alice 2001:db8::25']);
  assert.deepEqual(acts({ target: 'token:mta' }, db), ['token.create cli:root token:mta']);
  assert.deepEqual(acts({ actor: 'user:alice' }, db), [
    'reputation.false-positive user:alice 192.0.2.7', 'override.expiry user:alice 192.0.2.7', 'override.add user:alice 2001:db8::25',
  ]);
  assert.deepEqual(acts({ action: 'override.add' }, db), ['override.add user:bob 192.0.2.7', 'override.add user:alice 2001:db8::25']);
  const overrides = ['override.expiry user:alice 192.0.2.7', 'override.add user:bob 192.0.2.7', 'override.add user:alice 2001:db8::25'];
  assert.deepEqual(acts({ action: 'override.' }, db), overrides, 'a prefix ending in "."');
  assert.deepEqual(acts({ action: 'override*' }, db), overrides, 'a prefix ending in "*"');
  assert.deepEqual(acts({ action: 'reputation.', target: '192.0.2.7' }, db), ['reputation.false-positive user:alice 192.0.2.7', 'reputation.report token:rspamd 192.0.2.7']);
  assert.deepEqual(acts({ action: 'nothing.' }, db), []);
  // Time: since inclusive, until exclusive; ISO with or without a zone (UTC), Unix ms, a date alone.
  assert.deepEqual(acts({ since: String(T0 + HOUR), until: new Date(T0 + 3 * HOUR).toISOString() }, db), ['override.add user:bob 192.0.2.7', 'reputation.report token:rspamd 192.0.2.7']);
  assert.deepEqual(acts({ since: '2025-03-01 13:00', until: '2025-03-01T15:00:00+01:00' }, db), ['reputation.report token:rspamd 192.0.2.7'], 'no zone = UTC; a zone shifts the time');
  assert.deepEqual(acts({ until: '2025-03-01', actor: 'user:alice' }, db), ['override.expiry user:alice 192.0.2.7', 'override.add user:alice 2001:db8::25'], 'until a date: through that day');
  assert.deepEqual(acts({ since: '2025-03-02' }, db), ['token.create cli:root token:mta', 'reputation.false-positive user:alice 192.0.2.7']);
});

test('paging: keyset pages newest first cover every row once, also when the clock went back', () => {
  const { db } = setup();
  const ats = [T0, T0 + 5, T0 + 5, T0 + 2, T0 + 9, T0 + 9, T0 + 1, T0 + 20, T0 + 3, T0 + 3, T0 + 3];
  ats.forEach((at, i) => writeAudit(db, { at, actor: i % 2 ? 'user:a' : 'user:b', action: (i % 3 ? 'override.add' : 'user.login') as AuditAction, target: 'x' }));
  for (const filter of [{}, { actor: 'user:a' }, { actionPrefix: 'override.' }, { since: T0 + 2 }]) {
    const all = pageAudit(db, { ...filter, limit: 1000 }).entries;
    for (let i = 1; i < all.length; i++) assert.ok(all[i - 1]!.at > all[i]!.at || (all[i - 1]!.at === all[i]!.at && all[i - 1]!.id > all[i]!.id));
    const seen: number[] = [];
    let before: number | undefined;
    for (let n = 0; n < 20; n++) {
      const p = pageAudit(db, { ...filter, before, limit: 2 });
      seen.push(...p.entries.map((e) => e.id));
      if (p.next === null) break;
      before = p.next;
    }
    assert.deepEqual(seen, all.map((e) => e.id), JSON.stringify(filter));
  }
  assert.equal(readAudit(db, { limit: 3 }).length, 3);
});

test('bad filters: an InputError naming the field', () => {
  const { db } = history();
  const fails = (q: Parameters<typeof parseAuditFilter>[0], field: string, re: RegExp) =>
    assert.throws(() => pageAudit(db, parseAuditFilter(q)), (e) => e instanceof InputError && e.field === field && re.test(e.message), JSON.stringify(q));
  fails({ target: 'not..valid' }, 'target', /target/);
  fails({ action: 'Override;drop' }, 'action', /override\.add/);
  fails({ since: 'yesterday' }, 'since', /2026-12-06/);
  fails({ until: '2025-13-45' }, 'until', /until/);
  fails({ since: '2025-03-02', until: '2025-03-01T00:00Z' }, 'until', /after since/);
  fails({ limit: '0' }, 'limit', /1 to 1000/);
  fails({ before: 'x' }, 'before', /integer/);
  fails({ before: '99999' }, 'before', /no audit entry #99999/);
  fails({ actor: 'user:\u0007' }, 'actor', /control/);
});

test('every filter reads an index in time order: no scan of the log, no sort', () => {
  const { db } = history();
  const plans: string[] = [];
  const orig = db.prepare.bind(db);
  (db as { prepare: typeof db.prepare }).prepare = ((sql: string) => {
    if (/FROM audit_log/.test(sql) && /ORDER BY at DESC/.test(sql)) {
      plans.push((orig(`EXPLAIN QUERY PLAN ${sql}`).all(...Array(sql.split('?').length - 1).fill(1)) as { detail: string }[]).map((r) => r.detail).join('; '));
    }
    return orig(sql);
  }) as typeof db.prepare;
  for (const q of [{}, { target: '192.0.2.7' }, { actor: 'user:alice' }, { action: 'override.add' }, { action: 'override.' }, { since: '2025-03-01', until: '2025-03-02' },
    { actor: 'user:alice', since: '2025-03-01' }, { before: '3' }]) {
    plans.length = 0;
    pageAudit(db, parseAuditFilter(q));
    assert.ok(plans.length > 0);
    for (const p of plans) {
      assert.match(p, /USING (COVERING )?INDEX audit_log_by_/, `${JSON.stringify(q)}: ${p}`);
      assert.doesNotMatch(p, /TEMP B-TREE/, `${JSON.stringify(q)}: ${p}`);
    }
  }
});
