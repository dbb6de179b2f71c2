// A zone as an RFC 1035 master file: `$ORIGIN`, the SOA first, the NS set, then the data
// records with owners relative to the origin (`@` = the apex), one record a line with its TTL
// and class, TXT quoted with `"` and `\` escaped and other bytes outside printable ASCII as
// `\DDD`. Streaming: yields text in chunks as the records come, never the whole file.

import { RR, type MaterialiseOptions, type ZoneRecord } from './records.ts';
import { ExportError, type ExportZone } from './export-zone.ts';

const TYPE_NAMES: Record<number, string> = Object.fromEntries(Object.entries(RR).map(([k, v]) => [v, k]));

/** Chunks of about this many characters are yielded. */
const CHUNK = 64 * 1024;

/** A label as master-file text: letters, digits, `-`, `_` (and a whole-label `*`) as they are,
 *  anything else as `\DDD` (so `.`, `;`, `(`, `"`, blanks never break the line). */
function label(l: string): string {
  if (l === '*' || /^[a-z0-9_-]+$/i.test(l)) return l;
  let out = '';
  for (const b of Buffer.from(l, 'utf8')) {
    const c = String.fromCharCode(b);
    out += /[a-z0-9_-]/i.test(c) ? c : `\\${String(b).padStart(3, '0')}`;
  }
  return out;
}

/** An owner relative to the origin. */
export function ownerText(name: string): string {
  return name === '' ? '@' : name.split('.').map(label).join('.');
}

/** One TXT character-string, quoted. The text is bytes as UTF-8; more than 255 bytes go out as
 *  several strings (a DNS limit, reported by the caller). */
export function txtText(text: string): string[] {
  const bytes = Buffer.from(text, 'utf8');
  const parts: string[] = [];
  for (let i = 0; i === 0 || i < bytes.length; i += 255) {
    let s = '"';
    for (const b of bytes.subarray(i, i + 255)) {
      if (b === 0x22 || b === 0x5c) s += '\\' + String.fromCharCode(b);
      else if (b < 0x20 || b > 0x7e) s += `\\${String(b).padStart(3, '0')}`;
      else s += String.fromCharCode(b);
    }
    parts.push(s + '"');
  }
  return parts;
}

/** An absolute name with its trailing dot ('' = the root). */
export function fqdn(n: string): string {
  return n === '' ? '.' : `${n}.`;
}

function typeText(t: number): string {
  return TYPE_NAMES[t] ?? `TYPE${t}`;
}

/** One record as a master-file line (no newline). */
export function recordLine(r: ZoneRecord, report?: (problem: string) => void): string {
  let data = r.data;
  if (r.type === RR.TXT) {
    const parts = txtText(r.data);
    if (parts.length > 1) report?.(`TXT of ${r.name || '@'} is ${Buffer.byteLength(r.data)} bytes: written as ${parts.length} strings`);
    data = parts.join(' ');
  }
  return `${ownerText(r.name)}\t${r.ttl}\tIN\t${typeText(r.type)}\t${data}`;
}

/** The zone as master-file text, in chunks. Throws ExportError (before yielding anything) when
 *  the zone has no SOA: a master file must start with one. */
export function* zonefileChunks(zone: ExportZone, opts: MaterialiseOptions): Generator<string> {
  const soa = zone.soa;
  if (!soa) throw new ExportError(`zone ${zone.name} has no SOA ($SOA): a zone file needs one`);
  const origin = fqdn(zone.name);
  let buf = `; zone ${origin} serial ${soa.serial}, exported by quorumbl\n$ORIGIN ${origin}\n`;
  buf += `@\t${soa.ttl}\tIN\tSOA\t${fqdn(soa.mname)} ${fqdn(soa.rname)} ${soa.serial} ${soa.refresh} ${soa.retry} ${soa.expire} ${soa.minimum}\n`;
  for (const n of zone.ns?.names ?? []) buf += `@\t${zone.ns!.ttl}\tIN\tNS\t${fqdn(n)}\n`;
  for (const r of zone.records(opts)) {
    buf += recordLine(r, opts.report) + '\n';
    if (buf.length >= CHUNK) {
      yield buf;
      buf = '';
    }
  }
  yield buf;
}
