// Zone transfers in `serve` (server/xfr): started when `transfer:` is configured, following
// the server's zone table (swaps and in-place serials), reconfigured on reload (keys and acl
// apply to the next transfer), stopped when a reload removes `transfer:`.

import { TransferService } from '../../server/xfr/index.ts';
import type { Serving } from './context.ts';
import { startNotify } from './notify.ts';

export function startTransfer(s: Serving): void {
  const t = s.cfg.config.transfer;
  if (!t || s.transfer) return;
  const svc = new TransferService(t, s.cfg.config.base, () => s.server.zones, s.log, s.server.counters);
  s.server.setTransferHandler(svc.handler, svc.signAnswer);
  svc.start();
  s.transfer = svc;
  startNotify(s); // transfer.notify: NOTIFY on every new version (also when a reload adds transfer:)
  s.log.info({ keys: t.keys.map((k) => k.name), acl: Object.keys(t.acl), journal: t.journal }, 'zone transfers (AXFR/IXFR over TCP) enabled');
}

/** After a config reload was committed (s.cfg is the new config). */
export function reconfigureTransfer(s: Serving): void {
  const t = s.cfg.config.transfer;
  if (!t) {
    if (!s.transfer) return;
    s.server.setTransferHandler(null);
    void s.transfer.stop();
    s.transfer = undefined;
    s.log.info('zone transfers disabled (transfer: removed from the config)');
    return;
  }
  if (!s.transfer) return startTransfer(s);
  s.transfer.configure(t, s.cfg.config.base);
}

export function stopTransfer(s: Serving): Promise<void> {
  s.server.setTransferHandler(null);
  return s.transfer?.stop() ?? Promise.resolve();
}
