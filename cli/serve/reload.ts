// Config reload of a running `serve` (SIGHUP, `quorumbl reload`): the config file is read again
// and applied without a restart and without a gap in DNS answers, or not at all.
//   1. read and validate (a syntax or schema error: each logged with its key and FILE:LINE);
//   2. prepare what can fail: new web listeners bound, new zones' data loaded (the running ones
//      keep answering meanwhile); a failure closes what was bound and changes nothing;
//   3. commit in one turn of the event loop: the zone table swap, sources (sync engine and
//      scheduler re-armed), reputation and override limits, the policy into bl/wl/dbl, the web
//      app; then the merge re-runs (a failed merge keeps the evidence in force).
// Keys that cannot change at run time (RESTART_KEYS) keep their running value; the log names them.
// The outcome is kept for /readyz, /api/v1/status and the dashboard, and written to
// <state_dir>/reload.json for `quorumbl reload --wait`.

import { writeFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, loadConfig, type LoadedConfig } from '../../core/config/load.ts';
import { datasetLabel } from '../../core/zones/spec.ts';
import { job } from '../../core/jobs.ts';
import { mirrorZones, ownNs, ownSoa, setupSync, withResolvedPaths, type SyncSetup } from '../sync.ts';
import { zonesFromConfig } from '../spec.ts';
import type { Serving } from './context.ts';
import { makeScheduler, watchSyncState } from './sync.ts';
import { prepareWeb } from './web.ts';
import { reconfigureTransfer } from './transfer.ts';

/** Read once at start: the listeners and the loader's settings are built from them. */
export const RESTART_KEYS = ['state_dir', 'server', 'ttl', 'load', 'reload', 'background', 'web.enabled'] as const;

export interface ReloadStatus {
  /** Counts reloads since start (`quorumbl reload --wait` waits for it to rise). */
  seq: number;
  pid: number;
  ok: boolean;
  at: string;
  /** Why the reload was refused (the running config stays in force). */
  errors: string[];
  /** Keys changed in the file that need a restart (their running value stays). */
  restart: string[];
  /** The merge that follows an applied reload: a failed one keeps the evidence in force. */
  merge: 'pending' | 'ok' | 'failed' | null;
}

export function reloadStatusFile(stateDir: string): string {
  return join(stateDir, 'reload.json');
}

const get = (o: unknown, key: string): unknown => key.split('.').reduce<unknown>((v, k) => (v as Record<string, unknown> | undefined)?.[k], o);
const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/** The new config with every restart key set back to its running value; the keys that differed. */
function keepRestartKeys(running: LoadedConfig, next: LoadedConfig): string[] {
  const changed: string[] = [];
  for (const key of RESTART_KEYS) {
    if (same(get(running.config, key), get(next.config, key))) continue;
    changed.push(key);
    const path = key.split('.');
    const parent = path.slice(0, -1).reduce<Record<string, unknown>>((v, k) => v[k] as Record<string, unknown>, next.config as unknown as Record<string, unknown>);
    parent[path.at(-1)!] = get(running.config, key);
  }
  return changed;
}

export class ConfigReloader {
  private seq = 0;
  private chain: Promise<unknown> = Promise.resolve();
  status: ReloadStatus | null = null;

  constructor(private readonly s: Serving) {}

  /** Reloads are applied one after the other; resolves with this one's outcome. */
  reload(why: string): Promise<ReloadStatus> {
    const run = this.chain.then(() => this.apply(why));
    this.chain = run.catch(() => {});
    return run;
  }

  private record(st: Omit<ReloadStatus, 'seq' | 'pid' | 'at'>): ReloadStatus {
    this.status = { seq: ++this.seq, pid: process.pid, at: new Date().toISOString(), ...st };
    this.save();
    return this.status;
  }

  private save(): void {
    const file = reloadStatusFile(this.s.stateDir);
    try {
      writeFileSync(file + '.tmp', JSON.stringify(this.status) + '\n');
      renameSync(file + '.tmp', file);
    } catch (err) {
      this.s.log.warn({ file, err: (err as Error).message }, 'reload outcome not written (quorumbl reload --wait cannot see it)');
    }
  }

  private fail(errors: string[], restart: string[] = []): ReloadStatus {
    for (const e of errors) this.s.log.error({ problem: e }, 'config reload: error');
    this.s.log.error({ config: this.s.cfg.file, errors: errors.length }, 'config reload refused: the running config stays in force');
    return this.record({ ok: false, errors, restart, merge: null });
  }

  private async apply(why: string): Promise<ReloadStatus> {
    const s = this.s;
    const { log } = s;
    log.info({ config: s.cfg.file, why }, 'config reload: reading the config file');
    let next: LoadedConfig;
    try {
      next = loadConfig(s.cfg.file);
    } catch (e) {
      if (e instanceof ConfigError) return this.fail(e.problems);
      return this.fail([(e as Error).message]);
    }
    const restart = keepRestartKeys(s.cfg, next);

    // Prepare: nothing here changes what is served.
    const web = await prepareWeb(s, next);
    if ('errors' in web) return this.fail(web.errors, restart);
    const zones = await s.store.prepareZones(zonesFromConfig(next, s.stateDir));
    if (zones.failures.length) {
      await web.abort();
      return this.fail(zones.failures.map((f) => `${f.spec.files.join(',')}: ${datasetLabel(f.spec)}: ${f.error}`), restart);
    }

    // Commit: nothing below is expected to throw; if something does, say so loudly (what ran
    // before it is in force) rather than leave the outcome unrecorded.
    try {
      return await this.commit(next, restart, web, zones);
    } catch (err) {
      log.error({ err: (err as Error).message, stack: (err as Error).stack }, 'config reload failed while being applied: part of the new config may be in force; fix the cause and reload again, or restart');
      return this.record({ ok: false, errors: [`applying the config failed: ${(err as Error).message}`], restart, merge: null });
    }
  }

  private async commit(next: LoadedConfig, restart: string[], web: { commit: () => Promise<void> }, zones: { commit: () => void }): Promise<ReloadStatus> {
    const s = this.s;
    const { log } = s;
    const c = next.config;
    const old = s.cfg.config;
    for (const key of restart) log.warn({ key }, `config reload: ${key} cannot change at run time; restart quorumbl serve to apply it (the running value stays)`);
    const syncChanged = !same(old.sources, c.sources) || !same(old.sync, c.sync) || !same(old.soa, c.soa) || old.base !== c.base;
    let oldSync: SyncSetup | undefined;
    if (syncChanged) {
      await s.scheduler?.stop();
      s.syncWatch?.stop();
      oldSync = s.sync;
      s.sync = setupSync(next, s.stateDir, { ttl: { def: c.ttl.default, min: c.ttl.min, max: c.ttl.max }, acceptHostBits: c.load.accept_host_bits, gunzip: c.load.gunzip }, log, job('reload:synced', () => s.store.check()), undefined, c.background.cpu_share, s.disk);
    }
    s.cfg = next;
    if (old.log.level !== c.log.level) log.level = c.log.level;
    zones.commit();
    s.local.configure(c.policy.reputation, c.policy.override_limits);
    if (syncChanged) {
      s.scheduler = makeScheduler(s);
      s.syncWatch = watchSyncState(s);
      if (oldSync) closeWhenIdle(oldSync, old.sources.map((x) => x.name));
    }
    const mirrors = mirrorZones(next, s.stateDir);
    const merged = s.merge.reconfigure({
      config: withResolvedPaths(next),
      sourceSpecs: new Map(c.sources.map((x, i) => [x.name, mirrors[i]!.datasets[0]!])),
      state: s.sync.state,
      soa: mirrors[0]?.soa ?? ownSoa(next),
      ns: mirrors[0]?.ns ?? ownNs(next),
    });
    await web.commit();
    reconfigureTransfer(s);
    if (syncChanged && s.scheduler) s.scheduler.start();
    log.info({ config: next.file, zones: s.store.published.map((z) => z.name), sources: c.sources.map((x) => x.name), restart }, 'config reload applied');
    const st = this.record({ ok: true, errors: [], restart, merge: 'pending' });
    const ok = await merged.catch(() => false);
    st.merge = ok ? 'ok' : 'failed';
    if (!ok) log.error('config reload: the merge failed; bl/wl/dbl keep answering from the evidence in force');
    this.save();
    return st;
  }
}

/** An old sync engine's running syncs finish (their copies are picked up as usual); then its
 *  database handle is closed. */
function closeWhenIdle(old: SyncSetup, names: string[]): void {
  const t = setInterval(() => {
    if (names.some((n) => old.engine.isRunning(n))) return;
    clearInterval(t);
    old.close();
  }, 1000);
  t.unref();
}
