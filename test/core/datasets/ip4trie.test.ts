import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ip4trie } from '../../../core/datasets/ip4trie.ts';
import { ip4set } from '../../../core/datasets/ip4set.ts';
import type { DatasetType } from '../../../core/datasets/types.ts';
import type { LoadOptions } from '../../../core/rbldnsd/state.ts';
import { makeQuery } from '../../../core/query.ts';
import { askIp4 as ask, checkBytePathMatchesText, loadTexts, NO_RECORDS, roundTrip } from './helpers.ts';

const load = (type: DatasetType, files: string[], opts: Partial<LoadOptions> = {}) => loadTexts(type, files, opts, { fileInWarnings: true });

const TRIE = `:127.0.0.2:trie $
0/0 :127.0.0.9:catch
10.1/16 :127.0.0.3:first
10.1.0.0/16 :127.0.0.4:second
!10.1.2.0/24
10.1.2.128/25
10.1.2.3
11
12.0.0.1-12.0.0.5
13.1.2
14.1.2.3/33
15.1.1.1/24
!16.0.0.0/8 :bad:
16.1.1.1
17.1/8
$MAXRANGE4 /16
18.0.0.0/15
18.2.0.0/16
!18.2.3.0/24 x
`;

test('longest prefix match, exclusions, /0 catch-all, first duplicate wins (checked against rbldnsd)', () => {
  const { ds, warnings } = load(ip4trie, [TRIE]);
  assert.deepEqual(warnings, [
    'f0.txt:8: invalid address',
    'f0.txt:9: invalid address',
    'f0.txt:11: invalid address',
    'f0.txt:12: invalid range (non-zero host part)',
    'f0.txt:15: invalid range (non-zero host part)',
    'f0.txt:17: too large range (131072) ignored (65536 max)',
    'f0.txt:4: duplicated entry for 10.1.0.0/16',
  ]);
  assert.deepEqual(ask(ds, '1.1.1.1'), ['A 127.0.0.9 2100', 'TXT catch 2100']);
  assert.deepEqual(ask(ds, '10.1.0.1'), ['A 127.0.0.3 2100', 'TXT first 2100']);
  assert.equal(ask(ds, '10.1.2.1'), null);
  assert.deepEqual(ask(ds, '10.1.2.3'), ['A 127.0.0.2 2100', 'TXT trie 10.1.2.3 2100']);
  assert.deepEqual(ask(ds, '10.1.2.200', 'A'), ['A 127.0.0.2 2100']);
  assert.deepEqual(ask(ds, '12.0.0.1', 'A'), ['A 127.0.0.9 2100'], 'ranges are rejected in ip4trie');
  assert.deepEqual(ask(ds, '13.1.2.5', 'A'), ['A 127.0.0.2 2100'], 'a.b.c is a /24');
  assert.deepEqual(ask(ds, '15.1.1.1', 'A'), ['A 127.0.0.9 2100']);
  assert.deepEqual(ask(ds, '16.1.1.1', 'A'), ['A 127.0.0.2 2100']);
  assert.equal(ask(ds, '16.1.1.2'), null);
  assert.deepEqual(ask(ds, '18.0.0.1', 'A'), ['A 127.0.0.9 2100']);
  assert.deepEqual(ask(ds, '18.2.0.1', 'A'), ['A 127.0.0.2 2100']);
  assert.equal(ask(ds, '18.2.3.1'), null);
  assert.equal(ds.size, 10);
});

test('a trie lists what ip4set octet levels would exclude', () => {
  const data = '!10.30.0.0/17\n10.30.0.0/20 :127.0.0.4:inside\n';
  assert.deepEqual(ask(load(ip4trie, [data]).ds, '10.30.0.5', 'A'), ['A 127.0.0.4 2100']);
  assert.equal(ask(load(ip4set, [data]).ds, '10.30.0.5'), null);
});

test('-e masks host bits', () => {
  const { ds, warnings } = load(ip4trie, [TRIE], { acceptHostBits: true });
  assert.ok(!warnings.some((w) => w.includes('host part')));
  assert.deepEqual(ask(ds, '15.1.1.1', 'A'), ['A 127.0.0.2 2100']);
  assert.deepEqual(ask(ds, '17.0.0.1', 'A'), ['A 127.0.0.2 2100']);
});

test('default resets per file; last $TTL wins; duplicates across files keep the first', () => {
  const { ds, warnings } = load(ip4trie, [
    '$TTL 10m\n:127.0.0.3:first file\n192.0.2.0/24\n',
    '192.0.2.0/24 :127.0.0.5:dup\n192.0.3.0/24\n$TTL 20m\n',
  ]);
  assert.deepEqual(warnings, ['f1.txt:1: duplicated entry for 192.0.2.0/24']);
  assert.equal(ds.ttl, 1200);
  assert.deepEqual(ask(ds, '192.0.2.9'), ['A 127.0.0.3 1200', 'TXT first file 1200']);
  assert.deepEqual(ask(ds, '192.0.3.9'), ['A 127.0.0.2 1200']);
});

test('non-IPv4 names are not found; /32 and /0 edges', () => {
  const { ds } = load(ip4trie, ['255.255.255.255/32\n0.0.0.0/32\n']);
  const sink = NO_RECORDS;
  assert.equal(ds.query(makeQuery(['a', 'b'], 255), sink), false);
  assert.notEqual(ask(ds, '255.255.255.255'), null);
  assert.notEqual(ask(ds, '0.0.0.0'), null);
  assert.equal(ask(ds, '0.0.0.1'), null);
});

test('snapshot round-trip answers identically; dump', () => {
  const { ds } = load(ip4trie, [TRIE]);
  const copy = roundTrip(ip4trie, ds);
  assert.equal(copy.size, ds.size);
  assert.equal(copy.ttl, ds.ttl);
  for (const ip of ['1.1.1.1', '10.1.0.1', '10.1.2.1', '10.1.2.3', '10.1.2.200', '13.1.2.5', '16.1.1.2', '18.2.3.1', '18.2.0.1']) {
    assert.deepEqual(ask(copy, ip), ask(ds, ip), ip);
  }
  const lines: string[] = [];
  load(ip4trie, ['!10.1.2.0/24\n10.1.0.0/16 :3:x\n10.1.2.3\n']).ds.dump('z.test', (l) => lines.push(l));
  assert.deepEqual(lines, [
    '$TTL 2100',
    '*.1.10\tA\t127.0.0.3',
    '\tTXT\t"x"',
    '*.2.1.10\tCNAME\texcluded',
    '3.2.1.10\tA\t127.0.0.2',
  ]);
});

test('the byte fast path loads exactly what the text path loads (mixed random data)', () => checkBytePathMatchesText(ip4trie));
