// The one small interface every rbldnsd dataset type implements (rbldnsd's own layout:
// a module per type behind load / query / dump). The reader (core/rbldnsd/reader.ts) handles
// files, comments and `$` specials; a type's loader only sees its data lines.

import type { Loc, LoadState } from '../rbldnsd/state.ts';
import type { RangeSet4, RangeSet6 } from '../ranges.ts';
import type { MaterialiseOptions, ZoneRecord } from '../zones/records.ts';

/** A parsed query name, relative to the zone (or a combined sub-zone) that is being searched. */
export interface Query {
  /** Labels below the zone in wire order, lowercased ASCII (`2.0.0.127` -> ['2','0','0','127']). */
  readonly labels: readonly string[];
  /** IPv4 address as an unsigned 32-bit number, or -1 when the name is not an IPv4 name
   *  (4 decimal labels, or 32 nibbles holding a v4-mapped or 6to4 address). */
  readonly ip4: number;
  /** IPv6 address (16 bytes) when the name is 32 one-nibble labels and not v4-mapped; else null. */
  readonly ip6: Uint8Array | null;
  /** The query type (numeric). */
  readonly qtype: number;
  /** True when the name is a proper prefix of an address name: 1-3 decimal octet labels
   *  (IPv4) or 1-31 one-nibble labels (IPv6). In a zone that covers the whole address space
   *  (bl, wl) such a name is an empty non-terminal: NODATA, not NXDOMAIN (RFC 8020). */
  readonly ipPrefix?: boolean;
}

/** Collects answer records; the server dedups identical RRs and applies the same-type min TTL. */
export interface RecordSink {
  /** True when the question asks for A records (A or ANY). Datasets may skip work otherwise. */
  readonly wantA: boolean;
  /** True when the question asks for TXT records (TXT or ANY). Skip TXT expansion otherwise. */
  readonly wantTxt: boolean;
  readonly qtype: number;
  a(ip: number, ttl: number): void;
  txt(text: string, ttl: number): void;
  mx(preference: number, exchange: string, ttl: number): void;
}

export interface Soa {
  ttl: number;
  mname: string;
  rname: string;
  /** 0 = use the newest mtime of the zone's files (rbldnsd's rule). */
  serial: number;
  refresh: number;
  retry: number;
  expire: number;
  minimum: number;
}

export interface NsSet {
  ttl: number;
  names: string[];
}

/** What the `$` specials of a dataset said about its zone. */
export interface DatasetMeta {
  soa?: Soa;
  ns?: NsSet;
  /** `$TIMESTAMP`: unix seconds; expires 0 = never. */
  created?: number;
  expires?: number;
  /** A serial that changes without a reload (the merged zones): read at every answer that
   *  carries the SOA, in place of `soa.serial`. */
  liveSerial?: { readonly serial: number };
}

/** JSON-safe metadata plus typed arrays: the unit of the binary snapshot and of worker transfer. */
export interface SnapshotPart {
  type: string;
  meta: unknown;
  arrays: ArrayBufferView[];
  children?: SnapshotPart[];
}

/** A loaded, immutable dataset. */
export interface Dataset {
  readonly type: string;
  /** TTL of A/TXT answers (dataset-wide; generic records carry their own). */
  readonly ttl: number;
  readonly meta: DatasetMeta;
  /** Number of entries (for logs and counters). */
  readonly size: number;
  /** Adds matching records to `out`; returns true when the name is "found" (listed), even
   *  when no record of the asked type exists (that gives NODATA instead of NXDOMAIN). */
  query(q: Query, out: RecordSink): boolean;
  /** Writes the dataset as BIND master-file lines, names relative to `zone` (rbldnsd -d). */
  dump(zone: string, write: (line: string) => void): void;
  snapshot(): SnapshotPart;
  /** The keys this dataset lists, as merged ranges and names, with its own semantics applied
   *  (exclusions, octet levels, longest prefix): what a merge of several sources sweeps over.
   *  `domains` is sorted; '*.x' lists every name strictly below x. */
  coverage?(): { v4: RangeSet4; v6: RangeSet6; domains: string[] };
  /** The data records (A, TXT, MX; no SOA/NS: the zone adds those) a standard DNS server needs
   *  to answer every key as this dataset does (core/zones/records.ts): names for single keys,
   *  wildcards for octet-aligned IPv4 and nibble-aligned IPv6 blocks and for domain wildcards.
   *  Reads one consistent state, taken when iteration starts; deterministic order. */
  records?(opts: MaterialiseOptions): Iterable<ZoneRecord>;
}

/** Loader for one load of one dataset (all its files, in order). */
export interface DatasetLoader {
  /** The state `$TTL`, `$n`, `$=` specials write to (combined switches it per sub-dataset). */
  readonly state: LoadState;
  /** Start of each file (ip4set, ip4trie, ip6trie, dnset reset their current default here). */
  startFile(file: string): void;
  /** A data line, blanks stripped at both ends; comments and specials never reach it. */
  addLine(line: string, at: Loc): void;
  /** Optional fast path: the same data line as bytes [start, end) of `buf` (latin1), valid
   *  only during the call. When present the reader calls it instead of `addLine`; loaders
   *  handle the common shapes from bytes and pass anything else on to `addLine`. */
  addBytes?(buf: Buffer, start: number, end: number, at: Loc): void;
  /** A `$KEYWORD` line the reader does not know (only `$DATASET` in combined). Return false to
   *  have the reader warn "unknown special". */
  special?(keyword: string, rest: string, at: Loc): boolean;
  finish(meta: DatasetMeta): Dataset;
}

export interface DatasetType {
  readonly name: string;
  createLoader(state: LoadState): DatasetLoader;
  fromSnapshot(part: SnapshotPart): Dataset;
}
