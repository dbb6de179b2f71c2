// The mutator is what makes a fuzz failure reproducible: the same seed must give the same
// messages, and a run must reach every kind of mutation.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng, mutatedQuery, fuzzSeed } from './mutate.ts';
import { frames } from './driver.ts';

const NAMES = ['2.0.0.127.bl.example', 'test.dbl.example', 'example'];

test('same seed, same messages; another seed, other messages', () => {
  const run = (seed: number) => {
    const r = new Rng(seed);
    return Array.from({ length: 2000 }, () => mutatedQuery(r, NAMES).packet.toString('hex')).join(',');
  };
  assert.equal(run(7), run(7));
  assert.notEqual(run(7), run(8));
});

test('10k messages reach every structural and byte mutation', () => {
  const r = new Rng(1);
  const seen = new Set<string>();
  for (let i = 0; i < 10_000; i++) for (const op of mutatedQuery(r, NAMES).ops) seen.add(op.replace(/\d+/g, 'N'));
  for (const want of ['qdcount', 'ancount', 'nscount', 'arcount', 'OPT in an', 'OPT in ns', 'extra OPTs', 'bad OPT', 'extra records', 'qtype', 'qclass',
    'flags', 'pointer kind', 'huge name kind', 'label', 'name without root label', 'binary bytes in label', 'spliced another query after',
    'bit flips', 'byte', 'truncated to', 'garbage bytes appended', 'bytes inserted at', 'bytes deleted at', 'valid query']) {
    assert.ok([...seen].some((s) => s.includes(want)), `no "${want}" among ${seen.size} kinds of mutation`);
  }
});

test('FUZZ_SEED: decimal or hex, anything else is an error naming the value', () => {
  assert.equal(fuzzSeed('12345'), 12345);
  assert.equal(fuzzSeed('0xff'), 255);
  assert.throws(() => fuzzSeed('abc'), /FUZZ_SEED "abc"/);
  assert.ok(Number.isInteger(fuzzSeed('')));
});

test('TCP framing as the server reads it: a lying prefix regroups what follows', () => {
  const m = (n: number) => Buffer.alloc(n, n);
  const framed = (len: number, body: Buffer) => Buffer.concat([Buffer.from([len >> 8, len & 255]), body]);
  assert.deepEqual(frames(Buffer.concat([framed(3, m(3)), framed(2, m(2))])), [m(3), m(2)]);
  // prefix 4 for 3 bytes: the first byte of the next prefix is swallowed, the rest is a partial
  assert.deepEqual(frames(Buffer.concat([framed(4, m(3)), framed(2, m(2))])).length, 1);
  assert.deepEqual(frames(Buffer.from([0, 9, 1, 2])), []);
});
