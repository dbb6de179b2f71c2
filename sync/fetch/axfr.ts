// AXFR client: axfr://server[:port]/zone over TCP (2-byte length-prefixed messages), optional
// TSIG. The zone is written as an rbldnsd `generic` dataset, so core's loader reads it directly:
//
//   # AXFR of bl.example from 127.0.0.1:5300, serial 2024060101
//   $SOA 300 ns.bl.example. hostmaster.bl.example. 2024060101 3600 600 86400 300
//   2.0.0.127 300 IN A 127.0.0.2
//   2.0.0.127 300 IN TXT "Listed"
//   www 300 IN MX 10 mx.example.net.
//   # ns 300 IN AAAA 2001:db8::1          <- types generic cannot serve, kept as comments
//   $NS 300 ns1.bl.example. ns2.bl.example.  <- apex NS, last
//
// Owner names are relative to the zone ('@' = apex) in BIND master syntax (`name TTL IN TYPE
// data`), odd bytes as \ddd; TXT strings are joined into one (generic serves a single string).
// validators.etag is the SOA serial: with a stored serial a SOA query comes first and an equal
// serial is 'not-modified' without a transfer.

import { randomInt } from 'node:crypto';
import { DnsTcp } from '../../core/dns/tcp.ts';
import { asFetchError, startAttempt } from './attempt.ts';
import {
  absName, buildQuery, parseMessage, rcodeName, rdataText, readName, readSoa, relName, sameName, T, txtStrings, typeName,
  WireError, encodeName, type Message,
} from '../../core/dns/message.ts';
import { withRetries } from './retry.ts';
import { StagingFile } from './staging.ts';
import { findTsig, prepareKey, signQuery, TSIG_ERRORS, TsigError, TsigVerifier, type PreparedKey } from '../../core/dns/tsig.ts';
import { FetchError, type FetchOptions, type FetchResult } from './types.ts';

export function parseAxfrUrl(url: string): { host: string; port: number; zone: string } {
  const u = new URL(url);
  const host = u.hostname.replace(/^\[(.*)\]$/, '$1');
  const port = u.port ? Number(u.port) : 53;
  const zone = decodeURIComponent(u.pathname.replace(/^\/+/, '')).replace(/\.$/, '').toLowerCase();
  if (!host || !zone || zone.includes('/')) throw new Error('expected axfr://server[:port]/zone');
  return { host, port, zone };
}

export function fetchAxfr(opts: FetchOptions): Promise<FetchResult> {
  return withRetries(opts.url, opts.retries, opts.retryBaseMs ?? 1000, opts.signal, () => attempt(opts));
}

async function attempt(opts: FetchOptions): Promise<FetchResult> {
  let target: ReturnType<typeof parseAxfrUrl>;
  let key: PreparedKey | null;
  try {
    target = parseAxfrUrl(opts.url);
    key = opts.tsig ? prepareKey(opts.tsig) : null;
  } catch (err) {
    throw new FetchError(opts.url, (err as Error).message, false);
  }
  const att = startAttempt(opts.url, opts.timeoutMs, opts.signal);
  let conn: DnsTcp | null = null;
  let staging: StagingFile | null = null;
  try {
    att.check();
    conn = await DnsTcp.open(target.host, target.port, {
      connectTimeoutMs: opts.connectTimeoutMs, maxBytes: opts.maxBytes, signal: att.signal,
      error: (m, retryable) => new FetchError(opts.url, m, retryable),
    });
    const known = opts.validators?.etag;
    if (known !== undefined && /^\d+$/.test(known)) {
      const serial = await soaSerial(conn, target.zone, key, opts.url);
      if (serial !== null && String(serial) === known) return { status: 'not-modified' };
    }
    staging = await StagingFile.create(opts.dest);
    const serial = await transfer(conn, target, key, staging, opts);
    await staging.commit();
    return { status: 'fetched', bytes: staging.bytes, validators: { etag: String(serial) }, finalUrl: opts.url };
  } catch (err) {
    await staging?.discard();
    if (err instanceof TsigError || err instanceof WireError) {
      throw new FetchError(opts.url, `${err instanceof TsigError ? 'TSIG: ' : 'malformed response: '}${err.message}`, false);
    }
    throw asFetchError(opts.url, err, att.signal);
  } finally {
    conn?.close();
    att.done();
  }
}

function makeQuery(zone: string, qtype: number, key: PreparedKey | null): { id: number; msg: Buffer; mac: Buffer | null } {
  const id = randomInt(0x10000);
  const q = buildQuery(id, zone, qtype);
  if (!key) return { id, msg: q, mac: null };
  const s = signQuery(q, key);
  return { id, msg: s.msg, mac: s.mac };
}

/** Common checks on a response message; throws a FetchError naming the DNS failure. */
function checkResponse(m: Message, id: number, url: string, what: string): void {
  if (m.id !== id) throw new FetchError(url, `${what}: response with a wrong message ID`, true);
  if (!(m.flags & 0x8000)) throw new FetchError(url, `${what}: got a query, not a response`, false);
  if (m.rcode !== 0) {
    let extra = '';
    try {
      const t = findTsig(m);
      if (t && t.error) extra = ` (TSIG error ${TSIG_ERRORS[t.error] ?? t.error})`;
    } catch {
      /* the rcode says enough */
    }
    throw new FetchError(url, `${what} answered ${rcodeName(m.rcode)}${extra}`, m.rcode === 2);
  }
  if (m.flags & 0x0200) throw new FetchError(url, `${what}: truncated (TC) response over TCP`, false);
}

async function soaSerial(conn: DnsTcp, zone: string, key: PreparedKey | null, url: string): Promise<number | null> {
  const q = makeQuery(zone, T.SOA, key);
  conn.send(q.msg);
  const raw = await conn.next();
  if (!raw) throw new FetchError(url, 'connection closed before the SOA answer', true);
  const m = parseMessage(raw);
  if (m.id !== q.id || m.rcode !== 0) return null; // let the transfer itself report the problem
  if (key && q.mac) new TsigVerifier(key, q.mac).verify(m);
  const soa = m.answers.find((r) => r.type === T.SOA);
  return soa ? readSoa(raw, soa).serial : null;
}

async function transfer(
  conn: DnsTcp,
  target: { host: string; port: number; zone: string },
  key: PreparedKey | null,
  out: StagingFile,
  opts: FetchOptions,
): Promise<number> {
  const url = opts.url;
  const zoneLabels = readName(encodeName(target.zone), 0).labels;
  const q = makeQuery(target.zone, T.AXFR, key);
  conn.send(q.msg);
  const verifier = key && q.mac ? new TsigVerifier(key, q.mac) : null;
  let records = 0;
  let serial = -1;
  const apexNs: string[] = [];
  let nsTtl = 0;
  let text = '';
  const flush = async (force: boolean) => {
    if (text.length < 65536 && !force) return;
    if (out.bytes + text.length > opts.maxBytes) {
      throw new FetchError(url, `zone text exceeds the size cap of ${opts.maxBytes} bytes`, false);
    }
    await out.write(text);
    text = '';
    opts.onProgress?.(out.bytes);
  };
  for (;;) {
    const raw = await conn.next();
    if (!raw) {
      throw new FetchError(url, records === 0 ? 'connection closed without an answer'
        : `truncated transfer: connection closed after ${records} records without the closing SOA`, true);
    }
    const m = parseMessage(raw);
    checkResponse(m, q.id, url, 'AXFR');
    verifier?.verify(m);
    for (const rr of m.answers) {
      if (records === 0) {
        if (rr.type !== T.SOA || !sameName(rr.name, zoneLabels)) {
          throw new FetchError(url, `AXFR does not start with the zone's SOA (got ${typeName(rr.type)} ${absName(rr.name)})`, false);
        }
        const soa = readSoa(raw, rr);
        serial = soa.serial;
        text += `# AXFR of ${target.zone} from ${target.host}:${target.port}, serial ${serial}\n`;
        text += `$SOA ${rr.ttl} ${rdataText(raw, rr)}\n`;
        records++;
        continue;
      }
      if (rr.type === T.SOA && sameName(rr.name, zoneLabels)) {
        const end = readSoa(raw, rr).serial;
        if (end !== serial) throw new FetchError(url, `zone changed during the transfer (serial ${serial} -> ${end})`, true);
        if (verifier && !verifier.lastSigned) throw new FetchError(url, 'TSIG: the last message of the transfer is not signed', false);
        if (apexNs.length) text += `$NS ${nsTtl} ${apexNs.join(' ')}\n`;
        await flush(true);
        return serial;
      }
      records++;
      text += recordLine(raw, rr, zoneLabels);
      if (rr.type === T.NS && sameName(rr.name, zoneLabels)) {
        if (!apexNs.length) nsTtl = rr.ttl;
        apexNs.push(rdataText(raw, rr));
      }
    }
    if (records === 0) throw new FetchError(url, 'AXFR does not start with the zone\'s SOA (empty answer)', false);
    await flush(false);
  }
}

/** One record as a generic-dataset line, or as a comment when generic cannot serve it. */
function recordLine(msg: Buffer, rr: Parameters<typeof rdataText>[1], zone: Buffer[]): string {
  const owner = relName(rr.name, zone);
  if (owner === null) return `# out of zone: ${absName(rr.name)} ${rr.ttl} IN ${typeName(rr.type)} ${rdataText(msg, rr)}\n`;
  if (rr.klass !== 1) return `# ${owner} ${rr.ttl} CLASS${rr.klass} ${typeName(rr.type)} ${rdataText(msg, rr)}\n`;
  if (rr.type === T.A || rr.type === T.MX) return `${owner} ${rr.ttl} IN ${typeName(rr.type)} ${rdataText(msg, rr)}\n`;
  if (rr.type === T.TXT) {
    const s = txtStrings(msg, rr.rdOff, rr.rdLen).join('');
    // generic takes the rest of the line as one string: no line breaks, at most 255 bytes
    if (!/[\r\n\0]/.test(s) && s.length <= 255) return `${owner} ${rr.ttl} IN TXT "${s}"\n`;
  }
  if (rr.type === T.NS && owner === '@') return ''; // collected into $NS
  return `# ${owner} ${rr.ttl} IN ${typeName(rr.type)} ${rdataText(msg, rr)}\n`;
}
