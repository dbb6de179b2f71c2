// Overrides.page (the console list): filters, LIKE wildcards taken literally, keyset paging both
// ways; update (reason/expiry, 'now') audited as one row; the width guard on extending.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openDb } from '../../../core/db.ts';
import { Overrides } from '../../../sync/local/overrides.ts';
import { readAudit } from '../../../sync/local/audit.ts';

test('page: filters, literal % and _, keyset paging newest first', () => {
  let now = 1_000_000;
  const o = new Overrides(openDb(':memory:'), () => now);
  for (let i = 1; i <= 12; i++) o.add({ action: i % 2 ? 'deny' : 'allow', key: `192.0.2.${i}`, reason: i === 3 ? '100% sure_x' : `r${i}`, author: i <= 6 ? 'ann' : 'bob', expires: i === 12 ? '1h' : null });
  now += 2 * 3600_000;
  assert.deepEqual(o.page({ q: '%' }).rows.map((r) => r.key), ['192.0.2.3']);
  assert.deepEqual(o.page({ q: 'e_x' }).rows.map((r) => r.key), ['192.0.2.3'], '_ is not a wildcard (sure_x has e_x)');
  assert.equal(o.page({ q: 'r_' }).total, 0);
  assert.deepEqual(o.page({ status: 'expired' }).rows.map((r) => r.key), ['192.0.2.12']);
  assert.equal(o.page({}).total, 11);
  assert.equal(o.page({ status: 'all' }).total, 12);
  assert.deepEqual(o.page({ author: 'ann', action: 'allow' }).rows.map((r) => r.key), ['192.0.2.6', '192.0.2.4', '192.0.2.2']);
  const p1 = o.page({ status: 'all' }, { limit: 5 });
  assert.deepEqual([p1.rows.map((r) => r.id), p1.newer, p1.older], [[12, 11, 10, 9, 8], false, true]);
  const p3 = o.page({ status: 'all' }, { limit: 5, before: 3 });
  assert.deepEqual([p3.rows.map((r) => r.id), p3.newer, p3.older], [[2, 1], true, false]);
  const back = o.page({ status: 'all' }, { limit: 5, after: 2 });
  assert.deepEqual([back.rows.map((r) => r.id), back.newer, back.older], [[7, 6, 5, 4, 3], true, true]);
  assert.deepEqual(o.authors(), ['ann', 'bob']);
  assert.equal([...o.each({ author: 'bob', status: 'all' })].length, 6);
});

test('update: reason and expiry in one audited row; now ends it; a wide key lives longer only forced', () => {
  let now = 1_000_000;
  const db = openDb(':memory:');
  const o = new Overrides(db, () => now);
  const a = o.add({ action: 'deny', key: '192.0.2.1', reason: 'first', author: 'ann', expires: '1d' });
  const u = o.update(a.id, { reason: 'second', expires: null }, 'user:ann');
  assert.deepEqual([u.reason, u.expires, u.author, u.created], ['second', null, 'ann', a.created]);
  const e = o.update(a.id, { expires: 'now' }, 'user:ann');
  assert.equal(e.expires, now);
  assert.deepEqual(readAudit(db, { target: '192.0.2.1' }).map((r) => [r.action, r.actor]).sort(), [['override.add', 'ann'], ['override.update', 'user:ann'], ['override.update', 'user:ann']]);
  assert.throws(() => o.update(a.id, { reason: '' }, 'user:ann'), /reason is empty/);
  const w = o.add({ action: 'deny', key: '10.0.0.0/8', reason: 'wide', author: 'root', expires: '1d' }, { force: true, admin: true });
  assert.throws(() => o.update(w.id, { expires: null }, 'user:op', { admin: false }), /needs force/);
  assert.equal(o.update(w.id, { expires: '1h' }, 'user:op').reason, 'wide', 'shortening needs no force');
  now += 1;
  assert.throws(() => o.update(999, { expires: 'now' }, 'user:ann'), /no override #999/);
});
