// Who may transfer which zone: per zone (or '*'), a client address in `allow` AND a request
// signed with one of `keys` (checked by core/dns/tsig.ts verifyRequest). Built from the
// `transfer:` config; a reload builds a new one.

import { resolveTransferZone, type TransferConfig } from '../../core/config/transfer.ts';
import { prepareKey, type PreparedKey } from '../../core/dns/tsig.ts';
import { ClientAcl } from '../acl.ts';

interface Entry {
  allow: ClientAcl;
  keys: ReadonlySet<string>;
}

export type Verdict = { ok: true } | { ok: false; why: string };

export class TransferAccess {
  /** Every configured key by lowercase name. */
  readonly keys: ReadonlyMap<string, PreparedKey>;
  private readonly entries = new Map<string, Entry>();
  private readonly star: Entry | null;

  constructor(cfg: TransferConfig, base: string) {
    this.keys = new Map(cfg.keys.map((k) => [k.name.toLowerCase(), prepareKey(k)]));
    let star: Entry | null = null;
    for (const [zone, e] of Object.entries(cfg.acl)) {
      const entry = { allow: new ClientAcl(e.allow), keys: new Set(e.keys.map((k) => k.toLowerCase())) };
      const full = resolveTransferZone(zone, base);
      if (full === '*') star = entry;
      else this.entries.set(full, entry);
    }
    this.star = star;
  }

  /** Whether anyone could transfer `zone` (only such zones are materialised). */
  wanted(zone: string): boolean {
    return this.entries.has(zone) || this.star !== null;
  }

  /** `key`: the name of the key that signed the request (verified), or null when unsigned. */
  check(zone: string, client: string, key: string | null): Verdict {
    const e = this.entries.get(zone) ?? this.star;
    if (!e) return { ok: false, why: 'no transfer acl entry covers this zone' };
    if (!e.allow.allows(client)) return { ok: false, why: 'client address not in the acl' };
    if (key === null) return { ok: false, why: 'request not signed (TSIG required)' };
    if (!e.keys.has(key)) return { ok: false, why: `key ${key} is not allowed for this zone` };
    return { ok: true };
  }
}
