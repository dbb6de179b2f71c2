// What the console's Dashboard and Exemptions pages read: plain getters wired in cli/main.ts
// serve() (the same ones /metrics and /readyz use), the query rate from snapshots of the DNS
// counters (a 10 s timer and each page load copy the small per-zone arrays: nothing per query),
// and the alerts in words with what to do.

import type { ReloadOutcome } from '../routes/health.ts';
import type { Counters } from '../../server/counters.ts';
import { C_TOTAL, RCODE_SLOTS, rcodeName } from '../../server/counters.ts';
import type { DiskStatus } from '../../core/disk-health.ts';
import type { JobsHealth } from '../../core/jobs.ts';
import type { FeedState } from '../../sync/providers/status.ts';
import type { CollisionReport } from '../../sync/collisions-store.ts';
import type { ProviderRange } from '../../sync/providers/types.ts';
import type { SyncState } from '../../sync/state.ts';

/** One source's sync state as the dashboard shows it. Times are unix ms. */
export interface DashSource {
  name: string;
  lastSuccess: number | null;
  lastAttempt: number | null;
  lastOutcome: string | null;
  lastError: string | null;
  entries: number | null;
  consecutiveFailures: number;
  quarantine: { at: number; reasons: string[]; entries: number | null } | null;
  /** No success for longer than this (ms) is stale. */
  staleAfterMs: number;
}

export interface DashboardDeps {
  dns?: () => Counters;
  /** Zones as published, with their entries (failed ones answer SERVFAIL). */
  zones: () => readonly { name: string; failed: boolean; entries: number | null }[];
  merge: () => { ready: boolean; evidenceSerial: number; builtAt: number; soaSerial: number; lastMergeAt: number | null };
  sources: () => DashSource[];
  providers: () => FeedState[];
  /** Each active feed's ranges in use (Exemptions). */
  providerRanges?: () => { provider: string; feed: string; ranges: readonly ProviderRange[] }[];
  collisions: () => CollisionReport | null;
  disk?: () => DiskStatus;
  jobs?: () => JobsHealth;
  /** Open removal requests (the public page's queue). */
  removals?: () => number;
  /** The last config reload (cli/serve/reload.ts); null: none since start. */
  reload?: () => ReloadOutcome | null;
  now?: () => number;
}

/** Stale: no success for max(1 d, 3 x min_interval). */
export function staleAfterMs(minIntervalS: number): number {
  return Math.max(86_400_000, 3 * minIntervalS * 1000);
}

/** The configured sources' sync state (two cheap queries, as for /metrics). */
export function dashSourcesOf(state: SyncState, sources: readonly { name: string; min_interval: number }[]): DashSource[] {
  const known = new Map(state.listSources().map((s) => [s.name, s]));
  const fails = state.failureCounts();
  return sources.map(({ name, min_interval }) => {
    const s = known.get(name);
    const q = s?.quarantine ?? null;
    return {
      name,
      lastSuccess: s?.lastSuccess ?? null,
      lastAttempt: s?.lastAttempt ?? null,
      lastOutcome: s?.lastOutcome ?? null,
      lastError: s?.lastError ?? null,
      entries: s?.entries ?? null,
      consecutiveFailures: fails.get(name)?.consecutive ?? 0,
      quarantine: q && { at: q.at, reasons: q.reasons, entries: q.stats?.entries ?? null },
      staleAfterMs: staleAfterMs(min_interval),
    };
  });
}

// ---- query rate ---------------------------------------------------------------------------------

interface Snap {
  at: number;
  zones: Map<string, Float64Array>;
  total: Float64Array;
}

export interface ZoneRate {
  zone: string;
  qps: number;
  /** rcode name -> queries per second (only those seen in the interval) */
  rcodes: Record<string, number>;
}

/** Snapshots of the counters every 10 s (the last 7 kept); rate() compares now with the oldest
 *  snapshot of the last minute (or the first one taken, right after start). */
export class QueryRate {
  private readonly ring: Snap[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly counters: () => Counters, private readonly now: () => number = Date.now, everyMs = 10_000) {
    this.ring.push(this.snap());
    this.timer = setInterval(() => this.sample(), everyMs);
    this.timer.unref();
  }

  private snap(): Snap {
    const c = this.counters();
    const zones = new Map<string, Float64Array>();
    for (const [name, a] of c.zoneCounters()) zones.set(name || '.', Float64Array.from(a));
    return { at: this.now(), zones, total: Float64Array.from(c.total) };
  }

  sample(): void {
    this.ring.push(this.snap());
    while (this.ring.length > 7) this.ring.shift();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** Rates since the oldest snapshot at most 60 s old (else the newest), per zone and in total. */
  rate(): { seconds: number; zones: ZoneRate[]; total: ZoneRate } {
    const cur = this.snap();
    const base = this.ring.find((s) => cur.at - s.at <= 61_000 && cur.at > s.at) ?? this.ring[this.ring.length - 1]!;
    const seconds = Math.max(0.001, (cur.at - base.at) / 1000);
    const rateOf = (zone: string, a: Float64Array, b: Float64Array | undefined): ZoneRate => {
      // a counter reset (SIGUSR2) makes a difference negative: count from zero then
      const d = (i: number) => {
        const x = a[i]! - (b?.[i] ?? 0);
        return x < 0 ? a[i]! : x;
      };
      const rcodes: Record<string, number> = {};
      for (let r = 0; r < RCODE_SLOTS; r++) if (d(r) > 0) rcodes[rcodeName(r)] = d(r) / seconds;
      return { zone, qps: d(C_TOTAL) / seconds, rcodes };
    };
    const zones = [...cur.zones].map(([name, a]) => rateOf(name, a, base.zones.get(name)));
    const total = rateOf('all', cur.total, base.total);
    const inZones = zones.reduce((s, z) => s + z.qps, 0);
    if (total.qps - inZones > 1e-9) {
      const none: ZoneRate = { zone: '(no zone)', qps: total.qps - inZones, rcodes: {} };
      for (const [k, v] of Object.entries(total.rcodes)) {
        const rest = v - zones.reduce((s, z) => s + (z.rcodes[k] ?? 0), 0);
        if (rest > 1e-9) none.rcodes[k] = rest;
      }
      zones.push(none);
    }
    return { seconds, zones, total };
  }
}

// ---- words ----------------------------------------------------------------------------------------

export function ago(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  if (s < 172800) return `${Math.floor(s / 3600)} h ${Math.round((s % 3600) / 60)} min`;
  return `${Math.floor(s / 86400)} d ${Math.round((s % 86400) / 3600)} h`;
}

export const fmtInt = (n: number) => n.toLocaleString('en-US');

export function fmtRate(x: number): string {
  if (x === 0) return '0';
  if (x < 0.1) return x.toFixed(2);
  if (x < 10) return x.toFixed(1);
  return Math.round(x).toLocaleString('en-US');
}

// ---- alerts ---------------------------------------------------------------------------------------

export interface Alert {
  level: 'bad' | 'warn';
  /** what is wrong, in words (may hold upstream text: rendered escaped) */
  what: string;
  /** what to do */
  todo: string;
}

const JOB_RECENT_MS = 24 * 3600_000;

export function alertsOf(d: DashboardDeps, now: number): Alert[] {
  const out: Alert[] = [];
  const disk = d.disk?.();
  if (disk && !disk.writable) {
    out.push({
      level: 'bad',
      what: `State directory ${disk.path} is ${disk.state}${disk.since ? ` since ${ago(now - Date.parse(disk.since))} ago` : ''}: ${disk.cause ?? 'writes refused'}. DNS keeps answering from memory; syncs, overrides and sign-in records are refused.`,
      todo: disk.state === 'full' ? 'Free space on that file system; writes resume by themselves at the next probe.' : disk.pinned ? 'Fix the file system or its permissions, then restart quorumbl serve.' : 'Fix the file system or its permissions (see the log); writes resume at the next probe.',
    });
  }
  const m = d.merge();
  if (!m.ready) out.push({ level: 'bad', what: 'bl/wl/dbl answer SERVFAIL: no merge has finished yet.', todo: 'Wait for the first merge; if it does not come, read the log (merge errors).' });
  const sources = d.sources();
  // a failing source's mirror zone is said in the source's alert
  const failing = sources.filter((s) => s.lastSuccess === null && (s.lastOutcome === 'failed' || s.consecutiveFailures > 0)).map((s) => `${s.name}.mirror.`);
  for (const z of d.zones()) {
    if (failing.some((p) => z.name.startsWith(p))) continue;
    if (z.failed && !(m.ready === false && /^(bl|wl|dbl)\./.test(z.name))) {
      out.push({ level: 'bad', what: `Zone ${z.name} answers SERVFAIL (no data loaded, or its data expired).`, todo: 'See the source behind it below; a mirror zone answers once its source has synced.' });
    }
  }
  for (const s of sources) {
    const show = `quorumbl sources show ${s.name}`;
    if (s.quarantine) {
      const q = s.quarantine;
      out.push({
        level: 'warn',
        what: `${s.name}: update quarantined ${ago(now - q.at)} ago (${q.reasons.join('; ') || 'no reason recorded'})${q.entries !== null ? `, ${fmtInt(q.entries)} entries` : ''}. The last good copy is still served.`,
        todo: `Accept or drop it: quorumbl sources accept ${s.name}   |   quorumbl sources drop ${s.name}`,
      });
    }
    if (s.lastOutcome === 'failed' || s.consecutiveFailures > 0) {
      const n = s.consecutiveFailures;
      out.push({
        level: s.lastSuccess === null ? 'bad' : 'warn',
        what: `${s.name}: ${n > 1 ? `the last ${n} syncs failed` : 'the last sync failed'}${s.lastAttempt !== null ? ` (${ago(now - s.lastAttempt)} ago)` : ''}: ${s.lastError ?? 'no error recorded'}. ${s.lastSuccess === null ? 'It has never synced: its mirror answers SERVFAIL and the merge goes without it.' : `Serving the copy of ${ago(now - s.lastSuccess)} ago.`}`,
        todo: `Check the source's fetch address or file and the network; details: ${show}`,
      });
    } else if (s.lastSuccess !== null && now - s.lastSuccess > s.staleAfterMs) {
      out.push({
        level: 'warn',
        what: `${s.name}: stale, last successful sync ${ago(now - s.lastSuccess)} ago (more than ${ago(s.staleAfterMs)}).`,
        todo: `Check that syncs are scheduled (sync.enabled, the source's schedule) and run one: quorumbl sync ${s.name}`,
      });
    }
  }
  for (const f of d.providers()) {
    if (!f.stale) continue;
    const data = f.origin === 'baseline' ? `the shipped baseline dated ${f.baseline?.date ?? f.dataAt?.slice(0, 10) ?? '?'}` : f.origin === 'none' ? 'no ranges at all' : `ranges last confirmed ${f.ageSeconds !== null ? ago(f.ageSeconds * 1000) : '?'} ago`;
    out.push({
      level: f.origin === 'none' ? 'bad' : 'warn',
      what: `Provider feed ${f.provider}/${f.feed} is stale: ${data} (max age ${ago(f.maxAgeSeconds * 1000)})${f.lastError ? `; last check failed: ${f.lastError}` : ''}.`,
      todo: 'Check that quorumbl can reach the feed (network, proxy, DNS); details: quorumbl providers',
    });
  }
  const rep = d.collisions();
  for (const a of rep?.alerts ?? []) {
    out.push({
      level: 'warn',
      what: `Collisions rose sharply: ${a.source} lists ${fmtInt(a.now)} addresses in ${a.provider} ranges (was ${fmtInt(a.before)} ${ago(now - Date.parse(a.beforeAt))} ago), since ${ago(now - Date.parse(a.since))} ago: exempted.`,
      todo: `Check ${a.source} (an incident at the list?) on the Exemptions page; the exemption keeps those senders out of bl.`,
    });
  }
  const rl = d.reload?.();
  if (rl && !rl.ok) out.push({ level: 'warn', what: `Config reload refused ${ago(now - Date.parse(rl.at))} ago; the running config stays: ${rl.errors.join('; ')}`, todo: 'Fix the config file (quorumbl check-config FILE), then quorumbl reload.' });
  const waiting = d.removals?.() ?? 0;
  if (waiting > 0) out.push({ level: 'warn', what: `${fmtInt(waiting)} removal request${waiting === 1 ? '' : 's'} waiting.`, todo: 'Approve or reject them on the Requests page (/requests).' });
  for (const [name, j] of Object.entries(d.jobs?.().jobs ?? {})) {
    if (!j.lastFailure || now - Date.parse(j.lastFailure) > JOB_RECENT_MS) continue;
    if (name.startsWith('sync')) continue; // a source's failed syncs are its own alert above
    out.push({
      level: 'warn',
      what: `Background job ${name} failed ${j.failures === 1 ? 'once' : `${fmtInt(j.failures)} times`}, last ${ago(now - Date.parse(j.lastFailure))} ago: ${j.lastError ?? 'no error recorded'}.`,
      todo: 'Read the log around that time; the job runs again on its own.',
    });
  }
  return out;
}
