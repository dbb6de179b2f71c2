// `quorumbl status [--json]`: what the console's Dashboard shows, from a shell. Serve-independent
// where it can be: sources from the state database, provider feeds and collisions from their
// files, the merge from the persisted evidence. Live where only a running serve knows: each
// zone's answer is a real SOA query to serve's first listen address (answering, SERVFAIL,
// REFUSED, or no answer at all), and the disk state and background jobs come from GET /readyz
// on the web listener (no token needed). The alerts are the dashboard's (alertsOf), in words.

import { existsSync, statSync } from 'node:fs';
import { Resolver } from 'node:dns/promises';
import type { LoadedConfig } from '../core/config/load.ts';
import { openDb } from '../core/db.ts';
import type { DiskStatus } from '../core/disk-health.ts';
import type { JobsHealth } from '../core/jobs.ts';
import { alertsOf as collisionAlertsOf, collisionsPath, CollisionHistory, readCollisionsFile, type CollisionReport } from '../sync/collisions-store.ts';
import { evidencePath, readEvidenceFile } from '../sync/merge/persist.ts';
import { loadBaselines } from '../sync/providers/baseline.ts';
import { readFeedStates, type FeedState } from '../sync/providers/status.ts';
import { SyncState } from '../sync/state.ts';
import { ago, alertsOf, dashSourcesOf, fmtInt, staleAfterMs, type Alert, type DashSource } from '../web/console/dashboard-data.ts';
import { parseCommand, type CommandSpec } from './args.ts';
import { commandConfig } from './config.ts';
import { configFlag } from './state-owner.ts';
import { dbPath, withResolvedPaths } from './sync.ts';

export const STATUS: CommandSpec = {
  name: 'status', options: { json: { type: 'boolean' } },
  usage: `usage: quorumbl status [--config FILE] [--json]
  what the dashboard shows: each zone answering from data or SERVFAIL (asked over DNS), sources'
  last success vs last attempt, provider feeds, the merge, and the alerts with what to do.
  Exit 1 when an alert is bad (a zone SERVFAILs, serve does not answer, a source never synced), else 0.`,
};

export type Answer = 'data' | 'servfail' | 'refused' | 'no answer';

export interface StatusReport {
  now: string;
  config: string;
  state_dir: string;
  serve: {
    dns: { address: string; answering: boolean };
    /** GET /readyz of the web listener; null: web disabled or no answer */
    web: { url: string; status: string } | null;
  };
  zones: { name: string; kind: 'configured' | 'mirror' | 'merged'; answers: Answer; soa_serial: number | null; entries: number | null }[];
  merge: { ready: boolean; evidence_serial: number | null; built_at: string | null; persisted_at: string | null; error: string | null };
  sources: {
    name: string; last_success: string | null; last_attempt: string | null; last_outcome: string | null; last_error: string | null;
    entries: number | null; consecutive_failures: number; quarantined: { at: string; reasons: string[]; entries: number | null } | null;
  }[];
  providers: { provider: string; feed: string; active: boolean; origin: string; ranges: number; age_seconds: number | null; max_age_seconds: number; stale: boolean; last_error: string | null }[];
  disk: { state: string; writable: boolean; cause: string | null } | null;
  alerts: Alert[];
}

const iso = (t: number | null | undefined) => (t == null ? null : new Date(t).toISOString());

/** A wildcard listen address is asked on loopback. */
function reachable(address: string): string {
  return address === '0.0.0.0' ? '127.0.0.1' : address === '::' ? '::1' : address;
}

async function probeZones(names: string[], listen: { address: string; port: number }): Promise<Map<string, { answers: Answer; serial: number | null }>> {
  const r = new Resolver({ timeout: 1500, tries: 1 });
  const a = reachable(listen.address);
  r.setServers([a.includes(':') ? `[${a}]:${listen.port}` : `${a}:${listen.port}`]);
  const out = new Map<string, { answers: Answer; serial: number | null }>();
  const answer = async (q: Promise<unknown>): Promise<Answer> => {
    try {
      await q;
      return 'data';
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      return code === 'ESERVFAIL' ? 'servfail' : code === 'EREFUSED' ? 'refused' : code === 'ENOTFOUND' || code === 'ENODATA' ? 'data' : 'no answer';
    }
  };
  // A at the apex says how the zone answers (a zone without a SOA of its own, as rbldnsd,
  // refuses SOA queries); the SOA, where there is one, gives the serial.
  await Promise.all(names.map(async (n) => {
    const [answers, soa] = await Promise.all([answer(r.resolve4(n)), r.resolveSoa(n).catch(() => null)]);
    out.set(n, { answers, serial: soa?.serial ?? null });
  }));
  return out;
}

interface Readyz { status: string; state_dir?: DiskStatus; jobs?: JobsHealth }

async function readyz(cfg: LoadedConfig): Promise<{ url: string; body: Readyz } | null> {
  if (!cfg.config.web.enabled) return null;
  const { address, port } = cfg.config.web.listen;
  const a = reachable(address);
  const url = `http://${a.includes(':') ? `[${a}]` : a}:${port}/readyz`;
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(1500) });
    return { url, body: (await res.json()) as Readyz };
  } catch {
    return null;
  }
}

export async function collectStatus(cfg: LoadedConfig, stateDir: string, now = Date.now()): Promise<StatusReport> {
  const c = cfg.config;
  // sources: the state database, when there is one (status never creates it)
  let sources: DashSource[] = c.sources.map((s) => ({
    name: s.name, lastSuccess: null, lastAttempt: null, lastOutcome: null, lastError: null, entries: null,
    consecutiveFailures: 0, quarantine: null, staleAfterMs: staleAfterMs(s.min_interval),
  }));
  let collisions: CollisionReport | null = null;
  try {
    collisions = readCollisionsFile(collisionsPath(stateDir));
  } catch {
    collisions = null;
  }
  if (existsSync(dbPath(stateDir))) {
    const db = openDb(dbPath(stateDir), { readOnlyFallback: true });
    try {
      sources = dashSourcesOf(new SyncState(db), c.sources);
      if (collisions) collisions = { ...collisions, alerts: collisionAlertsOf(collisions.pairs, new CollisionHistory(db), now) };
    } finally {
      db.close();
    }
  }
  let baselines: ReturnType<typeof loadBaselines> = [];
  try {
    baselines = loadBaselines();
  } catch {
    /* shown as origin none */
  }
  const feeds: FeedState[] = readFeedStates(withResolvedPaths(cfg).providers, stateDir, baselines, now);

  // the merge as persisted (what serve restores at start and after each merge)
  let merge: StatusReport['merge'] = { ready: false, evidence_serial: null, built_at: null, persisted_at: null, error: null };
  let counts: { ranges: number; domains: number } | null = null;
  try {
    const got = readEvidenceFile(evidencePath(stateDir));
    if (got) {
      const e = got.evidence;
      merge = { ready: true, evidence_serial: e.serial, built_at: iso(e.builtAt), persisted_at: iso(statSync(evidencePath(stateDir)).mtimeMs), error: null };
      counts = { ranges: e.cls4.length + e.cls6.length, domains: e.domains.length };
    }
  } catch (e) {
    merge.error = (e as Error).message;
  }

  const zones: StatusReport['zones'] = [
    ...c.zones.map((z) => ({ name: z.name, kind: 'configured' as const, entries: null })),
    ...sources.map((s) => ({ name: `${s.name}.mirror.${c.base}`, kind: 'mirror' as const, entries: s.entries })),
    ...['bl', 'wl', 'dbl'].map((z) => ({ name: `${z}.${c.base}`, kind: 'merged' as const, entries: counts === null ? null : z === 'dbl' ? counts.domains : counts.ranges })),
  ].map((z) => ({ ...z, answers: 'no answer' as Answer, soa_serial: null as number | null }));

  const listen = c.server.listen[0]!;
  const [probes, ready] = await Promise.all([probeZones(zones.map((z) => z.name), listen), readyz(cfg)]);
  for (const z of zones) {
    const p = probes.get(z.name)!;
    z.answers = p.answers;
    z.soa_serial = p.serial;
  }
  const answering = zones.some((z) => z.answers !== 'no answer');
  const disk = ready?.body.state_dir ?? null;

  const alerts: Alert[] = [];
  const addr = `${listen.address.includes(':') ? `[${listen.address}]` : listen.address}:${listen.port}`;
  if (!answering) {
    alerts.push({
      level: 'bad',
      what: `quorumbl serve does not answer DNS on ${addr} (no reply within 1.5 s): what follows is the state on disk.`,
      todo: `Start it: quorumbl serve${configFlag(cfg)} (or systemctl start quorumbl); its log says why it stopped.`,
    });
  }
  const mergeReady = merge.ready || zones.some((z) => z.kind === 'merged' && z.answers === 'data');
  alerts.push(...alertsOf({
    zones: () => zones.map((z) => ({ name: z.name, failed: z.answers === 'servfail', entries: z.entries })),
    merge: () => ({ ready: mergeReady || !answering, evidenceSerial: merge.evidence_serial ?? 0, builtAt: merge.built_at ? Date.parse(merge.built_at) : 0, soaSerial: 0, lastMergeAt: null }),
    sources: () => sources,
    providers: () => feeds,
    collisions: () => collisions,
    disk: disk ? () => disk : undefined,
    jobs: ready?.body.jobs ? () => ready.body.jobs! : undefined,
  }, now).map((a) => withConfig(a, cfg)));
  if (!merge.ready && merge.error) alerts.push({ level: 'warn', what: `The persisted merge ${evidencePath(stateDir)} cannot be read: ${merge.error}.`, todo: 'serve rebuilds it at its next merge; if this stays, read the log.' });
  for (const z of zones) {
    if (z.answers === 'refused') alerts.push({ level: 'warn', what: `Zone ${z.name} answered REFUSED to this host.`, todo: 'server.allow_query does not include this host: run status where the MTAs ask, or add it.' });
  }

  return {
    now: new Date(now).toISOString(),
    config: cfg.file,
    state_dir: stateDir,
    serve: { dns: { address: addr, answering }, web: ready ? { url: ready.url, status: ready.body.status } : null },
    zones,
    merge,
    sources: sources.map((s) => ({
      name: s.name, last_success: iso(s.lastSuccess), last_attempt: iso(s.lastAttempt), last_outcome: s.lastOutcome, last_error: s.lastError,
      entries: s.entries, consecutive_failures: s.consecutiveFailures,
      quarantined: s.quarantine && { at: new Date(s.quarantine.at).toISOString(), reasons: s.quarantine.reasons, entries: s.quarantine.entries },
    })),
    providers: feeds.map((f) => ({
      provider: f.provider, feed: f.feed, active: f.active, origin: f.origin, ranges: f.ranges,
      age_seconds: f.ageSeconds, max_age_seconds: f.maxAgeSeconds, stale: f.stale, last_error: f.lastError,
    })),
    disk: disk && { state: disk.state, writable: disk.writable, cause: disk.cause },
    alerts,
  };
}

/** The dashboard's "what to do" names CLI commands: with the config this status was run with. */
function withConfig(a: Alert, cfg: LoadedConfig): Alert {
  const flag = configFlag(cfg);
  if (!flag) return a;
  return { ...a, todo: a.todo.replace(/(quorumbl (?:sources (?:show|accept|drop)|sync) [\w.-]+|quorumbl providers)/g, `$1${flag}`) };
}

export function formatStatus(r: StatusReport, nowMs = Date.parse(r.now)): string {
  const when = (t: string | null) => (t === null ? 'never' : `${ago(nowMs - Date.parse(t))} ago`);
  const table = (header: string[], rows: string[][]) => {
    const w = header.map((h, i) => Math.max(h.length, ...rows.map((x) => x[i]!.length)));
    const line = (x: string[]) => x.map((c, i) => (i === x.length - 1 ? c : c.padEnd(w[i]!))).join('  ').trimEnd();
    return [line(header), ...rows.map(line)];
  };
  const out: string[] = [`config ${r.config}, state ${r.state_dir}`];
  out.push(`serve: DNS on ${r.serve.dns.address} ${r.serve.dns.answering ? 'answers' : 'does NOT answer'}` +
    (r.serve.web ? `; web ${r.serve.web.url}: ${r.serve.web.status}` : ''));
  out.push('', 'ALERTS');
  if (r.alerts.length === 0) out.push('  none: every zone answers from data, sources and provider feeds are fresh');
  for (const a of r.alerts) out.push(`  ${a.level === 'bad' ? '!!' : ' !'} ${a.what}`, `     -> ${a.todo}`);
  out.push('', ...table(['ZONE', 'ANSWERS', 'ENTRIES', 'SOA SERIAL'], r.zones.map((z) => [
    z.name, z.answers === 'data' ? 'from data' : z.answers.toUpperCase(), z.entries === null ? '-' : fmtInt(z.entries), z.soa_serial === null ? '-' : String(z.soa_serial),
  ])));
  out.push('', `merge: ${r.merge.ready ? `evidence serial ${r.merge.evidence_serial}, built ${when(r.merge.built_at)}, persisted ${when(r.merge.persisted_at)}` : `none persisted yet${r.merge.error ? ` (${r.merge.error})` : ''}`}`);
  if (r.sources.length) {
    out.push('', ...table(['SOURCE', 'LAST SUCCESS', 'LAST ATTEMPT', 'ENTRIES', 'QUARANTINED'], r.sources.map((s) => [
      s.name, when(s.last_success), s.last_attempt === null ? 'never' : `${s.last_outcome ?? 'running'}, ${when(s.last_attempt)}`,
      s.entries === null ? '-' : fmtInt(s.entries), s.quarantined ? `yes, ${when(s.quarantined.at)}` : 'no',
    ])));
  }
  if (r.providers.length) {
    out.push('', ...table(['PROVIDER/FEED', 'ORIGIN', 'RANGES', 'AGE', 'STALE'], r.providers.map((f) => [
      `${f.provider}/${f.feed}${f.active ? '' : ' (not used)'}`, f.origin, String(f.ranges),
      f.age_seconds === null ? '-' : ago(f.age_seconds * 1000), f.stale ? 'yes' : 'no',
    ])));
  }
  if (r.disk) out.push('', `state disk: ${r.disk.state}${r.disk.cause ? ` (${r.disk.cause})` : ''}`);
  return out.join('\n') + '\n';
}

export async function statusCommand(args: string[]): Promise<number> {
  const { values, config } = parseCommand(STATUS, args);
  const { cfg, stateDir } = commandConfig(config, 'status');
  const r = await collectStatus(cfg, stateDir);
  process.stdout.write(values.json ? JSON.stringify(r, null, 2) + '\n' : formatStatus(r));
  return r.alerts.some((a) => a.level === 'bad') ? 1 : 0;
}
