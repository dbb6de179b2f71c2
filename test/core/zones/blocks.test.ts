import { test } from 'node:test';
import assert from 'node:assert/strict';
import { count4, count6, names4, names6, namesMapped, big6 } from '../../../core/zones/blocks.ts';
import { RecordsDataset } from '../../../core/datasets/records.ts';
import { RR, type MaterialiseOptions, type ZoneRecord } from '../../../core/zones/records.ts';
import { makeQuery } from '../../../core/query.ts';
import type { RecordSink } from '../../../core/datasets/types.ts';
import { ip, ip6Bytes, rng } from '../../sync/merge/helpers.ts';

function opts(max = 65536): MaterialiseOptions & { problems: string[] } {
  const problems: string[] = [];
  return { maxExpansion: max, report: (p) => problems.push(p), problems };
}

const b6 = (t: string): bigint => big6(ip6Bytes(t));

/** A secondary-like zone: one A per name. */
function zone(names: { name: string }[]): RecordsDataset {
  const recs: ZoneRecord[] = names.map((n) => ({ name: n.name, type: RR.A, ttl: 60, data: '127.0.0.2' }));
  return new RecordsDataset(recs, {});
}

function listed(z: RecordsDataset, labels: string[]): boolean {
  let a = false;
  const sink: RecordSink = { wantA: true, wantTxt: false, qtype: 1, a: () => (a = true), txt: () => {}, mx: () => {} };
  z.query(makeQuery(labels, 1, false), sink);
  return a;
}

const labels4 = (x: number): string[] => [x & 255, (x >>> 8) & 255, (x >>> 16) & 255, x >>> 24].map(String);
function labels6(b: Uint8Array): string[] {
  const l: string[] = [];
  for (let i = 15; i >= 0; i--) l.push((b[i]! & 15).toString(16), (b[i]! >> 4).toString(16));
  return l;
}

test('IPv4: single addresses are exact names, octet-aligned blocks with a label >= 10 one wildcard', () => {
  assert.deepEqual(names4(ip('192.0.2.1'), ip('192.0.2.1'), opts()), [{ name: '1.2.0.192', key: '192.0.2.1' }]);
  assert.deepEqual(names4(ip('192.0.2.0'), ip('192.0.2.255'), opts()), [{ name: '*.2.0.192', key: '192.0.2.0/24' }]);
  assert.deepEqual(names4(ip('10.0.0.0'), ip('10.255.255.255'), opts()), [{ name: '*.10', key: '10.0.0.0/8' }]);
  assert.deepEqual(names4(ip('172.16.0.0'), ip('172.17.255.255'), opts())!.map((n) => n.name), ['*.16.172', '*.17.172']);
  // a /25 is not octet-aligned: 128 names
  assert.equal(names4(ip('192.0.2.0'), ip('192.0.2.127'), opts())!.length, 128);
  // a /22 splits to four /24s
  assert.deepEqual(names4(ip('198.51.100.0'), ip('198.51.103.255'), opts())!.map((n) => n.name), ['*.100.51.198', '*.101.51.198', '*.102.51.198', '*.103.51.198']);
  // ranges that are not CIDRs
  const r = names4(ip('192.0.2.250'), ip('192.0.4.3'), opts())!;
  assert.deepEqual(r.map((n) => n.name), ['250.2.0.192', '251.2.0.192', '252.2.0.192', '253.2.0.192', '254.2.0.192', '255.2.0.192', '*.3.0.192', '0.4.0.192', '1.4.0.192', '2.4.0.192', '3.4.0.192']);
});

test('IPv4 family clash: an all-digit block is split until a label is >= 10, never a wildcard an IPv6 name matches', () => {
  const n = names4(ip('1.2.3.0'), ip('1.2.3.255'), opts())!;
  assert.equal(n.length, 256, 'every label < 10: 256 exact names');
  assert.ok(n.every((x) => !x.name.startsWith('*')));
  assert.equal(count4(ip('2.0.0.0'), ip('2.255.255.255')), 28306);
  const all = names4(ip('2.0.0.0'), ip('2.255.255.255'), opts())!;
  assert.equal(all.length, 28306);
  for (const x of all) if (x.name.startsWith('*.')) assert.ok(x.name.slice(2).split('.').some((l) => Number(l) >= 10), x.name);
  // a secondary over these names: every IPv4 key of 2/8 listed, no IPv6 key under 2000::/4
  const z = zone(all);
  const r = rng(7);
  for (let k = 0; k < 2000; k++) {
    const a = (ip('2.0.0.0') + Math.floor(r() * 2 ** 24)) >>> 0;
    assert.ok(listed(z, labels4(a)), `2/8 key ${a}`);
    const b = new Uint8Array(16);
    for (let i = 0; i < 16; i++) b[i] = Math.floor(r() * 256);
    b[0] = 0x20 | (b[0]! & 15); // 2000::/4
    assert.ok(!listed(z, labels6(b)), 'an IPv6 key under 2000::/4 is not listed by 2.0.0.0/8');
    assert.ok(!listed(z, labels4((ip('3.0.0.0') + k) >>> 0)));
  }
  // the whole space is never the apex wildcard
  const whole = count4(0, 2 ** 32 - 1);
  assert.equal(whole, 283306);
});

test('IPv6: nibble-aligned blocks are wildcards; fewer than 4 all-digit labels split; a-f labels are safe', () => {
  assert.deepEqual(names6(b6('2001:db8::'), b6('2001:db8::ffff:ffff:ffff:ffff:ffff:ffff'.replace('::', ':')), opts())!.length, 1);
  assert.deepEqual(names6(b6('2001:db8::'), b6('2001:db8:ffff:ffff:ffff:ffff:ffff:ffff'), opts()), [{ name: '*.8.b.d.0.1.0.0.2', key: '2001:db8::/32' }]);
  assert.deepEqual(names6(b6('2001:db8::1'), b6('2001:db8::1'), opts())!.map((n) => n.key), ['2001:db8::1']);
  assert.equal(names6(b6('2001:db8::1'), b6('2001:db8::1'), opts())![0]!.name.split('.').length, 32);
  // a /33 is not nibble-aligned: 8 wildcards of 9 nibbles
  assert.equal(names6(b6('2001:db8::'), b6('2001:db8:7fff:ffff:ffff:ffff:ffff:ffff'), opts())!.length, 8);
  // a::/4 has a letter: one wildcard
  assert.deepEqual(names6(b6('a000::'), b6('afff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'), opts())!.map((n) => n.name), ['*.a']);
  // 123::/12 (all digits, 3 labels) splits to 16 wildcards of 4 labels
  const n = names6(b6('120::'), b6('12f:ffff:ffff:ffff:ffff:ffff:ffff:ffff'), opts())!;
  assert.equal(n.length, 16);
  assert.ok(n.every((x) => x.name.split('.').length === 5));
  const z = zone(n);
  // the IPv4 names 1.2.0.x .. 1.2.9.x (labels x.y.2.1) are not matched; IPv6 keys are
  const r = rng(3);
  for (let k = 0; k < 1000; k++) {
    assert.ok(!listed(z, labels4((ip('1.2.0.0') + Math.floor(r() * 2560)) >>> 0)));
    const b = new Uint8Array(16);
    for (let i = 0; i < 16; i++) b[i] = Math.floor(r() * 256);
    b[0] = 0x01;
    b[1] = 0x20 | (b[1]! & 15);
    assert.ok(listed(z, labels6(b)));
  }
  assert.equal(count6(0n, (1n << 128n) - 1n), 16666);
});

test('a range needing more names than max_expansion is left out and reported, never cut', () => {
  const o = opts(1000);
  assert.equal(names4(ip('1.2.0.0'), ip('1.2.255.255'), o), null);
  assert.equal(o.problems.length, 1);
  assert.match(o.problems[0]!, /IPv4 range 1\.2\.0\.0-1\.2\.255\.255 needs 2806 names, more than max_expansion 1000/);
  assert.equal(names6(b6('1000::'), b6('1fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'), o), null);
  assert.match(o.problems[1]!, /IPv6 range 1000::-1fff:.* needs 1666 names/);
  assert.equal(names4(ip('1.2.0.0'), ip('1.2.0.255'), o)!.length, 256, 'within the bound: written');
});

test('v4-mapped names: IPv4 ranges under ::ffff:0:0/96, nibble-aligned wildcards', () => {
  const n = namesMapped(ip('192.0.2.0'), ip('192.0.2.255'));
  assert.deepEqual(n.map((x) => x.key), ['::ffff:c000:200/120']);
  assert.equal(n[0]!.name, '*.2.0.0.0.0.c.f.f.f.f' + '.0'.repeat(20));
  const one = namesMapped(ip('1.2.3.4'), ip('1.2.3.4'));
  assert.equal(one[0]!.key, '::ffff:102:304');
  assert.equal(one[0]!.name.split('.').length, 32);
  const z = zone(namesMapped(ip('10.0.0.0'), ip('10.7.255.255')));
  assert.ok(listed(z, labels6(ip6Bytes('::ffff:10.3.4.5'))));
  assert.ok(!listed(z, labels6(ip6Bytes('::ffff:10.8.0.0'))));
  assert.ok(!listed(z, labels4(ip('10.3.4.5'))));
});
