// The dashboard's alerts in words (each condition -> one alert saying what to do) and the query
// rate from counter snapshots (per zone and rcode, a counter reset does not go negative).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Counters } from '../../../server/counters.ts';
import { QueryRate, alertsOf, type DashboardDeps, type DashSource } from '../../../web/console/dashboard-data.ts';
import type { FeedState } from '../../../sync/providers/status.ts';

const NOW = Date.parse('2026-12-06T12:00:00Z');
const H = 3600_000;

const source = (o: Partial<DashSource> & { name: string }): DashSource => ({
  lastSuccess: NOW - H, lastAttempt: NOW - H, lastOutcome: 'ok', lastError: null, entries: 10, consecutiveFailures: 0, quarantine: null, staleAfterMs: 24 * H, ...o,
});

const feed = (o: Partial<FeedState>): FeedState => ({
  provider: 'microsoft365', feed: 'm365-worldwide', type: 'm365', active: true, origin: 'fetched', ranges: 5, ranges4: 4, ranges6: 1, version: '1', dataAt: new Date(NOW - H).toISOString(),
  lastAttempt: null, lastStatus: null, lastSuccess: null, lastError: null, lastErrorAt: null, ageSeconds: 3600, maxAgeSeconds: 7 * 86400, stale: false, baseline: null, warnings: [], ...o,
});

function deps(o: Partial<DashboardDeps>): DashboardDeps {
  return {
    zones: () => [{ name: 'bl.x', failed: false, entries: 1 }],
    merge: () => ({ ready: true, evidenceSerial: 1, builtAt: NOW - 60_000, soaSerial: 2, lastMergeAt: NOW - 60_000 }),
    sources: () => [source({ name: 'spamcop' })],
    providers: () => [feed({})],
    collisions: () => null,
    ...o,
  };
}

test('all fine: no alerts', () => {
  assert.deepEqual(alertsOf(deps({}), NOW), []);
});

test('each trouble is one alert in words with what to do', () => {
  const d = deps({
    sources: () => [
      source({ name: 'psbl', quarantine: { at: NOW - 2 * H, reasons: ['entries shrank from 1,000 to 400 (-60%), limit -50%'], entries: 400 } }),
      source({ name: 'down', lastOutcome: 'failed', lastError: 'HTTP 503 from upstream', consecutiveFailures: 3 }),
      source({ name: 'old', lastSuccess: NOW - 30 * H, lastAttempt: NOW - 30 * H }),
    ],
    providers: () => [feed({ origin: 'baseline', stale: true, ageSeconds: 40 * 86400, baseline: { file: 'f', date: '2026-10-01', source: 's', title: 't' }, lastError: 'ENOTFOUND endpoints.office.com' })],
    disk: () => ({ path: '/var/lib/q', state: 'full', writable: false, since: new Date(NOW - 600_000).toISOString(), cause: 'ENOSPC: no space left on device', pinned: false, free_bytes: 0, last_probe: null, last_errors: [] }),
    collisions: () => ({ serial: 1, computedAt: new Date(NOW).toISOString(), ms: 1, pairs: [], alerts: [{ source: 'spamcop', provider: 'microsoft365/m365-worldwide', before: 10, now: 237, since: new Date(NOW - H).toISOString(), beforeAt: new Date(NOW - 20 * H).toISOString() }] }),
    jobs: () => ({ failures: 2, jobs: {
      merge: { runs: 5, failures: 1, running: 0, lastStart: null, lastSuccess: null, lastFailure: new Date(NOW - H).toISOString(), lastError: 'worker exited', lastMs: 1 },
      'sync:down': { runs: 3, failures: 3, running: 0, lastStart: null, lastSuccess: null, lastFailure: new Date(NOW - H).toISOString(), lastError: 'HTTP 503', lastMs: 1 },
    } }),
  });
  const a = alertsOf(d, NOW);
  const text = a.map((x) => `${x.what} || ${x.todo}`);
  assert.equal(a.length, 7, text.join('\n'));
  assert.ok(text.some((t) => /^State directory \/var\/lib\/q is full since 10 min ago: ENOSPC.*\|\| Free space/.test(t)), text.join('\n'));
  assert.ok(text.some((t) => /^psbl: update quarantined 2 h 0 min ago \(entries shrank .*-60%.*\), 400 entries.*\|\| Accept or drop it: quorumbl sources accept psbl/.test(t)), text.join('\n'));
  assert.ok(text.some((t) => /^down: the last 3 syncs failed \(60 min ago\): HTTP 503 from upstream\. Serving the copy of 60 min ago\./.test(t)), text.join('\n'));
  assert.ok(text.some((t) => /^old: stale, last successful sync 30 h 0 min ago/.test(t)), text.join('\n'));
  assert.ok(text.some((t) => /^Provider feed microsoft365\/m365-worldwide is stale: the shipped baseline dated 2026-10-01 .*last check failed: ENOTFOUND/.test(t)), text.join('\n'));
  assert.ok(text.some((t) => /^Collisions rose sharply: spamcop lists 237 addresses in microsoft365\/m365-worldwide ranges \(was 10 20 h 0 min ago\), since 60 min ago: exempted/.test(t)), text.join('\n'));
  assert.ok(text.some((t) => /^Background job merge failed once, last 60 min ago: worker exited/.test(t)), text.join('\n'));
  assert.ok(!text.some((t) => t.includes('sync:down')), 'a source\'s sync job is its source\'s alert');
});

test('zones answering SERVFAIL; a never-synced failing source names its mirror once', () => {
  const d = deps({
    zones: () => [{ name: 'gone.mirror.x', failed: true, entries: 0 }, { name: 'other.x', failed: true, entries: 0 }],
    sources: () => [source({ name: 'gone', lastSuccess: null, lastOutcome: 'failed', lastError: 'ENOENT', consecutiveFailures: 1 })],
  });
  const a = alertsOf(d, NOW);
  assert.deepEqual(a.map((x) => [x.level, x.what.slice(0, 24)]), [['bad', 'Zone other.x answers SER'], ['bad', 'gone: the last sync fail']]);
  assert.match(a[1]!.what, /never synced: its mirror answers SERVFAIL/);
});

test('query rate per zone and rcode between snapshots; a counter reset counts from zero', () => {
  const c = new Counters();
  let t = 1_000_000;
  const bl = c.forZone('bl.x');
  const r = new QueryRate(() => c, () => t, 3_600_000);
  try {
    for (let i = 0; i < 20; i++) c.count(bl, 0, 40, 60);
    for (let i = 0; i < 10; i++) c.count(bl, 3, 40, 60);
    for (let i = 0; i < 5; i++) c.count(null, 5, 40, 60);
    t += 10_000;
    const x = r.rate();
    assert.equal(x.seconds, 10);
    const z = x.zones.find((q) => q.zone === 'bl.x')!;
    assert.equal(z.qps, 3);
    assert.deepEqual(z.rcodes, { noerror: 2, nxdomain: 1 });
    assert.deepEqual(x.zones.find((q) => q.zone === '(no zone)'), { zone: '(no zone)', qps: 0.5, rcodes: { refused: 0.5 } });
    assert.equal(x.total.qps, 3.5);
    t += 60_000;
    r.sample(); // the first snapshot is now older than a minute: this one is the base
    c.reset(); // SIGUSR2
    c.count(bl, 0, 1, 1);
    t += 10_000;
    const y = r.rate();
    assert.equal(y.seconds, 10);
    assert.equal(y.zones.find((q) => q.zone === 'bl.x')!.qps, 0.1, 'after a reset: counted from zero, never negative');
  } finally {
    r.stop();
  }
});
