import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Ip6Scanner, formatIp6, ip6NibbleName, parseIp6Cidr, sortWordRecords } from '../../core/ip6.ts';

function hex(a: Uint8Array): string {
  return Buffer.from(a).toString('hex');
}

function cidr(text: string, acceptHostBits = false): string {
  const r = parseIp6Cidr(text, acceptHostBits);
  return typeof r === 'string' ? r : `${formatIp6(r.addr)}/${r.bits}`;
}

test('without :: the number of groups gives the prefix length', () => {
  assert.equal(cidr('2001:db8:def7:4242'), '2001:db8:def7:4242::/64');
  assert.equal(cidr('2001:db8'), '2001:db8::/32');
  assert.equal(cidr('1:2:3:4:5:6:7:8'), '1:2:3:4:5:6:7:8/128');
});

test('with :: the address is 128 bits unless /len says otherwise', () => {
  assert.equal(cidr('2001:db8::1'), '2001:db8::1/128');
  assert.equal(cidr('::1'), '::1/128');
  assert.equal(cidr('::'), '::/128');
  assert.equal(cidr('2001:db8::/32'), '2001:db8::/32');
  assert.equal(cidr('::/0'), '::/0');
  assert.equal(cidr('2001:db8:c000/36'), '2001:db8:c000::/36');
});

test('hex is case-insensitive and leading zeros are fine', () => {
  assert.equal(cidr('2001:0DB8:00AB:0001'), '2001:db8:ab:1::/64');
  const r = parseIp6Cidr('2001:DB8::AbCd');
  assert.ok(typeof r !== 'string');
  assert.equal(hex(r.addr), '20010db800000000000000000000abcd');
});

test('invalid keys', () => {
  for (const bad of ['2001', 'ffff', '2001:db8::/129', '2001:db8::/', '2001:db8:', '1:2:3:4:5:6:7::8', '::ffff:192.0.2.1',
    '12345::', '2001:db8::/32x', 'g::1', '', '2001::db8::1x']) {
    assert.equal(typeof parseIp6Cidr(bad), 'string', bad);
  }
  // a single group with an explicit length is fine
  assert.equal(cidr('2001/16'), '2001::/16');
});

test('host bits are rejected unless accepted, then masked', () => {
  assert.equal(cidr('2001:db8:1::1/64'), 'invalid range (non-zero host part)');
  assert.equal(cidr('2001:db8:1::1/64', true), '2001:db8:1::/64');
  assert.equal(cidr('2001:db8:d000/35'), 'invalid range (non-zero host part)');
  assert.equal(cidr('2001:db8:c000/35'), '2001:db8:c000::/35');
  assert.equal(cidr('2001:db8:f000/35', true), '2001:db8:e000::/35');
});

test('the scanner stops where the key ends so a value can follow', () => {
  const s = new Ip6Scanner();
  assert.ok(s.cidr('2001:db8::/48:127.0.0.2:txt', 0));
  assert.equal(s.bits, 48);
  assert.equal(s.end, 13);
  // the first group of a dotted quad stops the scan at the dot
  assert.ok(s.prefix('2001:db8::1:127.0.0.2', 0));
  assert.equal('2001:db8::1:127.0.0.2'[s.end], '.');
  // a second `::` ends the key: `1::2::3` is 1::2 followed by `:3`
  assert.ok(s.prefix('1::2::3', 0));
  assert.equal(hex(s.addr), '00010000000000000000000000000002');
  assert.equal('1::2::3'.slice(s.end), ':3');
  assert.ok(s.prefix('!  2001:db8:1:2', 3));
  assert.equal(s.bits, 64);
});

test('formatting: lowercase, no leading zeros, longest zero run (first on a tie) as ::', () => {
  const f = (t: string): string => {
    const r = parseIp6Cidr(t);
    assert.ok(typeof r !== 'string', t);
    return formatIp6(r.addr);
  };
  assert.equal(f('2001:0db8:abcd:ef01:0000:0000:0001:2345'), '2001:db8:abcd:ef01::1:2345');
  assert.equal(f('2001:db8:0:0:1:0:0:1'), '2001:db8::1:0:0:1');
  assert.equal(f('2001:0:0:1:0:0:0:1'), '2001:0:0:1::1');
  assert.equal(f('2001:db8:0:1:2:3:4:5'), '2001:db8:0:1:2:3:4:5');
  assert.equal(f('0:0:0:0:0:0:0:0'), '::');
  assert.equal(f('0:0:0:0:0:0:0:1'), '::1');
  assert.equal(f('2001:db8:cf00:0:0:0:0:0'), '2001:db8:cf00::');
  assert.equal(f('1:0:0:2:3:4:5:6'), '1::2:3:4:5:6');
});

test('nibble names for dumps', () => {
  const r = parseIp6Cidr('2001:db8::1');
  assert.ok(typeof r !== 'string');
  assert.equal(ip6NibbleName(r.addr, 32), '1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2');
  assert.equal(ip6NibbleName(r.addr, 8), '8.b.d.0.1.0.0.2');
});

test('radix sort of word records is stable and orders by the key words', () => {
  // records: [key hi, key lo, payload]
  const rows = [[2, 5, 0], [1, 0xffffffff, 1], [2, 5, 2], [0, 7, 3], [1, 3, 4], [0x80000000, 0, 5]];
  const w = new Uint32Array(rows.flat());
  const order = Array.from(sortWordRecords(w, 3, 2, rows.length));
  assert.deepEqual(order.map((i) => rows[i]![2]), [3, 4, 1, 0, 2, 5]);
});
