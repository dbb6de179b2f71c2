// GET /metrics over real HTTP: a real DnsServer answering real dig queries, a real SQLite sync
// state and local store, real job counters and disk watcher; the exposition is parsed line by
// line (format errors fail the test) and cross-checked with prom-client's JSON. Also the
// metrics token, a getter failing during a scrape, /livez, and /readyz naming zones that
// answer SERVFAIL.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { createApp } from '../../web/app.ts';
import { startWeb, type WebServer } from '../../web/server.ts';
import { createMetricsRegistry, type FeedMetrics, type MergeMetrics } from '../../web/metrics/collect.ts';
import { sourceMetricsOf } from '../../web/metrics/sources.ts';
import { LocalStore } from '../../sync/local/store.ts';
import { SyncState } from '../../sync/state.ts';
import { DiskHealth } from '../../core/disk-health.ts';
import { resetJobs, runJob, jobsHealth, setJobLogger } from '../../core/jobs.ts';
import { tmpDb } from '../sync/local/helpers.ts';
import { dataset, dig, portOf, startServer, table, toolsOrSkip } from '../server/helpers.ts';
import type { DnsServer } from '../../server/index.ts';
import type { SourceStats } from '../../sync/guards.ts';
import { parseExposition, value } from './exposition.ts';

const skip = toolsOrSkip(['dig']);
const servers: WebServer[] = [];
const dns: DnsServer[] = [];
after(async () => {
  for (const s of servers) await s.close();
  for (const s of dns) await s.stop();
});

const stats = (entries: number): SourceStats => ({
  kind: 'ip', entries, lines: entries + 2, errors: 0, addresses4: entries, forbidden: [], widest4: 32, widest6: null, testPoint: true,
});

async function setup(opts: { token?: string; feeds?: () => FeedMetrics[] } = {}) {
  resetJobs();
  setJobLogger(pino({ level: 'silent' }));
  const zones = table([{ name: 'bl.test', newestMtime: 0, datasets: [dataset('ip4set', ':127.0.0.2:Listed\n192.0.2.1\n192.0.2.2\n')] }]);
  const server = await startServer(zones);
  dns.push(server);
  const { db, path } = tmpDb();
  const disk = new DiskHealth({ dir: mkdtempSync(join(tmpdir(), 'qbl-disk-')), dbPath: path, log: pino({ level: 'silent' }), intervalMs: 60_000 });
  const store = new LocalStore(db, { reputation: { half_life: 7 * 86400, cap: 10 } });
  const state = new SyncState(db);
  const merge: MergeMetrics = { ready: true, evidenceSerial: 1_733_000_000, builtAt: Date.now() - 30_000, intervals4: 1234, intervals6: 56, domains: 7, soaSerial: 2026120601, lastMergeAt: Date.now() - 30_000 };
  let published = [{ name: 'bl.test', failed: false }, { name: 'drop.mirror.test', failed: true }];
  const errors: string[] = [];
  const registry = createMetricsRegistry({
    dns: () => server.counters,
    zones: () => published,
    mergedZones: () => ['bl.dnsbl.test', 'wl.dnsbl.test', 'dbl.dnsbl.test'],
    merge: () => merge,
    sources: () => sourceMetricsOf(state, ['drop', 'psbl', 'never']),
    providers: opts.feeds ?? (() => [{ provider: 'microsoft', feed: 'm365', active: true, ranges4: 120, ranges6: 30, ageSeconds: 3600, stale: false }]),
    overrides: () => store.overlay.overrides,
    jobs: jobsHealth,
    disk: () => disk.status(),
    collisions: () => [{ source: 'drop', provider: 'microsoft/m365', keys: 237, ranges: 2 }],
    onError: (metric) => errors.push(metric),
  });
  const app = createApp({
    store,
    metrics: { registry, token: opts.token ?? null },
    health: {
      dns: () => ({ listening: true, addresses: ['udp/127.0.0.1:53'] }),
      zones: () => ({ served: published.length, failed: published.filter((z) => z.failed).map((z) => z.name) }),
      disk: () => disk.status(),
    },
  });
  const web = await startWeb({ app, listen: { address: '127.0.0.1', port: 0 } });
  servers.push(web);
  const get = async (p: string, headers: Record<string, string> = {}) => {
    const res = await fetch(`http://127.0.0.1:${web.port}${p}`, { headers });
    return { status: res.status, text: await res.text(), headers: res.headers };
  };
  return { server, store, state, disk, registry, get, errors, merge, setZones: (z: typeof published) => (published = z) };
}

test('/metrics: the exposition parses and shows what the server, sync state, overrides, jobs and disk hold', { skip }, async () => {
  const f = await setup();
  const port = portOf(f.server);
  // 3 listed (NOERROR), 2 not listed (NXDOMAIN), 1 outside every zone, over UDP; 1 listed over TCP.
  for (const ip of ['1.2.0.192', '2.2.0.192', '1.2.0.192']) assert.equal((await dig(port, [`${ip}.bl.test`, 'A'])).status, 'NOERROR');
  for (const ip of ['9.2.0.192', '8.2.0.192']) assert.equal((await dig(port, [`${ip}.bl.test`, 'A'])).status, 'NXDOMAIN');
  const outside = (await dig(port, ['example.org', 'A'])).status;
  assert.equal((await dig(port, ['+tcp', '1.2.0.192.bl.test', 'TXT'])).status, 'NOERROR');

  // Sync history: drop succeeded then failed twice; psbl failed once, then succeeded, and is quarantined.
  f.state.finishOk(f.state.beginRun('drop'), { stats: stats(1500) });
  f.state.finishFailed(f.state.beginRun('drop'), 'HTTP 503');
  f.state.finishFailed(f.state.beginRun('drop'), 'timeout');
  f.state.finishFailed(f.state.beginRun('psbl'), 'HTTP 500');
  f.state.finishOk(f.state.beginRun('psbl'), { stats: stats(40) });
  f.state.setQuarantine('psbl', { reasons: ['shrank by 90%'], path: '/nonexistent', at: Date.now(), stats: null, bytes: null, validators: {} });
  f.store.addOverride({ action: 'allow', key: '192.0.2.1', reason: 'customer', author: 'ops' });
  f.store.addOverride({ action: 'deny', key: '203.0.113.0/24', reason: 'spam run', author: 'ops' });
  f.store.addOverride({ action: 'deny', key: 'spam.example', reason: 'spam', author: 'ops', expires: '2d' });
  await runJob('merge', () => {});
  await runJob('sync:drop', () => {
    throw new Error('boom');
  });

  const r = await f.get('/metrics');
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type')!, /^text\/plain; version=0\.0\.4/);
  const { types, samples } = parseExposition(r.text);
  const v = (name: string, labels?: Record<string, string>) => value(samples, name, labels);

  assert.equal(types.get('quorumbl_dns_queries_total'), 'counter');
  assert.equal(v('quorumbl_dns_queries_total', { zone: 'bl.test', rcode: 'noerror' }), 4);
  assert.equal(v('quorumbl_dns_queries_total', { zone: 'bl.test', rcode: 'nxdomain' }), 2);
  assert.equal(v('quorumbl_dns_queries_total', { zone: '(none)', rcode: outside.toLowerCase() }), 1);
  assert.ok((v('quorumbl_dns_sent_bytes_total', { zone: 'bl.test' }) ?? 0) > 6 * 12);
  assert.equal(v('quorumbl_dns_query_failures_total'), 0);
  assert.equal(v('quorumbl_dns_rrl_total', { action: 'dropped' }), 0);
  assert.equal(v('quorumbl_xfr_transfers_total', { outcome: 'refused' }), 0);
  assert.equal(v('quorumbl_xfr_materialise_failures_total'), 0);
  assert.equal(v('quorumbl_dns_tcp_closed_total', { reason: 'stalled' }), 0);

  // Latency: one sample per reply, per transport; buckets cumulative, +Inf = count.
  assert.equal(types.get('quorumbl_dns_answer_duration_seconds'), 'histogram');
  assert.equal(v('quorumbl_dns_answer_duration_seconds_count', { transport: 'udp' }), 6);
  assert.equal(v('quorumbl_dns_answer_duration_seconds_count', { transport: 'tcp' }), 1);
  const buckets = samples.filter((s) => s.name === 'quorumbl_dns_answer_duration_seconds_bucket' && s.labels.transport === 'udp');
  assert.equal(buckets.at(-1)!.labels.le, '+Inf');
  assert.equal(buckets.at(-1)!.value, 6);
  for (let i = 1; i < buckets.length; i++) assert.ok(buckets[i]!.value >= buckets[i - 1]!.value, 'cumulative buckets');
  assert.ok(Number(buckets[buckets.length - 2]!.labels.le) === 1);
  assert.ok(v('quorumbl_dns_answer_duration_seconds_sum', { transport: 'udp' })! > 0);

  assert.equal(v('quorumbl_zone_answering', { zone: 'bl.test' }), 1);
  assert.equal(v('quorumbl_zone_answering', { zone: 'drop.mirror.test' }), 0);

  assert.equal(v('quorumbl_source_entries', { source: 'drop' }), 1500);
  assert.equal(v('quorumbl_source_failures_total', { source: 'drop' }), 2);
  assert.equal(v('quorumbl_source_consecutive_failures', { source: 'drop' }), 2);
  assert.equal(v('quorumbl_source_failures_total', { source: 'psbl' }), 1);
  assert.equal(v('quorumbl_source_consecutive_failures', { source: 'psbl' }), 0);
  assert.equal(v('quorumbl_source_quarantined', { source: 'psbl' }), 1);
  assert.equal(v('quorumbl_source_quarantined', { source: 'drop' }), 0);
  const drop = f.state.getSource('drop')!;
  assert.equal(v('quorumbl_source_last_success_timestamp_seconds', { source: 'drop' }), drop.lastSuccess! / 1000);
  assert.equal(v('quorumbl_source_last_attempt_timestamp_seconds', { source: 'drop' }), drop.lastAttempt! / 1000);
  assert.ok(drop.lastAttempt! >= drop.lastSuccess!);
  // A configured source never synced: no timestamps, no entries, no failures.
  assert.equal(v('quorumbl_source_last_success_timestamp_seconds', { source: 'never' }), undefined);
  assert.equal(v('quorumbl_source_consecutive_failures', { source: 'never' }), 0);

  assert.equal(v('quorumbl_provider_feed_age_seconds', { provider: 'microsoft', feed: 'm365' }), 3600);
  assert.equal(v('quorumbl_provider_feed_stale', { provider: 'microsoft', feed: 'm365' }), 0);
  assert.equal(v('quorumbl_provider_feed_ranges', { provider: 'microsoft', feed: 'm365', family: '6' }), 30);
  assert.equal(v('quorumbl_provider_collisions', { source: 'drop', provider: 'microsoft/m365', kind: 'keys' }), 237);
  assert.equal(v('quorumbl_provider_collisions', { source: 'drop', provider: 'microsoft/m365', kind: 'ranges' }), 2);

  assert.equal(v('quorumbl_merge_ready'), 1);
  assert.equal(v('quorumbl_merge_evidence_serial'), 1_733_000_000);
  const age = v('quorumbl_merge_evidence_age_seconds')!;
  assert.ok(age >= 30 && age < 300, `evidence age ${age}`);
  assert.equal(v('quorumbl_merge_intervals', { kind: 'ipv4' }), 1234);
  assert.equal(v('quorumbl_zone_soa_serial', { zone: 'wl.dnsbl.test' }), 2026120601);

  assert.equal(v('quorumbl_overrides', { action: 'allow' }), 1);
  assert.equal(v('quorumbl_overrides', { action: 'deny' }), 2);

  assert.equal(v('quorumbl_job_runs_total', { job: 'merge' }), 1);
  assert.equal(v('quorumbl_job_failures_total', { job: 'merge' }), 0);
  assert.equal(v('quorumbl_job_failures_total', { job: 'sync:drop' }), 1);

  assert.equal(v('quorumbl_state_disk', { state: 'writable' }), 1);
  assert.equal(v('quorumbl_state_disk', { state: 'full' }), 0);

  // Process metrics from prom-client's default collectors.
  assert.ok(v('process_resident_memory_bytes')! > 0);
  assert.equal(types.get('nodejs_eventloop_lag_seconds'), 'gauge');
  assert.deepEqual(f.errors, []);

  // prom-client's own JSON view of the same registry agrees.
  const json = await f.registry.getMetricsAsJSON();
  const q = json.find((m) => m.name === 'quorumbl_dns_queries_total')!;
  assert.equal(q.type, 'counter');
  assert.equal(q.values.find((x) => x.labels.zone === 'bl.test' && x.labels.rcode === 'nxdomain')?.value, 2);

  // More queries and a new override show at the next scrape (values are read at scrape time).
  assert.equal((await dig(port, ['9.2.0.192.bl.test', 'A'])).status, 'NXDOMAIN');
  f.store.addOverride({ action: 'allow', key: '192.0.2.2', reason: 'customer', author: 'ops' });
  const again = parseExposition((await f.get('/metrics')).text).samples;
  assert.equal(value(again, 'quorumbl_dns_queries_total', { zone: 'bl.test', rcode: 'nxdomain' }), 3);
  assert.equal(value(again, 'quorumbl_overrides', { action: 'allow' }), 2);
  assert.equal(value(again, 'quorumbl_dns_answer_duration_seconds_count', { transport: 'udp' }), 7);
});

test('/metrics with web.metrics.token: 401 without or with a wrong token (API tokens included), 200 with it', async () => {
  const token = 'metrics-scrape-secret-0123';
  const f = await setup({ token });
  const none = await f.get('/metrics');
  assert.equal(none.status, 401);
  assert.match(JSON.parse(none.text).error, /metrics token is required/);
  assert.match(none.headers.get('www-authenticate')!, /^Bearer/);
  assert.equal((await f.get('/metrics', { authorization: 'Bearer wrong-token-of-some-length' })).status, 401);
  const api = f.store.tokens.create('ops', 'admin', 'test').token;
  assert.equal((await f.get('/metrics', { authorization: `Bearer ${api}` })).status, 401, 'an API token is not the metrics token');
  const ok = await f.get('/metrics', { authorization: `Bearer ${token}` });
  assert.equal(ok.status, 200);
  assert.ok(parseExposition(ok.text).types.has('quorumbl_dns_queries_total'));
  // The health endpoints stay open.
  assert.equal((await f.get('/livez')).status, 200);
});

test('/metrics: a getter that throws leaves out its metric, the rest is served and the failure counted', async () => {
  let broken = true;
  const f = await setup({
    feeds: () => {
      if (broken) throw new Error('feed state unreadable');
      return [];
    },
  });
  const r = await f.get('/metrics');
  assert.equal(r.status, 200);
  const { samples } = parseExposition(r.text);
  assert.equal(value(samples, 'quorumbl_provider_feed_age_seconds', { provider: 'microsoft' }), undefined);
  assert.equal(value(samples, 'quorumbl_metrics_collect_errors_total', { metric: 'quorumbl_provider_feed_age_seconds' }), 1);
  assert.equal(value(samples, 'quorumbl_overrides', { action: 'deny' }), 0, 'other metrics still served');
  assert.ok(f.errors.includes('quorumbl_provider_feed_stale'));
  broken = false;
  const again = parseExposition((await f.get('/metrics')).text).samples;
  assert.equal(value(again, 'quorumbl_metrics_collect_errors_total', { metric: 'quorumbl_provider_feed_age_seconds' }), 1, 'not counted again once it works');
});

test('/livez is /healthz; /readyz is 503 unready naming the zones that answer SERVFAIL, 200 ready once all answer', async () => {
  const f = await setup();
  const live = await f.get('/livez');
  assert.equal(live.status, 200);
  assert.equal(JSON.parse(live.text).status, 'alive');
  let r = await f.get('/readyz');
  assert.equal(r.status, 503);
  let body = JSON.parse(r.text);
  assert.equal(body.status, 'unready');
  assert.deepEqual(body.not_ready, ['drop.mirror.test']);
  assert.match(body.reasons.join(' '), /SERVFAIL.*drop\.mirror\.test/);
  f.setZones([{ name: 'bl.test', failed: false }, { name: 'drop.mirror.test', failed: false }]);
  r = await f.get('/readyz');
  assert.equal(r.status, 200);
  body = JSON.parse(r.text);
  assert.equal(body.status, 'ready');
  assert.deepEqual(body.not_ready, []);
});
