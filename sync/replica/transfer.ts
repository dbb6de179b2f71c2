// Zone transfers for a replica: IXFR (RFC 1995) from the serial we hold (a single SOA back =
// current) or AXFR (RFC 5936) over TCP, every response message TSIG-verified when a key is set. Records come out as ZoneRecords (core/zones/records.ts), the SOA apart.
// Anything wrong (a cut connection, a bad MAC, a malformed record, a zone that changed mid-way)
// throws TransferError: the caller keeps its last copy.

import { randomInt } from 'node:crypto';
import {
  buildQuery, encodeName, labelText, parseMessage, rcodeName, rdataText, readName, readSoa, relName, sameName, T,
  txtStrings, typeName, WireError, type Message, type RR,
} from '../../core/dns/message.ts';
import { DnsTcp } from '../../core/dns/tcp.ts';
import { findTsig, signQuery, TSIG_ERRORS, TsigError, TsigVerifier, type PreparedKey } from '../../core/dns/tsig.ts';
import type { ZoneRecord } from '../../core/zones/records.ts';

export const T_IXFR = 251;

export class TransferError extends Error {
  constructor(message: string, readonly retryable = true) {
    super(message);
  }
}

/** The zone's SOA as numbers; `record` keeps the presentation form for the copy. */
export interface ZoneSoa {
  serial: number;
  refresh: number;
  retry: number;
  expire: number;
  minimum: number;
  record: ZoneRecord;
}

export interface Primary {
  host: string;
  port: number;
  key: PreparedKey | null;
  connectTimeoutMs: number;
  /** A whole exchange (one IXFR or AXFR) must finish within this. */
  timeoutMs: number;
  maxBytes: number;
}

export type TransferResult =
  | { kind: 'axfr'; soa: ZoneSoa; records: ZoneRecord[] }
  /** Differences in order: each removes `del` then adds `add`, ending at `soa`. */
  | { kind: 'ixfr'; soa: ZoneSoa; steps: { del: ZoneRecord[]; add: ZoneRecord[] }[] }
  | { kind: 'current'; soa: ZoneSoa };

/** RFC 1982 serial arithmetic: a is newer than b. */
export function serialNewer(a: number, b: number): boolean {
  return a !== b && ((a - b) >>> 0) < 0x80000000;
}

/** One exchange with the primary: IXFR from `have` when we hold a copy (its answer is a single
 *  SOA when we are current: that is the SOA poll, signed like the transfer), else AXFR. No
 *  separate SOA query: a server need not sign plain queries (quorumbl's responder does not),
 *  and an unsigned serial could be forged to hold updates back. */
export async function refreshZone(p: Primary, zone: string, have: ZoneSoa | null): Promise<TransferResult> {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(new TransferError(`timed out after ${p.timeoutMs} ms`)), p.timeoutMs);
  let conn: DnsTcp | null = null;
  try {
    conn = await DnsTcp.open(p.host, p.port, {
      connectTimeoutMs: p.connectTimeoutMs, maxBytes: p.maxBytes, signal: ac.signal,
      error: (m, r) => new TransferError(m, r),
    });
    return await transfer(conn, p, zone, have);
  } catch (err) {
    if (ac.signal.aborted && ac.signal.reason instanceof TransferError) throw ac.signal.reason;
    if (err instanceof TransferError) throw err;
    if (err instanceof TsigError) throw new TransferError(`TSIG: ${err.message}`, true);
    if (err instanceof WireError) throw new TransferError(`malformed response: ${err.message}`, true);
    const e = err as NodeJS.ErrnoException;
    throw new TransferError(e?.code ? `${e.message} (${e.code})` : String(e?.message ?? err));
  } finally {
    clearTimeout(timer);
    conn?.close();
  }
}

interface Sent {
  id: number;
  verifier: TsigVerifier | null;
}

function send(conn: DnsTcp, p: Primary, q: Buffer): Sent {
  if (!p.key) {
    conn.send(q);
    return { id: q.readUInt16BE(0), verifier: null };
  }
  const s = signQuery(q, p.key);
  conn.send(s.msg);
  return { id: q.readUInt16BE(0), verifier: new TsigVerifier(p.key, s.mac) };
}

/** Next response message of an exchange, checked: ID, QR, rcode (with the TSIG error), TC, MAC. */
async function receive(conn: DnsTcp, sent: Sent, what: string, got: number): Promise<Message> {
  const raw = await conn.next();
  if (!raw) {
    throw new TransferError(got === 0 ? `${what}: connection closed without an answer`
      : `${what}: connection closed after ${got} records, before the closing SOA`);
  }
  const m = parseMessage(raw);
  if (m.id !== sent.id) throw new TransferError(`${what}: response with a wrong message ID`);
  if (!(m.flags & 0x8000)) throw new TransferError(`${what}: got a query, not a response`);
  if (m.rcode !== 0) {
    let extra = '';
    try {
      const t = findTsig(m);
      if (t && t.error) extra = ` (TSIG error ${TSIG_ERRORS[t.error] ?? t.error})`;
    } catch {
      /* the rcode says enough */
    }
    throw new TransferError(`${what} answered ${rcodeName(m.rcode)}${extra}`, true);
  }
  if (m.flags & 0x0200) throw new TransferError(`${what}: truncated (TC) response over TCP`);
  sent.verifier?.verify(m);
  return m;
}

function soaOf(buf: Buffer, rr: RR): ZoneSoa {
  const s = readSoa(buf, rr);
  return {
    serial: s.serial, refresh: s.refresh, retry: s.retry, expire: s.expire, minimum: s.minimum,
    record: { name: '', type: T.SOA, ttl: rr.ttl, data: rdataText(buf, rr).toLowerCase() },
  };
}

/** An IXFR query: the question, and our SOA in the authority section. */
function ixfrQuery(zone: string, have: ZoneSoa): Buffer {
  const q = buildQuery(randomInt(0x10000), zone, T_IXFR);
  q.writeUInt16BE(1, 8); // NSCOUNT
  const [mname, rname] = have.record.data.split(' ');
  const nums = Buffer.alloc(20);
  [have.serial, have.refresh, have.retry, have.expire, have.minimum].forEach((v, i) => nums.writeUInt32BE(v >>> 0, i * 4));
  const rdata = Buffer.concat([encodeName(mname!), encodeName(rname!), nums]);
  const head = Buffer.alloc(10);
  head.writeUInt16BE(T.SOA, 0);
  head.writeUInt16BE(1, 2);
  head.writeUInt32BE(have.record.ttl, 4);
  head.writeUInt16BE(rdata.length, 8);
  return Buffer.concat([q, encodeName(zone), head, rdata]);
}

async function transfer(conn: DnsTcp, p: Primary, zone: string, have: ZoneSoa | null): Promise<TransferResult> {
  const what = have ? 'IXFR' : 'AXFR';
  const sent = send(conn, p, have ? ixfrQuery(zone, have) : buildQuery(randomInt(0x10000), zone, T.AXFR));
  const apex = readName(encodeName(zone), 0).labels;
  // The stream as it comes: the first SOA (the new version), then either a full zone (AXFR, or
  // IXFR falling back to one) ending with that SOA again, or IXFR's sequences
  // [old SOA, deletions, new SOA, additions] ending with the new SOA.
  let first: ZoneSoa | null = null;
  let mode: 'unknown' | 'full' | 'diff' = 'unknown';
  const records: ZoneRecord[] = [];
  const steps: { del: ZoneRecord[]; add: ZoneRecord[] }[] = [];
  let inDel = false;
  let got = 0;
  for (;;) {
    const m = await receive(conn, sent, what, got);
    if (m.answers.length === 0) throw new TransferError(`${what}: a response message without records`);
    for (const rr of m.answers) {
      got++;
      const isSoa = rr.type === T.SOA && sameName(rr.name, apex);
      if (first === null) {
        if (!isSoa) throw new TransferError(`${what} does not start with the zone's SOA (got ${typeName(rr.type)} ${labelsText(rr.name)})`, true);
        first = soaOf(m.buf, rr);
        if (have && !serialNewer(first.serial, have.serial)) {
          // a single SOA not newer than ours: nothing to do (RFC 1995 section 2)
          return { kind: 'current', soa: first };
        }
        continue;
      }
      if (mode === 'unknown') {
        if (isSoa && have && readSoa(m.buf, rr).serial === have.serial) {
          mode = 'diff';
          steps.push({ del: [], add: [] });
          inDel = true;
          continue;
        }
        mode = 'full';
      }
      if (isSoa) {
        const soa = soaOf(m.buf, rr);
        if (mode === 'full') {
          if (soa.serial !== first.serial) throw new TransferError(`${what}: zone changed during the transfer (serial ${first.serial} -> ${soa.serial})`);
          return finish(sent, m, { kind: 'axfr', soa: first, records });
        }
        if (inDel) {
          inDel = false; // the new SOA of this step: additions follow
          continue;
        }
        if (soa.serial === first.serial) {
          // after additions, the new serial is the closing SOA (a step's old SOA never is)
          return finish(sent, m, { kind: 'ixfr', soa: first, steps });
        }
        steps.push({ del: [], add: [] });
        inDel = true;
        continue;
      }
      const rec = toRecord(m.buf, rr, apex, what);
      if (mode === 'full') records.push(rec);
      else {
        const step = steps[steps.length - 1]!;
        (inDel ? step.del : step.add).push(rec);
      }
    }
  }
}

function finish(sent: Sent, _m: Message, r: TransferResult): TransferResult {
  if (sent.verifier && !sent.verifier.lastSigned) throw new TransferError('TSIG: the last message of the transfer is not signed');
  return r;
}

function labelsText(labels: Buffer[]): string {
  return labels.length ? labels.map(labelText).join('.') + '.' : '.';
}

/** A wire RR as a ZoneRecord: owner relative and lowercase, data in presentation form (TXT as
 *  its strings joined, the form core/zones/records.ts uses). */
export function toRecord(buf: Buffer, rr: RR, apex: Buffer[], what: string): ZoneRecord {
  const owner = relName(rr.name, apex);
  if (owner === null) throw new TransferError(`${what}: record outside the zone: ${labelsText(rr.name)} ${typeName(rr.type)}`, true);
  if (rr.klass !== 1) throw new TransferError(`${what}: record of class ${rr.klass} at ${labelsText(rr.name)}`, true);
  const name = owner === '@' ? '' : owner.toLowerCase();
  let data: string;
  if (rr.type === T.TXT) data = txtStrings(buf, rr.rdOff, rr.rdLen).join('');
  else {
    data = rdataText(buf, rr);
    if (rr.type === T.NS || rr.type === T.PTR || rr.type === T.CNAME || rr.type === T.SOA) data = data.toLowerCase();
  }
  return { name, type: rr.type, ttl: rr.ttl, data };
}
