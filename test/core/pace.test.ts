import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Pacer, UNPACED } from '../../core/pace.ts';

/** Works until `done()` or `ms` of wall time: the pacer counts this thread's CPU time, which a
 *  busy box hands out slowly, so a fixed wall time may hold less than one slice of work. */
function busyLoop(p: Pacer, ms: number, done: () => boolean = () => false): void {
  const end = performance.now() + ms;
  while (!done() && performance.now() < end) p.check();
}

test('a paced loop sleeps after each slice of work; share 1 never sleeps', () => {
  const half = new Pacer(0.5);
  busyLoop(half, 10_000, () => half.slept > 0); // 4 ms slices of CPU work until the first sleep
  assert.ok(half.slept > 0, 'a share below 1 yields the CPU');
  busyLoop(UNPACED, 30);
  assert.equal(UNPACED.slept, 0);
});

test('a cpu share outside (0, 1] is an error that names the value', () => {
  assert.throws(() => new Pacer(0), /cpu share must be in \(0, 1\], got 0/);
  assert.throws(() => new Pacer(1.5), /got 1.5/);
  assert.throws(() => new Pacer(Number.NaN), /got NaN/);
});
