// A decaying reputation score changes a verdict with no event: the watch raises the SOA serial
// (so secondaries transfer the change), and only then.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { emptyRangeSet4, emptyRangeSet6 } from '../../../core/ranges.ts';
import { buildEvidence } from '../../../sync/merge/evidence.ts';
import { MergeView } from '../../../sync/merge/evaluate.ts';
import { VerdictWatch, type ScoredKeys } from '../../../sync/merge/verdict-watch.ts';
import { Overlay } from '../../../sync/local/overlay.ts';
import type { OverlayView } from '../../../sync/merge/types.ts';
import { POLICY } from './helpers.ts';

const HOUR = 3600;
const T0 = 1_700_000_000_000;

test('a score that decays below the bar raises the serial once; a steady state does not', async () => {
  let now = T0;
  const evidence = buildEvidence({ sources: [{ name: 's', weight: 1, v4: emptyRangeSet4(), v6: emptyRangeSet6(), domains: [] }], providers: [] });
  // score 4 at T0, half-life 1 h, bar 3: listed until 4 * 0.5^(t/1h) < 2.995, about 25 minutes
  const overlay = new Overlay([], [
    { key: '192.0.2.7', keyKind: 'ip4', score: 4, at: T0, events: 2 },
    { key: 'spam.example', keyKind: 'domain', score: 10, at: T0, events: 5 },
  ], { halfLife: HOUR, now: () => now, builtAt: T0 });
  const view = new MergeView(evidence, POLICY, overlay);
  const watch = new VerdictWatch(view, (o: OverlayView | null) => (o as unknown as { scores: ScoredKeys }).scores);
  const ip = 0xc0000207;
  assert.equal(view.eval4(ip).block, true);
  const s0 = view.serial;
  assert.equal(await watch.check(), false, 'the first check only records');
  now += 10 * 60_000;
  assert.equal(await watch.check(), false, 'still listed after 10 minutes: nothing changed');
  assert.equal(view.serial, s0);
  now += 20 * 60_000;
  assert.equal(view.eval4(ip).block, false, 'decayed below the bar after 30 minutes');
  assert.equal(await watch.check(), true);
  assert.ok(view.serial > s0, 'the serial rose');
  const s1 = view.serial;
  assert.equal(await watch.check(), false, 'no further change');
  assert.equal(view.serial, s1);
  // the domain (score 10) falls below 3 after ~1.74 h
  now += 90 * 60_000;
  assert.equal(await watch.check(), true, 'the domain decayed below the bar');
  assert.ok(view.serial > s1);
});
