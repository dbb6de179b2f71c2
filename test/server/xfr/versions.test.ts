// ZoneVersions without the network: what is materialised (only zones an acl covers), records
// of several datasets deduplicated, the journal's reach, and that the work leaves the event loop
// to others while it runs.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { RecordsDataset } from '../../../core/datasets/records.ts';
import { ZoneTable } from '../../../server/zones.ts';
import { ZoneVersions } from '../../../server/xfr/versions.ts';
import { aRecords, meta, zone } from './helpers.ts';

const log = pino({ level: 'silent' });

function versions(get: () => ZoneTable, wanted = (z: string) => z !== 'private.test', journal = 3): ZoneVersions {
  const v = new ZoneVersions({ journal, maxExpansion: 65536, delayMs: 0, table: get, wanted, log });
  v.start();
  return v;
}

test('only covered zones are materialised; records of several datasets once each, NS from the SOA dataset', async () => {
  const shared = aRecords(10);
  const t = new ZoneTable([
    { name: 'bl.test', datasets: [new RecordsDataset(shared, meta(4)), new RecordsDataset([...shared.slice(5), ...aRecords(5, 100)], {})], newestMtime: 0 },
    zone('private.test', aRecords(3), 1),
  ]);
  const v = versions(() => t);
  await v.settle();
  const bl = v.current('bl.test')!;
  assert.equal(bl.serial, 4);
  assert.equal(bl.keys.size, 1 + 15); // NS + 10 + 5 new
  // the records come back as they were given
  const got = [...bl.records()];
  assert.deepEqual(got[0], { name: '', type: 2, ttl: 300, data: 'ns1.example.' });
  assert.deepEqual(got.slice(1, 11), shared);
  assert.equal(v.current('private.test'), undefined);
  assert.equal(v.state('private.test'), undefined);
  await v.stop();
});

test('a reload that widens the acl materialises the newly covered zone', async () => {
  const t = new ZoneTable([zone('bl.test', aRecords(3), 1), zone('private.test', aRecords(3), 1)]);
  let open = false;
  const v = versions(() => t, (z) => open || z === 'bl.test');
  await v.settle();
  assert.equal(v.current('private.test'), undefined);
  open = true;
  v.configure({});
  await v.settle();
  assert.equal(v.current('private.test')!.keys.size, 4);
  await v.stop();
});

test('the journal keeps the last N differences; a serial that goes back breaks the chain', async () => {
  let t = new ZoneTable([zone('bl.test', aRecords(5), 1)]);
  const v = versions(() => t, () => true, 2);
  await v.settle();
  const seen: number[] = [];
  v.onNewVersion((_z, s) => seen.push(s));
  for (const s of [2, 3, 4]) {
    t = new ZoneTable([zone('bl.test', aRecords(5, s), s)]);
    await v.settle();
  }
  assert.deepEqual(seen, [2, 3, 4]);
  assert.equal(v.journalFrom('bl.test', 1), null, 'past the journal');
  assert.deepEqual(v.journalFrom('bl.test', 2)!.map((e) => [e.from, e.to, e.removed.length, e.added.length]), [[2, 3, 1, 1], [3, 4, 1, 1]]);
  t = new ZoneTable([zone('bl.test', aRecords(5), 1)]);
  await v.settle();
  assert.equal(v.current('bl.test')!.serial, 1);
  assert.equal(v.journalFrom('bl.test', 4), null, 'no difference across a serial that went back');
  await v.stop();
});

test('materialising a large zone leaves the event loop to others (work in slices)', async () => {
  const t = new ZoneTable([zone('bl.test', aRecords(200_000), 1)]);
  const v = new ZoneVersions({ journal: 1, maxExpansion: 65536, delayMs: 0, table: () => t, wanted: () => true, log, sliceMs: 2 });
  let turns = 0;
  let on = true;
  const spin = () => {
    turns++;
    if (on) setImmediate(spin);
  };
  setImmediate(spin);
  v.start();
  await v.settle();
  on = false;
  assert.equal(v.current('bl.test')!.keys.size, 200_001);
  assert.ok(turns > 20, `other work ran ${turns} times while 200k records were materialised`);
  await v.stop();
});
