import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { fetchStatic } from '../../../sync/providers/static.ts';
import { PROVIDER_FIXTURES } from './dns-server.ts';

test('static: inline CIDRs and a file; host bits cleared, duplicates dropped, junk reported', async () => {
  const r = await fetchStatic(
    { provider: 'partner', feed: 'static', cidrs: ['203.0.113.0/24', '2001:DB8:7::/48'], file: join(PROVIDER_FIXTURES, 'static-partner.txt') },
    { stateDir: '/nonexistent' },
  );
  assert.deepEqual(r.ranges.map((x) => x.cidr), ['203.0.113.0/24', '2001:db8:7::/48', '192.0.2.0/24', '198.51.100.7/32']);
  assert.equal(r.ranges[2]!.detail, `static file ${join(PROVIDER_FIXTURES, 'static-partner.txt')} line 2`);
  assert.equal(r.warnings.length, 1);
  assert.match(r.warnings[0]!, /not a CIDR: "not-a-cidr"/);
});
