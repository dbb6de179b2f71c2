// parseSource: the bytes of a fetched source file -> address ranges / domains, counters, the first
// errors and header metadata. Pure and synchronous (the sync engine runs it in a worker thread
// and transfers the typed arrays, which each own a whole ArrayBuffer).
//
// Kind 'ip' expects addresses: 'plain', 'netset', 'spamhaus-drop', 'dshield', 'csv'. Kind
// 'domain' expects names: 'domains', 'hosts', and 'plain' / 'csv' read as names. Format
// 'rbldnsd' is not handled here: the engine loads it with core/rbldnsd/reader.ts.
//
// Choices, the same in every format:
// - An entry is an IPv4/IPv6 address, `addr/len` or `a-b` (blanks allowed around the dash).
//   IPv4 octets are decimal even when zero-padded (`010.0.2.1` = 10.0.2.1).
// - Host bits in a CIDR are masked off (`192.0.2.7/24` -> 192.0.2.0/24): a normalisation, not an
//   error; how many is reported in meta.hostBitsMasked (absent when none).
// - An entry wider than /maxPrefix4 or /maxPrefix6 is an error (counted, sampled, skipped); an
//   a-b range is "wider than /N" when it covers more addresses than a /N.
// - An error is one rejected line (hosts and csv: one rejected name or field) with its 1-based
//   line number and what is wrong, quoting the text; the first 20 are kept.
// - Lines end in LF or CRLF; a UTF-8 BOM is skipped; a last line without a newline counts.
// - meta: netset and DShield `# Key : value` header fields (before the first entry), the DROP
//   metadata line's scalar fields plus `asns` (ASN-DROP lines), `hostBitsMasked`.
// - csv: column = 0-based index (an all-digit string too) or a header name, case-insensitive.

import { parseCsv } from './csv.ts';
import { parseDomains, parseHosts } from './domains.ts';
import { parseDshield } from './dshield.ts';
import { parsePlain } from './plain.ts';
import { Sink } from './sink.ts';
import type { Pacer } from '../pace.ts';
import { parseSpamhausDrop } from './spamhaus.ts';
import type { ParseOptions, ParsedSource } from './types.ts';

export type { ParseError, ParseOptions, ParsedSource, SourceFormat } from './types.ts';

const IP_ONLY = new Set(['spamhaus-drop', 'dshield', 'netset']);
const DOMAIN_ONLY = new Set(['domains', 'hosts']);

/** Throws (an Error naming the problem) only for unusable options, never for file content:
 *  bad lines are counted in `errors` and sampled in `sampleErrors`. */
export function parseSource(buf: Buffer | Uint8Array, opts: ParseOptions, pacer?: Pacer): ParsedSource {
  const { format, kind } = opts;
  if (format === 'rbldnsd') throw new Error("format 'rbldnsd' is loaded with core/rbldnsd/reader.ts, not parseSource");
  if (kind !== 'ip' && kind !== 'domain') throw new Error(`unknown kind '${String(kind)}'`);
  if (kind === 'domain' && IP_ONLY.has(format)) throw new Error(`format ${format} lists addresses: kind must be ip`);
  if (kind === 'ip' && DOMAIN_ONLY.has(format)) throw new Error(`format ${format} lists domains: kind must be domain`);
  if (opts.delimiter !== undefined && opts.delimiter.length !== 1) throw new Error('delimiter must be one character');
  // a plain Uint8Array view: monomorphic element access in the hot loops
  const b = new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  // capacity hint for the IPv4 builder: none for names (the builder then starts small)
  const sink = new Sink(opts, kind === 'ip' ? b.length : 0, pacer);
  switch (format) {
    case 'plain':
      if (kind === 'domain') parseDomains(b, sink);
      else parsePlain(b, sink);
      break;
    case 'netset':
      parsePlain(b, sink, true);
      break;
    case 'spamhaus-drop':
      parseSpamhausDrop(b, sink);
      break;
    case 'dshield':
      parseDshield(b, sink);
      break;
    case 'csv':
      parseCsv(b, sink);
      break;
    case 'domains':
      parseDomains(b, sink);
      break;
    case 'hosts':
      parseHosts(b, sink);
      break;
    default:
      throw new Error(`unknown format '${String(format)}'`);
  }
  return sink.finish();
}
