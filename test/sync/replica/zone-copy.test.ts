import assert from 'node:assert/strict';
import { test } from 'node:test';
import { catalogMembers } from '../../../sync/replica/catalog.ts';
import { serialNewer, TransferError, type ZoneSoa } from '../../../sync/replica/transfer.ts';
import { applySteps, copyMeta, dataRecords, type ZoneCopy } from '../../../sync/replica/zone-copy.ts';

function soa(serial: number): ZoneSoa {
  return { serial, refresh: 60, retry: 30, expire: 600, minimum: 5,
    record: { name: '', type: 6, ttl: 300, data: `ns1.bl.test. hostmaster.bl.test. ${serial} 60 30 600 5` } };
}

const base: ZoneCopy = {
  zone: 'bl.test',
  soa: soa(1),
  records: [
    { name: '', type: 2, ttl: 300, data: 'ns1.bl.test.' },
    { name: '2.0.0.127', type: 1, ttl: 300, data: '127.0.0.2' },
    { name: '4.0.0.127', type: 1, ttl: 300, data: '127.0.0.4' },
  ],
};

test('IXFR steps apply in order; the apex SOA in a step is not a record of the copy', async () => {
  const next = await applySteps(base, soa(3), [
    { del: [soa(1).record, { name: '4.0.0.127', type: 1, ttl: 300, data: '127.0.0.4' }], add: [soa(2).record, { name: '5.0.0.127', type: 1, ttl: 300, data: '127.0.0.5' }] },
    { del: [{ name: '5.0.0.127', type: 1, ttl: 300, data: '127.0.0.5' }], add: [{ name: '6.0.0.127', type: 1, ttl: 300, data: '127.0.0.6' }] },
  ]);
  assert.equal(next.soa.serial, 3);
  assert.deepEqual(next.records.map((r) => r.name).sort(), ['', '2.0.0.127', '6.0.0.127']);
  assert.equal(base.records.length, 3, 'the old copy is untouched (it keeps serving if anything fails)');
});

test('a deletion the copy does not hold is a TransferError (the caller falls back to AXFR)', async () => {
  await assert.rejects(
    applySteps(base, soa(2), [{ del: [{ name: '9.0.0.127', type: 1, ttl: 300, data: '127.0.0.9' }], add: [] }]),
    (e: unknown) => e instanceof TransferError && /deletes a record the copy does not hold: 9\.0\.0\.127/.test(e.message),
  );
});

test('a record added then deleted cancels out; an added record already held is not doubled', async () => {
  const x = { name: '7.0.0.127', type: 1, ttl: 300, data: '127.0.0.7' };
  const next = await applySteps(base, soa(3), [
    { del: [], add: [x, base.records[1]!] },
    { del: [x], add: [] },
  ]);
  assert.deepEqual(next.records.map((r) => r.name), ['', '2.0.0.127', '4.0.0.127']);
});

test('meta: SOA fields and apex NS; data records leave the apex NS to the zone', () => {
  const m = copyMeta(base);
  assert.deepEqual(m.soa, { ttl: 300, mname: 'ns1.bl.test', rname: 'hostmaster.bl.test', serial: 1, refresh: 60, retry: 30, expire: 600, minimum: 5 });
  assert.deepEqual(m.ns, { ttl: 300, names: ['ns1.bl.test'] });
  assert.deepEqual(dataRecords(base).map((r) => r.name), ['2.0.0.127', '4.0.0.127']);
});

test('serial arithmetic (RFC 1982) across the wrap', () => {
  assert.equal(serialNewer(2, 1), true);
  assert.equal(serialNewer(1, 1), false);
  assert.equal(serialNewer(1, 2), false);
  assert.equal(serialNewer(5, 0xfffffff0), true);
  assert.equal(serialNewer(0xfffffff0, 5), false);
});

test('catalog members (RFC 9432): PTRs under zones., a missing version warned', () => {
  const cat: ZoneCopy = {
    zone: 'catalog.test', soa: soa(1),
    records: [
      { name: 'version', type: 16, ttl: 0, data: '2' },
      { name: 'a1.zones', type: 12, ttl: 0, data: 'BL.test.' },
      { name: 'b2.zones', type: 12, ttl: 0, data: 'wl.test.' },
      { name: 'group.a1.zones', type: 16, ttl: 0, data: 'x' },
      { name: 'c3.other', type: 12, ttl: 0, data: 'no.test.' },
    ],
  };
  assert.deepEqual(catalogMembers(cat), { zones: ['bl.test', 'wl.test'], warnings: [] });
  const noVersion = catalogMembers({ ...cat, records: cat.records.slice(1) });
  assert.match(noVersion.warnings[0]!, /version TXT is missing/);
});
