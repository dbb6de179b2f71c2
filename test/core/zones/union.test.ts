// Several datasets in one zone and combined's subzones as one set of records: a secondary-like
// zone over the union (RecordsDataset) answers as quorumbl merges the datasets' answers.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { datasetType } from '../../../core/datasets/index.ts';
import { RecordsDataset } from '../../../core/datasets/records.ts';
import type { Dataset, RecordSink } from '../../../core/datasets/types.ts';
import { makeQuery } from '../../../core/query.ts';
import { zoneRecords } from '../../../core/zones/union.ts';
import type { MaterialiseOptions } from '../../../core/zones/records.ts';
import { loadTexts } from '../datasets/helpers.ts';
import { rng } from '../../sync/merge/helpers.ts';

function opts(): MaterialiseOptions & { problems: string[] } {
  const problems: string[] = [];
  return { maxExpansion: 65536, report: (p) => problems.push(p), problems };
}

/** A, TXT and MX as sorted sets (the server dedups identical RRs; generic rotates the order). */
function answer(ds: Dataset | Dataset[], labels: string[]): string[] {
  const out = new Set<string>();
  const sink: RecordSink = { wantA: true, wantTxt: true, qtype: 255, a: (ip) => out.add(`A ${ip}`), txt: (t) => out.add(`TXT ${t}`), mx: (p, e) => out.add(`MX ${p} ${e}`) };
  for (const d of Array.isArray(ds) ? ds : [ds]) d.query(makeQuery(labels, 255), sink);
  return [...out].sort();
}

const load = (type: string, text: string): Dataset => loadTexts(datasetType(type)!, [text]).ds;

// TXT `$` is left out of the address templates here: under a wildcard it becomes the CIDR
// (a documented difference); dnset's `$` (the matched entry) stays exact.
test('two datasets of one zone: an exact name of one does not hide the wildcard of the other', () => {
  const set = load('ip4set', ':127.0.0.2:wide\n10.20.0.0/16\n192.0.2.0/24 :127.0.0.3:net\n');
  const trie = load('ip4trie', ':127.0.0.4:single\n10.20.3.4\n192.0.2.0/25 :127.0.0.5:half\n');
  const dn = load('dnset', ':127.0.0.6:dom $\n*.example\nx.y.example\n');
  const gen = load('generic', 'mail.example A 127.0.0.7\nmail.example MX 10 mx.example.org\n');
  const all = [set, trie, dn, gen];
  const o = opts();
  const recs = [...zoneRecords(all, o)!];
  assert.deepEqual(o.problems, []);
  const sec = new RecordsDataset(recs, {});
  const r = rng(3);
  const names: string[][] = [['4', '3', '20', '10'], ['5', '3', '20', '10'], ['9', '9', '20', '10'], ['1', '2', '0', '192'], ['200', '2', '0', '192'],
    ['a', 'example'], ['y', 'example'], ['x', 'y', 'example'], ['z', 'y', 'example'], ['mail', 'example'], ['q', 'mail', 'example'], ['example']];
  for (let i = 0; i < 500; i++) names.push(['10', '20', String(Math.floor(r() * 256)), String(Math.floor(r() * 256))].reverse());
  for (const l of names) assert.deepEqual(answer(sec, l), answer(all, l), l.join('.'));
  // and concatenating the datasets' own records would not do
  const naive = new RecordsDataset(all.flatMap((d) => [...d.records!(opts())]), {});
  assert.notDeepEqual(answer(naive, ['4', '3', '20', '10']), answer(all, ['4', '3', '20', '10']), 'the test exercises a cut');
});

test('combined: each name answered by its longest subzone, the datasets there merged', () => {
  const comb = load('combined', `$TTL 10m
$DATASET ip4set proxies @
:2:Open proxy
127.0.0.2
10.0.0.0/8
$DATASET generic proxies @
@ A 127.0.0.8
www A 192.0.2.80
$DATASET ip4trie relays
:3:Open relay
10.1.0.0/16
127.0.0.2
$DATASET dnset rhs
:4:Bad domain $
*.example
a.b.example
`);
  const o = opts();
  const recs = [...comb.records!(o)];
  assert.deepEqual(o.problems, []);
  const sec = new RecordsDataset(recs, {});
  const names = [[], ['www'], ['2', '0', '0', '127', 'proxies'], ['2', '0', '0', '127'], ['2', '0', '0', '127', 'relays'], ['5', '4', '1', '10', 'relays'],
    ['5', '4', '2', '10', 'relays'], ['5', '4', '2', '10', 'proxies'], ['5', '4', '2', '10'], ['x', 'example', 'rhs'], ['b', 'example', 'rhs'],
    ['q', 'b', 'example', 'rhs'], ['a', 'b', 'example', 'rhs'], ['proxies'], ['rhs'], ['x', 'rhs']];
  for (const l of names) assert.deepEqual(answer(sec, l), answer(comb, l), l.join('.') || '@');
});

test('generic: a * first label has no plain-record form: reported, left out', () => {
  const gen = load('generic', '*.wild A 127.0.0.2\nok A 127.0.0.3\n');
  const o = opts();
  const recs = [...gen.records!(o)];
  assert.deepEqual(recs.map((x) => x.name), ['ok']);
  assert.match(o.problems[0]!, /generic: the name "\*\.wild" has no plain-record form/);
});
