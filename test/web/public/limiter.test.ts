import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RateLimiter } from '../../../web/public/limiter.ts';
import { Clock } from '../../sync/local/helpers.ts';

test('per client per minute, with the seconds left; memory bounded under a flood of addresses', () => {
  const clock = new Clock();
  const l = new RateLimiter(3, clock.now, 100);
  assert.deepEqual([l.take('a'), l.take('a'), l.take('a')], [0, 0, 0]);
  assert.equal(l.take('a'), 60);
  assert.equal(l.take('b'), 0, 'another client has its own window');
  clock.advance(45_000);
  assert.equal(l.take('a'), 15);
  clock.advance(15_000);
  assert.equal(l.take('a'), 0, 'a new minute');
  for (let i = 0; i < 10_000; i++) l.take(`flood-${i}`);
  assert.ok(l.size <= 100, `at most 100 windows kept, got ${l.size}`);
});
