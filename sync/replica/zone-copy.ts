// A replica's copy of one zone: its SOA and its other records (apex NS included), as the last
// transfer left them. IXFR differences apply to it; a difference that does not fit the copy
// (a deletion of a record we do not hold) is an error, and the caller falls back to AXFR.

import { recordKey, RR, type ZoneRecord } from '../../core/zones/records.ts';
import type { DatasetMeta } from '../../core/datasets/types.ts';
import { TransferError, type ZoneSoa } from './transfer.ts';

export interface ZoneCopy {
  /** lowercase, no trailing dot */
  readonly zone: string;
  readonly soa: ZoneSoa;
  /** every record but the apex SOA; apex NS included */
  readonly records: readonly ZoneRecord[];
}

/** Applies IXFR steps in order; returns a new copy at `soa`. */
export function applySteps(copy: ZoneCopy, soa: ZoneSoa, steps: readonly { del: readonly ZoneRecord[]; add: readonly ZoneRecord[] }[]): ZoneCopy {
  const byKey = new Map<string, ZoneRecord>();
  for (const r of copy.records) byKey.set(recordKey(r), r);
  for (const [i, step] of steps.entries()) {
    for (const r of step.del) {
      if (r.type === RR.SOA && r.name === '') continue;
      if (!byKey.delete(recordKey(r))) {
        throw new TransferError(`IXFR step ${i + 1} deletes a record the copy does not hold: ${r.name || '@'} ${r.type} ${r.data}`);
      }
    }
    for (const r of step.add) {
      if (r.type === RR.SOA && r.name === '') continue;
      byKey.set(recordKey(r), r);
    }
  }
  return { zone: copy.zone, soa, records: [...byKey.values()] };
}

/** What the served dataset needs apart from the data records: the SOA and the apex NS. */
export function copyMeta(copy: ZoneCopy): DatasetMeta {
  const [mname, rname] = copy.soa.record.data.split(' ');
  const ns = copy.records.filter((r) => r.type === RR.NS && r.name === '');
  return {
    soa: {
      ttl: copy.soa.record.ttl, mname: mname!.replace(/\.$/, ''), rname: rname!.replace(/\.$/, ''),
      serial: copy.soa.serial, refresh: copy.soa.refresh, retry: copy.soa.retry, expire: copy.soa.expire, minimum: copy.soa.minimum,
    },
    ns: ns.length ? { ttl: ns[0]!.ttl, names: ns.map((r) => r.data.replace(/\.$/, '')) } : undefined,
  };
}

/** The data records of the copy: all but the apex NS (the zone writes those from meta.ns). */
export function dataRecords(copy: ZoneCopy): ZoneRecord[] {
  return copy.records.filter((r) => !(r.type === RR.NS && r.name === ''));
}
