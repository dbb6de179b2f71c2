// A served zone seen from outside: its name, SOA (with the serial it answers now), NS set and
// data records. What the exporters (zonefile.ts, rbldnsd-export.ts) write, built from the
// zone the store serves (a LoadedZone: its datasets' records() and `$SOA`/`$NS`).

import type { Dataset, NsSet } from '../datasets/types.ts';
import type { LoadedZone } from './store.ts';
import type { MaterialiseOptions, ZoneRecord } from './records.ts';
import { zoneRecords } from './union.ts';

export interface ExportSoa {
  ttl: number;
  /** Absolute names, no trailing dot. */
  mname: string;
  rname: string;
  serial: number;
  refresh: number;
  retry: number;
  expire: number;
  minimum: number;
}

export interface ExportZone {
  /** Absolute, lowercase, no trailing dot. */
  readonly name: string;
  readonly soa: ExportSoa | null;
  readonly ns: NsSet | null;
  /** The data records (no SOA/NS at the apex), in a deterministic order. */
  records(opts: MaterialiseOptions): Iterable<ZoneRecord>;
}

export class ExportError extends Error {}

const bare = (n: string): string => n.replace(/\.$/, '').toLowerCase();

/** The exportable view of a served zone. The serial is the one the zone answers with now (the
 *  merged zones' live serial, else `$SOA` serial, 0 = newest file mtime as rbldnsd does).
 *  Throws ExportError when the zone cannot be written (never loaded, a dataset type without
 *  records()). */
export function exportZoneOf(z: LoadedZone): ExportZone {
  if (z.failed) throw new ExportError(`zone ${z.name} has no data to export (never loaded, expired, or the merge has not run yet)`);
  // 'zone-meta' holds only the SOA/NS of a zone quorumbl builds itself (core/zones/store.ts)
  const datasets: Dataset[] = z.datasets.filter((d) => d.type !== 'zone-meta');
  const lacking = datasets.filter((d) => typeof d.records !== 'function');
  if (lacking.length) throw new ExportError(`zone ${z.name}: dataset type ${[...new Set(lacking.map((d) => d.type))].join(', ')} cannot be written as records yet`);
  const soaMeta = z.datasets.find((d) => d.meta.soa)?.meta;
  const s = soaMeta?.soa;
  const soa: ExportSoa | null = s
    ? {
        ttl: s.ttl, mname: bare(s.mname), rname: bare(s.rname),
        serial: soaMeta!.liveSerial?.serial ?? (s.serial === 0 ? z.newestMtime : s.serial),
        refresh: s.refresh, retry: s.retry, expire: s.expire, minimum: s.minimum,
      }
    : null;
  const ns = z.datasets.find((d) => d.meta.ns)?.meta.ns ?? null;
  return {
    name: bare(z.name),
    soa,
    ns: ns ? { ttl: ns.ttl, names: [...new Set(ns.names.map(bare))] } : null,
    *records(opts) {
      yield* zoneRecords(datasets, opts)!;
    },
  };
}

/** The served zone a user means by `arg`: its full name (trailing dot optional), or a short
 *  name relative to the base (`bl`, `wl`, `dbl`, `<source>.mirror`); undefined when none. */
export function resolveZoneName(names: readonly string[], arg: string, base: string): string | undefined {
  const a = bare(arg);
  if (names.includes(a)) return a;
  const full = `${a}.${bare(base)}`;
  return names.includes(full) ? full : undefined;
}

/** The file name an export of `zone` gets in a directory. */
export function exportFileName(zone: string, format: ExportFormat): string {
  return `${zone}.${format === 'zonefile' ? 'zone' : 'rbldnsd'}`;
}

export const EXPORT_FORMATS = ['rbldnsd', 'zonefile'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];
