// TSIG (RFC 8945) for the AXFR client: sign the request, verify the response stream. Every
// signed response message is checked (the first one against the request MAC, later ones against
// the previous MAC plus the unsigned messages between); the last message must be signed.

import { createHmac, timingSafeEqual } from 'node:crypto';
import { canonicalWire, encodeName, readName, sameName, type Message, type RR, T } from './message.ts';
/** A TSIG key as configs write it (knot/BIND style). */
export interface TsigKey {
  /** key name, e.g. 'xfr-key' */
  name: string;
  /** 'hmac-sha256' (also hmac-sha1/224/384/512, hmac-md5) */
  algorithm: string;
  /** base64 secret, as in knot/BIND configs */
  secret: string;
}

const ALGORITHMS: Record<string, { wire: string; hash: string }> = {
  'hmac-md5': { wire: 'hmac-md5.sig-alg.reg.int', hash: 'md5' },
  'hmac-md5.sig-alg.reg.int': { wire: 'hmac-md5.sig-alg.reg.int', hash: 'md5' },
  'hmac-sha1': { wire: 'hmac-sha1', hash: 'sha1' },
  'hmac-sha224': { wire: 'hmac-sha224', hash: 'sha224' },
  'hmac-sha256': { wire: 'hmac-sha256', hash: 'sha256' },
  'hmac-sha384': { wire: 'hmac-sha384', hash: 'sha384' },
  'hmac-sha512': { wire: 'hmac-sha512', hash: 'sha512' },
};

export const TSIG_ERRORS: Record<number, string> = { 16: 'BADSIG', 17: 'BADKEY', 18: 'BADTIME', 22: 'BADTRUNC' };
const FUDGE = 300;

export class TsigError extends Error {}

export interface PreparedKey {
  nameWire: Buffer; // canonical
  algWire: Buffer; // canonical
  hash: string;
  secret: Buffer;
}

export function prepareKey(k: TsigKey): PreparedKey {
  const alg = ALGORITHMS[k.algorithm.toLowerCase().replace(/\.$/, '')];
  if (!alg) throw new TsigError(`unsupported TSIG algorithm '${k.algorithm}' (use ${Object.keys(ALGORITHMS).join(', ')})`);
  const secret = Buffer.from(k.secret, 'base64');
  if (secret.length === 0) throw new TsigError('empty or invalid base64 TSIG secret');
  return { nameWire: encodeName(k.name, true), algWire: encodeName(alg.wire, true), hash: alg.hash, secret };
}

function u48(n: number): Buffer {
  const b = Buffer.alloc(6);
  b.writeUIntBE(n, 0, 6);
  return b;
}

function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n, 0);
  return b;
}

function withLen(mac: Buffer): Buffer {
  return Buffer.concat([u16(mac.length), mac]);
}

/** Signs a query; returns the message with its TSIG RR and the MAC (the response is bound to it). */
export function signQuery(query: Buffer, key: PreparedKey, now = Math.floor(Date.now() / 1000)): { msg: Buffer; mac: Buffer } {
  const time = u48(now);
  const vars = Buffer.concat([key.nameWire, u16(255), Buffer.alloc(4), key.algWire, time, u16(FUDGE), u16(0), u16(0)]);
  const mac = createHmac(key.hash, key.secret).update(query).update(vars).digest();
  const rdata = Buffer.concat([key.algWire, time, u16(FUDGE), withLen(mac), query.subarray(0, 2), u16(0), u16(0)]);
  const rr = Buffer.concat([key.nameWire, u16(T.TSIG), u16(255), Buffer.alloc(4), u16(rdata.length), rdata]);
  const head = Buffer.from(query);
  head.writeUInt16BE(head.readUInt16BE(10) + 1, 10);
  return { msg: Buffer.concat([head, rr]), mac };
}

export interface TsigRecord {
  rr: RR;
  alg: Buffer[];
  timeSigned: number;
  fudge: number;
  mac: Buffer;
  origId: number;
  error: number;
  other: Buffer;
}

/** The TSIG record of a message (it must be the last additional record), or null. */
export function findTsig(m: Message): TsigRecord | null {
  const ar = m.additional;
  const idx = ar.findIndex((r) => r.type === T.TSIG);
  if (idx < 0) return null;
  if (idx !== ar.length - 1) throw new TsigError('TSIG record is not the last additional record');
  const rr = ar[idx]!;
  const b = m.buf;
  const alg = readName(b, rr.rdOff);
  let o = alg.end;
  const need = (n: number) => {
    if (o + n > rr.end) throw new TsigError('truncated TSIG record');
  };
  need(10);
  const timeSigned = b.readUIntBE(o, 6);
  const fudge = b.readUInt16BE(o + 6);
  const macLen = b.readUInt16BE(o + 8);
  o += 10;
  need(macLen + 6);
  const mac = b.subarray(o, o + macLen);
  o += macLen;
  const origId = b.readUInt16BE(o);
  const error = b.readUInt16BE(o + 2);
  const otherLen = b.readUInt16BE(o + 4);
  o += 6;
  need(otherLen);
  return { rr, alg: alg.labels, timeSigned, fudge, mac, origId, error, other: b.subarray(o, o + otherLen) };
}

/** Verifies the messages of one response stream, in order. */
export class TsigVerifier {
  private prevMac: Buffer;
  private pending: Buffer[] = [];
  private first = true;
  lastSigned = false;

  constructor(private key: PreparedKey, requestMac: Buffer, private now = () => Math.floor(Date.now() / 1000)) {
    this.prevMac = requestMac;
  }

  /** Throws TsigError when the message's signature is wrong or missing where required. */
  verify(m: Message): void {
    const t = findTsig(m);
    if (!t) {
      if (this.first) throw new TsigError('response is not signed');
      if (this.pending.length >= 99) throw new TsigError('more than 99 unsigned messages in a row');
      this.pending.push(m.buf);
      this.lastSigned = false;
      return;
    }
    const keyLabels = readName(this.key.nameWire, 0).labels;
    if (!sameName(t.rr.name, keyLabels)) throw new TsigError('response signed with another key');
    if (!canonicalWire(t.alg).equals(this.key.algWire)) throw new TsigError('response signed with another algorithm');
    if (t.error !== 0) throw new TsigError(`server reports TSIG error ${TSIG_ERRORS[t.error] ?? t.error}`);
    // the message as it was before the TSIG RR was added: RR removed, ARCOUNT - 1, original ID
    const bare = Buffer.from(m.buf.subarray(0, t.rr.start));
    bare.writeUInt16BE(t.origId, 0);
    bare.writeUInt16BE(bare.readUInt16BE(10) - 1, 10);
    const h = createHmac(this.key.hash, this.key.secret).update(withLen(this.prevMac));
    for (const p of this.pending) h.update(p);
    h.update(bare);
    const b = m.buf;
    const timers = b.subarray(readName(b, t.rr.rdOff).end, readName(b, t.rr.rdOff).end + 8);
    if (this.first) {
      // full variables: key name, class, TTL, algorithm, time, fudge, error, other
      h.update(this.key.nameWire).update(u16(255)).update(Buffer.alloc(4)).update(this.key.algWire);
      h.update(timers).update(u16(t.error)).update(u16(t.other.length)).update(t.other);
    } else {
      h.update(timers);
    }
    const want = h.digest();
    if (t.mac.length !== want.length || !timingSafeEqual(t.mac, want)) throw new TsigError('response MAC does not verify (BADSIG)');
    if (Math.abs(this.now() - t.timeSigned) > t.fudge) throw new TsigError('response signed outside the allowed time window (BADTIME)');
    this.prevMac = Buffer.from(t.mac);
    this.pending = [];
    this.first = false;
    this.lastSigned = true;
  }
}

// ---------------------------------------------------------------------------------------------
// Server side: verify a signed request, sign every message of the response stream.

export const TSIG_BADSIG = 16;
export const TSIG_BADKEY = 17;
export const TSIG_BADTIME = 18;

/** What a request's TSIG said. `error` != 0: answer NOTAUTH with `errorResponse`. */
export type RequestTsig =
  | { signed: false }
  | { signed: true; error: 0; keyName: string; key: PreparedKey; mac: Buffer; origId: number }
  | { signed: true; error: number; keyName: string; key: PreparedKey | null; mac: Buffer; origId: number; timeSigned: number; nameWire: Buffer; algWire: Buffer };

function labelsText(labels: Buffer[]): string {
  return labels.map((l) => l.toString('latin1').toLowerCase()).join('.');
}

/** Checks the TSIG of a request against `keys` (by lowercase key name, no trailing dot). */
export function verifyRequest(m: Message, keys: ReadonlyMap<string, PreparedKey>, now = Math.floor(Date.now() / 1000)): RequestTsig {
  const t = findTsig(m);
  if (!t) return { signed: false };
  const keyName = labelsText(t.rr.name);
  const key = keys.get(keyName) ?? null;
  const base = { signed: true as const, keyName, mac: Buffer.from(t.mac), origId: t.origId, timeSigned: t.timeSigned, nameWire: canonicalWire(t.rr.name), algWire: canonicalWire(t.alg) };
  if (!key || !canonicalWire(t.alg).equals(key.algWire)) return { ...base, error: TSIG_BADKEY, key: null };
  const b = m.buf;
  const bare = Buffer.from(b.subarray(0, t.rr.start));
  bare.writeUInt16BE(t.origId, 0);
  bare.writeUInt16BE(bare.readUInt16BE(10) - 1, 10);
  const algEnd = readName(b, t.rr.rdOff).end;
  const want = createHmac(key.hash, key.secret)
    .update(bare)
    .update(key.nameWire)
    .update(u16(255))
    .update(Buffer.alloc(4))
    .update(key.algWire)
    .update(b.subarray(algEnd, algEnd + 8)) // time signed + fudge, as sent
    .update(u16(t.error))
    .update(u16(t.other.length))
    .update(t.other)
    .digest();
  // RFC 8945 5.2.2.1: a truncated MAC shorter than half the hash (or 10 bytes) is BADSIG.
  if (t.mac.length < Math.max(10, want.length >> 1) || t.mac.length > want.length || !timingSafeEqual(t.mac, want.subarray(0, t.mac.length))) {
    return { ...base, error: TSIG_BADSIG, key };
  }
  if (Math.abs(now - t.timeSigned) > t.fudge) return { ...base, error: TSIG_BADTIME, key };
  return { signed: true, error: 0, keyName, key, mac: base.mac, origId: t.origId };
}

function tsigRr(nameWire: Buffer, rdata: Buffer): Buffer {
  return Buffer.concat([nameWire, u16(T.TSIG), u16(255), Buffer.alloc(4), u16(rdata.length), rdata]);
}

function appendRr(msg: Buffer, rr: Buffer): Buffer {
  const out = Buffer.concat([msg, rr]);
  out.writeUInt16BE(out.readUInt16BE(10) + 1, 10);
  return out;
}

/** The longest TSIG record a signer adds (name and algorithm at most 255 bytes each, SHA-512). */
export function tsigSpace(key: PreparedKey): number {
  return key.nameWire.length + 10 + key.algWire.length + 16 + 64 + 6 + 6;
}

/** Signs the messages of one response stream (RFC 8945 5.3, 5.3.1): the first against the
 *  request MAC with all TSIG variables, each later one against the previous MAC with the timers. */
export class ResponseSigner {
  private prevMac: Buffer;
  private first = true;

  constructor(private readonly key: PreparedKey, requestMac: Buffer, private readonly origId: number, private readonly now = () => Math.floor(Date.now() / 1000)) {
    this.prevMac = requestMac;
  }

  /** `msg` with its TSIG record appended (ARCOUNT + 1). */
  sign(msg: Buffer, error = 0, other: Buffer = Buffer.alloc(0)): Buffer {
    const k = this.key;
    const time = u48(this.now());
    const h = createHmac(k.hash, k.secret).update(withLen(this.prevMac)).update(msg);
    if (this.first) {
      h.update(k.nameWire).update(u16(255)).update(Buffer.alloc(4)).update(k.algWire);
      h.update(time).update(u16(FUDGE)).update(u16(error)).update(u16(other.length)).update(other);
    } else {
      h.update(time).update(u16(FUDGE));
    }
    const mac = h.digest();
    this.prevMac = mac;
    this.first = false;
    const rdata = Buffer.concat([k.algWire, time, u16(FUDGE), withLen(mac), u16(this.origId), u16(error), withLen(other)]);
    return appendRr(msg, tsigRr(k.nameWire, rdata));
  }
}

/** The TSIG record of a NOTAUTH answer to a request that failed verification (RFC 8945
 *  5.2.2-5.2.3): BADKEY and BADSIG unsigned (empty MAC); BADTIME signed, with our time in
 *  Other Data so the client sees the skew. */
export function signError(msg: Buffer, req: Extract<RequestTsig, { signed: true; nameWire: Buffer }>, now = Math.floor(Date.now() / 1000)): Buffer {
  if (req.error === TSIG_BADTIME && req.key) {
    return new ResponseSigner(req.key, req.mac, req.origId, () => req.timeSigned).sign(msg, TSIG_BADTIME, u48(now));
  }
  const rdata = Buffer.concat([req.algWire, u48(now), u16(FUDGE), u16(0), u16(req.origId), u16(req.error), u16(0)]);
  return appendRr(msg, tsigRr(req.nameWire, rdata));
}
