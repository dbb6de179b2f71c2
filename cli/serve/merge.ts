// bl/wl/dbl with their overlay are in the zone table before the listeners open: the evidence
// the last merge persisted answers the first packet (sync/merge/persist.ts).

import type { LoadedConfig } from '../../core/config/load.ts';
import type { Logger } from '../../core/log.ts';
import { openDb, readOnlyReason, type Db } from '../../core/db.ts';
import type { DiskHealth } from '../../core/disk-health.ts';
import { job, jobFailed } from '../../core/jobs.ts';
import type { ZoneStore } from '../../core/zones/store.ts';
import type { LoadSettings } from '../../core/zones/spec.ts';
import { MergeService } from '../../sync/merge-service.ts';
import { LocalStore } from '../../sync/local/store.ts';
import { mirrorZones, setupSync, dbPath, ownSoa, ownNs, withResolvedPaths, type SyncSetup } from '../sync.ts';

export interface MergeParts {
  sync: SyncSetup;
  merge: MergeService;
  local: LocalStore;
  localDb: Db;
}

export function setupMerge(cfg: LoadedConfig, stateDir: string, settings: LoadSettings, store: ZoneStore, disk: DiskHealth, log: Logger): MergeParts {
  const c = cfg.config;
  const sources = c.sources;
  // A new last good copy is picked up at once, not at the next file check.
  const sync = setupSync(cfg, stateDir, settings, log, job('reload:synced', () => store.check()), undefined, c.background.cpu_share, disk);
  const mirrors = mirrorZones(cfg, stateDir);
  const merge = new MergeService({
    config: withResolvedPaths(cfg),
    stateDir,
    store,
    sourceSpecs: new Map(sources.map((s, i) => [s.name, mirrors[i]!.datasets[0]!])),
    state: sync.state,
    log,
    soa: mirrors[0]?.soa ?? ownSoa(cfg),
    ns: mirrors[0]?.ns ?? ownNs(cfg),
    persist: true,
  });
  // Overrides and reputation: an overlay swapped into the merged zones synchronously, so an
  // override is in the next DNS answer; changes from other processes (the CLI) within a second.
  const localDb = openDb(dbPath(stateDir), { readOnlyFallback: true });
  const ro = readOnlyReason(localDb);
  if (ro) disk.pinReadOnly(ro.code, `state database ${ro.why}`);
  const local = new LocalStore(localDb, {
    reputation: c.policy.reputation,
    overrideLimits: c.policy.override_limits,
    onChange: (o) => merge.setOverlay(o),
    onError: (e) => {
      jobFailed('overlay-reload', e);
      log.error({ err: (e as Error).message }, 'overrides/reputation reload failed');
    },
    disk,
  });
  merge.setOverlay(local.overlay);
  merge.useCollisionHistory(localDb);
  merge.restore();
  return { sync, merge, local, localDb };
}
