// CSV writing (quoting, formula neutralising) and reading (quotes, line numbers, errors), and the
// import plan on a real SQLite store: adds, replaces, refusals with their lines; applying a plan
// whose key changed since the preview writes nothing.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openDb } from '../../../core/db.ts';
import { DEFAULT_REPUTATION } from '../../../sync/local/reputation.ts';
import { LocalStore } from '../../../sync/local/store.ts';
import { csvCell, csvLine, CsvError, parseCsv, unneutralise } from '../../../web/console/csv.ts';
import { planImport } from '../../../web/console/overrides-import.ts';

test('cells: quoted when needed, quotes doubled, formula starts neutralised', () => {
  assert.equal(csvCell('plain'), 'plain');
  assert.equal(csvCell('a,b'), '"a,b"');
  assert.equal(csvCell('say "hi"'), '"say ""hi"""');
  assert.equal(csvCell('two\nlines'), '"two\nlines"');
  assert.equal(csvCell(' edge'), '" edge"');
  for (const f of ['=1+1', '+1', '-1', '@SUM(A1)', '\tx']) assert.equal(csvCell(f).replace(/^"|"$/g, '')[0], "'", f);
  assert.equal(csvCell('=HYPERLINK("x")'), `"'=HYPERLINK(""x"")"`);
  assert.equal(csvCell(null), '');
  assert.equal(csvLine([1, 'a', null]), '1,a,\r\n');
});

test('parse: round trip of what we write, line numbers across quoted line breaks', () => {
  const rows = [['id', 'reason'], ['1', 'a, "b"\nc'], ['2', '=cmd']];
  const text = '\ufeff' + rows.map(csvLine).join('');
  const got = parseCsv(text);
  assert.deepEqual(got.map((r) => r.line), [1, 2, 4]);
  assert.deepEqual(got.map((r) => r.cells.map(unneutralise)), rows);
  assert.deepEqual(parseCsv('a,b\n\n,\nc').map((r) => [r.line, r.cells]), [[1, ['a', 'b']], [3, ['', '']], [4, ['c']]]);
});

test('parse errors name the line', () => {
  assert.throws(() => parseCsv('a\n"open'), (e: unknown) => e instanceof CsvError && e.line === 2 && /not closed/.test(e.message));
  assert.throws(() => parseCsv('a\nb"c'), (e: unknown) => e instanceof CsvError && e.line === 2 && /quote inside/.test(e.message));
  assert.throws(() => parseCsv('"a"b'), (e: unknown) => e instanceof CsvError && /after a closing quote/.test(e.message));
  assert.throws(() => parseCsv('a\nb\nc', 2), (e: unknown) => e instanceof CsvError && e.line === 3 && /more than 2 rows/.test(e.message));
});

test('import plan: adds, replaces (with before), refusals by line; a stale plan writes nothing', () => {
  let now = Date.parse('2026-01-01T00:00:00Z');
  const store = new LocalStore(openDb(':memory:'), { reputation: DEFAULT_REPUTATION, now: () => now });
  store.addOverride({ action: 'deny', key: '192.0.2.1', reason: 'old', author: 'a' });
  const csv = [
    'key,action,reason,expires,author',
    '192.0.2.1,allow,new reason,7d,ignored',
    '192.0.2.2,deny,"x, y",never,',
    '192.0.2.2,deny,again,,',
    '192.0.2.3,deny,,,',
    '10.0.0.0/8,deny,wide,,',
    '192.0.2.4,block,bad action,,',
    '192.0.2.5,deny,bad expiry,2020-01-01,',
    "'=cmd.example,deny,'=formula,,",
  ].join('\n');
  const plan = planImport(csv, store, { admin: false, force: false }, now);
  assert.deepEqual(plan.rows.map((r) => [r.line, r.key, r.before?.reason ?? null]), [[2, '192.0.2.1', 'old'], [3, '192.0.2.2', null]]);
  assert.equal(plan.rows[0]!.expires, now + 7 * 86400_000);
  assert.deepEqual(plan.refused.map((r) => r.line), [4, 5, 6, 7, 8, 9]);
  assert.match(plan.refused[0]!.why, /already on line 3/);
  assert.match(plan.refused[1]!.why, /reason is empty/);
  assert.match(plan.refused[2]!.why, /wider than the limit \/16/);
  assert.match(plan.refused[3]!.why, /'allow' or 'deny'/);
  assert.match(plan.refused[4]!.why, /not in the future/);
  assert.match(plan.refused[5]!.why, /key/);
  const forced = planImport(csv, store, { admin: true, force: true }, now);
  assert.ok(forced.rows.some((r) => r.key === '10.0.0.0/8' && r.force));
  assert.throws(() => planImport('action,key\nallow,192.0.2.9', store, { admin: true, force: false }, now), /no 'reason' column/);

  // Someone adds 192.0.2.2 after the preview: the plan fails on its second row, and its first row
  // (already replaced inside the transaction) is rolled back with it, audit row included.
  now += 1000;
  store.addOverride({ action: 'deny', key: '192.0.2.2', reason: 'added meanwhile', author: 'b' });
  const audits = (store.db.prepare('SELECT count(*) AS n FROM audit_log').get() as { n: number }).n;
  assert.throws(() => store.applyOverrides(plan.rows, { actor: 'user:t', author: 't' }), /192\.0\.2\.2 \(line 3\) changed since the preview/);
  assert.equal(store.overrides.byKey('192.0.2.1')!.reason, 'old');
  assert.equal(store.overrides.byKey('192.0.2.2')!.reason, 'added meanwhile');
  assert.equal((store.db.prepare('SELECT count(*) AS n FROM audit_log').get() as { n: number }).n, audits);
  assert.equal(store.overlay.lookupKey('192.0.2.1').override?.reason, 'old', 'the overlay did not see the rolled-back row');
  const fresh = planImport(csv, store, { admin: false, force: false }, now);
  store.applyOverrides(fresh.rows, { actor: 'user:t', author: 't' });
  assert.equal(store.overrides.byKey('192.0.2.1')!.reason, 'new reason');
  assert.equal(store.overrides.byKey('192.0.2.2')!.author, 't');
  assert.deepEqual((store.db.prepare("SELECT actor, action FROM audit_log WHERE actor = 'user:t' ORDER BY id").all() as object[]).map((r) => Object.values(r)), [['user:t', 'override.replace'], ['user:t', 'override.replace']]);
  assert.equal(store.overlay.lookupKey('192.0.2.2').override?.action, 'deny', 'the overlay has the imported row');
});
