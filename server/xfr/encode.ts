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
  const labels = r.name === '' ? [] : r.name.split('.');
  let ownerLen = 2;
  for (const l of labels) ownerLen += 1 + Buffer.byteLength(l, 'latin1');
  const out = Buffer.allocUnsafe(ownerLen + 10 + rd.length);
  let o = 0;
  for (const l of labels) {
    const n = out.write(l, o + 1, 'latin1');
    if (n > 63 || n === 0) throw new EncodeError(`bad owner name ${r.name}`);
    out[o] = n;
    o += 1 + n;
  }
  out[o++] = 0xc0;
  out[o++] = 12;
  out.writeUInt16BE(r.type, o);
  out.writeUInt16BE(1, o + 2);
  out.writeUInt32BE(r.ttl >>> 0, o + 4);
  out.writeUInt16BE(rd.length, o + 8);
  rd.copy(out, o + 10);
  return out;
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

  /** Adds a record; returns a finished message when the record did not fit in the one being
   *  built (the record then starts the next). */
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
