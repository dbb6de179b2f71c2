// Zone transfers as one service: the versions (materialised zones + IXFR journal), the access
// rules and the TCP handler. `serve` (cli/serve/transfer.ts) creates it when `transfer:` is
// configured, hands `handler` to DnsServer.setTransferHandler, and reconfigures it on reload.

import type { Logger } from '../../core/log.ts';
import type { TransferConfig } from '../../core/config/transfer.ts';
import type { ZoneTable } from '../zones.ts';
import type { Counters } from '../counters.ts';
import { TransferAccess } from './access.ts';
import { TransferServer } from './transfer.ts';
import { ZoneVersions } from './versions.ts';

export { ZoneVersions, recordFromKey, type ZoneVersion, type JournalEntry, type ZoneState } from './versions.ts';
export { TransferServer, isTransferQuery, type TransferHandler, type TransferOut } from './transfer.ts';
export { TransferAccess } from './access.ts';
export { serialGt, serialGe } from './serial.ts';

export class TransferService {
  readonly versions: ZoneVersions;
  readonly handler: TransferServer;
  private access: TransferAccess;

  constructor(cfg: TransferConfig, base: string, table: () => ZoneTable, log: Logger, counters?: Counters) {
    this.access = new TransferAccess(cfg, base);
    this.versions = new ZoneVersions({
      journal: cfg.journal,
      maxExpansion: cfg.max_expansion,
      delayMs: cfg.delay * 1000,
      table,
      wanted: (z) => this.access.wanted(z),
      log,
      onFailure: () => counters && counters.xfrMaterialiseFailed++,
    });
    this.handler = new TransferServer({
      versions: this.versions,
      access: () => this.access,
      served: (z) => table().zones.some((x) => x.name === z),
      log,
      onOutcome: (o) => {
        if (!counters) return;
        if (o === 'axfr') counters.xfrAxfr++;
        else if (o === 'ixfr') counters.xfrIxfr++;
        else if (o === 'failed') counters.xfrFailed++;
        else counters.xfrRefused++;
      },
    });
  }

  /** Same as `versions.onNewVersion`: NOTIFY hooks here. */
  onNewVersion(listener: (zone: string, serial: number) => void): void {
    this.versions.onNewVersion(listener);
  }

  start(): void {
    this.versions.start();
  }

  /** A reload: new keys and acl apply to the next transfer; zones newly covered are materialised. */
  configure(cfg: TransferConfig, base: string): void {
    this.access = new TransferAccess(cfg, base);
    this.versions.configure({ journal: cfg.journal, maxExpansion: cfg.max_expansion, delayMs: cfg.delay * 1000, wanted: (z) => this.access.wanted(z) });
  }

  stop(): Promise<void> {
    return this.versions.stop();
  }
}
