// `quorumbl providers`: what it shows from the files alone (the shipped baselines, the last good
// copies and the check records a running serve writes), as text and as JSON.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { providersCommand } from '../../cli/providers.ts';
import { providerSchema, providersSchema, saveLastGood } from '../../sync/providers/index.ts';
import { saveStatus } from '../../sync/providers/status.ts';
import { finishResult } from '../../sync/providers/types.ts';

const NOW = Date.parse('2026-12-06T12:00:00Z');
const DAY = 86400_000;

function run(args: string[], stateDir: string, providers = providersSchema.parse(undefined)) {
  const o = { out: '', err: '' };
  const code = providersCommand(args, { stateDir, providers, out: (s) => (o.out += s), err: (s) => (o.err += s), now: () => NOW });
  return { code, ...o };
}

test('a fresh install: every default feed on its dated baseline, stale, named in the notes', () => {
  const dir = mkdtempSync(join(tmpdir(), 'qbl-providers-'));
  const j = run(['--json'], dir);
  assert.equal(j.code, 0, j.err);
  const states = JSON.parse(j.out) as any[];
  assert.deepEqual(states.map((s) => `${s.provider}/${s.feed}`), [
    'microsoft365/m365-worldwide', 'microsoft365/spf-spf.protection.outlook.com', 'google/spf-_spf.google.com', 'amazonses/spf-amazonses.com',
  ]);
  for (const s of states) {
    assert.equal(s.origin, 'baseline');
    assert.equal(s.stale, true);
    assert.equal(s.lastAttempt, null);
    assert.equal(s.dataAt, '2025-01-01T00:00:00.000Z');
    assert.equal(s.ageSeconds, (NOW - Date.parse('2025-01-01T00:00:00Z')) / 1000);
    assert.equal(s.maxAgeSeconds, 7 * 86400);
    assert.ok(s.ranges > 0 && s.ranges === s.ranges4 + s.ranges6);
  }
  const t = run([], dir);
  assert.match(t.out, /^PROVIDER\/FEED\s+ORIGIN\s+RANGES\s+AGE\s+LAST CHECK\s+STALE$/m);
  assert.match(t.out, /^microsoft365\/m365-worldwide\s+baseline 2025-01-01\s+6 \(4 v4, 2 v6\)\s+704 d 12 h\s+never\s+yes \(max 7 d 0 h\)$/m);
  assert.match(t.out, /google\/spf-_spf\.google\.com: on the shipped baseline data\/providers\/google-spf\.json dated 2025-01-01 \(DNS TXT _spf\.google\.com/);
});

test('fetched, failing, stale and empty feeds as serve recorded them', () => {
  const dir = mkdtempSync(join(tmpdir(), 'qbl-providers-'));
  const cfgs = [
    providerSchema.parse({ provider: 'microsoft365', type: 'm365' }),
    providerSchema.parse({ provider: 'google', type: 'spf', domain: '_spf.google.com', max_age: '2d' }),
    providerSchema.parse({ provider: 'partner', type: 'json', url: 'https://partner.example/ranges.json', paths: ['prefixes[].ip_prefix'] }),
    providerSchema.parse({ provider: 'aws', type: 'json', url: 'https://ip-ranges.amazonaws.com/ip-ranges.json', paths: ['prefixes[].ip_prefix'], exempt: false }),
  ];
  // M365: fetched an hour ago, a later check failed
  saveLastGood(dir, finishResult('microsoft365', 'm365-worldwide', NOW - 3_600_000, [{ cidr: '40.107.0.0/16', detail: 'M365 endpoint set 10 (TCP 25), version 2026120100' }], { version: '2026120100' }));
  saveStatus(dir, 'microsoft365', 'm365-worldwide', { lastAttempt: NOW - 60_000, lastStatus: 'failed', lastSuccess: NOW - 3_600_000, lastError: 'connect ECONNREFUSED 127.0.0.1:9', lastErrorAt: NOW - 60_000 });
  // Google: fetched 3 days ago, max_age 2d
  saveLastGood(dir, finishResult('google', 'spf-_spf.google.com', NOW - 3 * DAY, [{ cidr: '74.125.0.0/16', detail: 'spf' }]));
  // partner: never fetched, no baseline; its last check was refused
  saveStatus(dir, 'partner', 'json-partner.example', { lastAttempt: NOW - 1000, lastStatus: 'rejected', lastSuccess: null, lastError: 'partner/json-partner.example is empty', lastErrorAt: NOW - 1000 });
  const j = run(['--json'], dir, cfgs);
  const [m, g, p, a] = JSON.parse(j.out) as any[];
  assert.deepEqual([m.origin, m.stale, m.version, m.ranges, m.lastStatus, m.ageSeconds], ['fetched', false, '2026120100', 1, 'failed', 3600]);
  assert.equal(m.lastError, 'connect ECONNREFUSED 127.0.0.1:9');
  assert.equal(m.baseline.file, 'microsoft365-m365-worldwide.json', 'the baseline is named even when not in use');
  assert.deepEqual([g.origin, g.stale, g.ageSeconds, g.maxAgeSeconds], ['fetched', true, 3 * 86400, 2 * 86400]);
  assert.deepEqual([p.origin, p.stale, p.ranges, p.ageSeconds, p.baseline], ['none', true, 0, null, null]);
  assert.deepEqual([a.active, a.stale], [false, false]);
  const t = run([], dir, cfgs);
  assert.match(t.out, /microsoft365\/m365-worldwide: last check failed at 2026-12-06T11:59:00\.000Z: connect ECONNREFUSED/);
  assert.match(t.out, /google\/spf-_spf\.google\.com: stale: last confirmed 3 d 0 h ago, max_age 2 d 0 h/);
  assert.match(t.out, /partner\/json-partner\.example: NO RANGES \(never fetched, no shipped baseline\)/);
  assert.match(t.out, /^aws\/json-ip-ranges\.amazonaws\.com \(not used\)\s+none/m);
});

test('bad arguments: exit 2 with the usage', () => {
  const dir = mkdtempSync(join(tmpdir(), 'qbl-providers-'));
  const r = run(['--yaml'], dir);
  assert.equal(r.code, 2);
  assert.match(r.err, /unknown option '--yaml'\nusage: quorumbl providers/);
});

test('bin/quorumbl providers --config FILE --json: the real command on a config file', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'qbl-providers-'));
  const cfg = join(dir, 'q.yaml');
  writeFileSync(cfg, 'state_dir: state\nproviders:\n  - { provider: amazonses, type: spf, domain: amazonses.com, max_age: 30d }\n');
  const bin = new URL('../../bin/quorumbl', import.meta.url).pathname;
  const out = await new Promise<string>((res, rej) => execFile(bin, ['providers', '--config', cfg, '--json'], (e, so, se) => (e ? rej(new Error(`${e.message}\n${se}`)) : res(so))));
  const [s] = JSON.parse(out);
  assert.deepEqual([s.provider, s.origin, s.ranges, s.maxAgeSeconds], ['amazonses', 'baseline', 13, 30 * 86400]);
});
