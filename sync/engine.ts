// One sync of one source: fetch into staging, parse and measure in a worker thread, run the
// guards against the last good copy, then either promote the staging file to the last good
// copy (the mirror zone reloads from it) or quarantine it with the reasons. The last good copy
// is never written by a fetch, so a broken upstream can neither empty nor poison a zone.

import { mkdirSync, renameSync, rmSync, existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../core/log.ts';
import type { DiskGuard } from '../core/disk.ts';
import { cleanSource } from './cleanup.ts';
import type { Config } from '../core/config/schema.ts';
import type { DatasetSpec, LoadSettings } from '../core/zones/spec.ts';
import { fetchSource, type FetchResult } from './fetch/index.ts';
import { checkGuards, type GuardConfig, type SourceStats } from './guards.ts';
import { sourcePaths, type SyncState } from './state.ts';
import { measureInWorker } from './measure.ts';

export type SourceConfig = Config['sources'][number];

export type Outcome = 'ok' | 'not-modified' | 'failed' | 'quarantined';

export interface SyncResult {
  name: string;
  outcome: Outcome;
  error?: string;
  reasons?: string[];
  bytes?: number;
  stats?: SourceStats;
  ms: number;
}

export interface EngineOptions {
  stateDir: string;
  state: SyncState;
  log: Logger;
  userAgent: string;
  settings: LoadSettings;
  /** Called after a new last good copy is in place (the mirror zone should reload). */
  onCommitted?(name: string): void;
  /** Where the mirror zone's loader looks for a snapshot of a source's copy: the engine stages
   *  one from its own parse, so the server need not parse the text again. */
  snapshotTarget?(name: string): { path: string; key: string; spec: DatasetSpec } | undefined;
  /** Progress of the running sync (for a terminal display). */
  onProgress?(name: string, phase: 'fetch' | 'parse' | 'guards', bytes: number): void;
  /** Share of one core the parse of a download may use: background.cpu_share inside `serve`
   *  (DNS answers beside it), 1 for `quorumbl sync`. */
  cpuShare?: number;
  /** The state disk's watcher (serve): no sync starts while the disk cannot take writes, and a
   *  sync failing on the disk reports it there. */
  disk?: DiskGuard;
}

export function guardConfig(s: SourceConfig): GuardConfig {
  return {
    maxErrorRatio: s.guards.max_error_ratio,
    maxShrink: s.guards.max_shrink,
    maxGrow: s.guards.max_grow,
    worldShareFactor: s.guards.world_share,
    requireTestPoint: s.guards.test_point,
  };
}

export class SyncEngine {
  private readonly running = new Map<string, Promise<SyncResult>>();

  constructor(
    private readonly sources: SourceConfig[],
    private readonly opts: EngineOptions,
  ) {
    // Runs left open by a process that stopped mid-sync are recorded as interrupted.
    try {
      opts.state.abandonRunning();
    } catch (e) {
      // A read-only or full state disk at start: the runs stay open until it can write.
      if (!opts.disk?.report(e)) opts.log.warn({ err: (e as Error).message }, 'interrupted sync runs not marked (the state database cannot be written)');
    }
  }

  get names(): string[] {
    return this.sources.map((s) => s.name);
  }

  /** Syncs one source now; a second call while it runs joins the first. Never throws. */
  sync(name: string): Promise<SyncResult> {
    const running = this.running.get(name);
    if (running) return running;
    const src = this.sources.find((s) => s.name === name);
    const started = Date.now();
    const p = (src ? this.run(src).catch((err) => this.crashed(src, err, started)) : Promise.resolve<SyncResult>({ name, outcome: 'failed', error: `unknown source "${name}"`, ms: 0 })).finally(() =>
      this.running.delete(name),
    );
    this.running.set(name, p);
    return p;
  }

  /** Syncs the given sources (default: all), one after the other (bounded memory). */
  async syncAll(names: string[] = this.names): Promise<SyncResult[]> {
    const out: SyncResult[] = [];
    for (const n of names) out.push(await this.sync(n));
    return out;
  }

  /** A sync that threw (a write to the state directory or database failed: full, read-only):
   *  logged, handed to the disk watcher, its partial files removed; the last good copy serves on. */
  private crashed(src: SourceConfig, err: unknown, started: number): SyncResult {
    const msg = (err as Error)?.message ?? String(err);
    const disk = this.opts.disk?.report(err) ?? false;
    this.cleanup(src.name);
    this.opts.log.error({ source: src.name, err: msg, ...(disk ? { disk: this.opts.disk!.refusal()?.message } : {}) }, 'sync failed; the last good copy keeps serving');
    return { name: src.name, outcome: 'failed', error: msg, ms: Date.now() - started };
  }

  /** Removes a failed sync's staging files and staged snapshot (never throws). */
  private cleanup(name: string): void {
    const t = this.opts.snapshotTarget?.(name);
    cleanSource(this.opts.stateDir, name, t && `${t.path}.staged`);
  }

  private async run(src: SourceConfig): Promise<SyncResult> {
    const { state, log } = this.opts;
    const started = Date.now();
    const refusal = this.opts.disk?.refusal();
    if (refusal) {
      // Nothing is written (not even the run record): the disk could not take it.
      log.warn({ source: src.name, reason: refusal.message }, 'sync skipped: the state disk cannot take writes; the last good copy keeps serving');
      return { name: src.name, outcome: 'failed', error: `skipped: ${refusal.message}`, ms: 0 };
    }
    const paths = sourcePaths(this.opts.stateDir, src.name);
    mkdirSync(paths.staging, { recursive: true });
    const staged = join(paths.staging, 'download');
    const current = paths.current;
    const runId = state.beginRun(src.name);
    const done = (r: Omit<SyncResult, 'name' | 'ms'>): SyncResult => ({ name: src.name, ms: Date.now() - started, ...r });
    let fetched: FetchResult;
    try {
      // Without a last good copy a 304 would leave nothing to serve: fetch unconditionally.
      const validators = existsSync(current) ? state.getValidators(src.name) : undefined;
      fetched = await fetchSource({
        url: src.fetch,
        dest: staged,
        validators,
        connectTimeoutMs: src.connect_timeout * 1000,
        timeoutMs: src.timeout * 1000,
        maxBytes: src.max_size,
        maxRedirects: 5,
        retries: src.retries,
        userAgent: this.opts.userAgent,
        tsig: src.tsig,
        basis: existsSync(current) ? current : undefined, // rsync compares against the last good copy
        onProgress: (b) => this.opts.onProgress?.(src.name, 'fetch', b),
      });
    } catch (err) {
      const msg = (err as Error).message;
      this.cleanup(src.name);
      this.opts.disk?.report(err);
      state.finishFailed(runId, msg);
      log.error({ source: src.name, err: msg }, 'sync failed: fetch');
      return done({ outcome: 'failed', error: msg });
    }
    if (fetched.status === 'not-modified') {
      state.finishNotModified(runId);
      log.info({ source: src.name }, 'sync: not modified');
      return done({ outcome: 'not-modified' });
    }
    const bytes = statSync(staged).size;
    let stats: SourceStats;
    let samples: string[];
    let stagedSnap: string | undefined;
    try {
      this.opts.onProgress?.(src.name, 'parse', bytes);
      const t = this.opts.snapshotTarget?.(src.name);
      ({ stats, samples, staged: stagedSnap } = await measureInWorker(staged, src, this.opts.settings, t && { ...t, current }, this.opts.cpuShare));
    } catch (err) {
      const msg = `cannot parse the download: ${(err as Error).message}`;
      this.cleanup(src.name);
      this.opts.disk?.report(err);
      state.finishFailed(runId, msg, bytes);
      log.error({ source: src.name, err: msg }, 'sync failed: parse');
      return done({ outcome: 'failed', error: msg, bytes });
    }
    for (const s of samples) log.warn({ source: src.name }, s);
    this.opts.onProgress?.(src.name, 'guards', bytes);
    const last = existsSync(current) ? state.lastGoodStats(src.name) : null;
    const verdict = checkGuards(stats, last, guardConfig(src));
    if (!verdict.ok) {
      mkdirSync(paths.quarantine, { recursive: true });
      const qfile = join(paths.quarantine, new Date().toISOString().replace(/[:.]/g, '-'));
      renameSync(staged, qfile);
      if (stagedSnap) rmSync(stagedSnap, { force: true });
      const replaced = state.finishQuarantined(runId, { reasons: verdict.reasons, path: qfile, stats, bytes, validators: fetched.validators });
      if (replaced) rmSync(replaced, { force: true }); // only the newest rejected copy is kept
      log.error({ source: src.name, reasons: verdict.reasons, quarantine: qfile }, 'sync: update quarantined, last good copy keeps serving');
      return done({ outcome: 'quarantined', reasons: verdict.reasons, bytes, stats });
    }
    // The snapshot first: when the loader sees the new copy, its snapshot is already there.
    if (stagedSnap) renameSync(stagedSnap, stagedSnap.slice(0, -'.staged'.length));
    renameSync(staged, current);
    const stale = state.finishOk(runId, { bytes, stats, validators: fetched.validators });
    if (stale) rmSync(stale, { force: true }); // a quarantined copy this update supersedes
    log.info({ source: src.name, entries: stats.entries, bytes, ms: Date.now() - started }, 'sync: new data in place');
    this.opts.onCommitted?.(src.name);
    return done({ outcome: 'ok', bytes, stats });
  }
}
