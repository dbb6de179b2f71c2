import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { DatasetType } from '../../../core/datasets/types.ts';
import { dnset } from '../../../core/datasets/dnset.ts';
import { ask, loadTexts, roundTrip } from './helpers.ts';

const load = (type: DatasetType, ...texts: string[]) => loadTexts(type, texts);

/** Labels below the zone in wire order, lowercased (what the server passes). */
function name(n: string): string[] {
  return n === '' ? [] : n.toLowerCase().split('.');
}

const DATA = `:127.0.0.2:Domain $ is listed
.evil.test
*.wild.test
!ok.evil.test
!*.sub.wild.test
*.wild.test :127.0.0.6:second value for wildcard
exact.test :127.0.0.3:exact $
`;

test('the reference example (dnset.example)', () => {
  const { ds } = load(dnset, DATA);
  assert.deepEqual(ask(ds, name('x.evil.test'), 16), ['2100 TXT Domain evil.test is listed']);
  assert.equal(ask(ds, name('ok.evil.test')), null);
  assert.deepEqual(ask(ds, name('a.ok.evil.test')), ['2100 A 127.0.0.2', '2100 TXT Domain evil.test is listed']);
  assert.deepEqual(ask(ds, name('a.wild.test')), [
    '2100 A 127.0.0.2', '2100 TXT Domain wild.test is listed', '2100 A 127.0.0.6', '2100 TXT second value for wildcard',
  ]);
  assert.equal(ask(ds, name('x.sub.wild.test')), null);
  assert.equal(ask(ds, name('y.x.sub.wild.test')), null);
  assert.equal(ask(ds, name('wild.test')), null);
});

test('.name matches the name and everything below; *.name only below; plain only exactly', () => {
  const { ds } = load(dnset, DATA);
  assert.ok(ask(ds, name('evil.test')));
  assert.ok(ask(ds, name('a.b.c.evil.test')));
  assert.ok(ask(ds, name('sub.wild.test')), 'listed by *.wild.test; the exclusion covers only names below it');
  assert.deepEqual(ask(ds, name('exact.test')), ['2100 A 127.0.0.3', '2100 TXT exact exact.test']);
  assert.equal(ask(ds, name('a.exact.test')), null);
  assert.equal(ask(ds, name('test')), null);
  assert.equal(ask(ds, name('other.example')), null);
});

test('the zone apex never matches', () => {
  const { ds } = load(dnset, DATA);
  assert.equal(ask(ds, []), null);
});

test('an exact exclusion has no fallback to wildcards, in any line order', () => {
  const { ds } = load(dnset, '*.w.test\nc.w.test :127.0.0.7:seven\n!c.w.test\n!d.w.test\nd.w.test\n');
  assert.equal(ask(ds, name('c.w.test')), null);
  assert.equal(ask(ds, name('d.w.test')), null);
  assert.ok(ask(ds, name('e.w.test')));
  assert.ok(ask(ds, name('x.c.w.test')), 'names below an exact exclusion still meet the wildcard');
});

test('the longest wildcard decides', () => {
  const { ds } = load(dnset, '*.test :127.0.0.3:short\n*.a.test :127.0.0.4:long $\n');
  assert.deepEqual(ask(ds, name('x.a.test')), ['2100 A 127.0.0.4', '2100 TXT long a.test']);
  assert.deepEqual(ask(ds, name('a.test')), ['2100 A 127.0.0.3', '2100 TXT short']);
});

test('several values of a name: all returned, in rbldnsd order', () => {
  const { ds } = load(dnset, `a.test :127.0.0.5:five
b.test :127.0.0.6:six
b.test :127.0.0.5:five
multi.test :127.0.0.7:one
multi.test :127.0.0.8:two
.x.test :127.0.0.2:wide
x.test :127.0.0.9:nine
same.test :127.0.0.4:x
same.test :127.0.0.4:x
`);
  // rbldnsd orders a name's values by where it stored them, not by first appearance in the file
  assert.deepEqual(ask(ds, name('b.test'), 1), ['2100 A 127.0.0.6', '2100 A 127.0.0.5']);
  assert.deepEqual(ask(ds, name('multi.test')), ['2100 A 127.0.0.7', '2100 TXT one', '2100 A 127.0.0.8', '2100 TXT two']);
  assert.deepEqual(ask(ds, name('x.test'), 1), ['2100 A 127.0.0.2', '2100 A 127.0.0.9']);
  assert.deepEqual(ask(ds, name('y.x.test'), 1), ['2100 A 127.0.0.2']);
  assert.deepEqual(ask(ds, name('same.test'), 1), ['2100 A 127.0.0.4']);
});

test('names: case, trailing dot, empty labels, escapes; TXT $ in printed form', () => {
  const { ds, warnings } = load(dnset, `:127.0.0.4:$
UPPER.Test.
A..B.Test
esc\\.aped.test
dec\\065bc.test
dollar\\$x.test
trail\\
name:127.0.0.3:x
big\\300.test
${'a'.repeat(64)}.test
${'a'.repeat(63)}.test
`);
  assert.deepEqual(warnings, ['9: invalid domain name', '10: invalid domain name']);
  assert.deepEqual(ask(ds, name('upper.test')), ['2100 A 127.0.0.4', '2100 TXT upper.test']);
  assert.deepEqual(ask(ds, name('a.b.test')), ['2100 A 127.0.0.4', '2100 TXT a.b.test']);
  assert.deepEqual(ask(ds, ['esc.aped', 'test']), ['2100 A 127.0.0.4', '2100 TXT esc\\.aped.test']);
  assert.equal(ask(ds, name('esc.aped.test')), null);
  assert.deepEqual(ask(ds, name('decabc.test')), ['2100 A 127.0.0.4', '2100 TXT decabc.test']);
  assert.deepEqual(ask(ds, ['dollar$x', 'test']), ['2100 A 127.0.0.4', '2100 TXT dollar\\$x.test']);
  assert.ok(ask(ds, ['trail']));
  // the name ends at the first blank: the colons are part of it
  assert.deepEqual(ask(ds, ['name:127', '0', '0', '3:x']), ['2100 A 127.0.0.4', '2100 TXT name:127.0.0.3:x']);
  assert.ok(ask(ds, name(`${'a'.repeat(63)}.test`)));
});

test('invalid entries: empty names, bad values', () => {
  const { ds, warnings } = load(dnset, '.\n*.\n!\n..\nok.test :bad:\nok2.test :1 junk\nok3.test\n');
  assert.deepEqual(warnings, [
    '1: invalid domain name', '2: invalid domain name', '3: invalid domain name', '4: invalid domain name',
    '5: invalid A RR', '6: unrecognized value for an entry',
  ]);
  assert.equal(ds.size, 1);
});

test('defaults: reset per file, `:A` default falls back to the built-in; TTL is the last $TTL', () => {
  const { ds } = load(dnset, `:127.0.0.2:first file $
a.test
e.test :9
:127.0.0.4
d.test
f.test :9
$TTL 300
`, 'g.test\n*.h.test\n!*.h.test :127.0.0.3:ignored\n$TTL 200\n');
  assert.deepEqual(ask(ds, name('a.test')), ['200 A 127.0.0.2', '200 TXT first file a.test']);
  assert.deepEqual(ask(ds, name('e.test')), ['200 A 127.0.0.9', '200 TXT first file e.test']);
  assert.deepEqual(ask(ds, name('d.test')), ['200 A 127.0.0.4']);
  assert.deepEqual(ask(ds, name('f.test')), ['200 A 127.0.0.9']);
  assert.deepEqual(ask(ds, name('g.test')), ['200 A 127.0.0.2']);
  assert.equal(ask(ds, name('x.h.test')), null);
});

test('a listed name with another qtype is found without records (NODATA)', () => {
  const { ds } = load(dnset, DATA);
  assert.deepEqual(ask(ds, name('x.evil.test'), 28), []);
});

test('dump: exact names, then wildcards as *.name, exclusions as CNAME excluded', () => {
  const { ds } = load(dnset, DATA);
  const lines: string[] = [];
  ds.dump('dnset.example', (l) => lines.push(l));
  assert.equal(lines[0], '$TTL 2100');
  const text = lines.join('\n');
  assert.ok(text.includes('evil.test\tA\t127.0.0.2\n\tTXT\t"Domain evil.test is listed"'));
  assert.ok(text.includes('ok.evil.test\tCNAME\texcluded'));
  assert.ok(text.includes('*.evil.test\tA\t127.0.0.2'));
  assert.ok(text.includes('*.wild.test\tA\t127.0.0.2\n\tTXT\t"Domain wild.test is listed"\n*.wild.test\tA\t127.0.0.6'));
  assert.ok(text.includes('*.sub.wild.test\tCNAME\texcluded'));
});

test('a snapshot round-trip answers identically', () => {
  const { ds } = load(dnset, DATA + 'multi.test :127.0.0.7:one\nmulti.test :127.0.0.8:two\n');
  const copy = roundTrip(dnset, ds);
  assert.equal(copy.ttl, ds.ttl);
  assert.equal(copy.size, ds.size);
  for (const n of ['x.evil.test', 'evil.test', 'ok.evil.test', 'a.ok.evil.test', 'a.wild.test', 'wild.test', 'x.sub.wild.test',
    'exact.test', 'multi.test', 'nothing.test', '']) {
    assert.deepEqual(ask(copy, name(n)), ask(ds, name(n)), n);
  }
});
