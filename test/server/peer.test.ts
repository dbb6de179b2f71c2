// Client addresses for rbldnsd ACLs: text from node's sockets parsed without allocation, and
// the `$` text of always-listed answers as rbldnsd prints it (getnameinfo, numeric).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isIPv6 } from 'node:net';
import { ip6ClientText, parseIp4Text, parseIp6Text } from '../../server/peer.ts';

test('IPv4 text', () => {
  assert.equal(parseIp4Text('127.0.0.1'), 0x7f000001);
  assert.equal(parseIp4Text('255.255.255.255'), 0xffffffff);
  for (const bad of ['', '1.2.3', '1.2.3.4.5', '256.1.1.1', '1..2.3', '1.2.3.4 ', 'a.b.c.d']) assert.equal(parseIp4Text(bad), -1, bad);
});

test('IPv6 text: every form node prints, a scope suffix, v4 tails; formatted back as glibc does', () => {
  const b = new Uint8Array(16);
  const cases: [string, string][] = [
    ['::1', '::1'], ['::', '::'], ['1::', '1::'], ['2001:db8::1', '2001:db8::1'], ['::ffff:127.0.0.5', '::ffff:127.0.0.5'],
    ['::ffff:7f00:5', '::ffff:127.0.0.5'], ['::1.2.3.4', '::1.2.3.4'], ['fe80::1%lo', 'fe80::1'],
    ['0:0:0:0:0:0:0:1', '::1'], ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'], ['1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8'],
    ['1:2:3:4:5:6:7::', '1:2:3:4:5:6:7:0'], ['2001:DB8::A', '2001:db8::a'],
  ];
  for (const [text, shown] of cases) {
    assert.ok(parseIp6Text(text, b), text);
    assert.equal(ip6ClientText(b), shown, text);
    assert.ok(isIPv6(shown));
  }
  for (const bad of [':1', '1:::2', '1:2:3:4:5:6:7:8:9', '12345::', '1.2.3.4', '1::2::3', '1:2', '']) assert.equal(parseIp6Text(bad, b), false, bad);
});
