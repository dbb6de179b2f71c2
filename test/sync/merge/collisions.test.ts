// Collisions: the binary-search intersection of a source's ranges with a provider feed's, checked
// against a brute force over every address of a small universe (IPv4 at both ends of the space,
// IPv6 across a word boundary): touching, adjacent, containing and contained ranges; the sample
// naming; the rise rule; the history table, the stored file and the tracker's one warning.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RangeBuilder4, RangeBuilder6, emptyRangeSet4, emptyRangeSet6, type RangeSet4, type RangeSet6 } from '../../../core/ranges.ts';
import { openDb } from '../../../core/db.ts';
import type { Logger } from '../../../core/log.ts';
import {
  collidePair, intersect4, intersect6, rangeText4, rangeText6, riseOf, computeCollisions, RISE_WINDOW_MS,
} from '../../../sync/merge/collisions.ts';
import { CollisionHistory, CollisionTracker, alertsOf, collisionsPath, readCollisionsFile, HISTORY_DAYS } from '../../../sync/collisions-store.ts';
import { finishResult } from '../../../sync/providers/types.ts';
import { rng, set4, set6, ip } from './helpers.ts';

// ---- IPv4 against a brute force ----

/** Random ranges inside [base, base + U): singles, short runs, touching and adjacent ones. */
function random4(r: () => number, base: number, U: number, n: number, maxLen: number): { set: RangeSet4; bits: Uint8Array } {
  const b = new RangeBuilder4();
  const bits = new Uint8Array(U);
  for (let i = 0; i < n; i++) {
    const s = Math.floor(r() * U);
    const e = Math.min(U - 1, s + (r() < 0.5 ? 0 : Math.floor(r() * maxLen)));
    b.add(base + s, base + e);
    bits.fill(1, s, e + 1);
  }
  return { set: b.build(), bits };
}

function brute4(src: { set: RangeSet4; bits: Uint8Array }, prov: { bits: Uint8Array }, base: number): { addresses: number; ranges: number; pieces: string[] } {
  const U = src.bits.length;
  let addresses = 0;
  const pieces: string[] = [];
  let runStart = -1;
  for (let a = 0; a <= U; a++) {
    const both = a < U && src.bits[a] && prov.bits[a];
    if (both) {
      addresses++;
      if (runStart < 0) runStart = a;
    } else if (runStart >= 0) {
      pieces.push(`${base + runStart}-${base + a - 1}`);
      runStart = -1;
    }
  }
  let ranges = 0;
  for (let i = 0; i < src.set.start.length; i++) {
    let hit = false;
    for (let a = src.set.start[i]! - base; a <= src.set.end[i]! - base && !hit; a++) hit = prov.bits[a] === 1;
    if (hit) ranges++;
  }
  return { addresses, ranges, pieces };
}

test('IPv4 intersection equals a brute force over every address (seeded random, both ends of the space)', () => {
  for (const base of [0, 2 ** 32 - 4000, 0x28000000]) {
    for (let seed = 1; seed <= 40; seed++) {
      const r = rng(seed * 7919 + base);
      const U = 4000;
      const src = random4(r, base, U, 20 + Math.floor(r() * 300), 1 + Math.floor(r() * 60));
      const prov = random4(r, base, U, 1 + Math.floor(r() * 20), 1 + Math.floor(r() * 400));
      const want = brute4(src, prov, base);
      const pieces: string[] = [];
      const got = intersect4(src.set, prov.set, (s, e) => pieces.push(`${s}-${e}`));
      assert.equal(got.addresses, want.addresses, `seed ${seed} base ${base}: addresses`);
      assert.equal(got.ranges, want.ranges, `seed ${seed} base ${base}: ranges`);
      assert.deepEqual(pieces, want.pieces, `seed ${seed} base ${base}: pieces`);
    }
  }
});

test('IPv4 edge shapes: touching, adjacent, containing, contained, spanning two provider ranges', () => {
  const prov = set4(['10.0.0.0/24', '10.0.2.0/24']);
  const cases: [string[], number, number][] = [
    [['10.0.0.255'], 1, 1], // touches the end
    [['10.0.1.0'], 0, 0], // adjacent, outside
    [['9.255.255.255'], 0, 0], // adjacent below
    [['10.0.0.0/16'], 512, 1], // contains both: one source range, two pieces
    [['10.0.0.5-10.0.0.9'], 5, 1], // contained
    [['10.0.0.250-10.0.2.3'], 6 + 4, 1], // spans the gap: one range counted once
    [['9.0.0.0-10.0.0.0', '10.0.2.255-11.0.0.0'], 2, 2], // each touches one end
    [[], 0, 0],
  ];
  for (const [entries, addresses, ranges] of cases) {
    const got = intersect4(set4(entries), prov);
    assert.deepEqual([got.addresses, got.ranges], [addresses, ranges], entries.join(' '));
  }
  // the whole space against the whole space
  const all = set4(['0.0.0.0/0']);
  assert.deepEqual(intersect4(all, all), { addresses: 2 ** 32, ranges: 1 });
  assert.deepEqual(intersect4(all, emptyRangeSet4()), { addresses: 0, ranges: 0 });
});

// ---- IPv6 against a brute force ----

function words(x: bigint): number[] {
  return [Number((x >> 96n) & 0xffffffffn), Number((x >> 64n) & 0xffffffffn), Number((x >> 32n) & 0xffffffffn), Number(x & 0xffffffffn)];
}

function random6(r: () => number, base: bigint, U: number, n: number, maxLen: number): { set: RangeSet6; bits: Uint8Array } {
  const b = new RangeBuilder6();
  const bits = new Uint8Array(U);
  for (let i = 0; i < n; i++) {
    const s = Math.floor(r() * U);
    const e = Math.min(U - 1, s + (r() < 0.5 ? 0 : Math.floor(r() * maxLen)));
    b.add(Uint32Array.from(words(base + BigInt(s))), Uint32Array.from(words(base + BigInt(e))));
    bits.fill(1, s, e + 1);
  }
  return { set: b.build(), bits };
}

const big = (w: Uint32Array, i: number) => (BigInt(w[i]!) << 96n) | (BigInt(w[i + 1]!) << 64n) | (BigInt(w[i + 2]!) << 32n) | BigInt(w[i + 3]!);

test('IPv6 intersection equals a brute force (ranges crossing a 32-bit word boundary, and the top of the space)', () => {
  for (const base of [0x2001_0db8_0000_0000_0000_0000_ffff_f000n, (1n << 128n) - 3000n, (1n << 64n) - 1500n]) {
    for (let seed = 1; seed <= 30; seed++) {
      const r = rng(seed * 104729);
      const U = 3000;
      const src = random6(r, base, U, 10 + Math.floor(r() * 150), 1 + Math.floor(r() * 40));
      const prov = random6(r, base, U, 1 + Math.floor(r() * 12), 1 + Math.floor(r() * 300));
      const pieces: string[] = [];
      const got = intersect6(src.set, prov.set, (s, si, e, ei) => pieces.push(`${big(s, si) - base}-${big(e, ei) - base}`));
      // brute force on offsets
      const want: string[] = [];
      let run = -1;
      for (let a = 0; a <= U; a++) {
        const both = a < U && src.bits[a] && prov.bits[a];
        if (both && run < 0) run = a;
        if (!both && run >= 0) {
          want.push(`${run}-${a - 1}`);
          run = -1;
        }
      }
      let ranges = 0;
      for (let i = 0; i < src.set.start.length >>> 2; i++) {
        const s = Number(big(src.set.start, i * 4) - base);
        const e = Number(big(src.set.end, i * 4) - base);
        let hit = false;
        for (let a = s; a <= e && !hit; a++) hit = prov.bits[a] === 1;
        if (hit) ranges++;
      }
      assert.deepEqual(pieces, want, `seed ${seed}: pieces`);
      assert.equal(got.pieces, want.length);
      assert.equal(got.ranges, ranges, `seed ${seed}: ranges`);
    }
  }
  assert.deepEqual(intersect6(set6(['::/0']), set6(['2a01:111:f400::/48', '2a01:111:f403::/48'])), { pieces: 2, ranges: 1 });
  assert.deepEqual(intersect6(emptyRangeSet6(), set6(['::/0'])), { pieces: 0, ranges: 0 });
});

test('range texts: an address, a CIDR when it is one, else a-b', () => {
  assert.equal(rangeText4(ip('40.92.0.0'), ip('40.93.255.255')), '40.92.0.0/15');
  assert.equal(rangeText4(ip('40.92.0.1'), ip('40.92.0.1')), '40.92.0.1');
  assert.equal(rangeText4(ip('40.92.0.1'), ip('40.92.0.2')), '40.92.0.1-40.92.0.2');
  assert.equal(rangeText4(ip('40.92.0.2'), ip('40.92.0.3')), '40.92.0.2/31');
  assert.equal(rangeText4(0, 2 ** 32 - 1), '0.0.0.0/0');
  const t6 = (c: string) => {
    const s = set6([c]);
    return rangeText6(s.start, 0, s.end, 0);
  };
  for (const c of ['2a01:111:f400::/48', '::/0', '2001:db8::/32', '2001:db8::/33', '2001:db8::1/128', '2001:db8::/96', '2001:db8::/95', '2001:db8::/64', '2001:db8::/63', '2001:db8::/65', '2001:db8::/127'].map((c) => c.replace(/\/128$/, ''))) {
    assert.equal(t6(c), c.endsWith('/128') ? c.slice(0, -4) : c, c);
  }
  const s = set6(['2001:db8::1']);
  const e = set6(['2001:db8::3']);
  assert.equal(rangeText6(s.start, 0, e.start, 0), '2001:db8::1-2001:db8::3');
  const e2 = set6(['2001:db8::1:0:0:1']);
  assert.equal(rangeText6(set6(['2001:db8::']).start, 0, e2.start, 0), '2001:db8::-2001:db8::1:0:0:1');
});

test('a pair: keys = IPv4 addresses + IPv6 ranges; samples name the feed CIDR and its provenance, bounded', () => {
  const feed = finishResult('microsoft365', 'm365', 1, [
    { cidr: '40.92.0.0/15', detail: 'set 10' },
    { cidr: '40.94.0.0/15', detail: 'set 11' }, // adjacent: merged with the one above in v4
    { cidr: '2a01:111:f400::/48', detail: 'set 10 v6' },
  ]);
  const src = { name: 'spamcop', v4: set4(['40.92.0.7', '40.93.255.255-40.94.0.1', '1.2.3.4']), v6: set6(['2a01:111:f400::25', '2001:db8::1']) };
  const p = collidePair(src, { name: 'microsoft365/m365', v4: feed.v4, v6: feed.v6, ranges: feed.ranges });
  assert.equal(p.addresses4, 1 + 3);
  assert.equal(p.ranges4, 2);
  assert.equal(p.ranges6, 1);
  assert.equal(p.keys, 5);
  assert.equal(p.ranges, 3);
  assert.deepEqual(p.samples, [
    { listed: '40.92.0.7', providerRange: '40.92.0.0/15', detail: 'set 10' },
    { listed: '40.93.255.255-40.94.0.1', providerRange: '40.92.0.0/15', detail: 'set 10' },
    { listed: '2a01:111:f400::25', providerRange: '2a01:111:f400::/48', detail: 'set 10 v6' },
  ]);
  assert.equal(p.truncated, false);
  // without provenance: the merged range
  const bare = collidePair(src, { name: 'x', v4: feed.v4, v6: feed.v6 });
  assert.equal(bare.samples[0]!.providerRange, '40.92.0.0/14');
  // bounded: the first N in address order
  const many = set4(Array.from({ length: 300 }, (_, i) => `40.92.${i >> 7}.${(i & 127) * 2}`));
  const q = collidePair({ name: 's', v4: many, v6: emptyRangeSet6() }, { name: 'x', v4: feed.v4, v6: feed.v6 }, 100);
  assert.equal(q.keys, 300);
  assert.equal(q.samples.length, 100);
  assert.equal(q.samples[99]!.listed, '40.92.0.198');
  assert.equal(q.truncated, true);
  // every pair, zeros included
  const all = computeCollisions([src, { name: 'empty', v4: emptyRangeSet4(), v6: emptyRangeSet6() }], [{ name: 'a', v4: feed.v4, v6: feed.v6 }, { name: 'b', v4: emptyRangeSet4(), v6: emptyRangeSet6() }]);
  assert.deepEqual(all.map((x) => `${x.source}/${x.provider}=${x.keys}`), ['spamcop/a=5', 'spamcop/b=0', 'empty/a=0', 'empty/b=0']);
});

// ---- the rise rule ----

test('rise: first point is the baseline; a rise of max(10, 50%) within 24 h alerts until it ages out', () => {
  const H = 3600_000;
  const t0 = 1_000 * H;
  assert.equal(riseOf('s', 'p', [], 500, t0), null, 'no history: no alert');
  assert.equal(riseOf('s', 'p', [{ at: t0, keys: 237 }], 237, t0), null, 'the first count is a baseline');
  // 0 -> 9: below the floor of 10; 0 -> 10: alert
  assert.equal(riseOf('s', 'p', [{ at: t0, keys: 0 }, { at: t0 + H, keys: 9 }], 9, t0 + H), null);
  const a = riseOf('s', 'p', [{ at: t0, keys: 0 }, { at: t0 + H, keys: 10 }], 10, t0 + H)!;
  assert.deepEqual([a.before, a.now, a.since], [0, 10, new Date(t0 + H).toISOString()]);
  // 100 -> 149 no; 100 -> 150 yes
  assert.equal(riseOf('s', 'p', [{ at: t0, keys: 100 }, { at: t0 + H, keys: 149 }], 149, t0 + H), null);
  assert.ok(riseOf('s', 'p', [{ at: t0, keys: 100 }, { at: t0 + H, keys: 150 }], 150, t0 + H));
  // a gradual rise within the day counts against the day's low
  const steps = [{ at: t0, keys: 100 }, { at: t0 + 2 * H, keys: 120 }, { at: t0 + 4 * H, keys: 140 }, { at: t0 + 6 * H, keys: 160 }];
  const g = riseOf('s', 'p', steps, 160, t0 + 6 * H)!;
  assert.deepEqual([g.before, g.since], [100, new Date(t0 + 6 * H).toISOString()]);
  // 25 h after the rise, the value in force 24 h ago is the high one: no alert any more
  const rise = [{ at: t0, keys: 0 }, { at: t0 + H, keys: 237 }];
  assert.ok(riseOf('s', 'p', rise, 237, t0 + 20 * H));
  assert.equal(riseOf('s', 'p', rise, 237, t0 + H + RISE_WINDOW_MS + 1), null);
  // falling back ends the alert
  assert.equal(riseOf('s', 'p', [...rise, { at: t0 + 2 * H, keys: 5 }], 5, t0 + 2 * H), null);
});

// ---- history, file, tracker ----

interface Rec { level: string; obj: Record<string, unknown>; msg: string }
function logger(): { log: Logger; recs: Rec[] } {
  const recs: Rec[] = [];
  const at = (level: string) => (obj: Record<string, unknown> | string, msg?: string) => {
    recs.push(typeof obj === 'string' ? { level, obj: {}, msg: obj } : { level, obj, msg: msg ?? '' });
  };
  return { log: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') } as unknown as Logger, recs };
}

test('history: a row only when a count changes; old rows pruned except each pair\'s last', () => {
  const db = openDb(':memory:');
  const h = new CollisionHistory(db);
  const D = 86400_000;
  const pair = (keys: number, source = 's') => ({ source, provider: 'p', keys, ranges: keys, addresses4: keys, ranges4: keys, ranges6: 0, samples: [], truncated: false });
  assert.equal(h.record([pair(5), pair(1, 'quiet')], 0, 1), 2);
  assert.equal(h.record([pair(5), pair(1, 'quiet')], D, 2), 0);
  assert.equal(h.record([pair(7), pair(1, 'quiet')], 2 * D, 3), 1);
  assert.deepEqual(h.rows('s', 'p').map((r) => r.keys), [7, 5]);
  // 100 days later: s's old rows go (its last stays), quiet's only row stays
  assert.equal(h.record([pair(9), pair(1, 'quiet')], (HISTORY_DAYS + 10) * D, 4), 1);
  assert.deepEqual(h.rows('s', 'p').map((r) => r.keys), [9]);
  assert.deepEqual(h.rows('quiet', 'p').map((r) => r.keys), [1]);
  db.close();
});

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'quorumbl-collisions-'));
}

test('tracker: counts, history, one warning per rise, stored file read back at restart; a failed write keeps the counts', async (t) => {
  const dir = tmp();
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const db = openDb(join(dir, 'state.db'));
  t.after(() => db.close());
  let now = 1_700_000_000_000;
  const { log, recs } = logger();
  const tr = new CollisionTracker({ stateDir: dir, log, now: () => now });
  tr.attachDb(db);
  const feed = finishResult('microsoft365', 'm365', 1, [{ cidr: '40.92.0.0/15', detail: 'set 10' }]);
  const prov = [{ name: 'microsoft365/m365', v4: feed.v4, v6: feed.v6, ranges: feed.ranges }];
  const listing = (n: number) => ({ name: 'spamcop', v4: set4(Array.from({ length: n }, (_, i) => `40.92.1.${i}`).concat('192.0.2.1')), v6: emptyRangeSet6() });

  const r1 = await tr.update([listing(20)], prov, 101);
  assert.equal(r1.pairs[0]!.keys, 20);
  assert.deepEqual(r1.alerts, []);
  assert.deepEqual(tr.counts(), [{ source: 'spamcop', provider: 'microsoft365/m365', keys: 20, ranges: 1 }]);
  now += 3600_000;
  const r2 = await tr.update([listing(35)], prov, 102);
  assert.deepEqual(r2.alerts.map((a) => [a.source, a.provider, a.before, a.now]), [['spamcop', 'microsoft365/m365', 20, 35]]);
  const warns = () => recs.filter((r) => r.level === 'warn' && /collisions rose sharply/.test(r.msg));
  assert.equal(warns().length, 1);
  // the same rise at the next merge: no second warning
  now += 60_000;
  await tr.update([listing(35)], prov, 103);
  assert.equal(warns().length, 1);
  assert.equal(tr.current()!.alerts.length, 1, 'still within the day');
  // the stored file, as a restarted serve or the CLI reads it
  const stored = readCollisionsFile(collisionsPath(dir))!;
  assert.equal(stored.serial, 103);
  assert.equal(stored.pairs[0]!.keys, 35);
  assert.equal(stored.pairs[0]!.samples[0]!.providerRange, '40.92.0.0/15');
  const again = new CollisionTracker({ stateDir: dir, log, now: () => now });
  again.attachDb(db);
  assert.equal(again.restore(102), false, 'another serial: recomputed');
  assert.equal(again.restore(103), true);
  assert.equal(again.current()!.pairs[0]!.keys, 35);
  // the restored alert was warned already: not again
  await again.update([listing(35)], prov, 104);
  assert.equal(warns().length, 1);
  // alerts age out without a merge
  now += 25 * 3600_000;
  assert.deepEqual(again.current()!.alerts, []);
  assert.deepEqual(alertsOf(stored.pairs, new CollisionHistory(db), now), []);
  // a merge with the alert closed, then a new rise: a new warning
  await again.update([listing(35)], prov, 105);
  assert.equal(warns().length, 1);
  now += 60_000;
  const r6 = await again.update([listing(60)], prov, 106);
  assert.deepEqual(r6.alerts.map((a) => [a.before, a.now]), [[35, 60]]);
  assert.equal(warns().length, 2);

  // the state dir cannot take the file: warned, the counts stay in memory
  // (a file in the way, not a mode: root ignores modes)
  rmSync(join(dir, 'merge'), { recursive: true });
  writeFileSync(join(dir, 'merge'), 'not a directory');
  const r5 = await again.update([listing(3)], prov, 107);
  assert.equal(r5.pairs[0]!.keys, 3);
  assert.equal(again.current()!.pairs[0]!.keys, 3);
  assert.ok(recs.some((r) => r.level === 'warn' && /collisions not stored/.test(r.msg)), 'the failed write is logged');
  assert.equal(readFileSync(join(dir, 'merge'), 'utf8'), 'not a directory');
});

test('a torn or foreign collisions file is ignored with a warning, never half-read', async (t) => {
  const dir = tmp();
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'merge'));
  const { log, recs } = logger();
  for (const text of ['{"format":1,"serial":5,"comp', '{"format":2,"serial":5,"computedAt":"x","pairs":[]}', '[]']) {
    writeFileSync(collisionsPath(dir), text);
    assert.throws(() => readCollisionsFile(collisionsPath(dir)), /collisions\.json/);
    const tr = new CollisionTracker({ stateDir: dir, log });
    assert.equal(tr.restore(5), false);
    assert.equal(tr.current(), null);
  }
  assert.equal(recs.filter((r) => /stored collisions ignored/.test(r.msg)).length, 3);
  // a history database that cannot be written: the counts still come, no alert, a warning
  const ro = join(dir, 'ro');
  mkdirSync(ro);
  const db = openDb(join(ro, 'state.db'));
  db.close();
  const rodb = openDb(join(ro, 'state.db'), { readOnlyFallback: true });
  rodb.pragma('query_only = ON');
  t.after(() => rodb.close());
  const tr = new CollisionTracker({ stateDir: dir, log });
  tr.attachDb(rodb);
  const r = await tr.update([{ name: 's', v4: set4(['40.92.0.1']), v6: emptyRangeSet6() }], [{ name: 'p', v4: set4(['40.92.0.0/15']), v6: emptyRangeSet6() }], 9);
  assert.equal(r.pairs[0]!.keys, 1);
  assert.ok(recs.some((x) => x.level === 'warn' && /collision history not recorded/.test(x.msg)));
});
