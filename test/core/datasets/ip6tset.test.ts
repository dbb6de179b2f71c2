import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { DatasetType } from '../../../core/datasets/types.ts';
import { ip6tset } from '../../../core/datasets/ip6tset.ts';
import { ask, loadTexts, rev, roundTrip } from './helpers.ts';

const load = (type: DatasetType, ...texts: string[]) => loadTexts(type, texts);

const DATA = `$TTL 10m
:127.0.0.4:tset $ listed
2001:db8:1:2
2001:db8:1:3 :127.0.0.9:ignored value
:127.0.0.5:second default, ignored
2001:0DB8:0001:0004
2001:db8:1:7#comment
2001:db8:1:8;comment
!2001:db8:1:2::7
!2001:db8:1:2:0:0:0:8
`;

test('a /64 entry lists every address inside it, with the dataset-wide first default', () => {
  const { ds } = load(ip6tset, DATA);
  assert.deepEqual(ask(ds, rev('2001:db8:1:2::1')), ['600 A 127.0.0.4', '600 TXT tset 2001:db8:1:2::1 listed']);
  assert.deepEqual(ask(ds, rev('2001:db8:1:4:ffff:ffff:ffff:ffff'), 16), ['600 TXT tset 2001:db8:1:4:ffff:ffff:ffff:ffff listed']);
  assert.deepEqual(ask(ds, rev('2001:db8:1:7::'), 1), ['600 A 127.0.0.4']);
  assert.ok(ask(ds, rev('2001:db8:1:8::1')));
  assert.equal(ask(ds, rev('2001:db8:1:5::1')), null);
  assert.equal(ask(ds, rev('2001:db8:1::1')), null);
});

test('values after keys are ignored', () => {
  const { ds } = load(ip6tset, DATA);
  assert.deepEqual(ask(ds, rev('2001:db8:1:3::5')), ['600 A 127.0.0.4', '600 TXT tset 2001:db8:1:3::5 listed']);
});

test('/128 exclusions punch holes into /64 entries', () => {
  const { ds } = load(ip6tset, DATA);
  assert.equal(ask(ds, rev('2001:db8:1:2::7')), null);
  assert.equal(ask(ds, rev('2001:db8:1:2::8')), null);
  assert.ok(ask(ds, rev('2001:db8:1:2::9')));
});

test('a listed name with another qtype is found without records (NODATA)', () => {
  const { ds } = load(ip6tset, DATA);
  assert.deepEqual(ask(ds, rev('2001:db8:1:2::1'), 28), []);
});

test('only four-group /64 keys and full /128 exclusions are accepted', () => {
  const { ds, warnings } = load(ip6tset, `2001:db8::/64
2001:db8:5::
2001:db8:1:5:127.0.0.9:x
2001:db8:1:6:
2001:db8:1:a:b
!2001:db8:1:3
!2001:db8:1:2::9/128
2001:db8:1:9
`);
  assert.deepEqual(warnings, [
    '1: invalid address',
    '2: invalid address for regular entry (should be 64 bits)',
    '3: invalid address',
    '4: invalid address',
    '5: invalid address for regular entry (should be 64 bits)',
    '6: invalid address for exclusion (should be 128 bits)',
    '7: invalid address',
  ]);
  assert.equal(ds.size, 1);
  assert.ok(ask(ds, rev('2001:db8:1:9::')));
  assert.equal(ask(ds, rev('2001:db8::1')), null);
});

test('the first default anywhere in the dataset applies to all files; TTL is the last $TTL', () => {
  const { ds } = load(ip6tset, '2001:db8:0:1\n:127.0.0.7:later default\n$TTL 5m\n', ':127.0.0.8:ignored\n2001:db8:0:2\n$TTL 20m\n');
  assert.deepEqual(ask(ds, rev('2001:db8:0:1::1')), ['1200 A 127.0.0.7', '1200 TXT later default']);
  assert.deepEqual(ask(ds, rev('2001:db8:0:2::1')), ['1200 A 127.0.0.7', '1200 TXT later default']);
});

test('without a default line: A 127.0.0.2, no TXT, TTL from the options', () => {
  const { ds } = load(ip6tset, '2001:db8:0:1\n');
  assert.deepEqual(ask(ds, rev('2001:db8:0:1::1')), ['2100 A 127.0.0.2']);
});

test('names that are not IPv6 do not apply', () => {
  const { ds } = load(ip6tset, DATA);
  assert.equal(ask(ds, ['2', '0', '0', '127']), null);
  assert.equal(ask(ds, ['x', 'y']), null);
  assert.equal(ask(ds, []), null);
});

test('dump: /64 wildcards then exclusions, like rbldnsd -d', () => {
  const { ds } = load(ip6tset, DATA);
  const lines: string[] = [];
  ds.dump('ip6tset.example', (l) => lines.push(l));
  assert.deepEqual(lines.slice(0, 3), [
    '$TTL 600',
    '*.2.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2\tA\t127.0.0.4',
    '\tTXT\t"tset 2001:db8:1:2:: listed"',
  ]);
  assert.equal(lines.at(-1), '8.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.2.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2\tCNAME\texcluded');
  assert.equal(lines.length, 1 + 5 * 2 + 2);
});

test('a snapshot round-trip answers identically', () => {
  const { ds } = load(ip6tset, DATA);
  const copy = roundTrip(ip6tset, ds);
  assert.equal(copy.ttl, ds.ttl);
  assert.equal(copy.size, ds.size);
  for (const a of ['2001:db8:1:2::1', '2001:db8:1:2::7', '2001:db8:1:3::5', '2001:db8:1:5::', '2001:db8:1:8::1']) {
    assert.deepEqual(ask(copy, rev(a)), ask(ds, rev(a)), a);
  }
});
