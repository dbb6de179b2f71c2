import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IP4SET_KEYS, IP4TRIE_KEYS, IP4TSET_KEYS, Ip4Key, parseIp4Key, parseIp4QuadBytes, splitKeyLine, type Ip4KeySyntax } from '../../core/ip4.ts';
import { ip4ToString } from '../../core/query.ts';

/** 'first-last/bits' or the error text. */
function parse(line: string, syntax: Ip4KeySyntax = IP4SET_KEYS, acceptHostBits = false): string {
  const k = new Ip4Key();
  const err = parseIp4Key(line, 0, syntax, acceptHostBits, k);
  return err ?? `${ip4ToString(k.first)}-${ip4ToString(k.last)}/${k.bits}`;
}

test('full and prefix forms', () => {
  assert.equal(parse('192.0.2.1'), '192.0.2.1-192.0.2.1/32');
  assert.equal(parse('192.0.2'), '192.0.2.0-192.0.2.255/24');
  assert.equal(parse('10.2'), '10.2.0.0-10.2.255.255/16');
  assert.equal(parse('127'), 'invalid address');
  assert.equal(parse('010.1.1.1'), '10.1.1.1-10.1.1.1/32'); // decimal, not octal (oracle)
  assert.equal(parse('0001.2.3.4'), '1.2.3.4-1.2.3.4/32');
  assert.equal(parse('256.1.1.1'), 'invalid address');
  assert.equal(parse('4294967306.1.1.1'), 'invalid address');
  assert.equal(parse('0x0b.1.1.1'), 'invalid address');
  assert.equal(parse('1.2.3.4.5'), 'invalid address');
  assert.equal(parse('1.2.3.'), 'invalid address');
});

test('CIDR forms, host bits and -e', () => {
  assert.equal(parse('10/8'), '10.0.0.0-10.255.255.255/8');
  assert.equal(parse('127.16/12'), '127.16.0.0-127.31.255.255/12');
  assert.equal(parse('23.2/15'), '23.2.0.0-23.3.255.255/15');
  assert.equal(parse('13.1.2.3/32'), '13.1.2.3-13.1.2.3/32');
  assert.equal(parse('20.1/8'), 'invalid range (non-zero host part)');
  assert.equal(parse('192.0.2.1/24'), 'invalid range (non-zero host part)');
  assert.equal(parse('192.0.2.1/24', IP4SET_KEYS, true), '192.0.2.0-192.0.2.255/24');
  assert.equal(parse('0.0.0.0/0'), 'invalid address'); // ip4set rejects /0
  assert.equal(parse('0/0', IP4TRIE_KEYS), '0.0.0.0-255.255.255.255/0');
  assert.equal(parse('1.2.3.4/33'), 'invalid address');
  assert.equal(parse('1.2.3.4/'), 'invalid address');
  assert.equal(parse('17.1.2.5/24x'), 'invalid address');
});

test('ranges (ip4set only)', () => {
  assert.equal(parse('10.3.0.0-10.3.1.255'), '10.3.0.0-10.3.1.255/-1');
  assert.equal(parse('10.2.3-4'), '10.2.3.0-10.2.4.255/-1');
  assert.equal(parse('127.16-31'), '127.16.0.0-127.31.255.255/-1');
  assert.equal(parse('198.51.100.128-255'), '198.51.100.128-198.51.100.255/-1');
  assert.equal(parse('15.5.1-15.5.2'), '15.5.1.0-15.5.2.255/-1');
  assert.equal(parse('30-31'), '30.0.0.0-31.255.255.255/-1');
  assert.equal(parse('1.2.3-1.2.4.5'), 'invalid address');
  assert.equal(parse('60.0.0.5-60.0.0.3'), 'invalid address');
  assert.equal(parse('22.1.3.3-256'), 'invalid address');
  assert.equal(parse('17.1.2.3-'), 'invalid address');
  assert.equal(parse('10.0.0.1-10.0.0.5', IP4TRIE_KEYS), 'invalid address');
});

test('what may follow a key', () => {
  for (const tail of ['', ' x', '\tx', '#c', ';c', ':127.0.0.7:']) assert.equal(parse('60.1.1.1' + tail), '60.1.1.1-60.1.1.1/32', tail);
  assert.equal(parse('60.1.1.4x'), 'invalid address');
  const k = new Ip4Key();
  assert.equal(parseIp4Key('1.2.3.4:127.0.0.6:txt', 0, IP4SET_KEYS, false, k), null);
  assert.equal(k.end, 7);
});

test('ip4tset takes complete dotted quads only', () => {
  assert.equal(parse('1.2.3.4 :1:x', IP4TSET_KEYS), '1.2.3.4-1.2.3.4/32');
  assert.equal(parse('1.2.3.4;x', IP4TSET_KEYS), '1.2.3.4-1.2.3.4/32');
  assert.equal(parse('1.2.3', IP4TSET_KEYS), 'invalid address');
  assert.equal(parse('1.2.3.0/24', IP4TSET_KEYS), 'invalid address');
  assert.equal(parse('1.2.3.7x', IP4TSET_KEYS), 'invalid address');
});

test('splitKeyLine separates key and value text', () => {
  assert.deepEqual(splitKeyLine('192.0.2.2 :127.0.0.3:Custom text'), ['192.0.2.2', ':127.0.0.3:Custom text']);
  assert.deepEqual(splitKeyLine('192.0.2.6:127.0.0.6:txt'), ['192.0.2.6', ':127.0.0.6:txt']);
  assert.deepEqual(splitKeyLine('! 80.0.0.1'), ['! 80.0.0.1', '']);
  assert.deepEqual(splitKeyLine('10/8\t  text here'), ['10/8', 'text here']);
});

test('parseIp4QuadBytes reads exactly a plain dotted quad, else -1', () => {
  const at = (s: string): number => {
    const b = Buffer.from(`xx${s}yy`, 'latin1');
    return parseIp4QuadBytes(b, 2, 2 + s.length);
  };
  assert.equal(at('1.2.3.4'), 0x01020304);
  assert.equal(at('255.255.255.255'), 0xffffffff);
  assert.equal(at('0.0.0.0'), 0);
  assert.equal(at('10.020.3.004'), 0x0a140304);
  // everything else is for the text parser (which may still accept it, e.g. 0001.2.3.4)
  for (const s of ['', '1', '1.2.3', '1.2.3.4.', '1.2.3.4 ', '1.2.3.4/32', '1.2.3.4:x', '0001.2.3.4', '256.1.1.1', '1.2.3.256', '1..3.4', '.1.2.3', 'a.b.c.d', '1.2.3.-4']) {
    assert.equal(at(s), -1, s);
  }
  // only [s, e) counts: the bytes around do not matter
  assert.equal(parseIp4QuadBytes(Buffer.from('1.2.3.45'), 0, 7), 0x01020304);
});
