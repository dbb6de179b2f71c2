import { test } from 'node:test';
import assert from 'node:assert/strict';
import { catalogDataset, catalogMembers, catalogRecords, memberId } from '../../../server/xfr/catalog.ts';
import { RR } from '../../../core/zones/records.ts';

const soa = { ttl: 300, mname: 'ns.example.', rname: 'h.example.', serial: 0, refresh: 60, retry: 60, expire: 600, minimum: 60 };

test('a member id depends on the name only (any case, trailing dot), and differs between names', () => {
  assert.equal(memberId('bl.dnsbl.internal'), memberId('BL.dnsbl.internal.'));
  assert.match(memberId('bl.dnsbl.internal'), /^[0-9a-f]{40}$/);
  assert.notEqual(memberId('bl.dnsbl.internal'), memberId('wl.dnsbl.internal'));
});

test('members: sorted, deduplicated, without the catalog itself and the root', () => {
  assert.deepEqual(catalogMembers('catalog.x.', ['wl.x', 'bl.x', 'BL.x.', 'catalog.x', '']), ['bl.x', 'wl.x']);
});

test('records: version TXT "2" and one PTR <id>.zones per member, absolute targets', () => {
  const r = catalogRecords(['bl.x', 'wl.x'], 300);
  assert.deepEqual(r[0], { name: 'version', type: RR.TXT, ttl: 300, data: '2' });
  assert.deepEqual(r.slice(1), [
    { name: `${memberId('bl.x')}.zones`, type: RR.PTR, ttl: 300, data: 'bl.x.' },
    { name: `${memberId('wl.x')}.zones`, type: RR.PTR, ttl: 300, data: 'wl.x.' },
  ]);
});

test('the dataset carries the serial and NS invalid., and hands its records out for transfers', () => {
  const d = catalogDataset(['bl.x'], soa, 7);
  assert.equal(d.meta.soa?.serial, 7);
  assert.deepEqual(d.meta.ns, { ttl: 300, names: ['invalid.'] });
  assert.equal([...d.records()].length, 2);
});
