// The answer latency histogram (server/latency.ts): bucket placement at and between the bounds,
// one sample per reply, and the DNS counters' reset (SIGUSR2) clearing it.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LATENCY_BOUNDS, LatencyHistogram } from '../../server/latency.ts';
import { Counters } from '../../server/counters.ts';

test('a batch lands in the first bucket whose bound it does not exceed, once per reply', () => {
  const h = new LatencyHistogram();
  h.record(0.01, 3); // 10 us: exactly the first bound
  h.record(0.0100001, 2); // just above: the second bucket
  h.record(5000, 1); // 5 s: +Inf
  h.record(1, 0); // a batch without replies records nothing
  assert.equal(h.buckets.length, LATENCY_BOUNDS.length + 1);
  assert.equal(h.buckets[0], 3);
  assert.equal(h.buckets[1], 2);
  assert.equal(h.buckets[LATENCY_BOUNDS.length], 1);
  assert.equal(h.count, 6);
  assert.ok(Math.abs(h.sum - (3 * 0.00001 + 2 * 0.0000100001 + 5)) < 1e-12);
});

test('Counters.reset() clears both transports\' histograms', () => {
  const c = new Counters();
  c.latencyUdp.record(0.3, 10);
  c.latencyTcp.record(2, 1);
  c.reset();
  assert.equal(c.latencyUdp.count, 0);
  assert.equal(c.latencyTcp.sum, 0);
  assert.deepEqual([...c.latencyUdp.buckets].filter(Boolean), []);
});
