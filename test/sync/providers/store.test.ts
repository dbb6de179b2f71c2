import assert from 'node:assert/strict';
import { writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadLastGood, saveLastGood } from '../../../sync/providers/store.ts';
import { finishResult } from '../../../sync/providers/types.ts';
import { tmpDir } from '../fetch/helpers.ts';

test('last good copy round trip: ranges, provenance, version, rebuilt range sets', () => {
  const dir = tmpDir('qbl-prov-store-');
  const r = finishResult('microsoft365', 'm365-worldwide', 1717200000000, [
    { cidr: '40.107.0.0/16', detail: 'M365 endpoint set 10 (TCP 25), version 2024053000' },
    { cidr: '2a01:111:f400::/48', detail: 'x', lowConfidence: true, confidenceNote: 'dynamic' },
  ], { version: '2024053000', lookups: 0 });
  saveLastGood(dir, r);
  const back = loadLastGood(dir, 'microsoft365', 'm365-worldwide')!;
  assert.deepEqual(back.ranges, r.ranges);
  assert.equal(back.version, '2024053000');
  assert.equal(back.fetchedAt, 1717200000000);
  assert.deepEqual(back.v4, r.v4);
  assert.deepEqual(back.v6, r.v6);
  assert.equal(loadLastGood(dir, 'microsoft365', 'other'), null);
});

test('odd feed names stay inside the state dir; a corrupt file reads as no copy', () => {
  const dir = tmpDir('qbl-prov-store-');
  saveLastGood(dir, finishResult('../evil', '../../x', 1, [{ cidr: '192.0.2.0/24', detail: 't' }]));
  assert.equal(loadLastGood(dir, '../evil', '../../x')!.ranges.length, 1);
  mkdirSync(join(dir, 'providers', 'last-good', 'p'), { recursive: true });
  writeFileSync(join(dir, 'providers', 'last-good', 'p', 'f.json'), '{"format":1,"ran');
  assert.equal(loadLastGood(dir, 'p', 'f'), null);
});
