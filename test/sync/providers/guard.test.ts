import assert from 'node:assert/strict';
import { test } from 'node:test';
import { providerGuard } from '../../../sync/providers/guard.ts';
import { finishResult } from '../../../sync/providers/types.ts';

const feed = (...cidrs: string[]) => finishResult('p', 'f', 0, cidrs.map((cidr) => ({ cidr, detail: 't' })));

test('a first copy is accepted unless it is empty', () => {
  assert.deepEqual(providerGuard(null, feed('192.0.2.0/24')), []);
  assert.match(providerGuard(null, feed()).join(), /p\/f is empty/);
});

test('empty after a good copy', () => {
  assert.match(providerGuard(feed('192.0.2.0/24'), feed()).join(), /empty while the last good copy had 1 ranges/);
});

test('losing more than half of the ranges or of the covered addresses is refused', () => {
  const prev = feed('192.0.2.0/24', '198.51.100.0/24', '203.0.113.0/24', '2001:db8::/32');
  assert.deepEqual(providerGuard(prev, feed('192.0.2.0/24', '198.51.100.0/24', '203.0.113.0/25', '2001:db8::/32')), []);
  assert.match(providerGuard(prev, feed('192.0.2.0/24', '2001:db8::/32')).join(), /IPv4 addresses shrank from 768 to 256/); // ranges -50%: at the limit
  assert.match(providerGuard(prev, feed('2001:db8::/32')).join(), /ranges shrank from 4 to 1/);
  // same number of ranges, far fewer addresses
  const r = providerGuard(prev, feed('192.0.2.0/28', '198.51.100.0/28', '203.0.113.0/28', '2001:db8::/32'));
  assert.match(r.join(), /covered IPv4 addresses shrank from 768 to 48/);
  // IPv6 dropped to a sliver
  assert.match(providerGuard(prev, feed('192.0.2.0/24', '198.51.100.0/24', '203.0.113.0/24', '2001:db8::/64')).join(), /covered IPv6 addresses shrank/);
  // growth is fine: providers add ranges
  assert.deepEqual(providerGuard(prev, feed('192.0.2.0/24', '198.51.100.0/24', '203.0.113.0/24', '2001:db8::/32', '10.0.0.0/8')), []);
});
