// Upstream sources in the CLI: their mirror zones for `serve`, the engine and scheduler, and
// `quorumbl sync [NAME...]` (progress on a terminal, JSON logs otherwise).

import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { packagePath } from '../core/package-root.ts';
import type { Logger } from '../core/log.ts';
import { openDb } from '../core/db.ts';
import { configPath, type LoadedConfig } from '../core/config/load.ts';
import type { NsSet, Soa } from '../core/datasets/types.ts';
import type { LoadSettings, ZoneSpec } from '../core/zones/spec.ts';
import { snapshotFileFor } from '../core/zones/store.ts';
import { SyncEngine, type EngineOptions, type SyncResult } from '../sync/engine.ts';
import { mirrorDatasetSpec } from '../sync/mirror.ts';
import { SyncState, sourcePaths } from '../sync/state.ts';
import { SyncLeases, describeHolder } from '../sync/lease.ts';
import { fetchKind } from '../sync/fetch/url.ts';

const VERSION = (JSON.parse(readFileSync(packagePath('package.json'), 'utf8')) as { version: string }).version;

export const USER_AGENT = `quorumbl/${VERSION} (self-hosted DNSBL mirror; +https://github.com/quorumbl/quorumbl)`;

export function dbPath(stateDir: string): string {
  return join(stateDir, 'quorumbl.sqlite');
}

/** The config with provider files and sources' local `fetch:` paths resolved against the
 *  config file's directory (as zone files and state_dir are), not the current one. */
export function withResolvedPaths(cfg: LoadedConfig): LoadedConfig['config'] {
  const c = cfg.config;
  const abs = (p: string) => (/^[a-z][a-z0-9+.-]*:\/\//i.test(p) ? p : configPath(cfg, p));
  return {
    ...c,
    sources: c.sources.map((s) => (fetchKind(s.fetch) === 'file' && !/^file:/i.test(s.fetch) ? { ...s, fetch: configPath(cfg, s.fetch) } : s)),
    providers: c.providers.map((p) =>
      p.type === 'static' && p.file ? { ...p, file: abs(p.file) } : p.type === 'json' ? { ...p, url: abs(p.url) } : p,
    ),
  };
}

/** SOA of the zones quorumbl builds itself (mirrors, bl/wl/dbl); serial 0 = newest data. */
export function ownSoa(cfg: LoadedConfig): Soa {
  const c = cfg.config.soa;
  return { ttl: c.ttl, mname: c.mname, rname: c.rname, serial: 0, refresh: c.refresh, retry: c.retry, expire: c.expire, minimum: c.minimum };
}

export function ownNs(cfg: LoadedConfig): NsSet {
  return { ttl: cfg.config.soa.ttl, names: [cfg.config.soa.mname] };
}

/** `<source>.mirror.<base>`: a faithful mirror of each source, with the SOA/NS from the config. */
export function mirrorZones(cfg: LoadedConfig, stateDir: string): ZoneSpec[] {
  const c = cfg.config;
  return c.sources.map((s) => {
    const name = `${s.name}.mirror.${c.base}`;
    const soa = ownSoa(cfg);
    const ns = ownNs(cfg);
    const dataset = mirrorDatasetSpec(s, stateDir, c.soa.ttl);
    return { name, datasets: [dataset], soa, ns };
  });
}

export interface SyncSetup {
  engine: SyncEngine;
  state: SyncState;
  close(): void;
}

/** cpuShare: background.cpu_share inside `serve`; the `sync` command parses at full speed. */
export function setupSync(cfg: LoadedConfig, stateDir: string, settings: LoadSettings, log: Logger, onCommitted?: (name: string) => void, onProgress?: EngineOptions['onProgress'], cpuShare = 1, disk?: EngineOptions['disk'], command = 'quorumbl serve'): SyncSetup {
  const sources = withResolvedPaths(cfg).sources;
  // With a disk watcher (serve): a read-only state directory opens the database read-only.
  const db = openDb(dbPath(stateDir), { readOnlyFallback: !!disk });
  const state = new SyncState(db);
  const leases = new SyncLeases(db, { command });
  const snapshotTarget = (name: string) => {
    const s = sources.find((x) => x.name === name);
    if (!s) return undefined;
    const spec = mirrorDatasetSpec(s, stateDir, cfg.config.soa.ttl);
    return { ...snapshotFileFor(stateDir, spec, settings), spec };
  };
  const engine = new SyncEngine(sources, { stateDir, state, log, userAgent: USER_AGENT, settings, onCommitted, onProgress, snapshotTarget, cpuShare, disk, leases });
  return { engine, state, close: () => db.close() };
}

function human(n: number): string {
  return n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(1)} MiB` : n >= 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${n} B`;
}

/** Exit status of `quorumbl sync` when another process held a source's sync throughout
 *  (--no-wait, or the wait bound passed): EX_TEMPFAIL, "try again later". */
export const EXIT_BUSY = 75;

/** Default bound of the wait for another process's sync of the same source. */
export const DEFAULT_WAIT_SECONDS = 600;

/** `quorumbl sync [NAME...]`: exit 1 when any named source failed or was quarantined, 75 when
 *  another process was syncing one and kept it past the wait (`waitSeconds`, 0: --no-wait). */
export async function syncCommand(names: string[], cfg: LoadedConfig, stateDir: string, settings: LoadSettings, log: Logger, waitSeconds = DEFAULT_WAIT_SECONDS): Promise<number> {
  const sources = cfg.config.sources;
  const unknown = names.filter((n) => !sources.some((s) => s.name === n));
  if (unknown.length) {
    process.stderr.write(`unknown source${unknown.length > 1 ? 's' : ''}: ${unknown.join(', ')} (configured: ${sources.map((s) => s.name).join(', ') || 'none'})\n`);
    return 2;
  }
  const tty = process.stderr.isTTY === true;
  let started = Date.now();
  const progress = (name: string, phase: string, bytes: number) => {
    if (!tty) return;
    const secs = Math.max(0.001, (Date.now() - started) / 1000);
    process.stderr.write(`\r\x1b[K${name}: ${phase} ${human(bytes)} (${human(bytes / secs)}/s)`);
  };
  const { engine, close } = setupSync(cfg, stateDir, settings, log, undefined, progress, 1, undefined, `quorumbl sync${names.length ? ' ' + names.join(' ') : ''}`);
  const results: SyncResult[] = [];
  // Another process (serve's scheduler, a second shell) syncing the same source: say who, and
  // wait for it (bounded). Always on stderr, terminal or not: a script's log should show it.
  const onWait = (n: string) => (h: Parameters<typeof describeHolder>[0]) =>
    process.stderr.write(`${tty ? '\r\x1b[K' : ''}${n}: waiting for the sync already running in ${describeHolder(h)}; ` +
      `up to ${waitSeconds} s (--no-wait: do not wait)\n`);
  for (const n of names.length ? names : engine.names) {
    started = Date.now();
    const r = await engine.sync(n, { waitMs: waitSeconds * 1000, onWait: onWait(n) });
    results.push(r);
    if (r.outcome === 'busy') {
      process.stderr.write(`${tty ? '\r\x1b[K' : ''}${n}: not synced: a sync is already running in ${describeHolder(r.holder!)}` +
        `${waitSeconds > 0 ? `; still running after ${waitSeconds} s` : ''}\n`);
      continue;
    }
    if (r.holder) process.stderr.write(`${tty ? '\r\x1b[K' : ''}${n}: synced meanwhile by pid ${r.holder.pid} (${r.holder.command}): ${r.outcome}\n`);
    if (tty) {
      const detail = r.outcome === 'ok' ? `${r.stats?.entries ?? 0} entries from ${r.stats?.lines ?? 0} lines, ${human(r.bytes ?? 0)}` : (r.reasons?.join('; ') ?? r.error ?? '');
      process.stderr.write(`\r\x1b[K${n}: ${r.outcome}${detail ? ` - ${detail}` : ''} (${(r.ms / 1000).toFixed(1)} s)\n`);
    }
  }
  close();
  if (results.some((r) => r.outcome === 'failed' || r.outcome === 'quarantined')) return 1;
  return results.some((r) => r.outcome === 'busy') ? EXIT_BUSY : 0;
}
