import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { DatasetType } from '../../../core/datasets/types.ts';
import { ip6trie } from '../../../core/datasets/ip6trie.ts';
import { ask, loadTexts, rev, roundTrip } from './helpers.ts';

const load = (type: DatasetType, ...texts: string[]) => loadTexts(type, texts);

const DATA = `:127.0.1.2: Listed, see https://bl.example/lookup?$
2001:db8:c000/36
2001:db8:42::/52 :127.0.0.3:net42
!2001:db8:42::bead
2001:db8:42::/52 :127.0.0.4:duplicate, ignored
::1 :127.0.0.5:loopback
2001:db8:def7:4242 :127.0.0.7:sixtyfour $
2001:db8:77::/48:127.0.0.10:attached
2001:db8:78::/48 some text
2001:db8:79::/48 :127.0.0.11
1::2::3
`;

test('the reference example: a /36 from three groups, TXT $ = the queried address', () => {
  const { ds } = load(ip6trie, DATA);
  assert.deepEqual(ask(ds, rev('2001:db8:cf00::1')), [
    '2100 A 127.0.1.2', '2100 TXT Listed, see https://bl.example/lookup?2001:db8:cf00::1',
  ]);
  assert.equal(ask(ds, rev('2001:db8:d000::1')), null);
});

test('longest prefix wins; an exclusion as the longest match means not listed', () => {
  const { ds } = load(ip6trie, DATA);
  assert.deepEqual(ask(ds, rev('2001:db8:42::1')), ['2100 A 127.0.0.3', '2100 TXT net42']);
  assert.equal(ask(ds, rev('2001:db8:42::bead')), null);
  assert.deepEqual(ask(ds, rev('2001:db8:42::beae')), ['2100 A 127.0.0.3', '2100 TXT net42']);
  assert.deepEqual(ask(ds, rev('2001:db8:42:fff::1')), ['2100 A 127.0.0.3', '2100 TXT net42']);
  assert.equal(ask(ds, rev('2001:db8:42:1000::1')), null);
  // a host inside an excluded network is listed by its own longer prefix
  const t = load(ip6trie, '2001:db8::/32 :127.0.0.3\n!2001:db8:1::/48\n2001:db8:1:1::/64 :127.0.0.4:deep $\n').ds;
  assert.equal(ask(t, rev('2001:db8:1::1')), null);
  assert.deepEqual(ask(t, rev('2001:db8:1:1::1')), ['2100 A 127.0.0.4', '2100 TXT deep 2001:db8:1:1::1']);
  assert.deepEqual(ask(t, rev('2001:db8:2::1')), ['2100 A 127.0.0.3']);
});

test('the first of duplicate prefixes wins, with a warning', () => {
  const { ds, warnings } = load(ip6trie, DATA);
  assert.deepEqual(ask(ds, rev('2001:db8:42::2'), 1), ['2100 A 127.0.0.3']);
  assert.ok(warnings.includes('5: duplicated entry for 2001:db8:42::/52'), warnings.join('\n'));
});

test('a line starting with :: is an address, not a default', () => {
  const { ds } = load(ip6trie, DATA);
  assert.deepEqual(ask(ds, rev('::1')), ['2100 A 127.0.0.5', '2100 TXT loopback']);
  assert.equal(ask(ds, rev('::2')), null);
  const t = load(ip6trie, '::/0 :127.0.0.6:catchall\n').ds;
  assert.deepEqual(ask(t, rev('3000::1')), ['2100 A 127.0.0.6', '2100 TXT catchall']);
});

test('values: four groups = /64, value attached with `:`, bare text, A only keeps the default TXT', () => {
  const { ds } = load(ip6trie, DATA);
  assert.deepEqual(ask(ds, rev('2001:db8:def7:4242:1::5')), ['2100 A 127.0.0.7', '2100 TXT sixtyfour 2001:db8:def7:4242:1::5']);
  assert.equal(ask(ds, rev('2001:db8:def7:4243::5')), null);
  assert.deepEqual(ask(ds, rev('2001:db8:77::1')), ['2100 A 127.0.0.10', '2100 TXT attached']);
  assert.deepEqual(ask(ds, rev('2001:db8:78::1')), ['2100 A 127.0.1.2', '2100 TXT some text']);
  assert.deepEqual(ask(ds, rev('2001:db8:79::1')), ['2100 A 127.0.0.11', '2100 TXT Listed, see https://bl.example/lookup?2001:db8:79::1']);
  // rbldnsd reads `1::2::3` as the address 1::2 followed by the value `:3`
  assert.deepEqual(ask(ds, rev('1::2'), 1), ['2100 A 127.0.0.3']);
});

test('invalid lines are warned about and skipped; -e masks host bits', () => {
  const bad = '2001\n2001:db8::/129\n2001:db8:1::1/64\n::ffff:192.0.2.1\n2001:db8::1x\n2001:db8::/48 :bad:\n';
  const { ds, warnings } = load(ip6trie, bad);
  assert.deepEqual(warnings, [
    '1: invalid address', '2: invalid address', '3: invalid range (non-zero host part)', '4: invalid address',
    '5: invalid address', '6: invalid A RR',
  ]);
  assert.equal(ds.size, 0);
  const e = loadTexts(ip6trie, ['2001:db8:1::1/64\n'], { acceptHostBits: true }).ds;
  assert.deepEqual(ask(e, rev('2001:db8:1:0:ffff::1'), 1), ['2100 A 127.0.0.2']);
});

test('the default resets per file; the last $TTL of the dataset wins', () => {
  const { ds } = load(ip6trie, ':127.0.0.2:first $\n$TTL 5m\n2001:db8::/32\n', '2001:db9::/32\n$TTL 1h\n');
  assert.deepEqual(ask(ds, rev('2001:db8::1')), ['3600 A 127.0.0.2', '3600 TXT first 2001:db8::1']);
  assert.deepEqual(ask(ds, rev('2001:db9::1')), ['3600 A 127.0.0.2']);
});

test('a default line with only an A falls back to the built-in (no TXT)', () => {
  const { ds } = load(ip6trie, ':127.0.0.2:text\n:127.0.0.5\n2001:db8::/32\n');
  assert.deepEqual(ask(ds, rev('2001:db8::1')), ['2100 A 127.0.0.5']);
});

test('names that are not IPv6 do not apply; other qtypes are NODATA', () => {
  const { ds } = load(ip6trie, '::/0\n');
  assert.equal(ask(ds, ['2', '0', '0', '127']), null);
  assert.equal(ask(ds, ['a']), null);
  assert.deepEqual(ask(ds, rev('2001:db8::1'), 15), []);
});

test('dump: ranges of equal answer as nibble wildcards, parents resume after holes', () => {
  const { ds } = load(ip6trie, ':127.0.0.3:net $\n2001:db8:42::/52\n!2001:db8:42::bead\n2001:db8:c000/36\n');
  const lines: string[] = [];
  ds.dump('ip6trie.example', (l) => lines.push(l));
  assert.equal(lines[0], '$TTL 2100');
  assert.deepEqual(lines.slice(1, 3), [
    '*.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.2.4.0.0.8.b.d.0.1.0.0.2\tA\t127.0.0.3',
    '\tTXT\t"net 2001:db8:42::"',
  ]);
  // bead itself is absent, beac and beae are there
  const names = lines.filter((l) => !l.startsWith('\t')).map((l) => l.split('\t')[0]);
  assert.ok(names.includes('c.a.e.b.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.2.4.0.0.8.b.d.0.1.0.0.2'));
  assert.ok(names.includes('e.a.e.b.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.2.4.0.0.8.b.d.0.1.0.0.2'));
  assert.ok(!names.includes('d.a.e.b.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.2.4.0.0.8.b.d.0.1.0.0.2'));
  // the /36 is one nibble wildcard; its TXT shows only whole groups, as rbldnsd prints it
  const i = lines.indexOf('*.c.8.b.d.0.1.0.0.2\tA\t127.0.0.3');
  assert.ok(i > 0);
  assert.equal(lines[i + 1], '\tTXT\t"net 2001:db8::"');
});

test('a snapshot round-trip answers identically', () => {
  const { ds } = load(ip6trie, DATA);
  const copy = roundTrip(ip6trie, ds);
  assert.equal(copy.ttl, ds.ttl);
  assert.equal(copy.size, ds.size);
  for (const a of ['2001:db8:cf00::1', '2001:db8:42::1', '2001:db8:42::bead', '::1', '::2', '2001:db8:def7:4242::5', '1::2', '2001:db8:78::1']) {
    assert.deepEqual(ask(copy, rev(a)), ask(ds, rev(a)), a);
  }
});
