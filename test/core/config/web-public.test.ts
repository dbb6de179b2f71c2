// web.public: off by default, the embedded default file documents every key with its default,
// and bad values are named.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, ConfigError } from '../../../core/config/load.ts';

function file(text: string): string {
  const p = join(mkdtempSync(join(tmpdir(), 'qbl-cfg-')), 'q.yaml');
  writeFileSync(p, text);
  return p;
}

test('web.public: defaults, the documented defaults, an own listener, bad values named', () => {
  const defaults = { enabled: false, listen: null, prefix: '/public', trust_proxy: null, lookups_per_minute: 30, requests_per_hour: 5, requests_per_hour_total: 100, message_max: 2000, open_per_key: 3 };
  assert.deepEqual(loadConfig(file(''), {}).config.web.public, defaults);
  assert.deepEqual(loadConfig(undefined, {}).config.web.public, defaults, 'data/default.yaml says the same');
  const own = loadConfig(file('web: { public: { enabled: true, listen: "[::1]:8080", prefix: /delist, trust_proxy: false } }'), {}).config.web.public;
  assert.deepEqual([own.enabled, own.listen, own.prefix, own.trust_proxy], [true, { address: '::1', port: 8080 }, '/delist', false]);
  for (const [yaml, re] of [
    ['web: { public: { prefix: /api } }', /prefix.*console or API path/],
    ['web: { public: { prefix: public } }', /prefix.*a path such as \/public/],
    ['web: { public: { listen: "8080" } }', /listen.*not an address:port/],
    ['web: { public: { message_max: 10 } }', /message_max/],
    ['web: { public: { bogus: 1 } }', /bogus/],
  ] as const) {
    assert.throws(() => loadConfig(file(yaml), {}), (e: unknown) => e instanceof ConfigError && e.problems.some((p) => re.test(p)), yaml);
  }
});
