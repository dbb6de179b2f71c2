// Shared by the export tests: a zone of hand-made records, what a standard DNS server answers
// over them (RecordsDataset, the oracle), and the same question asked of an rbldnsd over UDP.

import dnsPacket from 'dns-packet';
import { RecordsDataset } from '../../../core/datasets/records.ts';
import type { Dataset } from '../../../core/datasets/types.ts';
import type { ExportZone } from '../../../core/zones/export-zone.ts';
import type { ZoneRecord } from '../../../core/zones/records.ts';
import { UdpClient, mapLimit } from '../../differential/client.ts';
import { buildQuery } from '../../differential/wire.ts';
import { query } from '../datasets/helpers.ts';

export const R = (name: string, type: number, data: string, ttl = 300): ZoneRecord => ({ name, type, ttl, data });

export function zoneOf(name: string, records: readonly ZoneRecord[], serial = 7): ExportZone {
  return {
    name,
    soa: { ttl: 300, mname: 'ns1.example', rname: 'hostmaster.example', serial, refresh: 600, retry: 300, expire: 86400, minimum: 60 },
    ns: { ttl: 300, names: ['ns1.example', 'ns2.example'] },
    records: () => records,
  };
}

/** An answer reduced to what a DNSBL client sees: listed or not, the A set, the TXT set. */
export interface Seen {
  found: boolean;
  a: string[];
  txt: string[];
}

export function show(s: Seen | null): string {
  return s === null ? 'no reply' : s.found ? `A ${s.a.join(',') || '-'} TXT ${s.txt.map((t) => JSON.stringify(t)).join(',') || '-'}` : 'NXDOMAIN';
}

/** What `ds` answers for `name` (relative, '' = apex) asked as ANY. */
export function answerOf(ds: Dataset, name: string): Seen {
  const { found, recs } = query(ds, name === '' ? [] : name.split('.'), 255);
  const a = [...new Set(recs.filter((r) => r.type === 'A').map((r) => r.data))].sort();
  const txt = [...new Set(recs.filter((r) => r.type === 'TXT').map((r) => r.data))].sort();
  return { found, a, txt };
}

/** Same answer for a DNSBL client: the A set, the TXT set, listed vs NXDOMAIN. An empty
 *  non-terminal (NODATA in DNS) may be NXDOMAIN in rbldnsd, which has no such names. */
export function same(want: Seen, got: Seen | null): boolean {
  if (got === null) return false;
  if (want.a.join() !== got.a.join() || want.txt.join() !== got.txt.join()) return false;
  return want.found === got.found || (want.a.length + want.txt.length === 0 && want.found);
}

export function oracle(records: readonly ZoneRecord[]): RecordsDataset {
  return new RecordsDataset(records);
}

/** Asks a DNS server on 127.0.0.1:port `name.zone` ANY over UDP, for every name. */
export async function askServer(port: number, zone: string, names: readonly string[], qtype = 255): Promise<(Seen | null)[]> {
  const c = new UdpClient(port);
  try {
    return await mapLimit(names, 64, async (n) => {
      const fq = n === '' ? zone : `${n}.${zone}`;
      const b = await c.exchange((id) => buildQuery(id, fq, qtype), 2000, 3);
      if (!b) return null;
      const p = dnsPacket.decode(b) as any;
      const answers = (p.answers ?? []) as any[];
      const a = [...new Set(answers.filter((r) => r.type === 'A').map((r) => String(r.data)))].sort();
      const txt = [...new Set(answers.filter((r) => r.type === 'TXT').flatMap((r) => (r.data as Buffer[]).map((x) => Buffer.from(x).toString('latin1'))))].sort();
      return { found: p.rcode === 'NOERROR', a, txt };
    });
  } finally {
    c.close();
  }
}

/** Deterministic PRNG (mulberry32) for reproducible random zones. */
export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
