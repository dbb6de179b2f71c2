import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AddrToken, ERR_FAMILY, ERR_ORDER, ERR_PREFIX, ERR_SYNTAX, scanAddr } from '../../../core/formats/scan.ts';

const quad = (v: number): string => `${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`;
const hex = (w: Uint32Array, o: number): string => Array.from(w.subarray(o, o + 4), (x) => x.toString(16).padStart(8, '0')).join('');

/** The token as `first-last /width [masked] +rest`, or `error N`. */
function scan(text: string): string {
  const b = Buffer.from(text, 'latin1');
  const t = new AddrToken();
  if (!scanAddr(b, 0, b.length, t)) return `error ${t.error}`;
  const range = t.family === 4 ? `${quad(t.start4)}-${quad(t.end4)}` : `${hex(t.w6, 0)}-${hex(t.w6, 4)}`;
  return `${range} /${t.width}${t.masked ? ' masked' : ''}${t.end < b.length ? ` +${text.slice(t.end)}` : ''}`;
}

test('IPv4 addresses, CIDRs and ranges', () => {
  assert.equal(scan('192.0.2.1'), '192.0.2.1-192.0.2.1 /32');
  assert.equal(scan('192.0.2.0/24'), '192.0.2.0-192.0.2.255 /24');
  assert.equal(scan('192.0.2.77/24'), '192.0.2.0-192.0.2.255 /24 masked');
  assert.equal(scan('0.0.0.0/0'), '0.0.0.0-255.255.255.255 /0');
  assert.equal(scan('010.000.002.001'), '10.0.2.1-10.0.2.1 /32'); // zero-padded = decimal
  assert.equal(scan('192.0.2.0-192.0.2.255'), '192.0.2.0-192.0.2.255 /24');
  assert.equal(scan('192.0.2.0 - 192.0.2.2'), '192.0.2.0-192.0.2.2 /30'); // 3 addresses: needs a /30
  assert.equal(scan('192.0.2.9-192.0.2.9'), '192.0.2.9-192.0.2.9 /32');
  assert.equal(scan('0.0.0.0-255.255.255.255'), '0.0.0.0-255.255.255.255 /0');
  assert.equal(scan('192.0.2.1 # c'), '192.0.2.1-192.0.2.1 /32 + # c');
  assert.equal(scan('192.0.2.1;x'), '192.0.2.1-192.0.2.1 /32 +;x');
});

test('IPv4 errors', () => {
  for (const bad of ['192.0.2', '192.0.2.256', '192.0.2.1.5', '192.0.2.1a', '1.2.3.4:80', 'x', '', '-1.2.3.4', '192.0.2.']) {
    assert.equal(scan(bad), `error ${ERR_SYNTAX}`, bad);
  }
  assert.equal(scan('192.0.2.0/33'), `error ${ERR_PREFIX}`);
  assert.equal(scan('192.0.2.0/'), `error ${ERR_PREFIX}`);
  assert.equal(scan('192.0.2.0/2x'), `error ${ERR_PREFIX}`);
  assert.equal(scan('192.0.2.0/0024'), `error ${ERR_PREFIX}`);
  assert.equal(scan('192.0.2.9-192.0.2.1'), `error ${ERR_ORDER}`);
  assert.equal(scan('192.0.2.9-2001:db8::1'), `error ${ERR_FAMILY}`);
  assert.equal(scan('192.0.2.9-'), `error ${ERR_SYNTAX}`);
});

test('IPv6 forms', () => {
  const one = (a: string): string => scan(a).split('-')[0]!;
  assert.equal(one('2001:db8::1'), '20010db8000000000000000000000001');
  assert.equal(one('2001:DB8::1'), '20010db8000000000000000000000001');
  assert.equal(one('::'), '00000000000000000000000000000000');
  assert.equal(one('::1'), '00000000000000000000000000000001');
  assert.equal(one('2001:db8::'), '20010db8000000000000000000000000');
  assert.equal(one('1:2:3:4:5:6:7:8'), '00010002000300040005000600070008');
  assert.equal(one('1::2:3:4:5:6:7'), '00010000000200030004000500060007');
  assert.equal(one('1:2:3:4:5:6:7::'), '00010002000300040005000600070000');
  assert.equal(one('::ffff:192.0.2.1'), '00000000000000000000ffffc0000201');
  assert.equal(one('64:ff9b::198.51.100.7'), '0064ff9b0000000000000000c6336407');
  assert.equal(scan('2001:db8::/32'), '20010db8000000000000000000000000-20010db8ffffffffffffffffffffffff /32');
  assert.equal(scan('2001:db8::1/64'), '20010db8000000000000000000000000-20010db800000000ffffffffffffffff /64 masked');
  assert.equal(scan('2001:db8::/0'), '00000000000000000000000000000000-ffffffffffffffffffffffffffffffff /0 masked');
  assert.equal(scan('2001:db8::-2001:db8::ff'), '20010db8000000000000000000000000-20010db80000000000000000000000ff /120');
  assert.equal(scan('::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'), '00000000000000000000000000000000-ffffffffffffffffffffffffffffffff /0');
});

test('IPv6 errors', () => {
  for (const bad of ['1:2:3:4:5:6:7:8:9', '1::2::3', '12345::1', ':1', '1:', '1:2:3:4:5:6:7', ':::', '1::2:3:4:5:6:7:8', 'g::1', '::ffff:192.0.2', '1:2:3:4:5:6:7:192.0.2.1']) {
    assert.equal(scan(bad), `error ${ERR_SYNTAX}`, bad);
  }
  assert.equal(scan('2001:db8::/129'), `error ${ERR_PREFIX}`);
  assert.equal(scan('2001:db8::ff-2001:db8::1'), `error ${ERR_ORDER}`);
  assert.equal(scan('2001:db8::ff-192.0.2.1'), `error ${ERR_FAMILY}`);
});

test('differential: accepts exactly the addresses node:net accepts (random tokens)', async () => {
  const { isIP } = await import('node:net');
  let a = 99;
  const rnd = (n: number): number => {
    a = (Math.imul(a, 1664525) + 1013904223) >>> 0;
    return a % n;
  };
  const alphabet = '0123456789abcdefABCDEF.::';
  const group = (): string => (rnd(4) === 0 ? '' : rnd(0x10000).toString(16).slice(0, 1 + rnd(4)));
  let checked = 0;
  for (let i = 0; i < 40000; i++) {
    let s: string;
    const k = rnd(3);
    if (k === 0) {
      s = '';
      const n = 1 + rnd(40);
      for (let j = 0; j < n; j++) s += alphabet[rnd(alphabet.length)];
    } else if (k === 1) {
      const n = 1 + rnd(9);
      s = Array.from({ length: n }, group).join(':');
      if (rnd(4) === 0) s += ':' + [rnd(300), rnd(300), rnd(300), rnd(300)].join('.');
    } else {
      s = Array.from({ length: 3 + rnd(3) }, () => String(rnd(300))).join('.');
    }
    if (/(^|[.:])0\d/.test(s)) continue; // zero-padded octets: we read them as decimal, node rejects them
    const ours = !scan(s).startsWith('error') && !scan(s).includes(' +');
    assert.equal(ours, isIP(s) !== 0, s);
    checked++;
  }
  assert.ok(checked > 20000);
});
