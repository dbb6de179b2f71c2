import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseProviderCidr } from '../../../sync/providers/cidr.ts';

test('IPv4 and IPv6 CIDRs: canonical text and first/last words', () => {
  assert.deepEqual(parseProviderCidr('40.107.0.0/16'), { cidr: '40.107.0.0/16', family: 4, prefix: 16, start: [0x286b0000], end: [0x286bffff], hostBits: false });
  assert.equal(parseProviderCidr('198.51.100.7')!.cidr, '198.51.100.7/32');
  const h = parseProviderCidr('192.0.2.5/24')!;
  assert.ok(h.hostBits && h.cidr === '192.0.2.0/24');
  const v6 = parseProviderCidr('2A01:111:F403:C000::/51')!;
  assert.equal(v6.cidr, '2a01:111:f403:c000::/51');
  assert.deepEqual(v6.start, [0x2a010111, 0xf403c000, 0, 0]);
  assert.deepEqual(v6.end, [0x2a010111, 0xf403dfff, 0xffffffff, 0xffffffff]);
  assert.equal(parseProviderCidr('::ffff:192.0.2.1')!.cidr, '::ffff:c000:201/128');
  assert.equal(parseProviderCidr('0.0.0.0/0')!.end[0], 0xffffffff);
  for (const bad of ['300.1.1.1', '1.2.3.4/33', '2001:db8::/129', '1.2.3.4/', 'x', '1.2.3.4/ 8']) assert.equal(parseProviderCidr(bad), undefined, bad);
});
