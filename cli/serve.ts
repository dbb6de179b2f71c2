// `quorumbl serve`: the DNS server with the merge, the source sync, the overlay and the web.
// The parts are wired in cli/serve/*.ts; this file says in what order they start. SIGHUP and
// `quorumbl reload` re-read the config file (cli/serve/reload.ts).

import { createLogger } from '../core/log.ts';
import { loadConfig } from '../core/config/load.ts';
import { parseServeArgs } from './args.ts';
import { run } from './runtime.ts';
import { specFromConfig } from './spec.ts';
import { VERSION } from './version.ts';
import type { MergeService } from '../sync/merge-service.ts';
import type { LoadedZone } from '../core/zones/store.ts';
import type { Serving } from './serve/context.ts';
import { watchDisk } from './serve/disk.ts';
import { setupMerge, type MergeParts } from './serve/merge.ts';
import { makeScheduler, watchSyncState } from './serve/sync.ts';
import { startWebs } from './serve/web.ts';
import { ConfigReloader } from './serve/reload.ts';
import { servePidFile, removePidFile } from './reload.ts';
import { recentEvents } from './offline-merge.ts';
import { replicaWanted, serveReplica } from './serve/replica.ts';
import { setupCatalog } from './serve/catalog.ts';
import { startTransfer } from './serve/transfer.ts';

export async function serve(args: string[]): Promise<void> {
  const flags = parseServeArgs(args);
  const cfg = loadConfig(flags.config);
  const log = createLogger(cfg.config.log.level);
  log.info({ config: cfg.file }, `quorumbl ${VERSION} starting`);
  if (replicaWanted(cfg, flags)) return serveReplica(cfg, flags, log);
  const spec = specFromConfig(cfg);
  const stateDir = spec.stateDir!;
  // `quorumbl reload` finds the running serve by this file (written once DNS listens).
  spec.pidFile = servePidFile(stateDir);
  spec.pidFileOptional = true;
  process.on('exit', () => removePidFile(spec.pidFile!));
  // transfer.catalog: the RFC 9432 catalog of the transferable zones, rebuilt on every zone change.
  const catalog = setupCatalog(cfg, stateDir, log);
  if (catalog) spec.extendZones = (zones) => catalog.extend(zones);
  let merge: MergeService | undefined;
  // Every reload (a new mirror copy included) re-runs the merge, debounced.
  let loadedZones: readonly LoadedZone[] = [];
  spec.onZonesChanged = (zones) => {
    loadedZones = zones;
    if (serving) serving.loadedZones = zones;
    merge?.schedule();
  };
  const startedAt = Date.now();
  const disk = watchDisk(stateDir, log);
  let parts!: MergeParts;
  spec.beforeListen = (store) => {
    parts = setupMerge(cfg, stateDir, spec.settings, store, disk, log);
    parts.merge.publish(); // before `merge` is set: this publication asks for no merge (start() runs it)
    merge = parts.merge;
  };
  let serving: Serving | undefined;
  const { server, store } = await run(spec, log);
  if (!merge) throw new Error('merge service not set up before listening');
  const s: Serving = { cfg, log, stateDir, startedAt, disk, server, store, ...parts, loadedZones };
  serving = s;
  s.scheduler = makeScheduler(s);
  // The probe's database write: the header's user_version, rewritten with its own value.
  const uv = () => s.localDb.pragma('user_version', { simple: true }) as number;
  disk.sqliteProbe = () => void s.localDb.pragma(`user_version = ${uv() | 0}`);
  disk.start();
  // Polls PRAGMA data_version (no query unless another process committed): an override or a
  // report from the CLI is in the answers well within a second.
  s.local.watch(250);
  s.syncWatch = watchSyncState(s);
  s.merge.events = (key) => recentEvents(s.local, key);
  startTransfer(s);
  if (cfg.config.web.enabled) await startWebs(s);
  await s.merge.start();
  log.info({ zones: s.merge.zoneNames }, 'merged zones served');
  if (s.scheduler) {
    s.scheduler.start();
    log.info({ sources: cfg.config.sources.map((x) => `${x.name}.mirror.${cfg.config.base}`) }, 'source sync scheduled');
  }
  // From now on SIGHUP (and `quorumbl reload`) re-reads the config file too.
  const reloader = new ConfigReloader(s);
  s.reloader = reloader;
  spec.onHangup = () => reloader.reload('SIGHUP');
}
