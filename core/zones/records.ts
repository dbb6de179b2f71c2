// A zone as plain DNS records: what transfers (AXFR/IXFR), the zone-file and rbldnsd exports
// and replicas work from. Each Dataset type materialises its answers with `records()`
// (core/datasets/types.ts); server/xfr keeps versions of them and diffs versions for IXFR.

/** One resource record of a materialised zone. */
export interface ZoneRecord {
  /** Owner relative to the zone apex, lowercase, no trailing dot; '' = the apex.
   *  A wildcard is written `*.x` (`*` alone = every name directly below the apex). */
  readonly name: string;
  /** Numeric type: A 1, NS 2, SOA 6, PTR 12, MX 15, TXT 16, AAAA 28. */
  readonly type: number;
  readonly ttl: number;
  /** RDATA in presentation form, names absolute with the trailing dot:
   *  A `127.0.0.2`; TXT the raw text without quotes (one string, at most 255 bytes);
   *  MX `10 mx.example.`; NS / PTR `ns1.example.`; SOA `mname. rname. serial refresh retry expire minimum`. */
  readonly data: string;
}

/** How far a dataset may go when a range has no wildcard form. */
export interface MaterialiseOptions {
  /** Most owner names one listed range may expand to (a range that is not an octet- or
   *  nibble-aligned block is written as names or smaller wildcards); a range that would need
   *  more is left out and reported through `report`, never cut silently. */
  readonly maxExpansion: number;
  /** A range left out (or anything else a secondary cannot answer as we do), in words. */
  report(problem: string): void;
}

export const DEFAULT_MAX_EXPANSION = 65_536;

export const RR = { A: 1, NS: 2, SOA: 6, PTR: 12, MX: 15, TXT: 16, AAAA: 28 } as const;

/** The identity of a record for diffs (IXFR) and dedup: everything but nothing more. */
export function recordKey(r: ZoneRecord): string {
  return `${r.name}\t${r.type}\t${r.ttl}\t${r.data}`;
}
