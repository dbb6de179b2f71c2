// What the parts of a running `serve` share: one object, read at call time by the API, the
// console and the metrics, so a part replaced later is what they see next.

import type { LoadedConfig } from '../../core/config/load.ts';
import type { Logger } from '../../core/log.ts';
import type { Db } from '../../core/db.ts';
import type { DiskHealth } from '../../core/disk-health.ts';
import type { LoadedZone, ZoneStore } from '../../core/zones/store.ts';
import type { DnsServer } from '../../server/index.ts';
import type { MergeService } from '../../sync/merge-service.ts';
import type { LocalStore } from '../../sync/local/store.ts';
import type { SyncScheduler } from '../../sync/scheduler.ts';
import type { SyncStateWatch } from '../../sync/watch.ts';
import type { SyncSetup } from '../sync.ts';
import type { ConfigReloader } from './reload.ts';
import type { WebListeners } from './web.ts';
import type { TransferService } from '../../server/xfr/index.ts';

export interface Serving {
  cfg: LoadedConfig;
  log: Logger;
  stateDir: string;
  startedAt: number;
  disk: DiskHealth;
  server: DnsServer;
  store: ZoneStore;
  merge: MergeService;
  local: LocalStore;
  localDb: Db;
  sync: SyncSetup;
  scheduler?: SyncScheduler;
  /** Entries per zone for the console's dashboard, as the last zone table swap loaded them. */
  loadedZones: readonly LoadedZone[];
  syncWatch?: SyncStateWatch;
  /** The web listeners (unset while web.enabled is false). */
  web?: WebListeners;
  reloader?: ConfigReloader;
  /** Zone transfers (set while `transfer:` is configured; cli/serve/transfer.ts). */
  transfer?: TransferService;
}
