// The catalog zone (RFC 9432, schema version 2): one zone whose records list the zones a
// secondary should serve, so a Knot or BIND secondary configured with the catalog alone picks
// up zones added and removed by a reload. Records: the SOA and NS `invalid.` (from the meta),
// `version` TXT "2", and one `<id>.zones` PTR `<member>.` per member. The id is a hash of the
// member's name: the same zone keeps its id across restarts and reloads (a new id would make a
// secondary drop and re-transfer it, RFC 9432 5.4).

import { createHash } from 'node:crypto';
import { RecordsDataset } from '../../core/datasets/records.ts';
import type { Soa } from '../../core/datasets/types.ts';
import { RR, type ZoneRecord } from '../../core/zones/records.ts';

/** The member's unique id label: hex SHA-1 of its lowercase name without the trailing dot. */
export function memberId(zone: string): string {
  return createHash('sha1').update(normZone(zone)).digest('hex');
}

const normZone = (z: string) => z.toLowerCase().replace(/\.$/, '');

/** Sorted, deduplicated member names; the catalog itself and the root are never members. */
export function catalogMembers(catalog: string, zones: Iterable<string>): string[] {
  const self = normZone(catalog);
  const set = new Set<string>();
  for (const z of zones) {
    const n = normZone(z);
    if (n !== '' && n !== self) set.add(n);
  }
  return [...set].sort();
}

/** The catalog's data records (no SOA/NS: the zone adds those from its meta). */
export function catalogRecords(members: readonly string[], ttl: number): ZoneRecord[] {
  const out: ZoneRecord[] = [{ name: 'version', type: RR.TXT, ttl, data: '2' }];
  for (const m of members) out.push({ name: `${memberId(m)}.zones`, type: RR.PTR, ttl, data: `${m}.` });
  return out;
}

/** The catalog as a dataset for the zone table: SOA with `serial`, NS `invalid.` (RFC 9432 4.1). */
export function catalogDataset(members: readonly string[], soa: Soa, serial: number): RecordsDataset {
  return new RecordsDataset(catalogRecords(members, soa.ttl), {
    soa: { ...soa, serial },
    ns: { ttl: soa.ttl, names: ['invalid.'] },
  });
}
