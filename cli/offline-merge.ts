// The merged zones as a shell command sees them (explain, export): the mirrors a ZoneStore
// loaded from their snapshots, the overrides and scores of the state database, and a
// MergeService that never persists (the evidence file and kept serial are the running serve's).
// The caller runs the merge (restore() or rebuild()) and closes `db`.

import type { Logger } from '../core/log.ts';
import type { LoadedConfig } from '../core/config/load.ts';
import { openDb, type Db } from '../core/db.ts';
import type { ZoneStore } from '../core/zones/store.ts';
import type { ZoneSpec } from '../core/zones/spec.ts';
import { LocalStore } from '../sync/local/store.ts';
import { MergeService } from '../sync/merge-service.ts';
import type { ReputationEvent } from '../sync/merge/explain.ts';
import { SyncState } from '../sync/state.ts';
import { dbPath, ownNs, ownSoa, withResolvedPaths } from './sync.ts';

/** A key's recent reputation events for explain (none when the key is not a valid one). */
export function recentEvents(local: LocalStore, key: string): ReputationEvent[] {
  try {
    return local.reputation.events(key, 20) as unknown as ReputationEvent[];
  } catch {
    return [];
  }
}

/** `mirrors`: the mirror zone specs (cli/sync.ts mirrorZones), one per source in config order. */
export function offlineMerge(cfg: LoadedConfig, stateDir: string, store: ZoneStore, mirrors: ZoneSpec[], log: Logger): { merge: MergeService; db: Db } {
  const c = cfg.config;
  const db = openDb(dbPath(stateDir));
  try {
    const local = new LocalStore(db, { reputation: c.policy.reputation });
    const merge = new MergeService({
      config: withResolvedPaths(cfg),
      stateDir,
      store,
      sourceSpecs: new Map(c.sources.map((s, i) => [s.name, mirrors[i]!.datasets[0]!])),
      state: new SyncState(db),
      log,
      soa: ownSoa(cfg),
      ns: ownNs(cfg),
    });
    merge.setOverlay(local.overlay);
    merge.events = (k) => recentEvents(local, k);
    return { merge, db };
  } catch (e) {
    db.close();
    throw e;
  }
}
