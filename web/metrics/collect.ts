// The /metrics registry: every value is read at scrape time through plain getter functions
// (collect() callbacks), never pushed per query, so the DNS hot path does nothing for it.
// Scrapes run on the DNS thread too: each getter here is O(zones + sources + feeds + jobs),
// plus one pass over the active overrides held in memory.
// Metric names and labels are listed in README.md ("Operations endpoints").

import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { Counters } from '../../server/counters.ts';
import { C_IN, C_OUT, RCODE_SLOTS, rcodeName } from '../../server/counters.ts';
import { LATENCY_BOUNDS, type LatencyHistogram } from '../../server/latency.ts';
import type { DiskStatus } from '../../core/disk-health.ts';
import type { JobsHealth } from '../../core/jobs.ts';

/** One source's sync state (sync/state.ts SourceState + failure counts). Times are unix ms. */
export interface SourceMetrics {
  name: string;
  lastSuccess: number | null;
  lastAttempt: number | null;
  entries: number | null;
  failuresTotal: number;
  consecutiveFailures: number;
  quarantined: boolean;
}

/** One provider feed (sync/providers/status.ts FeedState, the fields used here). */
export interface FeedMetrics {
  provider: string;
  feed: string;
  active: boolean;
  ranges4: number;
  ranges6: number;
  ageSeconds: number | null;
  stale: boolean;
}

/** The merge (sync/merge-service.ts MergeService.status). Times are unix ms. */
export interface MergeMetrics {
  ready: boolean;
  evidenceSerial: number;
  builtAt: number;
  intervals4: number;
  intervals6: number;
  domains: number;
  soaSerial: number;
  lastMergeAt: number | null;
}

export interface CollisionMetrics {
  source: string;
  provider: string;
  keys: number;
  ranges: number;
}

export interface MetricsDeps {
  /** The DNS server's counters (server/counters.ts), read as they are. */
  dns?: () => Counters;
  /** Zone names of bl/wl/dbl, for their SOA serial (they share one). */
  mergedZones?: () => string[];
  sources?: () => SourceMetrics[];
  providers?: () => FeedMetrics[];
  merge?: () => MergeMetrics;
  /** Active overrides (action and expiry); expired ones still listed are skipped. */
  overrides?: () => readonly { action: 'allow' | 'deny'; expires: number | null }[];
  jobs?: () => JobsHealth;
  disk?: () => DiskStatus;
  /** Zones as published: failed ones answer SERVFAIL. */
  zones?: () => readonly { name: string; failed: boolean }[];
  /** Per source and provider feed: listed keys and ranges inside the feed's ranges. */
  collisions?: () => CollisionMetrics[];
  /** A getter threw during a scrape: its metric is left out of that scrape (the others are
   *  served) and quorumbl_metrics_collect_errors_total counts it. */
  onError?: (metric: string, err: unknown) => void;
  /** Node.js process metrics (collectDefaultMetrics); default true. */
  processMetrics?: boolean;
  now?: () => number;
}

const DISK_STATES = ['writable', 'full', 'read-only', 'io-error'] as const;
const sec = (ms: number) => ms / 1000;

/** A Prometheus histogram read from a LatencyHistogram at scrape time (prom-client's Histogram
 *  can only observe single values; this one exports counts kept elsewhere). */
class ExportedHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  constructor(
    readonly name: string,
    readonly help: string,
    private readonly read: () => { labels: Record<string, string>; h: LatencyHistogram }[],
  ) {}

  get(): { name: string; help: string; type: string; aggregator: string; values: { metricName: string; labels: Record<string, string | number>; value: number }[] } {
    const values: { metricName: string; labels: Record<string, string | number>; value: number }[] = [];
    for (const { labels, h } of this.read()) {
      let acc = 0;
      for (let i = 0; i < LATENCY_BOUNDS.length; i++) {
        acc += h.buckets[i]!;
        values.push({ metricName: `${this.name}_bucket`, labels: { ...labels, le: LATENCY_BOUNDS[i]! }, value: acc });
      }
      values.push({ metricName: `${this.name}_bucket`, labels: { ...labels, le: '+Inf' }, value: h.count });
      values.push({ metricName: `${this.name}_sum`, labels, value: h.sum });
      values.push({ metricName: `${this.name}_count`, labels, value: h.count });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  reset(): void {}
}

export function createMetricsRegistry(deps: MetricsDeps): Registry {
  const registers = [new Registry()];
  const reg = registers[0]!;
  const now = deps.now ?? Date.now;
  // Registered last, so that a scrape shows its own failures (metrics are collected in order).
  const errors = new Counter({ name: 'quorumbl_metrics_collect_errors_total', help: 'Scrapes where reading a metric failed (that metric was left out of the scrape).', labelNames: ['metric'], registers: [] });
  type Fill = (set: (labels: Record<string, string>, v: number) => void) => void;
  const guarded = (name: string, fill: Fill, set: (labels: Record<string, string>, v: number) => void, reset: () => void) => {
    try {
      fill(set);
    } catch (err) {
      reset();
      errors.inc({ metric: name });
      deps.onError?.(name, err);
    }
  };
  /** A gauge whose values are set from `fill` at each scrape. */
  const gauge = (name: string, help: string, labelNames: string[], fill: Fill) =>
    new Gauge({
      name, help, labelNames, registers,
      collect() {
        this.reset();
        guarded(name, fill, (labels, v) => this.set(labels, v), () => this.reset());
      },
    });
  /** A counter whose totals are kept elsewhere, copied at each scrape. */
  const counter = (name: string, help: string, labelNames: string[], fill: Fill) =>
    new Counter({
      name, help, labelNames, registers,
      collect() {
        this.reset();
        guarded(name, fill, (labels, v) => this.inc(labels, v), () => this.reset());
      },
    });

  const dns = deps.dns;
  if (dns) {
    counter('quorumbl_dns_queries_total', 'DNS queries answered, by zone and rcode (zone "(none)": names outside every zone). SIGUSR2 resets the counters.', ['zone', 'rcode'], (set) => {
      const c = dns();
      const rest = new Float64Array(c.total);
      for (const [name, a] of c.zoneCounters()) {
        const zone = name || '.';
        for (let r = 0; r < RCODE_SLOTS; r++) {
          if (a[r]) set({ zone, rcode: rcodeName(r) }, a[r]!);
          rest[r]! -= a[r]!;
        }
      }
      for (let r = 0; r < RCODE_SLOTS; r++) if (rest[r]! > 0) set({ zone: '(none)', rcode: rcodeName(r) }, rest[r]!);
    });
    const bytes = (slot: number) => (set: (l: Record<string, string>, v: number) => void) => {
      const c = dns();
      let rest = c.total[slot]!;
      for (const [name, a] of c.zoneCounters()) {
        set({ zone: name || '.' }, a[slot]!);
        rest -= a[slot]!;
      }
      if (rest > 0) set({ zone: '(none)' }, rest);
    };
    counter('quorumbl_dns_received_bytes_total', 'Bytes of the DNS queries answered, by zone.', ['zone'], bytes(C_IN));
    counter('quorumbl_dns_sent_bytes_total', 'Bytes of the DNS replies (RRL-dropped ones at full size), by zone.', ['zone'], bytes(C_OUT));
    counter('quorumbl_dns_dropped_total', 'Packets dropped without an answer (malformed, responses, not DNS).', [], (set) => set({}, dns().dropped));
    counter('quorumbl_dns_query_failures_total', 'Packets whose handling threw (a bug: dropped and logged, rate-limited).', [], (set) => set({}, dns().failures));
    counter('quorumbl_dns_rrl_total', 'UDP replies response rate limiting dropped or sent truncated (slipped).', ['action'], (set) => {
      const c = dns();
      set({ action: 'dropped' }, c.rrlDropped);
      set({ action: 'slipped' }, c.rrlSlipped);
    });
    counter('quorumbl_xfr_transfers_total', 'Zone transfers (AXFR/IXFR over TCP): served per kind, refused (acl, unsigned, TSIG error), failed (cut off or broken halfway); each logged with zone, client and key.', ['outcome'], (set) => {
      const c = dns();
      set({ outcome: 'axfr' }, c.xfrAxfr);
      set({ outcome: 'ixfr' }, c.xfrIxfr);
      set({ outcome: 'refused' }, c.xfrRefused);
      set({ outcome: 'failed' }, c.xfrFailed);
    });
    counter('quorumbl_xfr_materialise_failures_total', 'Materialisations of a zone for transfers that threw (the previous version is still served; logged with the zone).', [], (set) => set({}, dns().xfrMaterialiseFailed));
    counter('quorumbl_dns_tcp_closed_total', 'TCP connections the server closed: refused (per-client or table limit), evicted (for a newcomer), timed_out (message not complete in time), stalled (replies not read).', ['reason'], (set) => {
      const c = dns();
      set({ reason: 'refused' }, c.tcpRefused);
      set({ reason: 'evicted' }, c.tcpEvicted);
      set({ reason: 'timed_out' }, c.tcpTimedOut);
      set({ reason: 'stalled' }, c.tcpStalled);
    });
    counter('quorumbl_xfr_notify_total', 'NOTIFYs to secondaries (transfer.notify): answered, or failed (no answer after the last try, an error answer, a bad signature; each logged with target and zone).', ['outcome'], (set) => {
      const c = dns();
      set({ outcome: 'answered' }, c.notifyAnswered);
      set({ outcome: 'failed' }, c.notifyFailed);
    });
    reg.registerMetric(new ExportedHistogram(
      'quorumbl_dns_answer_duration_seconds',
      'Server-side answer time per reply: from the listener starting on the batch (UDP recvmmsg batch, TCP read) the query came in until the batch\'s replies are handed to the kernel; each reply counts its whole batch\'s time. Excludes time in socket buffers and waiting for the event loop (see nodejs_eventloop_lag_seconds).',
      () => [{ labels: { transport: 'udp' }, h: dns().latencyUdp }, { labels: { transport: 'tcp' }, h: dns().latencyTcp }],
    ) as never);
  }

  const zones = deps.zones;
  if (zones) {
    gauge('quorumbl_zone_answering', 'Zone answers from data (1) or SERVFAIL (0: never loaded, mirror never synced, data expired, merged zone before its first evidence).', ['zone'], (set) => {
      for (const z of zones()) set({ zone: z.name }, z.failed ? 0 : 1);
    });
  }

  const sources = deps.sources;
  if (sources) {
    const per = (pick: (s: SourceMetrics) => number | null) => (set: (l: Record<string, string>, v: number) => void) => {
      for (const s of sources()) {
        const v = pick(s);
        if (v !== null) set({ source: s.name }, v);
      }
    };
    gauge('quorumbl_source_last_success_timestamp_seconds', 'Unix time of the source\'s last successful sync (new data or not modified); absent before the first.', ['source'], per((s) => (s.lastSuccess === null ? null : sec(s.lastSuccess))));
    gauge('quorumbl_source_last_attempt_timestamp_seconds', 'Unix time of the source\'s last sync attempt.', ['source'], per((s) => (s.lastAttempt === null ? null : sec(s.lastAttempt))));
    gauge('quorumbl_source_entries', 'Entries in the source\'s last good copy.', ['source'], per((s) => s.entries));
    gauge('quorumbl_source_consecutive_failures', 'Failed syncs of the source since the last one that did not fail.', ['source'], per((s) => s.consecutiveFailures));
    counter('quorumbl_source_failures_total', 'Failed syncs of the source (as recorded in the state database).', ['source'], per((s) => s.failuresTotal));
    gauge('quorumbl_source_quarantined', 'The source\'s last update is held in quarantine (1) awaiting accept/drop.', ['source'], per((s) => (s.quarantined ? 1 : 0)));
  }

  const providers = deps.providers;
  if (providers) {
    const per = (pick: (f: FeedMetrics) => number | null) => (set: (l: Record<string, string>, v: number) => void) => {
      for (const f of providers()) {
        const v = pick(f);
        if (v !== null) set({ provider: f.provider, feed: f.feed }, v);
      }
    };
    gauge('quorumbl_provider_feed_age_seconds', 'Seconds since the feed\'s ranges were last confirmed (a baseline: since its date); absent without data.', ['provider', 'feed'], per((f) => f.ageSeconds));
    gauge('quorumbl_provider_feed_stale', 'Active feed with no data or data older than its max_age (1).', ['provider', 'feed'], per((f) => (f.stale ? 1 : 0)));
    gauge('quorumbl_provider_feed_active', 'Feed is enabled and exempts its ranges (1).', ['provider', 'feed'], per((f) => (f.active ? 1 : 0)));
    gauge('quorumbl_provider_feed_ranges', 'Ranges of the feed in use, by address family.', ['provider', 'feed', 'family'], (set) => {
      for (const f of providers()) {
        set({ provider: f.provider, feed: f.feed, family: '4' }, f.ranges4);
        set({ provider: f.provider, feed: f.feed, family: '6' }, f.ranges6);
      }
    });
  }

  const collisions = deps.collisions;
  if (collisions) {
    gauge('quorumbl_provider_collisions', 'Listed keys (single addresses) and ranges of a source that fall inside a provider\'s ranges (exempted).', ['source', 'provider', 'kind'], (set) => {
      for (const c of collisions()) {
        set({ source: c.source, provider: c.provider, kind: 'keys' }, c.keys);
        set({ source: c.source, provider: c.provider, kind: 'ranges' }, c.ranges);
      }
    });
  }

  const merge = deps.merge;
  if (merge) {
    gauge('quorumbl_merge_ready', 'bl/wl/dbl answer from evidence (1); 0: SERVFAIL until the first merge.', [], (set) => set({}, merge().ready ? 1 : 0));
    gauge('quorumbl_merge_evidence_serial', 'Serial of the evidence in use (its build time, unix seconds, unless given).', [], (set) => set({}, merge().evidenceSerial));
    gauge('quorumbl_merge_evidence_age_seconds', 'Seconds since the evidence in use was built (restored evidence keeps its build time); absent before any.', [], (set) => {
      const m = merge();
      if (m.ready) set({}, Math.max(0, sec(now() - m.builtAt)));
    });
    gauge('quorumbl_merge_last_success_timestamp_seconds', 'Unix time this process last finished a merge; absent before the first (a merge skipped because nothing changed does not count).', [], (set) => {
      const t = merge().lastMergeAt;
      if (t !== null) set({}, sec(t));
    });
    gauge('quorumbl_merge_intervals', 'Elementary intervals (v4, v6) and domain keys in the evidence in use.', ['kind'], (set) => {
      const m = merge();
      set({ kind: 'ipv4' }, m.intervals4);
      set({ kind: 'ipv6' }, m.intervals6);
      set({ kind: 'domains' }, m.domains);
    });
    const names = deps.mergedZones;
    gauge('quorumbl_zone_soa_serial', 'SOA serial of the merged zones (bl/wl/dbl): rises with every merge and override change.', ['zone'], (set) => {
      const s = merge().soaSerial;
      for (const z of names?.() ?? []) set({ zone: z }, s);
    });
  }

  const overrides = deps.overrides;
  if (overrides) {
    gauge('quorumbl_overrides', 'Active (unexpired) manual overrides, by action.', ['action'], (set) => {
      const t = now();
      let allow = 0;
      let deny = 0;
      for (const o of overrides()) {
        if (o.expires !== null && o.expires <= t) continue;
        if (o.action === 'allow') allow++;
        else deny++;
      }
      set({ action: 'allow' }, allow);
      set({ action: 'deny' }, deny);
    });
  }

  const jobs = deps.jobs;
  if (jobs) {
    counter('quorumbl_job_runs_total', 'Runs of a background job (sync, merge, reload, ...).', ['job'], (set) => {
      for (const [name, j] of Object.entries(jobs().jobs)) set({ job: name }, j.runs);
    });
    counter('quorumbl_job_failures_total', 'Failures of a background job (process guards included).', ['job'], (set) => {
      for (const [name, j] of Object.entries(jobs().jobs)) set({ job: name }, j.failures);
    });
  }

  const disk = deps.disk;
  if (disk) {
    gauge('quorumbl_state_disk', 'Condition of the state directory: 1 for the current state (writable, full, read-only, io-error).', ['state'], (set) => {
      const s = disk().state;
      for (const st of DISK_STATES) set({ state: st }, s === st ? 1 : 0);
    });
    gauge('quorumbl_state_disk_free_bytes', 'Free bytes on the state directory\'s file system at the last probe.', [], (set) => {
      const f = disk().free_bytes;
      if (f !== null) set({}, f);
    });
  }

  reg.registerMetric(errors);
  if (deps.processMetrics !== false) collectDefaultMetrics({ register: reg });
  return reg;
}
