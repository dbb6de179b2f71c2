import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Pacer, UNPACED } from '../../core/pace.ts';

function busyLoop(p: Pacer, ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) p.check();
}

test('a paced loop sleeps after each slice of work; share 1 never sleeps', () => {
  const half = new Pacer(0.5);
  busyLoop(half, 30); // several 4 ms slices of work
  assert.ok(half.slept > 0, 'a share below 1 yields the CPU');
  busyLoop(UNPACED, 30);
  assert.equal(UNPACED.slept, 0);
});

test('a cpu share outside (0, 1] is an error that names the value', () => {
  assert.throws(() => new Pacer(0), /cpu share must be in \(0, 1\], got 0/);
  assert.throws(() => new Pacer(1.5), /got 1.5/);
  assert.throws(() => new Pacer(Number.NaN), /got NaN/);
});
