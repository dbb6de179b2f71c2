// What the Reputation page and GET /api/v1/reputation read: the top keys by their score now
// (read off the rank index, which must order keys exactly as their decayed scores do, also after
// late events, a half_life change and the migration of an older database), the count over the
// bar, and recent events newest first with filters and keyset paging.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MIGRATIONS, openDb } from '../../../core/db.ts';
import { InputError } from '../../../sync/local/keys.ts';
import { Reputation, type ReportKind } from '../../../sync/local/reputation.ts';
import { Clock, DAY, HOUR, T0, tmpDb } from './helpers.ts';

const CFG = { half_life: 7 * 86400, cap: 10, bar: 3 };

function setup(cfg = CFG) {
  const { db, path } = tmpDb();
  const clock = new Clock();
  return { db, path, clock, rep: new Reputation(db, cfg, clock.now) };
}

/** Every scored key sorted by rep.score() now, the slow way the index must agree with. */
function byScore(rep: Reputation): { key: string; score: number }[] {
  return rep.allStates().map((s) => ({ key: s.key, score: rep.score(s.key) }))
    .filter((x) => Math.round(x.score * 100) / 100 > 0).sort((a, b) => b.score - a.score);
}

test('top keys: ordered by the score now, not the stored one; the bar at two decimals; zero and negative scores left out', () => {
  const { rep, clock } = setup();
  rep.report({ key: '192.0.2.1', kind: 'spam', weight: 8, reporter: 't' }); // 8 at T0
  clock.advance(14 * DAY); // 192.0.2.1 has decayed to 2
  rep.report({ key: '192.0.2.2', kind: 'spam', weight: 5, reporter: 't' });
  rep.report({ key: 'Bad.Example.', kind: 'trap', weight: 2, reporter: 't' }); // 4, a domain in any spelling
  rep.report({ key: '192.0.2.3', kind: 'ham', reporter: 't' }); // negative: not a top key
  for (let i = 0; i < 3; i++) rep.report({ key: '2001:db8::7', kind: 'spam', reporter: 't' });
  const top = rep.top(10);
  assert.deepEqual(top.keys.map((k) => [k.key, k.overBar]), [
    ['192.0.2.2', true], ['bad.example', true], ['2001:db8::7', true], ['192.0.2.1', false],
  ]);
  assert.equal(top.keys[0]!.score, 5);
  assert.ok(Math.abs(top.keys[3]!.score - 2) < 1e-9);
  assert.equal(top.keys[1]!.keyKind, 'domain');
  assert.equal(top.keys[2]!.events, 3);
  assert.equal(top.overBar, 3);
  assert.deepEqual(rep.top(2).keys.map((k) => k.key), ['192.0.2.2', 'bad.example'], 'limit');
  // A week later 192.0.2.2 is 2.5 (below the bar), bad.example 2, 2001:db8::7 1.5, 192.0.2.1 1.
  clock.advance(7 * DAY);
  const later = rep.top(10);
  assert.deepEqual(later.keys.map((k) => k.key), ['192.0.2.2', 'bad.example', '2001:db8::7', '192.0.2.1']);
  assert.equal(later.overBar, 0);
  // Months later every score shows as 0.00: none is a top key.
  clock.advance(200 * DAY);
  assert.deepEqual(rep.top(10), { keys: [], overBar: 0 });
});

test('top keys: the index agrees with every key\'s decayed score over random reports, late events and false positives', () => {
  const { rep, clock } = setup();
  let seed = 7;
  const rnd = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
  const kinds: ReportKind[] = ['spam', 'spam', 'trap', 'ham', 'false-positive'];
  for (let i = 0; i < 600; i++) {
    clock.advance(Math.floor(rnd() * 2 * HOUR));
    const late = rnd() < 0.1 ? Math.floor(rnd() * 3 * DAY) : 0; // a report about an earlier time: replayed
    rep.report({ key: `198.51.100.${Math.floor(rnd() * 60)}`, kind: kinds[Math.floor(rnd() * kinds.length)]!, weight: 1 + Math.floor(rnd() * 3), reporter: 'r', at: clock.t - late });
    if (i % 100 === 99) {
      const want = byScore(rep);
      const got = rep.top(500);
      assert.deepEqual(got.keys.map((k) => k.key), want.map((w) => w.key), `after ${i + 1} reports`);
      for (const [j, k] of got.keys.entries()) assert.ok(Math.abs(k.score - want[j]!.score) < 1e-9);
      assert.equal(got.overBar, want.filter((w) => Math.round(w.score * 100) / 100 >= 3).length);
    }
  }
});

test('top keys: a new half_life recomputes the ranks with the scores', () => {
  const { db, rep, clock } = setup();
  rep.report({ key: '192.0.2.1', kind: 'spam', weight: 6, reporter: 't' });
  clock.advance(2 * DAY);
  rep.report({ key: '192.0.2.2', kind: 'spam', weight: 4, reporter: 't' });
  clock.advance(HOUR);
  // 7 d half-life: 6 decayed over 2 days (~4.9) beats 4; with a 1 d half-life (1.5) it does not.
  assert.deepEqual(rep.top().keys.map((k) => k.key), ['192.0.2.1', '192.0.2.2']);
  const short = new Reputation(db, { half_life: 86400, cap: 10, bar: 3 }, clock.now);
  assert.equal(short.syncConfig(), 2);
  assert.deepEqual(short.top().keys.map((k) => k.key), byScore(short).map((x) => x.key));
  assert.deepEqual(short.top().keys.map((k) => k.key), ['192.0.2.2', '192.0.2.1']);
});

test('top keys: a database from before the rank column gets its ranks from the migration', () => {
  const { path } = tmpDb();
  const idx = MIGRATIONS.findIndex((m) => m.name.startsWith('reputation and audit: indexes'));
  assert.ok(idx > 0);
  const old = openDb(path + '.old', { migrations: MIGRATIONS.slice(0, idx) });
  const ins = old.prepare('INSERT INTO reputation_scores (key, key_kind, score, at, events, half_life, cap) VALUES (?, ?, ?, ?, ?, ?, ?)');
  ins.run('192.0.2.1', 'ip4', 8, T0, 1, 7 * 86400, 10);
  ins.run('192.0.2.2', 'ip4', 5, T0 + 14 * DAY, 1, 7 * 86400, 10);
  ins.run('192.0.2.3', 'ip4', -2, T0, 1, 7 * 86400, 10);
  old.close();
  const db = openDb(path + '.old');
  const clock = new Clock(T0 + 14 * DAY);
  const rep = new Reputation(db, CFG, clock.now);
  assert.deepEqual(rep.top().keys.map((k) => [k.key, k.overBar]), [['192.0.2.2', true], ['192.0.2.1', false]]);
  assert.equal(db.prepare('SELECT rank FROM reputation_scores WHERE key = ?').pluck().get('192.0.2.3'), null);
  db.close();
});

test('recent events: newest first by time (a late report in its place), filters by key in any spelling, kind, reporter; keyset pages cover every event once', () => {
  const { rep, clock } = setup();
  const ids: number[] = [];
  for (let i = 0; i < 23; i++) {
    clock.advance(HOUR);
    ids.push(rep.report({ key: i % 2 ? '2001:db8::1' : '192.0.2.9', kind: i % 3 ? 'spam' : 'ham', reporter: i % 4 ? 'rspamd' : 'alice' }).event.id);
  }
  const late = rep.report({ key: '192.0.2.9', kind: 'trap', reporter: 'trap', at: T0 + 90 * 60_000 }).event; // between the 1st and 2nd
  const all = rep.recent({ limit: 500 });
  assert.equal(all.events.length, 24);
  assert.equal(all.next, null);
  for (let i = 1; i < all.events.length; i++) assert.ok(all.events[i - 1]!.at >= all.events[i]!.at, 'newest first');
  assert.deepEqual(all.events.slice(-2).map((e) => e.id), [late.id, ids[0]]);
  const seen: number[] = [];
  let before: number | undefined;
  for (let pages = 0; pages < 10; pages++) {
    const p = rep.recent({ limit: 5, before });
    seen.push(...p.events.map((e) => e.id));
    if (p.next === null) break;
    before = p.next;
  }
  assert.deepEqual(seen, all.events.map((e) => e.id), 'pages of 5 = the whole list, in order');
  const v6 = rep.recent({ key: '2001:DB8:0::1' });
  assert.equal(v6.events.length, 11);
  assert.ok(v6.events.every((e) => e.key === '2001:db8::1'));
  assert.ok(rep.recent({ kind: 'ham' }).events.every((e) => e.kind === 'ham'));
  assert.equal(rep.recent({ kind: 'ham' }).events.length, 8);
  assert.equal(rep.recent({ reporter: 'alice', key: '192.0.2.9' }).events.length, 6);
  assert.equal(rep.recent({ reporter: 'nobody' }).events.length, 0);
  assert.throws(() => rep.recent({ kind: 'bogus' }), (e) => e instanceof InputError && e.field === 'kind');
  assert.throws(() => rep.recent({ key: '192.0.2.0/24' }), (e) => e instanceof InputError && e.field === 'key');
  assert.throws(() => rep.recent({ before: 99999 }), (e) => e instanceof InputError && e.field === 'before' && /no event #99999/.test(e.message));
});

test('top keys and recent events read indexes, never the whole table', () => {
  const { db, rep } = setup();
  rep.report({ key: '192.0.2.1', kind: 'spam', reporter: 't' });
  const plan = (sql: string) => (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all() as { detail: string }[]).map((r) => r.detail).join('; ');
  assert.match(plan('SELECT key FROM reputation_scores WHERE rank IS NOT NULL AND rank >= 1 ORDER BY rank DESC LIMIT 20'), /USING INDEX reputation_scores_by_rank/);
  for (const w of ['', 'WHERE key = 1 AND', 'WHERE kind = 1 AND', 'WHERE reporter = 1 AND']) {
    const sql = `SELECT * FROM reputation_events ${w ? `${w} (at, id) < (1, 1)` : ''} ORDER BY at DESC, id DESC LIMIT 51`;
    const p = plan(sql);
    assert.match(p, /USING INDEX reputation_events_by_/, sql);
    assert.doesNotMatch(p, /TEMP B-TREE/, `${sql}: no sort`);
  }
});
