import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EntryList, fit } from '../../../core/datasets/ip4list.ts';

/** Deterministic xorshift32. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return x >>> 0;
  };
}

type Row = [key: number, val: number, ref: number];

/** Pushes rows and checks `sorted()` against a stable Array sort of the same rows. */
function check(rows: Row[], extra = 0): void {
  const list = new EntryList();
  for (const [k, v, r] of rows) list.push(k, v, r);
  assert.equal(list.n, rows.length);
  const s = list.sorted(extra);
  const want = rows.map((r, i) => [...r, i] as const).sort((a, b) => a[0] - b[0] || a[3] - b[3]);
  assert.equal(s.n, rows.length);
  assert.equal(s.keys.length, rows.length + extra);
  const got = Array.from({ length: s.n }, (_, i): Row => [s.keys[i]!, s.vals ? s.vals[i]! : s.uniformVal, s.refs ? s.refs[i]! : s.uniformRef]);
  assert.deepEqual(got, want.map(([k, v, r]) => [k, v, r]));
  assert.equal(list.n, 0, 'the list is emptied');
}

test('sorted(): stable by key with the value and ref columns, any size and spread', () => {
  const next = rng(7);
  check([]);
  check([[5, 1, 1]]);
  for (const n of [2, 20, 30, 257, 5000, 300_000]) {
    // wide spread, then keys crowded into one top bucket with many equal keys
    check(Array.from({ length: n }, (): Row => [next(), 1, 2]));
    check(Array.from({ length: n }, (_, i): Row => [0x0a000000 + (next() % 4096), (i % 3) + 1, i]), 3);
  }
});

test('value column: uniform until a value differs, then Uint16, widened past 0xffff', () => {
  const next = rng(9);
  const rows: Row[] = Array.from({ length: 70_000 }, (_, i): Row => [next(), i < 1000 ? 4 : i < 60_000 ? (i % 7) + 1 : i, 0]);
  check(rows);
  const l = new EntryList();
  l.push(3, 4);
  l.push(1, 4);
  const s = l.sorted();
  assert.equal(s.vals, null);
  assert.equal(s.uniformVal, 4);
  const l2 = new EntryList();
  l2.push(3, 4);
  l2.push(1, 5);
  assert.ok(l2.sorted().vals instanceof Uint16Array);
});

test('already sorted input keeps its order and columns', () => {
  check(Array.from({ length: 3000 }, (_, i): Row => [Math.floor(i / 3), i % 2, i]), 2);
});

test('fit() copies unless only a sliver is wasted', () => {
  const a = new Uint32Array(1000).map((_, i) => i);
  assert.equal(fit(a, 1000), a);
  const v = fit(a, 995);
  assert.equal(v.buffer, a.buffer);
  assert.equal(v.length, 995);
  const c = fit(a, 10);
  assert.notEqual(c.buffer, a.buffer);
  assert.equal(c.buffer.byteLength, 40);
  assert.deepEqual([...c], [...a.subarray(0, 10)]);
});
