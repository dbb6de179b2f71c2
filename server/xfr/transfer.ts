// The transfer handler: an AXFR (RFC 5936) or IXFR (RFC 1995) query on a TCP connection is
// handed here by server/tcp.ts instead of the responder. It checks TSIG (RFC 8945) and the
// acl, then streams the version captured at the start: SOA, records, SOA for AXFR; for IXFR
// one SOA (the client is current), the journal's difference sequences, or AXFR-style when the
// journal does not reach. Every message is signed; writes wait for the socket to drain.

import type { Logger } from '../../core/log.ts';
import { parseMessage, readName, readSoa, T, type Message } from '../../core/dns/message.ts';
import { ResponseSigner, signError, tsigSpace, verifyRequest, TSIG_ERRORS, type RequestTsig } from '../../core/dns/tsig.ts';
import type { ZoneRecord } from '../../core/zones/records.ts';
import type { TransferAccess } from './access.ts';
import { MessageWriter } from './encode.ts';
import { serialGe } from './serial.ts';
import type { ZoneVersions, JournalEntry } from './versions.ts';

const T_IXFR = 251;
const T_AXFR = 252;
const RCODE_FORMERR = 1;
const RCODE_SERVFAIL = 2;
const RCODE_REFUSED = 5;
const RCODE_NOTAUTH = 9;

/** How tcp.ts writes a message: resolves false when the connection is gone (closed, or not
 *  drained in time). */
export interface TransferOut {
  write(msg: Buffer): Promise<boolean>;
}

export interface TransferHandler {
  /** Answers one transfer query; resolves false when the connection must be closed (a
   *  transfer cut off or failed halfway: the client must not take a partial zone). */
  serve(msg: Buffer, client: string, out: TransferOut): Promise<boolean>;
}

/** True for a query (QR clear, opcode QUERY) whose question type is AXFR or IXFR. Reads a
 *  few header bytes and walks the question name: no allocation. */
export function isTransferQuery(msg: Buffer): boolean {
  if (msg.length < 17 || (msg[2]! & 0xf8) !== 0 || msg[5] !== 1 || msg[4] !== 0) return false;
  let o = 12;
  while (o < msg.length) {
    const l = msg[o]!;
    if (l === 0) break;
    if (l > 63) return false;
    o += l + 1;
  }
  if (o + 3 > msg.length) return false;
  const qtype = (msg[o + 1]! << 8) | msg[o + 2]!;
  return qtype === T_AXFR || qtype === T_IXFR;
}

export interface TransferServerOptions {
  versions: ZoneVersions;
  access: () => TransferAccess;
  /** Zone names currently served (lowercase): a transfer of anything else is NOTAUTH. */
  served: (zone: string) => boolean;
  log: Logger;
  sliceMs?: number;
  /** Each outcome, for the server's counters (/metrics). */
  onOutcome?: (o: keyof TransferStats) => void;
}

/** Transfer counters (metrics). */
export interface TransferStats {
  axfr: number;
  ixfr: number;
  refused: number;
  notauth: number;
  failed: number;
}

const yieldTurn = () => new Promise<void>((r) => setImmediate(r));

export class TransferServer implements TransferHandler {
  private readonly counts: TransferStats = { axfr: 0, ixfr: 0, refused: 0, notauth: 0, failed: 0 };
  /** Outcomes since start. */
  readonly stats: Readonly<TransferStats> = this.counts;

  constructor(private readonly o: TransferServerOptions) {}

  private count(o: keyof TransferStats): void {
    this.counts[o]++;
    this.o.onOutcome?.(o);
  }

  async serve(msg: Buffer, client: string, out: TransferOut): Promise<boolean> {
    const log = this.o.log;
    let m: Message;
    let q: { zone: string; qtype: number; question: Buffer };
    try {
      m = parseMessage(msg);
      const n = readName(msg, 12);
      if (n.end + 4 > msg.length) throw new Error('truncated question');
      q = {
        zone: n.labels.map((l) => l.toString('latin1').toLowerCase()).join('.'),
        qtype: msg.readUInt16BE(n.end),
        question: Buffer.from(msg.subarray(12, n.end + 4)),
      };
    } catch (err) {
      this.count('refused');
      log.info({ client, why: `malformed transfer request: ${(err as Error).message}` }, 'zone transfer refused');
      return out.write(header(msg.readUInt16BE(0), RCODE_FORMERR, null));
    }
    const kind = q.qtype === T_AXFR ? 'AXFR' : 'IXFR';
    const id = m.id;
    const access = this.o.access();
    let tsig: RequestTsig;
    try {
      tsig = verifyRequest(m, access.keys);
    } catch (err) {
      this.count('refused');
      log.info({ zone: q.zone, client, kind, why: `bad TSIG record: ${(err as Error).message}` }, 'zone transfer refused');
      return out.write(header(id, RCODE_FORMERR, q.question));
    }
    if (tsig.signed && tsig.error !== 0) {
      this.count('notauth');
      const why = TSIG_ERRORS[tsig.error] ?? String(tsig.error);
      log.warn({ zone: q.zone, client, kind, key: tsig.keyName, why }, `zone transfer refused: TSIG ${why}`);
      return out.write(signError(header(id, RCODE_NOTAUTH, q.question), tsig as Extract<RequestTsig, { nameWire: Buffer }>));
    }
    const key = tsig.signed && tsig.error === 0 ? tsig.key : null;
    const signer = tsig.signed && key ? new ResponseSigner(key, tsig.mac, tsig.origId) : null;
    const keyName = tsig.signed ? tsig.keyName : null;
    const refuse = async (rcode: number, why: string) => {
      if (rcode === RCODE_REFUSED) this.count('refused');
      else this.count('failed');
      log.info({ zone: q.zone, client, kind, key: keyName, why }, 'zone transfer refused');
      const h = header(id, rcode, q.question);
      return out.write(signer ? signer.sign(h) : h);
    };
    if (!this.o.served(q.zone)) return refuse(RCODE_REFUSED, 'not a zone this server serves');
    const verdict = access.check(q.zone, client, keyName);
    if (!verdict.ok) return refuse(RCODE_REFUSED, verdict.why);
    const problem = this.o.versions.state(q.zone)?.problem;
    if (problem) return refuse(RCODE_REFUSED, `zone not transferable: ${problem}`);
    // Captured now: a version published during the transfer does not change what is sent.
    const v = this.o.versions.current(q.zone);
    if (!v) return refuse(RCODE_SERVFAIL, 'zone not materialised yet');
    let clientSerial = -1;
    let chain: readonly JournalEntry[] | null = null;
    if (q.qtype === T_IXFR) {
      const soa = m.authority.find((r) => r.type === T.SOA);
      if (!soa) return refuse(RCODE_FORMERR, 'IXFR without the client SOA in the authority section');
      clientSerial = readSoa(msg, soa).serial;
      if (!serialGe(clientSerial, v.serial)) chain = this.o.versions.journalFrom(q.zone, clientSerial);
    }
    const started = performance.now();
    const w = new MessageWriter(id, 0x8400, q.question, key ? tsigSpace(key) : 0);
    let bytes = 0;
    let records = 0;
    let messages = 0;
    let alive = true;
    let deadline = performance.now() + (this.o.sliceMs ?? 4);
    const send = async (done: Buffer) => {
      const signed = signer ? signer.sign(done) : done;
      bytes += signed.length;
      messages++;
      if (!(await out.write(signed))) alive = false;
      if (performance.now() > deadline) {
        await yieldTurn();
        deadline = performance.now() + (this.o.sliceMs ?? 4);
      }
    };
    /** Writes the records; false when the connection went away. */
    const put = async (rs: Iterable<ZoneRecord>): Promise<boolean> => {
      for (const r of rs) {
        records++;
        const done = w.addRecord(r);
        if (done) {
          await send(done);
          if (!alive) return false;
        }
      }
      return true;
    };
    let style: string;
    try {
      if (q.qtype === T_IXFR && serialGe(clientSerial, v.serial)) {
        style = 'up to date';
        await put([v.soa]);
      } else if (chain) {
        style = `incremental from ${clientSerial}`;
        let ok = await put([v.soa]);
        for (const e of chain) {
          ok = ok && (await put([e.fromSoa])) && (await put(e.removed)) && (await put([e.toSoa])) && (await put(e.added));
          if (!ok) break;
        }
        if (ok) await put([v.soa]);
      } else {
        style = q.qtype === T_IXFR ? `full (journal does not reach ${clientSerial})` : 'full';
        (await put([v.soa])) && (await put(v.records())) && (await put([v.soa]));
      }
      if (alive && !w.empty) await send(w.finish());
    } catch (err) {
      this.count('failed');
      log.error({ zone: q.zone, client, kind, err: (err as Error).message }, 'zone transfer failed; connection closed');
      return false;
    }
    if (!alive) {
      this.count('failed');
      log.warn({ zone: q.zone, client, kind, key: keyName, serial: v.serial, records, bytes, ms: Math.round(performance.now() - started) }, 'zone transfer cut off: the connection closed or stopped reading');
      return false;
    }
    if (q.qtype === T_AXFR) this.count('axfr');
    else this.count('ixfr');
    log.info({ zone: q.zone, client, kind, style, key: keyName, serial: v.serial, records, messages, bytes, ms: Math.round(performance.now() - started) }, 'zone transfer');
    return true;
  }
}

/** A response with no records: header (QR, AA when NOERROR) + the question when known. */
function header(id: number, rcode: number, question: Buffer | null): Buffer {
  const b = Buffer.alloc(12 + (question?.length ?? 0));
  b.writeUInt16BE(id, 0);
  b.writeUInt16BE(0x8000 | rcode, 2);
  if (question) {
    b.writeUInt16BE(1, 4);
    question.copy(b, 12);
  }
  return b;
}
