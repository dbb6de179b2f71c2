import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  addressCount4,
  addressCount6,
  bytes6,
  contains4,
  contains6,
  firstOverlap4,
  firstOverlap6,
  overlaps4,
  overlaps6,
  RangeBuilder4,
  RangeBuilder6,
  words6,
  type RangeSet4,
} from '../../core/ranges.ts';

const ip = (s: string): number => s.split('.').reduce((a, o) => a * 256 + Number(o), 0);
const quad = (v: number): string => `${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`;
const show4 = (r: RangeSet4): string[] => Array.from(r.start, (s, i) => `${quad(s)}-${quad(r.end[i]!)}`);

/** 16 bytes of an IPv6 address written as 8 full groups `a:b:c:d:e:f:g:h`. */
function v6(s: string): Uint8Array {
  const out = new Uint8Array(16);
  s.split(':').forEach((g, i) => {
    const v = parseInt(g, 16);
    out[2 * i] = v >> 8;
    out[2 * i + 1] = v & 255;
  });
  return out;
}

test('RangeBuilder4 sorts, merges overlapping and adjacent ranges, keeps gaps', () => {
  const b = new RangeBuilder4(4);
  b.add(ip('198.51.100.10'), ip('198.51.100.10'));
  b.add(ip('192.0.2.0'), ip('192.0.2.127'));
  b.add(ip('192.0.2.128'), ip('192.0.2.255')); // adjacent -> joined
  b.add(ip('192.0.2.5'), ip('192.0.2.5')); // inside -> absorbed
  b.add(ip('198.51.100.12'), ip('198.51.100.12')); // gap of one address stays
  b.add(ip('198.51.100.11'), ip('198.51.100.11')); // ... until it is filled
  b.add(ip('203.0.113.9'), ip('203.0.113.1')); // reversed: ignored
  b.add(ip('198.51.100.10'), ip('198.51.100.10')); // duplicate
  const r = b.build();
  assert.deepEqual(show4(r), ['192.0.2.0-192.0.2.255', '198.51.100.10-198.51.100.12']);
  assert.equal(addressCount4(r), 256 + 3);
});

test('RangeBuilder4 handles the ends of the address space', () => {
  const b = new RangeBuilder4();
  b.add(0xffffffff, 0xffffffff);
  b.add(0, 0);
  b.add(0xfffffff0, 0xfffffffe);
  const r = b.build();
  assert.deepEqual(show4(r), ['0.0.0.0-0.0.0.0', '255.255.255.240-255.255.255.255']);
  const all = new RangeBuilder4();
  all.add(0, 0xffffffff);
  all.add(ip('192.0.2.1'), ip('192.0.2.1'));
  assert.equal(addressCount4(all.build()), 2 ** 32);
});

test('built arrays own whole ArrayBuffers (transferable to another thread)', () => {
  const b = new RangeBuilder4();
  for (let i = 0; i < 1000; i++) b.add(i * 7, i * 7 + 2);
  const r = b.build();
  for (const a of [r.start, r.end]) {
    assert.equal(a.byteOffset, 0);
    assert.equal(a.buffer.byteLength, a.byteLength);
  }
  const b6 = new RangeBuilder6();
  b6.add(v6('2001:db8:0:0:0:0:0:1'), v6('2001:db8:0:0:0:0:0:1'));
  const r6 = b6.build();
  assert.equal(r6.start.buffer.byteLength, r6.start.byteLength);
  assert.equal(r6.end.buffer.byteLength, 16);
});

test('RangeBuilder4 matches a bitmap reference on random input (singles and ranges)', () => {
  let seed = 12345;
  const rnd = (n: number): number => {
    seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
    return seed % n;
  };
  for (let round = 0; round < 20; round++) {
    const space = 5000;
    const base = round % 2 ? 0xfffff000 : 0x0a000000;
    const bits = new Uint8Array(space);
    const b = new RangeBuilder4(16);
    for (let i = 0; i < 400; i++) {
      const s = rnd(space);
      const len = rnd(4) === 0 ? rnd(60) : 0;
      const e = Math.min(space - 1, s + len);
      b.add(base + s, base + e);
      bits.fill(1, s, e + 1);
    }
    const r = b.build();
    for (let i = 1; i < r.start.length; i++) assert.ok(r.start[i]! > r.end[i - 1]! + 1, 'sorted, disjoint, not adjacent');
    let count = 0;
    for (let a = 0; a < space; a++) {
      count += bits[a]!;
      assert.equal(contains4(r, base + a), bits[a] === 1, `address ${a} in round ${round}`);
    }
    assert.equal(addressCount4(r), count);
  }
});

test('RangeBuilder4 takes a million adds and adds after build extend the set', () => {
  const b = new RangeBuilder4(16);
  for (let i = 0; i < 1_000_000; i++) b.add(((i * 2654435761) >>> 0) & ~1, ((i * 2654435761) >>> 0) & ~1);
  const r = b.build();
  assert.equal(r.start.length, 1_000_000);
  for (let i = 1; i < r.start.length; i++) if (r.start[i - 1]! >= r.start[i]!) assert.fail('not sorted');
  b.add(1, 1);
  const r2 = b.build();
  assert.equal(contains4(r2, 1), true);
  assert.equal(contains4(r2, r.start[999_999]!), true);
  assert.equal(addressCount4(r2), 1_000_001);
});

test('contains4, overlaps4 and firstOverlap4', () => {
  const b = new RangeBuilder4();
  b.add(ip('127.0.0.2'), ip('127.0.0.2'));
  b.add(ip('192.0.2.0'), ip('192.0.2.255'));
  const r = b.build();
  assert.equal(contains4(r, ip('127.0.0.2')), true);
  assert.equal(contains4(r, ip('127.0.0.1')), false);
  assert.equal(contains4(r, ip('192.0.2.255')), true);
  assert.equal(contains4(r, ip('192.0.3.0')), false);
  assert.equal(contains4(r, 0), false);
  assert.equal(overlaps4(r, ip('127.0.0.0'), ip('127.255.255.255')), true);
  assert.equal(firstOverlap4(r, ip('127.0.0.0'), ip('127.255.255.255')), ip('127.0.0.2'));
  assert.equal(overlaps4(r, ip('10.0.0.0'), ip('10.255.255.255')), false);
  assert.equal(firstOverlap4(r, ip('192.0.2.77'), ip('192.0.2.80')), ip('192.0.2.77'));
  assert.equal(firstOverlap4(r, ip('192.0.3.0'), ip('255.255.255.255')), -1);
  assert.equal(overlaps4(new RangeBuilder4().build(), 0, 0xffffffff), false);
});

test('RangeBuilder6 sorts and merges (adjacency across words), contains6, overlaps6', () => {
  const b = new RangeBuilder6(2);
  b.add(v6('2001:db8:0:1:0:0:0:0'), v6('2001:db8:0:1:ffff:ffff:ffff:ffff'));
  b.add(v6('2001:db8:0:0:0:0:0:0'), v6('2001:db8:0:0:ffff:ffff:ffff:ffff')); // adjacent, given out of order
  b.add(words6(v6('2001:db8:0:5:0:0:0:1')), words6(v6('2001:db8:0:5:0:0:0:1'))); // words form
  b.addWords(0, 0, 0xffff, 0x7f000002, 0, 0, 0xffff, 0x7f000002);
  b.add(v6('2001:db8:0:5:0:0:0:1'), v6('2001:db8:0:5:0:0:0:0')); // reversed: ignored
  const r = b.build();
  assert.equal(r.start.length, 3 * 4);
  assert.deepEqual(Array.from(bytes6(r.start, 4)), Array.from(v6('2001:db8:0:0:0:0:0:0')));
  assert.deepEqual(Array.from(bytes6(r.end, 4)), Array.from(v6('2001:db8:0:1:ffff:ffff:ffff:ffff')));
  assert.equal(contains6(r, v6('2001:db8:0:1:1234:0:0:1')), true);
  assert.equal(contains6(r, v6('2001:db8:0:2:0:0:0:0')), false);
  assert.equal(contains6(r, v6('0:0:0:0:0:ffff:7f00:2')), true);
  assert.equal(contains6(r, v6('0:0:0:0:0:ffff:7f00:1')), false);
  assert.equal(addressCount6(r), 2 * 2 ** 64 + 2);
  assert.equal(overlaps6(r, v6('2001:db8:0:5:0:0:0:0'), v6('2001:db8:0:5:ffff:ffff:ffff:ffff')), true);
  assert.deepEqual(Array.from(firstOverlap6(r, v6('2001:db8:0:5:0:0:0:0'), v6('2001:db8:0:5:ffff:ffff:ffff:ffff'))!), Array.from(v6('2001:db8:0:5:0:0:0:1')));
  assert.equal(overlaps6(r, v6('fe80:0:0:0:0:0:0:0'), v6('febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff')), false);
});

test('RangeBuilder6 merges the whole space', () => {
  const b = new RangeBuilder6();
  b.add(v6('0:0:0:0:0:0:0:0'), v6('ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'));
  b.add(v6('2001:db8:0:0:0:0:0:0'), v6('2001:db8:0:0:0:0:0:ff'));
  const r = b.build();
  assert.equal(r.start.length, 4);
  assert.equal(addressCount6(r), 2 ** 128);
});
