// `transfer.notify`: a Notifier (server/xfr/notify.ts) told of every new version of a zone; its
// outcomes are counted in the server's counters (/metrics quorumbl_xfr_notify_total).

import type { LoadedConfig } from '../../core/config/load.ts';
import { resolveTransferZone } from '../../core/config/transfer.ts';
import type { Logger } from '../../core/log.ts';
import type { Counters } from '../../server/counters.ts';
import { Notifier } from '../../server/xfr/notify.ts';
import type { Serving } from './context.ts';

/** null when there is no transfer config or no notify target. */
export function setupNotify(cfg: LoadedConfig, log: Logger, counters: Counters): Notifier | null {
  const t = cfg.config.transfer;
  if (!t || t.notify.length === 0) return null;
  const base = cfg.config.base;
  return new Notifier({
    targets: t.notify.map((n) => ({
      address: n.address.address.includes(':') ? `[${n.address.address}]:${n.address.port}` : `${n.address.address}:${n.address.port}`,
      key: n.key ?? undefined,
      zones: n.zones.map((z) => resolveTransferZone(z, base)),
    })),
    keys: t.keys,
    log,
    onAnswered: () => counters.notifyAnswered++,
    onFailure: () => counters.notifyFailed++,
  });
}

/** NOTIFY on every new version of a transferred zone; the targets follow config reloads
 *  (rebuilt when `s.cfg` is a new config object). */
export function startNotify(s: Serving): void {
  if (!s.transfer) return;
  let cfg = s.cfg;
  let notifier = setupNotify(cfg, s.log, s.server.counters);
  s.transfer.onNewVersion((zone, serial) => {
    if (s.cfg !== cfg) {
      notifier?.close();
      cfg = s.cfg;
      notifier = setupNotify(cfg, s.log, s.server.counters);
    }
    notifier?.notify(zone, serial);
  });
}
