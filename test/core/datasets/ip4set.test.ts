import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ip4set } from '../../../core/datasets/ip4set.ts';
import type { DatasetType } from '../../../core/datasets/types.ts';
import type { LoadOptions } from '../../../core/rbldnsd/state.ts';
import { makeQuery } from '../../../core/query.ts';
import { askIp4 as ask, checkBytePathMatchesText, loadTexts, NO_RECORDS, roundTrip } from './helpers.ts';

const load = (type: DatasetType, files: string[], opts: Partial<LoadOptions> = {}) => loadTexts(type, files, opts, { fileInWarnings: true });

const REFERENCE = `$SOA 1h ns1.example.net hostmaster.example.net 2024010101 2h 30m 1w 5m
$NS 1d ns1.example.net ns2.example.net
$TTL 15m
:127.0.0.2:Listed: see https://bl.example/lookup?ip=$
192.0.2.2 :127.0.0.3:Custom text for $
192.0.2.3 :4
192.0.2.4 :5:
192.0.2.5 plain text: with colons
192.0.2.6:127.0.0.6:no blank after key
192.0.2.8 :127.0.0.8 # comment
198.51.100.0/24
!198.51.100.7
10.20.0.0/20 :127.0.0.10:narrow /20
10.20.0.0/17 :127.0.0.11:wide /17
203.0.113.9 :127.0.0.2:first
203.0.113.9 :127.0.0.3:second
`;

test('reference example: values, subject expansion, TTL, meta', () => {
  const { ds, warnings } = load(ip4set, [REFERENCE]);
  assert.equal(ds.ttl, 900);
  assert.equal(ds.meta.soa?.minimum, 300);
  assert.deepEqual(ds.meta.ns?.names, ['ns1.example.net', 'ns2.example.net']);
  assert.deepEqual(ask(ds, '192.0.2.2'), ['A 127.0.0.3 900', 'TXT Custom text for 192.0.2.2 900']);
  assert.deepEqual(ask(ds, '192.0.2.3'), ['A 127.0.0.4 900', 'TXT Listed: see https://bl.example/lookup?ip=192.0.2.3 900']);
  assert.deepEqual(ask(ds, '192.0.2.4'), ['A 127.0.0.5 900']);
  assert.deepEqual(ask(ds, '192.0.2.4', 'TXT'), [], 'listed without TXT: NODATA, not NXDOMAIN');
  assert.deepEqual(ask(ds, '192.0.2.5'), ['A 127.0.0.2 900', 'TXT plain text: with colons 900']);
  assert.deepEqual(ask(ds, '192.0.2.6', 'A'), ['A 127.0.0.6 900']);
  assert.equal(ask(ds, '192.0.2.8'), null, ':A followed by junk rejects the line');
  assert.deepEqual(warnings, ['f0.txt:10: unrecognized value for an entry']);
  assert.deepEqual(ask(ds, '198.51.100.8', 'A'), ['A 127.0.0.2 900']);
  assert.equal(ask(ds, '198.51.100.7'), null);
  assert.deepEqual(ask(ds, '192.0.2.1', 'AAAA'), null);
  assert.deepEqual(ask(ds, '198.51.100.1', 'AAAA'), [], 'listed, other type: found without records');
  // several ranges at one level all answer, in file order
  assert.deepEqual(ask(ds, '10.20.0.5'), ['A 127.0.0.10 900', 'TXT narrow /20 900', 'A 127.0.0.11 900', 'TXT wide /17 900']);
  assert.deepEqual(ask(ds, '10.20.100.5'), ['A 127.0.0.11 900', 'TXT wide /17 900']);
  assert.deepEqual(ask(ds, '203.0.113.9', 'A'), ['A 127.0.0.2 900', 'A 127.0.0.3 900']);
});

test('octet-level semantics: exclusions beat listings at the same level, finer levels win', () => {
  const { ds } = load(ip4set, [
    `!10.30.0.0/17
10.30.0.0/20 :127.0.0.4:inside
172.16/12
!172.20.0.0/16
172.20.5.0/24
10/8
!10.0.0.0/8
10.0.0.1
`,
  ]);
  assert.equal(ask(ds, '10.30.0.5'), null, 'both at /24 level: the exclusion wins (a trie would list it)');
  assert.equal(ask(ds, '172.20.1.1'), null);
  assert.deepEqual(ask(ds, '172.20.5.5', 'A'), ['A 127.0.0.2 2100']);
  assert.deepEqual(ask(ds, '172.17.0.1', 'A'), ['A 127.0.0.2 2100']);
  assert.deepEqual(ask(ds, '10.0.0.1', 'A'), ['A 127.0.0.2 2100']);
  assert.equal(ask(ds, '10.0.0.2'), null);
  assert.equal(ask(ds, '10.99.0.2'), null);
});

test('values at one level answer in the order the values were created, like rbldnsd', () => {
  // rbldnsd orders by the value's memory: a default is created at its `:` line, an explicit
  // value at its entry (reusing the last one when identical). Checked against rbldnsd.
  const { ds } = load(ip4set, [
    `:127.0.0.2:def
1.1.1.1 :127.0.0.3:x
5.5.5.5 :127.0.0.4:y
5.5.5.5 :127.0.0.3:x
10.1.0.0/20 :127.0.0.5:v
10.1.0.0/17
6.6.6.6 :127.0.0.3:x
6.6.6.6
:127.0.0.7:def2
6.6.6.6
`,
  ]);
  assert.deepEqual(ask(ds, '5.5.5.5'), ['A 127.0.0.4 2100', 'TXT y 2100', 'A 127.0.0.3 2100', 'TXT x 2100']);
  assert.deepEqual(ask(ds, '10.1.7.4'), ['A 127.0.0.2 2100', 'TXT def 2100', 'A 127.0.0.5 2100', 'TXT v 2100']);
  assert.deepEqual(ask(ds, '6.6.6.6', 'A'), ['A 127.0.0.2 2100', 'A 127.0.0.3 2100', 'A 127.0.0.7 2100']);
});

test('ranges are cut into aligned octet blocks', () => {
  const { ds } = load(ip4set, [
    `10.0.0.0-10.0.1.5 :127.0.0.5:range
10.0.0.0/24 :127.0.0.9:c24
24.0.0.0/31
24.0.0.0/24
!24.0.0.0/25
30-31 :127.0.0.4:r
40.1-2 :127.0.0.6:r2
`,
  ]);
  // 10.0.0.0/24 of the range sits at the /24 level beside the explicit /24
  assert.deepEqual(ask(ds, '10.0.0.8'), ['A 127.0.0.5 2100', 'TXT range 2100', 'A 127.0.0.9 2100', 'TXT c24 2100']);
  assert.deepEqual(ask(ds, '10.0.1.5'), ['A 127.0.0.5 2100', 'TXT range 2100']);
  assert.equal(ask(ds, '10.0.1.6'), null);
  assert.equal(ask(ds, '24.0.0.1'), null, '/25 exclusion and /31 both at /32 level');
  assert.deepEqual(ask(ds, '24.0.0.200', 'A'), ['A 127.0.0.2 2100']);
  assert.deepEqual(ask(ds, '31.255.255.255', 'A'), ['A 127.0.0.4 2100']);
  assert.equal(ask(ds, '32.0.0.0'), null);
  assert.deepEqual(ask(ds, '40.2.255.255', 'A'), ['A 127.0.0.6 2100']);
  assert.equal(ask(ds, '40.3.0.0'), null);
});

test('key syntax: invalid lines are warned about and skipped', () => {
  const { ds, warnings } = load(ip4set, [
    `010.1.1.1
1.2.3.4.5
127
20.1/8
0001.2.3.4
!50.0.0.1 :bad:
50.0.0.0/24
60.0.0.5-60.0.0.3
60.1.1.1;comment
60.1.1.2#c
60.1.1.3:127.0.0.7:
60.1.1.4x
70.0.0.1 - 70.0.0.5
! 80.0.0.1
80.0.0.0/24
0.0.0.0/0
90.1.2.3/33
1.2.3-1.2.4.5
27.1.2.3/24
`,
  ]);
  assert.deepEqual(warnings, [
    'f0.txt:2: invalid address',
    'f0.txt:3: invalid address',
    'f0.txt:4: invalid range (non-zero host part)',
    'f0.txt:8: invalid address',
    'f0.txt:12: invalid address',
    'f0.txt:16: invalid address',
    'f0.txt:17: invalid address',
    'f0.txt:18: invalid address',
    'f0.txt:19: invalid range (non-zero host part)',
  ]);
  assert.deepEqual(ask(ds, '10.1.1.1', 'A'), ['A 127.0.0.2 2100']);
  assert.deepEqual(ask(ds, '1.2.3.4', 'A'), ['A 127.0.0.2 2100']);
  assert.equal(ask(ds, '50.0.0.1'), null, 'the value after an exclusion is ignored');
  assert.deepEqual(ask(ds, '50.0.0.2', 'A'), ['A 127.0.0.2 2100']);
  assert.deepEqual(ask(ds, '60.1.1.1', 'A'), ['A 127.0.0.2 2100']);
  assert.deepEqual(ask(ds, '60.1.1.3'), ['A 127.0.0.7 2100']);
  assert.deepEqual(ask(ds, '70.0.0.1'), ['A 127.0.0.2 2100', 'TXT - 70.0.0.5 2100'], 'text after a blank is a TXT');
  assert.equal(ask(ds, '80.0.0.1'), null, 'blanks are allowed after !');
  assert.equal(ask(ds, '27.1.2.3'), null);
});

test('-e masks host bits instead of rejecting the line', () => {
  const { ds, warnings } = load(ip4set, ['27.1.2.3/24\n'], { acceptHostBits: true });
  assert.deepEqual(warnings, []);
  assert.deepEqual(ask(ds, '27.1.2.200', 'A'), ['A 127.0.0.2 2100']);
});

test('$MAXRANGE4 rejects larger ranges for the rest of the load, exclusions too', () => {
  const { ds, warnings } = load(ip4set, [
    `18.0.0.0-18.0.1.0
$MAXRANGE4 256
19.0.0.0-19.0.1.0
19.1.0.0/24
!19.1.0.0/23
`,
    `$MAXRANGE4 /16
20.0.0.0/24
20.1.0.0/23
`,
  ]);
  assert.deepEqual(warnings, [
    'f0.txt:3: too large range (257) ignored (256 max)',
    'f0.txt:5: too large range (512) ignored (256 max)',
    'f1.txt:1: $MAXRANGE4 may only be lowered, ignored',
    'f1.txt:3: too large range (512) ignored (256 max)',
  ]);
  assert.notEqual(ask(ds, '18.0.1.0'), null);
  assert.equal(ask(ds, '19.0.0.1'), null);
  assert.notEqual(ask(ds, '19.1.0.1'), null);
  assert.notEqual(ask(ds, '20.0.0.1'), null);
  assert.equal(ask(ds, '20.1.0.1'), null);
});

test('the default resets at each file; the last $TTL of any file is the dataset TTL', () => {
  const { ds } = load(ip4set, [
    '$TTL 10m\n:127.0.0.3:first file $\n192.0.2.100\n',
    '192.0.2.200\n$TTL 20m\n',
  ]);
  assert.equal(ds.ttl, 1200);
  assert.deepEqual(ask(ds, '192.0.2.100'), ['A 127.0.0.3 1200', 'TXT first file 192.0.2.100 1200']);
  assert.deepEqual(ask(ds, '192.0.2.200'), ['A 127.0.0.2 1200']);
  const plain = load(ip4set, ['1.2.3.4\n'], { ttl: { def: 300, min: 0, max: 86400 } }).ds;
  assert.equal(plain.ttl, 300);
});

test('substitutions and base template apply to TXT', () => {
  const { ds } = load(ip4set, ['$1 https://bl.example\n$= See $1/info?$= ($)\n192.0.2.1 r123\n192.0.2.2 =own $\n']);
  assert.deepEqual(ask(ds, '192.0.2.1', 'TXT'), ['TXT See https://bl.example/info?r123 (192.0.2.1) 2100']);
  assert.deepEqual(ask(ds, '192.0.2.2', 'TXT'), ['TXT own 192.0.2.2 2100']);
});

test('non-IPv4 names are not found', () => {
  const { ds } = load(ip4set, ['0/1\n128/1\n']);
  const sink = NO_RECORDS;
  assert.equal(ds.query(makeQuery(['2', '0', '192'], 255), sink), false);
  assert.equal(ds.query(makeQuery(['x', '2', '0', '192'], 255), sink), false);
  assert.notEqual(ask(ds, '255.255.255.255'), null);
  assert.notEqual(ask(ds, '0.0.0.0'), null);
});

test('duplicates collapse; size counts level entries', () => {
  const { ds } = load(ip4set, ['1.2.3.4\n1.2.3.4\n1.2.3.4 :3:x\n1.2.3.4\n10.0.0.0/23\n']);
  assert.equal(ds.size, 4);
  assert.deepEqual(ask(ds, '1.2.3.4'), ['A 127.0.0.2 2100', 'A 127.0.0.3 2100', 'TXT x 2100']);
});

test('snapshot round-trip answers identically', () => {
  const { ds } = load(ip4set, [REFERENCE + '172.16/12\n!172.20.0.0/16\n172.20.5.0/24\n30-31\n']);
  const copy = roundTrip(ip4set, ds);
  assert.equal(copy.ttl, ds.ttl);
  assert.equal(copy.size, ds.size);
  assert.deepEqual(copy.meta, ds.meta);
  for (const ip of ['192.0.2.2', '192.0.2.4', '198.51.100.7', '198.51.100.9', '10.20.0.5', '10.20.100.5', '203.0.113.9', '172.20.1.1', '172.20.5.5', '30.1.2.3', '8.8.8.8']) {
    assert.deepEqual(ask(copy, ip), ask(ds, ip), ip);
  }
});

test('dump writes BIND master-format lines', () => {
  const { ds } = load(ip4set, ['$TTL 15m\n:127.0.0.2:Listed $\n1.2.3.4\n10.0.0.0/24 :3:\n!10.0.0.7\n10/8 :4:"q"\n']);
  const lines: string[] = [];
  ds.dump('z.test', (l) => lines.push(l));
  assert.deepEqual(lines, [
    '$TTL 900',
    '*.10\tA\t127.0.0.4',
    '\tTXT\t"\\"q\\""',
    '*.0.0.10\tA\t127.0.0.3',
    '4.3.2.1\tA\t127.0.0.2',
    '\tTXT\t"Listed 1.2.3.4"',
    '7.0.0.10\tCNAME\texcluded',
  ]);
});

test('the byte fast path loads exactly what the text path loads (mixed random data)', () => checkBytePathMatchesText(ip4set));

test('exclusions merged back after the sort still win at their level, at any volume', () => {
  const ips = Array.from({ length: 5000 }, (_, i) => `10.${(i * 7919) % 256}.${(i * 104729) % 256}.${i % 256}`);
  const excluded = new Set(ips.filter((_, i) => i % 7 === 0));
  const lines = [':127.0.0.2:x', ...ips, ...[...excluded].map((ip) => `!${ip}`), ...ips.slice(0, 50), '!10.1.2.0/24', '10.1.2.0/24 :3:y', '!10.200.0.0/16'];
  const { ds } = load(ip4set, [lines.join('\n')]);
  for (const ip of ips) assert.equal(ask(ds, ip, 'A') === null, excluded.has(ip), ip);
  assert.equal(ask(ds, '10.1.2.77'), null);
  assert.equal(ask(ds, '10.200.9.9'), null);
});
