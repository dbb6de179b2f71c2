// JSON field paths (provider json feeds; checked by the config schema).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parsePath } from '../../core/json-path.ts';

test('path syntax', () => {
  assert.deepEqual(parsePath('prefixes[].ip_prefix'), [{ field: 'prefixes', each: true }, { field: 'ip_prefix', each: false }]);
  assert.throws(() => parsePath('prefixes..x'), /bad field path/);
  assert.throws(() => parsePath('a[0].b'), /bad field path/);
});
