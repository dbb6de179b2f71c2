// `transfer.catalog`: the RFC 9432 catalog zone served beside the others (server/xfr/catalog.ts).
// Every published zone list (start, a reload adding or removing zones, a new mirror) passes
// through `extend`, which appends the catalog built from the zones that are transferable (an
// ACL entry in `transfer.acl` names them or '*', and they have an SOA). The serial rises only when the membership
// changes; it and the members are kept in <state_dir>/catalog.json, so a restart with the same
// zones keeps the serial (no needless transfer) and a changed set gets a higher one.

import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LoadedConfig } from '../../core/config/load.ts';
import { aclFor } from '../../core/config/transfer.ts';
import type { Logger } from '../../core/log.ts';
import type { LoadedZone } from '../../core/zones/store.ts';
import { catalogDataset, catalogMembers } from '../../server/xfr/catalog.ts';
import { ownSoa } from '../sync.ts';

interface Saved {
  members: string[];
  serial: number;
}

export interface Catalog {
  readonly name: string;
  /** The zone list with the catalog appended. */
  extend(zones: readonly LoadedZone[]): LoadedZone[];
  /** Members and serial as last built (tests, logs). */
  readonly members: readonly string[];
  readonly serial: number;
}

/** null when `transfer.catalog` is not set. */
export function setupCatalog(cfg: LoadedConfig, stateDir: string, log: Logger): Catalog | null {
  const t = cfg.config.transfer;
  if (!t?.catalog) return null;
  const name = t.catalog;
  const base = cfg.config.base;
  const soa = ownSoa(cfg);
  const file = join(stateDir, 'catalog.json');
  let saved: Saved | null = null;
  try {
    const v = JSON.parse(readFileSync(file, 'utf8')) as Saved;
    if (Array.isArray(v.members) && Number.isInteger(v.serial)) saved = v;
  } catch {
    /* first start, or unreadable: a fresh serial */
  }
  let members: string[] = saved?.members ?? [];
  let serial = saved?.serial ?? 0;
  let zone: LoadedZone | null = null;
  const build = () => {
    zone = { name, datasets: [catalogDataset(members, soa, serial)], newestMtime: 0, failed: false };
  };
  if (saved) build();
  return {
    name,
    get members() {
      return members;
    },
    get serial() {
      return serial;
    },
    extend(zones) {
      const now = catalogMembers(
        name,
        // a zone without an SOA (an rbldnsd zone with no $SOA) can never be transferred
        zones
          .filter((z) => z.name !== '' && z.datasets.some((d) => d.meta.soa) && aclFor(t, base, z.name.toLowerCase().replace(/\.$/, '')) !== undefined)
          .map((z) => z.name),
      );
      if (!zone || now.join('\n') !== members.join('\n')) {
        const before = members;
        members = now;
        // unix time keeps it above any serial of an earlier run; +1 when two changes share a second
        serial = Math.max((serial + 1) >>> 0, Math.floor(Date.now() / 1000));
        build();
        const added = now.filter((m) => !before.includes(m));
        const removed = before.filter((m) => !now.includes(m));
        log.info({ catalog: name, serial, added, removed }, 'catalog zone membership changed');
        try {
          writeFileSync(`${file}.tmp`, JSON.stringify({ members, serial } satisfies Saved) + '\n');
          renameSync(`${file}.tmp`, file);
        } catch (err) {
          log.warn({ file, err: (err as Error).message }, 'catalog serial not saved: a restart will give the catalog a new serial');
        }
      }
      return [...zones.filter((z) => z.name.toLowerCase().replace(/\.$/, '') !== name), zone!];
    },
  };
}
