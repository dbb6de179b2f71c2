import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseKey } from '../../../sync/local/keys.ts';
import { DEFAULT_OVERRIDE_LIMITS, isPublicSuffix, wideness } from '../../../sync/local/width.ts';

const wide = (k: string, limits = DEFAULT_OVERRIDE_LIMITS) => wideness(parseKey(k, { cidr: true, wildcard: true }), limits);

test('IPv4 and IPv6 prefixes shorter than the limit are wide; the limit itself is not', () => {
  assert.deepEqual(wide('0.0.0.0/0'), { width: '/0 (all of IPv4)', limit: '/16 (policy.override_limits.v4)' });
  assert.deepEqual(wide('10.0.0.0/15'), { width: '/15 (131072 addresses)', limit: '/16 (policy.override_limits.v4)' });
  assert.equal(wide('10.0.0.0/16'), null);
  assert.equal(wide('192.0.2.1'), null);
  assert.deepEqual(wide('::/0'), { width: '/0 (all of IPv6)', limit: '/32 (policy.override_limits.v6)' });
  assert.deepEqual(wide('2001:d00::/24'), { width: '/24 (2^104 addresses)', limit: '/32 (policy.override_limits.v6)' });
  assert.equal(wide('2001:db8::/32'), null);
  // v4-mapped IPv6 keys are IPv4 keys: the IPv4 limit applies
  assert.equal(wide('::ffff:0:0/96')!.width, '/0 (all of IPv4)');
  // configurable; 0 = no limit
  assert.equal(wide('10.0.0.0/15', { v4: 8, v6: 32 }), null);
  assert.ok(wide('10.0.0.0/7', { v4: 8, v6: 32 }));
  assert.equal(wide('0.0.0.0/0', { v4: 0, v6: 0 }), null);
  assert.equal(wide('::/0', { v4: 0, v6: 0 }), null);
});

test('domains: a public suffix (bare or wildcard) is wide, a registrable domain and below is not', () => {
  assert.deepEqual(wide('*.com'), { width: 'every name below the public suffix com', limit: 'one registrable domain (Public Suffix List)' });
  assert.ok(wide('*.co.uk'));
  assert.ok(wide('*.CO.UK.'));
  assert.deepEqual(wide('co.uk'), { width: 'the public suffix co.uk', limit: 'one registrable domain (Public Suffix List)' });
  assert.ok(wide('com'));
  assert.ok(wide('*.github.io'), 'private-section suffixes count: thousands of unrelated owners');
  assert.ok(wide('*.internal'), 'a name unknown to the list falls under its default rule "*"');
  assert.ok(wide('*.xn--p1ai'));
  assert.equal(wide('*.example.com'), null);
  assert.equal(wide('example.co.uk'), null);
  assert.equal(wide('*.evil.github.io'), null);
  assert.equal(wide('mail.internal'), null);
  assert.equal(isPublicSuffix('example.com'), false);
});
