// RecordsDataset answers its records as a standard authoritative server does (RFC 1034 4.3.2,
// RFC 4592): exact names, the closest encloser's wildcard, empty non-terminals NODATA.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RecordsDataset, RecordsError, parseRecordLines, records } from '../../../core/datasets/records.ts';
import { datasetType } from '../../../core/datasets/index.ts';
import type { ZoneRecord } from '../../../core/zones/records.ts';
import { QTYPE, query } from './helpers.ts';

const R = (name: string, type: number, data: string, ttl = 300): ZoneRecord => ({ name, type, ttl, data });
const L = (name: string) => (name === '' ? [] : name.split('.'));

const zone = new RecordsDataset([
  R('2.0.0.127', 1, '127.0.0.2'),
  R('2.0.0.127', 16, 'test point'),
  R('*.2.1.10', 1, '127.0.0.2'),
  R('*.2.1.10', 1, '127.0.0.5'),
  R('5.2.1.10', 1, '127.0.0.3'),
  R('*.example', 16, 'wild'),
  R('a.b.example', 1, '127.0.1.2'),
  R('mail', 15, '10 mx.example.'),
  R('zones', 12, 'bl.example.'),
]);

test('exact names answer their records; other types of an existing name are NODATA', () => {
  assert.deepEqual(query(zone, L('2.0.0.127'), QTYPE.ANY).recs.map((r) => r.data).sort(), ['127.0.0.2', 'test point']);
  const txtOnly = query(zone, L('2.0.0.127'), QTYPE.TXT);
  assert.deepEqual(txtOnly.recs.map((r) => r.type), ['TXT']);
  const mx = query(zone, L('2.0.0.127'), QTYPE.MX);
  assert.equal(mx.found, true);
  assert.equal(mx.recs.length, 0);
  assert.deepEqual(query(zone, L('mail'), QTYPE.MX).recs, [{ type: 'MX', data: '10 mx.example.', ttl: 300 }]);
});

test('a wildcard answers names below its closest encloser, not names that exist', () => {
  assert.deepEqual(query(zone, L('9.2.1.10'), QTYPE.A).recs.map((r) => r.data), ['127.0.0.2', '127.0.0.5']);
  assert.deepEqual(query(zone, L('5.2.1.10'), QTYPE.A).recs.map((r) => r.data), ['127.0.0.3']);
  // deeper names under the wildcard's parent match too (RFC 4592: the closest encloser is 2.1.10)
  assert.equal(query(zone, L('x.y.2.1.10'), QTYPE.A).recs.length, 2);
  // below an existing name, the wildcard of that name is asked (there is none): NXDOMAIN
  assert.equal(query(zone, L('x.5.2.1.10'), QTYPE.A).found, false);
});

test('an empty non-terminal is NODATA, and it cuts the wildcard above it', () => {
  const ent = query(zone, L('b.example'), QTYPE.A);
  assert.equal(ent.found, true);
  assert.equal(ent.recs.length, 0);
  // c.b.example: closest encloser b.example has no '*' child -> NXDOMAIN, although *.example exists
  assert.equal(query(zone, L('c.b.example'), QTYPE.TXT).found, false);
  assert.deepEqual(query(zone, L('other.example'), QTYPE.TXT).recs.map((r) => r.data), ['wild']);
  assert.equal(query(zone, L('3.1.10'), QTYPE.A).found, false);
  assert.equal(query(zone, L('1.10'), QTYPE.A).found, true); // ENT above 2.1.10
  assert.equal(query(zone, L('zones'), QTYPE.A).found, true); // a PTR makes the name exist
});

test('a record that cannot be answered is refused with its name', () => {
  assert.throws(() => new RecordsDataset([R('x', 1, '300.1.1.1')]), (e: Error) => e instanceof RecordsError && /x A "300.1.1.1"/.test(e.message));
  assert.throws(() => new RecordsDataset([R('y', 15, 'mx.example.')]), /y MX/);
  assert.throws(() => parseRecordLines('a\tA\t1\tx'), /line 1/);
});

test('snapshot round trip keeps records, meta and answers', () => {
  const meta = { soa: { ttl: 60, mname: 'ns.example', rname: 'h.example', serial: 7, refresh: 1, retry: 2, expire: 3, minimum: 4 } };
  const d = new RecordsDataset([R('a', 16, 'tab\there'), R('*.b', 1, '127.0.0.2')], meta);
  const part = d.snapshot();
  assert.equal(datasetType(part.type), records);
  const back = records.fromSnapshot(part);
  assert.deepEqual([...back.records!({ maxExpansion: 1, report() {} })], [...d.records()]);
  assert.deepEqual(back.meta, meta);
  assert.deepEqual(query(back, L('q.b'), QTYPE.A).recs.map((r) => r.data), ['127.0.0.2']);
});

test('build() in slices answers as the constructor does, and lets the event loop run meanwhile', async () => {
  const list: ZoneRecord[] = [];
  for (let i = 0; i < 50_000; i++) list.push(R(`${i & 255}.${(i >> 8) & 255}.2.10`, 1, '127.0.0.2'));
  list.push(R('*.9.10', 16, 'wild'));
  let turns = 0;
  const tick = setInterval(() => turns++, 0);
  const built = await RecordsDataset.build(list, {}, 1);
  clearInterval(tick);
  const direct = new RecordsDataset(list);
  for (const name of ['5.0.2.10', '255.195.2.10', '1.1.9.10', '7.7.7.10']) {
    assert.deepEqual(query(built, L(name), QTYPE.ANY), query(direct, L(name), QTYPE.ANY), name);
  }
  assert.ok(turns > 0, 'timers ran while it built');
  await assert.rejects(RecordsDataset.build([R('x', 1, 'nope')]), /x A "nope"/);
});
