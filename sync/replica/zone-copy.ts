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

/** Records looked at between yields to the event loop (answers go out between slices). */
const SLICE = 20_000;

/** Applies IXFR steps in order; returns a new copy at `soa` (the old one is left as it is).
 *  The steps are first netted (a record added then deleted cancels out), then one pass over the
 *  copy drops the deleted records: a name lookup per record, a full key only for names the
 *  difference touches, in slices; cost O(copy) cheap operations + O(difference). */
export async function applySteps(
  copy: ZoneCopy, soa: ZoneSoa, steps: readonly { del: readonly ZoneRecord[]; add: readonly ZoneRecord[] }[],
): Promise<ZoneCopy> {
  const del = new Map<string, ZoneRecord>();
  const add = new Map<string, ZoneRecord>();
  for (const step of steps) {
    for (const r of step.del) {
      if (r.type === RR.SOA && r.name === '') continue;
      const k = recordKey(r);
      if (add.has(k)) add.delete(k);
      else del.set(k, r);
    }
    for (const r of step.add) {
      if (r.type === RR.SOA && r.name === '') continue;
      const k = recordKey(r);
      if (del.has(k)) del.delete(k);
      else add.set(k, r);
    }
  }
  const touched = new Set<string>();
  for (const r of del.values()) touched.add(r.name);
  for (const r of add.values()) touched.add(r.name);
  const out: ZoneRecord[] = [];
  let found = 0;
  const recs = copy.records;
  for (let i = 0; i < recs.length; i++) {
    if (i % SLICE === SLICE - 1) await new Promise<void>((r) => setImmediate(r));
    const r = recs[i]!;
    if (touched.has(r.name)) {
      const k = recordKey(r);
      if (del.has(k)) {
        found++;
        continue;
      }
      if (add.has(k)) add.delete(k); // already held: not twice
    }
    out.push(r);
  }
  if (found !== del.size) {
    const held = new Set<string>();
    for (const r of recs) if (touched.has(r.name)) held.add(recordKey(r));
    const missing = [...del.entries()].find(([k]) => !held.has(k))![1];
    throw new TransferError(`IXFR deletes a record the copy does not hold: ${missing.name || '@'} ${missing.type} ${missing.data}`);
  }
  for (const r of add.values()) out.push(r);
  return { zone: copy.zone, soa, records: out };
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
