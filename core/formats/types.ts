// Types shared by the source-format parsers (see parseSource in index.ts).

import type { RangeSet4, RangeSet6 } from '../ranges.ts';

export type SourceFormat = 'rbldnsd' | 'plain' | 'spamhaus-drop' | 'dshield' | 'netset' | 'csv' | 'domains' | 'hosts';

export interface ParseOptions {
  format: SourceFormat;
  kind: 'ip' | 'domain';
  /** csv: the column holding the entry, a 0-based index or a header name (case-insensitive). */
  column?: number | string;
  /** csv: the field separator, one character (default ','; '\t' for TSV). */
  delimiter?: string;
  /** Entries wider than /maxPrefix4 (IPv4) or /maxPrefix6 (IPv6) are errors (counted, skipped). */
  maxPrefix4: number;
  maxPrefix6: number;
}

export interface ParseError {
  /** 1-based line number in the file. */
  line: number;
  message: string;
}

export interface ParsedSource {
  v4: RangeSet4;
  v6: RangeSet6;
  /** Sorted, unique, lowercase; '*.x' = subdomains of x only (a '.x' line gives both 'x' and '*.x'). */
  domains: string[];
  /** Lines in the file (a last line without a newline counts). */
  lines: number;
  /** Accepted entries (before merging; an ASN line is not an entry). */
  entries: number;
  /** Rejected lines or entries. */
  errors: number;
  /** The first 20 errors. */
  sampleErrors: ParseError[];
  /** Header fields (netset, DShield), DROP metadata, counters such as asns and hostBitsMasked. */
  meta: Record<string, string | number>;
  /** Prefix length of the widest accepted IPv4 / IPv6 entry (an a-b range counts as the smallest
   *  CIDR block size that holds it: wider than /N means more addresses than a /N); 32 / 128 when
   *  there is none. */
  widest4: number;
  widest6: number;
  /** Entries rejected as wider than maxPrefix4/maxPrefix6 (included in errors): a list that
   *  suddenly holds a 0.0.0.0/0 is poisoned, not merely a bit noisy; the guards reject it. */
  tooWide: number;
}

/** How many errors are kept with their line and message. */
export const SAMPLE_ERRORS = 20;
