// ZoneRecords to wire format, packed into transfer messages of at most 64 KiB (RFC 5936 2.2):
// the question is echoed in every message, so each owner name is its labels below the apex
// followed by a pointer to the zone name in the question (offset 12).

import { encodeName } from '../../core/dns/message.ts';
import { RR, type ZoneRecord } from '../../core/zones/records.ts';
import { parseIp6Text } from '../peer.ts';

const T_CNAME = 5;
const MAX_MESSAGE = 65_535;

export class EncodeError extends Error {}

function ip4(s: string, r: ZoneRecord): Buffer {
  const p = s.split('.');
  const b = Buffer.alloc(4);
  if (p.length !== 4) throw new EncodeError(`bad A record ${r.name} ${s}`);
  p.forEach((x, i) => {
    const n = Number(x);
    if (!/^\d{1,3}$/.test(x) || n > 255) throw new EncodeError(`bad A record ${r.name} ${s}`);
    b[i] = n;
  });
  return b;
}

function rdata(r: ZoneRecord): Buffer {
  const d = r.data;
  switch (r.type) {
    case RR.A:
      return ip4(d, r);
    case RR.AAAA: {
      const b = new Uint8Array(16);
      if (!parseIp6Text(d, b)) throw new EncodeError(`bad AAAA record ${r.name} ${d}`);
      return Buffer.from(b);
    }
    case RR.NS:
    case RR.PTR:
    case T_CNAME:
      return encodeName(d);
    case RR.MX: {
      const m = /^(\d+)\s+(\S+)$/.exec(d);
      if (!m || Number(m[1]) > 65535) throw new EncodeError(`bad MX record ${r.name} ${d}`);
      const pref = Buffer.alloc(2);
      pref.writeUInt16BE(Number(m[1]));
      return Buffer.concat([pref, encodeName(m[2]!)]);
    }
    case RR.TXT: {
      // One character-string per 255 bytes (producers keep it to one).
      const raw = Buffer.from(d, 'latin1');
      const parts: Buffer[] = [];
      for (let o = 0; o < raw.length || o === 0; o += 255) {
        const chunk = raw.subarray(o, o + 255);
        parts.push(Buffer.from([chunk.length]), chunk);
        if (raw.length === 0) break;
      }
      return Buffer.concat(parts);
    }
    case RR.SOA: {
      const f = d.trim().split(/\s+/);
      if (f.length !== 7) throw new EncodeError(`bad SOA record ${d}`);
      const nums = Buffer.alloc(20);
      for (let i = 0; i < 5; i++) nums.writeUInt32BE(Number(f[2 + i]) >>> 0, i * 4);
      return Buffer.concat([encodeName(f[0]!), encodeName(f[1]!), nums]);
    }
  }
  throw new EncodeError(`record type ${r.type} of ${r.name || '@'} cannot be transferred`);
}

/** One record in wire form, its owner pointing at the question name (offset 12). */
export function encodeRecord(r: ZoneRecord): Buffer {
  const rd = rdata(r);
  const out = Buffer.allocUnsafe(ownerSize(r.name) + 10 + rd.length);
  writeTail(out, writeOwner(out, 0, r.name), r, rd);
  return out;
}

/** Wire size of an owner written by writeOwner (latin1: one byte per character). */
function ownerSize(name: string): number {
  return (name === '' ? 0 : name.length + 1) + 2;
}

/** The owner's labels, then a pointer to the question's zone name (offset 12); returns the
 *  offset after it. The name goes in as text one byte after `o`, then each dot becomes the
 *  next label's length. */
function writeOwner(b: Buffer, o: number, name: string): number {
  if (name !== '') {
    const len = name.length;
    if (b.write(name, o + 1, 'latin1') !== len) throw new EncodeError(`bad owner name ${name}`);
    let lenPos = o;
    let n = 0;
    for (let i = o + 1, end = o + 1 + len; i < end; i++) {
      if (b[i] === 0x2e) {
        if (n === 0 || n > 63) throw new EncodeError(`bad owner name ${name}`);
        b[lenPos] = n;
        lenPos = i;
        n = 0;
      } else n++;
    }
    if (n === 0 || n > 63) throw new EncodeError(`bad owner name ${name}`);
    b[lenPos] = n;
    o += 1 + len;
  }
  b[o++] = 0xc0;
  b[o++] = 12;
  return o;
}

/** TYPE, CLASS IN, TTL, RDLENGTH and RDATA at `o`; returns the offset after them. */
function writeTail(b: Buffer, o: number, r: ZoneRecord, rd: Buffer): number {
  b.writeUInt16BE(r.type, o);
  b.writeUInt16BE(1, o + 2);
  b.writeUInt32BE(r.ttl >>> 0, o + 4);
  b.writeUInt16BE(rd.length, o + 8);
  rd.copy(b, o + 10);
  return o + 10 + rd.length;
}

/** RDATA by type and text: DNSBL zones repeat a few values (127.0.0.2, one TXT per list). */
class RdataCache {
  private readonly m = new Map<string, Buffer>();
  get(r: ZoneRecord): Buffer {
    const k = r.type + ' ' + r.data;
    let b = this.m.get(k);
    if (b === undefined) {
      b = rdata(r);
      if (this.m.size >= 4096) this.m.clear();
      this.m.set(k, b);
    }
    return b;
  }
}

/** Builds response messages: header + question, then records until the next one would not fit. */
export class MessageWriter {
  private buf: Buffer;
  private pos = 0;
  private count = 0;
  private readonly head: Buffer;
  /** Room kept for the TSIG record. */
  private readonly limit: number;

  constructor(id: number, flags: number, question: Buffer, reserve: number) {
    this.head = Buffer.alloc(12 + question.length);
    this.head.writeUInt16BE(id, 0);
    this.head.writeUInt16BE(flags, 2);
    this.head.writeUInt16BE(1, 4);
    question.copy(this.head, 12);
    this.limit = MAX_MESSAGE - reserve;
    this.buf = Buffer.allocUnsafe(this.limit);
    this.reset();
  }

  private reset(): void {
    this.head.copy(this.buf, 0);
    this.pos = this.head.length;
    this.count = 0;
  }

  get empty(): boolean {
    return this.count === 0;
  }

  private readonly rdata = new RdataCache();

  /** Writes `r` straight into the message (no buffer per record); returns a finished message
   *  when it did not fit in the one being built (the record then starts the next). */
  addRecord(r: ZoneRecord): Buffer | null {
    const rd = this.rdata.get(r);
    const name = r.name;
    const need = ownerSize(name) + 10 + rd.length;
    let done: Buffer | null = null;
    if (this.pos + need > this.limit) {
      if (this.count === 0) throw new EncodeError('a record larger than a message');
      done = this.finish();
    }
    this.pos = writeTail(this.buf, writeOwner(this.buf, this.pos, name), r, rd);
    this.count++;
    return done;
  }

  /** Adds an encoded record (encodeRecord); as addRecord. */
  add(rec: Buffer): Buffer | null {
    let done: Buffer | null = null;
    if (this.pos + rec.length > this.limit) {
      if (this.count === 0) throw new EncodeError('a record larger than a message');
      done = this.finish();
    }
    rec.copy(this.buf, this.pos);
    this.pos += rec.length;
    this.count++;
    return done;
  }

  /** The message built so far (a copy); starts a new one. */
  finish(): Buffer {
    this.buf.writeUInt16BE(this.count, 6);
    const out = Buffer.from(this.buf.subarray(0, this.pos));
    this.reset();
    return out;
  }
}
