// /metrics, /livez and /readyz of a real `quorumbl serve`: dig queries raise the query counters
// by zone and rcode, `quorumbl sync` from a shell shows up in the source metrics (success,
// failure, quarantine), the static provider feed's age and ranges appear, an override from the
// CLI is counted, and /readyz names the mirror zones of never-synced sources (they answer
// SERVFAIL) until each has data, then says ready.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { dig, freePort, makeTmpDir, poll, runQuorumbl, spawnQuorumbl, stopAll, toolsOrSkip, waitForLog, waitReady, writeConfig, type Proc } from './helpers.ts';
import { parseExposition, value, type Sample } from '../web/exposition.ts';

const skip = toolsOrSkip(['dig']);
const BASE = 'dnsbl.test';
const procs: Proc[] = [];
after(async () => {
  await stopAll(...procs);
});

const LISTED = Array.from({ length: 20 }, (_, i) => `192.0.2.${i + 10}`);

test('serve: /metrics follows DNS queries, syncs, provider feeds and overrides; /readyz names zones without data until they have it', { skip }, async () => {
  const dir = makeTmpDir();
  const dns = await freePort();
  const web = await freePort();
  const psblFile = join(dir, 'psbl.txt');
  writeFileSync(psblFile, LISTED.join('\n') + '\n');
  const lateFile = join(dir, 'late.txt'); // does not exist yet: its syncs fail
  const m365 = join(dir, 'm365.txt');
  writeFileSync(m365, '40.92.0.0/15\n40.107.0.0/16\n2a01:111:f400::/48\n');
  const src = (name: string, file: string) => `  - { name: ${name}, kind: ip, fetch: ${file}, format: plain, schedule: "0 0 1 1 *", min_interval: 1w }`;
  const cfg = writeConfig(dir, [
    `server: { listen: ["127.0.0.1:${dns}"] }`,
    `web: { listen: "127.0.0.1:${web}" }`,
    'state_dir: state',
    'reload: { check_interval: 1s }',
    `base: ${BASE}`,
    'sync: { enabled: false }',
    'sources:',
    src('psbl', psblFile),
    src('late', lateFile),
    'providers:',
    `  - { provider: microsoft365, type: static, file: ${m365} }`,
    '',
  ].join('\n'));
  const serve = spawnQuorumbl(['serve', '--config', cfg]);
  procs.push(serve);
  await waitReady(serve, '127.0.0.1', dns, `bl.${BASE}`);
  await waitForLog(serve, 0, (r) => r.msg === 'merged zones served', 'the first merge', 30000);
  const http = async (p: string) => {
    const res = await fetch(`http://127.0.0.1:${web}${p}`);
    return { status: res.status, text: await res.text() };
  };
  const scrape = async (): Promise<Sample[]> => {
    const r = await http('/metrics');
    assert.equal(r.status, 200, r.text);
    return parseExposition(r.text).samples;
  };
  const readyz = async () => {
    const r = await http('/readyz');
    return { status: r.status, json: JSON.parse(r.text) as { status: string; not_ready: string[]; reasons: string[] } };
  };

  // Nothing synced yet: both mirrors answer SERVFAIL, and /readyz says so.
  assert.equal((await dig('127.0.0.1', dns, [`10.2.0.192.psbl.mirror.${BASE}`, 'A'])).status, 'SERVFAIL');
  let ready = await readyz();
  assert.equal(ready.status, 503);
  assert.equal(ready.json.status, 'unready');
  assert.deepEqual([...ready.json.not_ready].sort(), [`late.mirror.${BASE}`, `psbl.mirror.${BASE}`]);
  assert.equal((await http('/livez')).status, 200);

  let m = await scrape();
  assert.equal(value(m, 'quorumbl_dns_queries_total', { zone: `psbl.mirror.${BASE}`, rcode: 'servfail' }), 1);
  assert.equal(value(m, 'quorumbl_zone_answering', { zone: `psbl.mirror.${BASE}` }), 0);
  assert.equal(value(m, 'quorumbl_zone_answering', { zone: `bl.${BASE}` }), 1);
  assert.equal(value(m, 'quorumbl_merge_ready'), 1);
  assert.ok(value(m, 'quorumbl_zone_soa_serial', { zone: `bl.${BASE}` })! > 0);
  // The static provider list: its ranges and age.
  assert.equal(value(m, 'quorumbl_provider_feed_ranges', { provider: 'microsoft365', family: '4' }), 2);
  assert.equal(value(m, 'quorumbl_provider_feed_ranges', { provider: 'microsoft365', family: '6' }), 1);
  assert.ok(value(m, 'quorumbl_provider_feed_age_seconds', { provider: 'microsoft365' })! >= 0);
  assert.equal(value(m, 'quorumbl_provider_feed_stale', { provider: 'microsoft365' }), 0);
  assert.equal(value(m, 'quorumbl_source_last_success_timestamp_seconds', { source: 'psbl' }), undefined);

  // dig queries raise the counters by exactly their number, by zone and rcode.
  const before = (rcode: string) => value(m, 'quorumbl_dns_queries_total', { zone: `bl.${BASE}`, rcode }) ?? 0;
  const nx0 = before('nxdomain');
  const ok0 = before('noerror');
  for (let i = 0; i < 5; i++) assert.equal((await dig('127.0.0.1', dns, [`${i + 1}.113.0.203.bl.${BASE}`, 'A'])).status, 'NXDOMAIN');
  assert.equal((await dig('127.0.0.1', dns, [`bl.${BASE}`, 'SOA'])).status, 'NOERROR');
  m = await scrape();
  assert.equal(value(m, 'quorumbl_dns_queries_total', { zone: `bl.${BASE}`, rcode: 'nxdomain' }), nx0 + 5);
  assert.equal(value(m, 'quorumbl_dns_queries_total', { zone: `bl.${BASE}`, rcode: 'noerror' }), ok0 + 1);
  assert.ok(value(m, 'quorumbl_dns_answer_duration_seconds_count', { transport: 'udp' })! >= 8);

  // A sync from a shell: psbl has data (the serve reloads it), late fails.
  assert.equal((await runQuorumbl(['sync', '--config', cfg, 'psbl'], { timeoutMs: 60000 })).code, 0);
  assert.equal((await runQuorumbl(['sync', '--config', cfg, 'late'], { timeoutMs: 60000 })).code, 1);
  ready = await poll(async () => {
    const r = await readyz();
    return r.json.not_ready.length === 1 ? r : undefined;
  }, '/readyz to drop the synced mirror', { timeoutMs: 20000 });
  assert.equal(ready.status, 503);
  assert.deepEqual(ready.json.not_ready, [`late.mirror.${BASE}`]);
  assert.match(ready.json.reasons.join(' '), /SERVFAIL.*late\.mirror/);
  assert.equal((await dig('127.0.0.1', dns, [`10.2.0.192.psbl.mirror.${BASE}`, 'A'])).status, 'NOERROR');
  m = await scrape();
  assert.equal(value(m, 'quorumbl_source_entries', { source: 'psbl' }), LISTED.length);
  const psblOk = value(m, 'quorumbl_source_last_success_timestamp_seconds', { source: 'psbl' })!;
  assert.ok(Math.abs(psblOk - Date.now() / 1000) < 120, `psbl last success ${psblOk}`);
  assert.equal(value(m, 'quorumbl_source_failures_total', { source: 'psbl' }), 0);
  assert.equal(value(m, 'quorumbl_source_failures_total', { source: 'late' }), 1);
  assert.equal(value(m, 'quorumbl_source_consecutive_failures', { source: 'late' }), 1);
  assert.ok(value(m, 'quorumbl_source_last_attempt_timestamp_seconds', { source: 'late' })! > 0);
  assert.equal(value(m, 'quorumbl_source_last_success_timestamp_seconds', { source: 'late' }), undefined);
  assert.equal(value(m, 'quorumbl_zone_answering', { zone: `psbl.mirror.${BASE}` }), 1);

  // The late source gets its data: every zone answers from data, /readyz is 200 ready.
  writeFileSync(lateFile, '198.51.100.1\n198.51.100.2\n');
  assert.equal((await runQuorumbl(['sync', '--config', cfg, 'late'], { timeoutMs: 60000 })).code, 0);
  ready = await poll(async () => {
    const r = await readyz();
    return r.status === 200 ? r : undefined;
  }, '/readyz to turn ready', { timeoutMs: 20000 });
  assert.equal(ready.json.status, 'ready');
  assert.deepEqual(ready.json.not_ready, []);
  m = await scrape();
  assert.equal(value(m, 'quorumbl_source_failures_total', { source: 'late' }), 1, 'the failure stays counted');
  assert.equal(value(m, 'quorumbl_source_consecutive_failures', { source: 'late' }), 0);

  // An update that shrinks psbl by 90% is quarantined.
  writeFileSync(psblFile, LISTED.slice(0, 2).join('\n') + '\n');
  assert.equal((await runQuorumbl(['sync', '--config', cfg, 'psbl'], { timeoutMs: 60000 })).code, 1);
  m = await scrape();
  assert.equal(value(m, 'quorumbl_source_quarantined', { source: 'psbl' }), 1);
  assert.equal(value(m, 'quorumbl_source_entries', { source: 'psbl' }), LISTED.length, 'the last good copy still serves');

  // An override from the CLI is counted once the serve has it.
  const o = await runQuorumbl(['override', 'add', 'deny', '203.0.113.9', '--reason', 'spam run', '--config', cfg]);
  assert.equal(o.code, 0, o.output);
  await poll(async () => (value(await scrape(), 'quorumbl_overrides', { action: 'deny' }) === 1 ? true : undefined), 'the override in /metrics');
  m = await scrape();
  assert.equal(value(m, 'quorumbl_overrides', { action: 'allow' }), 0);
  assert.ok(value(m, 'quorumbl_job_runs_total', { job: 'merge' })! >= 1);
  assert.equal(value(m, 'quorumbl_state_disk', { state: 'writable' }), 1);
  assert.ok(value(m, 'process_resident_memory_bytes')! > 0);
});

test('serve with web.metrics.token: /metrics needs the token, /readyz and /livez do not', { skip }, async () => {
  const dir = makeTmpDir();
  const dns = await freePort();
  const web = await freePort();
  const token = 'scrape-token-for-the-test-0001';
  const cfg = writeConfig(dir, [
    `server: { listen: ["127.0.0.1:${dns}"] }`,
    `web: { listen: "127.0.0.1:${web}", metrics: { token: "${token}" } }`,
    'state_dir: state',
    `base: ${BASE}`,
    'sync: { enabled: false }',
    'providers: []',
    '',
  ].join('\n'));
  const serve = spawnQuorumbl(['serve', '--config', cfg]);
  procs.push(serve);
  await waitReady(serve, '127.0.0.1', dns, `bl.${BASE}`);
  await waitForLog(serve, 0, (r) => r.msg === 'merged zones served', 'the first merge', 30000);
  const get = (p: string, auth?: string) => fetch(`http://127.0.0.1:${web}${p}`, { headers: auth ? { authorization: auth } : {} });
  assert.equal((await get('/metrics')).status, 401);
  assert.equal((await get('/metrics', 'Bearer not-the-token-at-all-000')).status, 401);
  const ok = await get('/metrics', `Bearer ${token}`);
  assert.equal(ok.status, 200);
  assert.ok(parseExposition(await ok.text()).types.has('quorumbl_dns_queries_total'));
  const ready = await get('/readyz');
  assert.equal(ready.status, 200, await ready.clone().text());
  assert.equal(((await ready.json()) as { status: string }).status, 'ready');
  assert.equal((await get('/livez')).status, 200);
});
