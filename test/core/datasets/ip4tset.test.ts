import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ip4tset } from '../../../core/datasets/ip4tset.ts';
import type { DatasetType } from '../../../core/datasets/types.ts';
import type { LoadOptions } from '../../../core/rbldnsd/state.ts';
import { makeQuery } from '../../../core/query.ts';
import { askIp4 as ask, checkBytePathMatchesText, loadTexts, NO_RECORDS, roundTrip } from './helpers.ts';

const load = (type: DatasetType, files: string[], opts: Partial<LoadOptions> = {}) => loadTexts(type, files, opts, { fileInWarnings: true });

test('complete dotted quads only; no exclusions; values after keys ignored', () => {
  const { ds, warnings } = load(ip4tset, [
    `1.2.3.4
!1.2.3.5
1.2.3.6 :127.0.0.9:ignored
1.2.3.7x
1.2.3.8/24
1.2.3
1.2.3.9:127.0.0.5:x
1.2.3.10 foo
:bad:xx
:127.0.0.4:first $
:127.0.0.5:second
1.2.3.11;x
1.2.3.256
01.2.3.12
1.2.3.4
`,
    '1.2.3.20\n:127.0.0.6:third\n1.2.3.21\n$TTL 5m\n',
  ]);
  assert.deepEqual(warnings, [
    'f0.txt:2: invalid address',
    'f0.txt:4: invalid address',
    'f0.txt:5: invalid address',
    'f0.txt:6: invalid address',
    'f0.txt:9: invalid A RR',
    'f0.txt:13: invalid address',
  ]);
  assert.equal(ds.size, 8, 'the duplicate 1.2.3.4 collapses');
  assert.equal(ds.ttl, 300);
  // the first valid default applies to the whole dataset, also to entries before it and in later files
  for (const ip of ['1.2.3.4', '1.2.3.6', '1.2.3.9', '1.2.3.10', '1.2.3.11', '1.2.3.12', '1.2.3.20', '1.2.3.21']) {
    assert.deepEqual(ask(ds, ip), ['A 127.0.0.4 300', `TXT first ${ip} 300`], ip);
  }
  for (const ip of ['1.2.3.5', '1.2.3.7', '1.2.3.8', '1.2.3.13']) assert.equal(ask(ds, ip), null, ip);
  assert.deepEqual(ask(ds, '1.2.3.4', 'AAAA'), []);
});

test('without a default line: A 127.0.0.2 and no TXT, the -t default TTL', () => {
  const { ds } = load(ip4tset, ['192.0.2.1\n'], { ttl: { def: 600, min: 0, max: 86400 } });
  assert.deepEqual(ask(ds, '192.0.2.1'), ['A 127.0.0.2 600']);
  assert.deepEqual(ask(ds, '192.0.2.1', 'TXT'), []);
  const sink = NO_RECORDS;
  assert.equal(ds.query(makeQuery(['1', '0', '192'], 255), sink), false);
});

test('snapshot round-trip and dump', () => {
  const { ds } = load(ip4tset, [':127.0.0.3:tset $\n9.9.9.9\n1.1.1.1\n200.1.1.1\n']);
  const copy = roundTrip(ip4tset, ds);
  assert.equal(copy.ttl, ds.ttl);
  assert.equal(copy.size, 3);
  for (const ip of ['9.9.9.9', '1.1.1.1', '200.1.1.1', '1.1.1.2', '0.0.0.0']) assert.deepEqual(ask(copy, ip), ask(ds, ip), ip);
  const lines: string[] = [];
  copy.dump('z.test', (l) => lines.push(l));
  assert.deepEqual(lines, [
    '$TTL 2100',
    '1.1.1.1\tA\t127.0.0.3', '\tTXT\t"tset 1.1.1.1"',
    '9.9.9.9\tA\t127.0.0.3', '\tTXT\t"tset 9.9.9.9"',
    '1.1.1.200\tA\t127.0.0.3', '\tTXT\t"tset 200.1.1.1"',
  ]);
});

test('the byte fast path loads exactly what the text path loads (mixed random data)', () => checkBytePathMatchesText(ip4tset));
