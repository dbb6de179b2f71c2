// Disk trouble (full, read-only, I/O errors) never stops DNS: it is watched, writes are
// refused while it lasts, and leftovers of interrupted jobs go before anything loads.

import type { Logger } from '../../core/log.ts';
import { openDb } from '../../core/db.ts';
import { DiskHealth } from '../../core/disk-health.ts';
import { cleanPartials } from '../../sync/cleanup.ts';
import { SyncLeases } from '../../sync/lease.ts';
import { dbPath } from '../sync.ts';

export function watchDisk(stateDir: string, log: Logger): DiskHealth {
  const disk = new DiskHealth({ dir: stateDir, dbPath: dbPath(stateDir), log });
  if (disk.probe() === 'writable') {
    // A `quorumbl sync` running from a shell holds its source's lease: its staging files are live.
    try {
      const leaseDb = openDb(dbPath(stateDir));
      try {
        const leases = new SyncLeases(leaseDb);
        cleanPartials(stateDir, { log, isBusy: (source) => leases.holderOf(source) !== null });
      } finally {
        leaseDb.close();
      }
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'leftover partial files not removed (the state database cannot be read)');
    }
  }
  return disk;
}
