// RFC 1982 serial arithmetic: what decides "client is current" for IXFR and whether a new
// version continues the journal.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serialGe, serialGt } from '../../../server/xfr/serial.ts';

test('serials compare modulo 2^32 within half the space', () => {
  assert.ok(serialGt(2, 1));
  assert.ok(!serialGt(1, 2));
  assert.ok(!serialGt(5, 5));
  assert.ok(serialGe(5, 5));
  assert.ok(serialGt(0, 0xffffffff), 'wraps: 0 follows 4294967295');
  assert.ok(serialGt(10, 0xfffffff0));
  assert.ok(!serialGt(0xfffffff0, 10));
  assert.ok(serialGt(0x7fffffff, 0), 'just under half the space ahead');
  assert.ok(!serialGt(0x80000000, 0) && !serialGt(0, 0x80000000), 'exactly half: undefined, neither is greater');
  assert.ok(serialGe(2026120601, 2026120512));
});
