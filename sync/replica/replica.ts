// Replica mode: keeps a copy of each of a primary's zones current and hands the served set to
// the DNS server. Per zone: SOA polling at the zone's refresh (retry after a failure), a refresh
// at once on NOTIFY from the primary, IXFR from the held serial (AXFR when the primary answers
// with a full zone or the difference does not fit), the copy saved to disk after every change.
// A failed exchange keeps the last copy serving; past the SOA expire it is still served (the
// issue asks for that) and the zone is marked expired (log and status file).
// The zones: a fixed list, or the members of the primary's catalog zone (RFC 9432), followed.

import { writeFileSync, renameSync, mkdirSync, rmSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Dataset, DatasetMeta } from '../../core/datasets/types.ts';
import { parseMessage } from '../../core/dns/message.ts';
import { ResponseSigner, signError, TSIG_ERRORS, verifyRequest, type PreparedKey, type RequestTsig } from '../../core/dns/tsig.ts';
import type { Logger } from '../../core/log.ts';
import type { ZoneRecord } from '../../core/zones/records.ts';
import { catalogMembers } from './catalog.ts';
import { copyFile, listCopies, loadCopy, removeCopy, saveCopy } from './persist.ts';
import { refreshZone, TransferError, type Primary } from './transfer.ts';
import { applySteps, copyMeta, dataRecords, type ZoneCopy } from './zone-copy.ts';

export interface ReplicaOptions {
  primary: Primary;
  /** The zones to keep; null = the members of `catalog`. */
  zones: string[] | null;
  catalog: string | null;
  /** Folder of the zone copies and status.json. */
  dir: string;
  log: Logger;
  /** Addresses a NOTIFY is accepted from (the primary's). */
  notifyFrom: string[];
  /** Name of the TSIG key (`primary.key`): a NOTIFY signed with it is verified, its reply signed. */
  keyName?: string | null;
  /** Seconds between attempts while a zone has no copy (its SOA retry is not known yet). */
  firstRetry: number;
  /** The served form of a copy (core/datasets/records.ts RecordsDataset). */
  makeDataset(records: ZoneRecord[], meta: DatasetMeta): Dataset;
  /** Called with every zone after any change: dataset null = no copy yet (SERVFAIL). */
  onChange(zones: readonly ServedZone[]): void;
}

export interface ServedZone {
  name: string;
  dataset: Dataset | null;
}

export interface ZoneStatus {
  zone: string;
  serial: number | null;
  records: number;
  /** 'snapshot' until the primary first confirms or replaces it */
  from: 'snapshot' | 'primary' | null;
  lastSuccess: string | null;
  lastAttempt: string | null;
  lastError: string | null;
  /** No contact with the primary for longer than the SOA expire: still served. */
  expired: boolean;
  catalog: boolean;
}

interface ZoneState {
  zone: string;
  catalog: boolean;
  copy: ZoneCopy | null;
  dataset: Dataset | null;
  from: 'snapshot' | 'primary' | null;
  timer: NodeJS.Timeout | null;
  running: boolean;
  again: boolean;
  /** ms: when the primary last confirmed or gave the copy; the snapshot's load time counts as 0 */
  lastSuccess: number;
  /** ms: last success, or when the saved copy was loaded (the SOA expire counts from it) */
  fresh: number;
  lastAttempt: number;
  lastError: string | null;
  expired: boolean;
  removed: boolean;
}

const MAX_TIMER_S = 86_400;
const RCODE_FORMERR = 1;
const RCODE_REFUSED = 5;
const RCODE_NOTAUTH = 9;

/** The reply to a NOTIFY (server/responder.ts NotifyVerdict, which this matches). */
export interface NotifyAnswer {
  rcode: number;
  sign?: (reply: Buffer) => Buffer;
}
const REJECT_LOG_EVERY_MS = 60_000;

export class Replica {
  private readonly zones = new Map<string, ZoneState>();
  private stopped = false;
  private rejectedNotifies = 0;
  private lastRejectLog = 0;
  private readonly notifyFrom: Set<string>;
  private readonly keys = new Map<string, PreparedKey>();

  constructor(private readonly o: ReplicaOptions) {
    this.notifyFrom = new Set(o.notifyFrom.map(plainAddress));
    if (o.primary.key && o.keyName) this.keys.set(o.keyName.toLowerCase().replace(/\.$/, ''), o.primary.key);
  }

  /** Loads the saved copies (served at once), then starts refreshing every zone. */
  start(): void {
    mkdirSync(this.o.dir, { recursive: true });
    for (const f of readdirSync(this.o.dir)) if (/\.copy\.tmp-\d+$/.test(f)) rmSync(join(this.o.dir, f), { force: true });
    const catalog = this.o.zones === null ? this.o.catalog : null;
    if (catalog) {
      const st = this.add(catalog, true);
      this.loadSaved(st);
      if (st.copy) for (const z of catalogMembers(st.copy).zones) this.loadSaved(this.add(z, false));
    } else {
      for (const z of this.o.zones ?? []) this.loadSaved(this.add(z, false));
    }
    // copies of zones we no longer keep (removed from the list or the catalog meanwhile)
    for (const z of listCopies(this.o.dir)) {
      if (!this.zones.has(z)) {
        this.o.log.info({ zone: z }, 'replica: removing the copy of a zone no longer kept');
        removeCopy(this.o.dir, z);
      }
    }
    this.publish();
    for (const st of this.zones.values()) this.kick(st);
  }

  stop(): void {
    this.stopped = true;
    for (const st of this.zones.values()) if (st.timer) clearTimeout(st.timer);
  }

  /** NOTIFY for `zone` from `client` (`query`: the whole message): accepted (NOERROR, a refresh
   *  follows at once) only from the primary's addresses and for a zone we keep; a signed one
   *  must verify with our key (NOTAUTH otherwise) and its reply is signed. Never logs per
   *  packet: refusals are counted and logged at most once a minute. */
  notify(zone: string, client: string, query?: Buffer): NotifyAnswer {
    const st = this.zones.get(zone);
    if (!st) return this.reject(zone, client, 'for a zone this replica does not keep', RCODE_REFUSED);
    if (!this.notifyFrom.has(plainAddress(client))) return this.reject(zone, client, 'from an address that is not the primary', RCODE_REFUSED);
    let sign: ((reply: Buffer) => Buffer) | undefined;
    if (query) {
      let tsig: RequestTsig;
      try {
        tsig = verifyRequest(parseMessage(query), this.keys);
      } catch (err) {
        return this.reject(zone, client, `malformed: ${(err as Error).message}`, RCODE_FORMERR);
      }
      if (tsig.signed && 'nameWire' in tsig) {
        const bad = tsig;
        const r = this.reject(zone, client, `TSIG ${TSIG_ERRORS[bad.error] ?? bad.error} (key ${bad.keyName})`, RCODE_NOTAUTH);
        return { ...r, sign: (reply) => signError(reply, bad) };
      }
      if (tsig.signed && tsig.key) {
        const { key, mac, origId } = tsig;
        sign = (reply) => new ResponseSigner(key, mac, origId).sign(reply);
      }
    }
    setImmediate(() => this.kick(st));
    return sign ? { rcode: 0, sign } : { rcode: 0 };
  }

  private reject(zone: string, client: string, why: string, rcode: number): NotifyAnswer {
    this.rejectedNotifies++;
    const now = Date.now();
    if (now - this.lastRejectLog >= REJECT_LOG_EVERY_MS) {
      this.lastRejectLog = now;
      this.o.log.warn({ zone, client, why, rejected: this.rejectedNotifies }, 'replica: NOTIFY refused');
    }
    return { rcode };
  }

  status(): ZoneStatus[] {
    const iso = (t: number) => (t ? new Date(t).toISOString() : null);
    return [...this.zones.values()].map((st) => ({
      zone: st.zone, serial: st.copy?.soa.serial ?? null, records: st.copy?.records.length ?? 0, from: st.from,
      lastSuccess: iso(st.lastSuccess), lastAttempt: iso(st.lastAttempt), lastError: st.lastError, expired: st.expired,
      catalog: st.catalog,
    }));
  }

  /** The zones kept now (the catalog's included). */
  get zoneNames(): string[] {
    return [...this.zones.keys()];
  }

  private add(zone: string, catalog: boolean): ZoneState {
    const st: ZoneState = {
      zone, catalog, copy: null, dataset: null, from: null, timer: null, running: false, again: false,
      lastSuccess: 0, fresh: 0, lastAttempt: 0, lastError: null, expired: false, removed: false,
    };
    this.zones.set(zone, st);
    return st;
  }

  private loadSaved(st: ZoneState): void {
    const file = copyFile(this.o.dir, st.zone);
    let copy: ZoneCopy;
    try {
      copy = loadCopy(file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      this.o.log.warn({ zone: st.zone, file, err: (err as Error).message },
        'replica: saved copy ignored; the zone answers SERVFAIL until the first transfer');
      return;
    }
    if (copy.zone !== st.zone) {
      this.o.log.warn({ zone: st.zone, file, holds: copy.zone }, 'replica: saved copy is of another zone: ignored');
      return;
    }
    try {
      this.install(st, copy, 'snapshot');
    } catch (err) {
      this.o.log.warn({ zone: st.zone, file, err: (err as Error).message }, 'replica: saved copy cannot be served: ignored');
      return;
    }
    st.fresh = Date.now();
    this.o.log.info({ zone: st.zone, serial: copy.soa.serial, records: copy.records.length }, 'replica: answering from the saved copy');
  }

  private install(st: ZoneState, copy: ZoneCopy, from: 'snapshot' | 'primary'): void {
    st.copy = copy;
    st.from = from;
    st.dataset = this.o.makeDataset(dataRecords(copy), copyMeta(copy));
  }

  private publish(): void {
    if (this.stopped) return;
    this.o.onChange([...this.zones.values()].map((st) => ({ name: st.zone, dataset: st.dataset })));
    this.writeStatus();
  }

  private writeStatus(): void {
    const file = join(this.o.dir, 'status.json');
    try {
      writeFileSync(file + '.tmp', JSON.stringify({ primary: `${this.o.primary.host}:${this.o.primary.port}`, zones: this.status() }, null, 2) + '\n');
      renameSync(file + '.tmp', file);
    } catch (err) {
      this.o.log.warn({ file, err: (err as Error).message }, 'replica: cannot write the status file');
    }
  }

  /** Refreshes now, or once more after the running refresh. */
  private kick(st: ZoneState): void {
    if (this.stopped || st.removed) return;
    if (st.running) {
      st.again = true;
      return;
    }
    if (st.timer) clearTimeout(st.timer);
    st.timer = null;
    st.running = true;
    void this.refresh(st).finally(() => {
      st.running = false;
      if (st.again) {
        st.again = false;
        this.kick(st);
      }
    });
  }

  private schedule(st: ZoneState, seconds: number): void {
    if (this.stopped || st.removed) return;
    if (st.timer) clearTimeout(st.timer);
    const s = Math.min(Math.max(seconds, 1), MAX_TIMER_S);
    st.timer = setTimeout(() => this.kick(st), s * 1000);
    st.timer.unref?.();
  }

  private async refresh(st: ZoneState): Promise<void> {
    const log = this.o.log;
    st.lastAttempt = Date.now();
    try {
      let r = await refreshZone(this.o.primary, st.zone, st.copy?.soa ?? null);
      if (st.removed || this.stopped) return;
      let next: ZoneCopy | null = null;
      if (r.kind === 'ixfr' && st.copy) {
        try {
          next = await applySteps(st.copy, r.soa, r.steps);
          log.info({ zone: st.zone, from: st.copy.soa.serial, serial: r.soa.serial, steps: r.steps.length,
            deleted: r.steps.reduce((n, s) => n + s.del.length, 0), added: r.steps.reduce((n, s) => n + s.add.length, 0) }, 'replica: IXFR applied');
        } catch (err) {
          log.warn({ zone: st.zone, err: (err as Error).message }, 'replica: IXFR does not fit the copy; falling back to AXFR');
          r = await refreshZone(this.o.primary, st.zone, null);
          if (st.removed || this.stopped) return;
        }
      }
      if (st.removed || this.stopped) return; // dropped from the catalog meanwhile: no copy file
      if (r.kind === 'axfr') {
        next = { zone: st.zone, soa: r.soa, records: r.records };
        log.info({ zone: st.zone, serial: r.soa.serial, records: r.records.length }, 'replica: AXFR received');
      }
      st.lastSuccess = st.fresh = Date.now();
      st.lastError = null;
      if (st.expired) log.info({ zone: st.zone }, 'replica: primary reachable again; zone no longer expired');
      st.expired = false;
      st.from = 'primary';
      if (next) {
        this.install(st, next, 'primary');
        if (st.catalog) this.followCatalog(next);
        this.publish();
        await saveCopy(this.o.dir, next).catch((err) =>
          log.error({ zone: st.zone, err: (err as Error).message }, 'replica: cannot save the zone copy (serving it; a restart would answer from the older copy)'));
      } else this.writeStatus();
      this.schedule(st, r.soa.refresh);
    } catch (err) {
      const msg = err instanceof TransferError ? err.message : String((err as Error)?.message ?? err);
      st.lastError = msg;
      const soa = st.copy?.soa;
      // expire counts from the last contact, or from loading a saved copy (its age is unknown)
      if (soa && !st.expired && Date.now() - st.fresh >= soa.expire * 1000) {
        st.expired = true;
        log.error({ zone: st.zone, serial: soa.serial, expire: soa.expire },
          'replica: zone expired (no answer from the primary within the SOA expire); still answering the last copy');
      }
      log.warn({ zone: st.zone, primary: `${this.o.primary.host}:${this.o.primary.port}`, err: msg,
        serving: soa ? soa.serial : 'SERVFAIL (no copy yet)' }, 'replica: refresh failed; the last copy keeps serving, will retry');
      this.writeStatus();
      this.schedule(st, soa ? soa.retry : this.o.firstRetry);
    }
  }

  /** The catalog changed: start keeping new members, drop removed ones (and their copies). */
  private followCatalog(copy: ZoneCopy): void {
    const { zones, warnings } = catalogMembers(copy);
    for (const w of warnings) this.o.log.warn(w);
    const want = new Set(zones);
    for (const st of [...this.zones.values()]) {
      if (st.catalog || want.has(st.zone)) continue;
      st.removed = true;
      if (st.timer) clearTimeout(st.timer);
      this.zones.delete(st.zone);
      removeCopy(this.o.dir, st.zone);
      this.o.log.info({ zone: st.zone, catalog: copy.zone }, 'replica: zone removed from the catalog; no longer served');
    }
    for (const z of zones) {
      if (this.zones.has(z)) continue;
      const st = this.add(z, false);
      this.o.log.info({ zone: z, catalog: copy.zone }, 'replica: new zone in the catalog');
      setImmediate(() => this.kick(st));
    }
  }
}

/** `::ffff:1.2.3.4` (an IPv4 client on a dual-stack socket) -> `1.2.3.4`. */
function plainAddress(a: string): string {
  return a.replace(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/i, '$1').toLowerCase();
}
