import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkText, InputError, parseKey } from '../../../sync/local/keys.ts';

const ANY = { cidr: true, wildcard: true };
const key = (s: string, rules = ANY) => parseKey(s, rules).key;
const rejects = (s: unknown, re: RegExp, rules = ANY) =>
  assert.throws(() => parseKey(s, rules), (e: unknown) => e instanceof InputError && e.field === 'key' && re.test(e.message), String(s));

test('addresses, CIDRs and domains get one canonical spelling', () => {
  assert.equal(key('192.0.2.1'), '192.0.2.1');
  assert.equal(key('192.0.2.1/32'), '192.0.2.1');
  assert.equal(key('10.0.0.0/8'), '10.0.0.0/8');
  assert.equal(key('0.0.0.0/0'), '0.0.0.0/0');
  assert.equal(key('2001:DB8:0:0:0:0:0:1'), '2001:db8::1');
  assert.equal(key('2001:db8::/32'), '2001:db8::/32');
  assert.equal(key('2001:0db8:0000::1/128'), '2001:db8::1');
  assert.equal(key('::ffff:192.0.2.7'), '192.0.2.7', 'v4-mapped is the IPv4 key, as DNS looks it up');
  assert.equal(key('::ffff:c000:200/120'), '192.0.2.0/24');
  assert.equal(key('Mail.Example.COM.'), 'mail.example.com');
  assert.equal(key('*.Example.com'), '*.example.com');
  assert.equal(key('bücher.example'), 'xn--bcher-kva.example');
  assert.equal(key('_spf.example.com'), '_spf.example.com');
  assert.equal(key('  192.0.2.1  '), '192.0.2.1');
});

test('parsed keys carry what the overlay needs', () => {
  const k = parseKey('192.0.2.0/24', ANY);
  assert.equal(k.kind, 'ip4');
  assert.ok(k.kind === 'ip4' && k.first === 0xc0000200 && k.bits === 24);
  const w = parseKey('*.spam.example', ANY);
  assert.ok(w.kind === 'wildcard' && w.name === 'spam.example');
});

test('garbage is rejected with what is wrong', () => {
  rejects('', /empty/);
  rejects(42, /must be a string/);
  rejects('256.1.1.1', /256 is not an octet/);
  rejects('1.2.3', /not a valid IPv4/);
  rejects('010.1.2.3', /leading zeros/);
  rejects('10.1.2.3/8', /host bits are set; the network is 10\.0\.0\.0\/8/);
  rejects('10.0.0.0/33', /prefix length is 0\.\.32/);
  rejects('10.0.0.0/x', /prefix length/);
  rejects('2001:db8::1/64', /host bits are set; the network is 2001:db8::\/64/);
  rejects('2001:db8:::1', /not a valid IPv6/);
  rejects('fe80::1%eth0', /zone identifiers/);
  rejects('1:2:3:4:5:6:7:8:9', /not a valid IPv6/);
  rejects('example.com/24', /prefix length only follows an IP/);
  rejects('exa mple.com', /blanks or control/);
  rejects('evil\u001b[31m.com', /control characters/);
  rejects('a..b', /empty label/);
  rejects('-bad.example', /starts or ends with '-'/);
  rejects('x'.repeat(64) + '.com', /longer than 63/);
  rejects(('a'.repeat(62) + '.').repeat(4) + 'com', /at most 253 characters \(this one has 255\)/);
  rejects('x'.repeat(301), /too long \(301 characters/);
  rejects('foo.*.com', /'\*' may only stand alone/);
  rejects('*', /'\*' may only stand alone|not a domain/);
  rejects("x.com'; DROP TABLE overrides; --", /characters other than|blanks/);
  rejects('<script>.com', /characters other than/);
});

test('reputation keys are single addresses or domains', () => {
  const single = { cidr: false, wildcard: false };
  assert.equal(key('192.0.2.1', single), '192.0.2.1');
  rejects('192.0.2.0/24', /single address/, single);
  rejects('2001:db8::/32', /single address/, single);
  rejects('*.example.com', /wildcard is not allowed/, single);
});

test('free text: trimmed, limited, no control characters', () => {
  assert.equal(checkText('  hello ', 'reason', 10), 'hello');
  assert.throws(() => checkText('x'.repeat(11), 'reason', 10), /reason is too long \(11 characters, at most 10\)/);
  assert.throws(() => checkText('a\nb', 'reason', 10), /control characters/);
  assert.throws(() => checkText('a\u202eb', 'reason', 10), /control characters/);
  assert.throws(() => checkText(undefined, 'reason', 10), /reason is required/);
  assert.equal(checkText(undefined, 'note', 10, { optional: true }), undefined);
  assert.equal(checkText("'; DROP TABLE x; -- <b>", 'reason', 100), "'; DROP TABLE x; -- <b>");
});
