// Turns one query packet into one reply, written into a preallocated buffer: the rbldnsd
// rules (drop, NOTIMP, REFUSED, apex SOA/NS, NXDOMAIN/NODATA with the SOA, NS + glue in the
// authority of positive answers, NS rotation, dedup and same-type minimum TTL) plus EDNS0
// echo, the TC bit and the client ACL. Transport code (udp.ts, tcp.ts) only moves bytes.

import type { ClientAcl } from './acl.ts';
import type { Counters } from './counters.ts';
import { pick, writeBlock } from './compress.ts';
import { WireQuery } from './query.ts';
import { AnswerSink } from './sink.ts';
import type { Zone, ZoneTable } from './zones.ts';
import {
  C_ANY, C_CH, C_IN, PARSE_BADVERS, PARSE_DROP, PARSE_FORMERR, ParsedQuery, RCODE_BADVERS, RCODE_FORMERR,
  RCODE_NOERROR, RCODE_NOTIMP, RCODE_NXDOMAIN, RCODE_REFUSED, RCODE_SERVFAIL, T_A, T_ANY, T_MX, T_NS, T_OPT,
  T_SOA, T_TXT, className, encodeNameAsWritten, parseQuery, questionName, rcodeName, typeName,
} from './wire.ts';

export type VersionMode = 'version' | 'hide' | 'refuse';

export interface ResponderOptions {
  lazy: boolean;
  version: VersionMode;
  versionText: string;
  /** EDNS ceiling for UDP replies (>= 512). */
  maxUdpPayload: number;
  acl: ClientAcl | null;
  counters: Counters;
  queryLog?: (line: string) => void;
}

/** Largest DNS message (TCP); the buffer has room for the longest record past it. */
export const MAX_MESSAGE = 65535;
const OPT_LEN = 11;

export class Responder {
  /** The reply of the last `respond` call lives in `out[0..length)`. */
  readonly out = Buffer.allocUnsafe(MAX_MESSAGE + 1024);
  private readonly q = new ParsedQuery();
  private readonly wq = new WireQuery();
  private readonly sink = new AnswerSink();
  private table: ZoneTable;
  private zoneCounters: Float64Array[] = [];
  private readonly versionTxt: Buffer | null;
  private readonly mxNames = new Map<string, Buffer>();
  private an = 0;
  private nsCount = 0;
  private arCount = 0;

  constructor(
    private readonly opts: ResponderOptions,
    table: ZoneTable,
  ) {
    this.table = table;
    this.setTable(table);
    const v = opts.version === 'hide' ? (opts.versionText.split(/\s+/)[0] ?? '') : opts.versionText;
    this.versionTxt = opts.version === 'refuse' ? null : Buffer.from(v.slice(0, 255), 'latin1');
  }

  setTable(table: ZoneTable): void {
    this.zoneCounters = table.zones.map((z) => this.opts.counters.forZone(z.name));
    this.table = table; // last: a query never sees the new table with the old counters
  }

  /** Answers `msg[0..len)` from `client`; returns the reply length in `out`, 0 = drop. */
  respond(msg: Buffer, len: number, client: string, tcp: boolean): number {
    const q = this.q;
    const res = parseQuery(q, msg, len);
    if (res === PARSE_DROP) {
      this.opts.counters.dropped++;
      return 0;
    }
    let limit = MAX_MESSAGE;
    if (!tcp) {
      limit = 512;
      if (q.edns) limit = q.ednsSize < this.opts.maxUdpPayload ? q.ednsSize : this.opts.maxUdpPayload;
      if (limit < 512) limit = 512;
    }
    if (res === PARSE_FORMERR) {
      q.edns = false; // the reply to a broken OPT carries none
      return this.fail(RCODE_FORMERR, 0x80 | (q.flags1 & 1), null, len, client);
    }
    if (res === PARSE_BADVERS) return this.fail(RCODE_BADVERS, 0x80 | (q.flags1 & 1), null, len, client);
    if (this.opts.acl !== null && !this.opts.acl.allows(client)) {
      return this.fail(RCODE_REFUSED, 0x80 | (q.flags1 & 1), null, len, client);
    }
    // Opcode other than QUERY, or AA/TC set by the client: NOTIMP, flags just QR (rbldnsd).
    if ((q.flags1 & 0x7e) !== 0) return this.fail(RCODE_NOTIMP, 0x80, null, len, client);
    const qclass = q.qclass;
    if (qclass !== C_IN && qclass !== C_ANY) {
      if (qclass === C_CH) return this.version(len, client);
      return this.fail(RCODE_REFUSED, 0x80 | (q.flags1 & 1), null, len, client);
    }
    const qtype = q.qtype;
    if (qtype >= 250 && qtype !== T_ANY) return this.fail(RCODE_NOTIMP, 0x80 | (q.flags1 & 1), null, len, client);
    const table = this.table;
    const zi = table.find(q);
    if (zi < 0) return this.fail(RCODE_REFUSED, 0x80 | (q.flags1 & 1), null, len, client);
    const zone = table.zones[zi]!;
    const zc = this.zoneCounters[zi]!;
    if (zone.failed) return this.fail(RCODE_SERVFAIL, 0x80 | (q.flags1 & 1), zc, len, client);
    return this.answer(zone, zc, limit, len, client);
  }

  private answer(zone: Zone, zc: Float64Array, limit: number, len: number, client: string): number {
    const q = this.q;
    const out = this.out;
    const qtype = q.qtype;
    const below = q.nLabels - zone.labelCount;
    const zoneAt = q.nameEnd - zone.wire.length; // the zone suffix inside the question
    const room = limit - (q.edns ? OPT_LEN : 0);
    let pos = this.header(q.qEnd);
    this.an = this.nsCount = this.arCount = 0;
    let found = false;
    if (below === 0) {
      // Apex: SOA/NS from $SOA/$NS, REFUSED when the asked one is missing.
      found = true;
      if (qtype === T_SOA || qtype === T_ANY) {
        if (zone.soaAnswer === null) return this.fail(RCODE_REFUSED, 0x80 | (q.flags1 & 1), zc, len, client);
      }
      if (qtype === T_NS || qtype === T_ANY) {
        if (zone.nsNames.length === 0) return this.fail(RCODE_REFUSED, 0x80 | (q.flags1 & 1), zc, len, client);
      }
      if (qtype === T_SOA || qtype === T_ANY) {
        pos = writeBlock(this.out, pos, pick(zone.soaAnswer!, pos), zoneAt);
        this.an++;
      }
      if (qtype === T_NS || qtype === T_ANY) {
        pos = writeBlock(this.out, pos, pick(zone.nsBlocks[this.rotate(zone)]!, pos), zoneAt);
        this.an += zone.nsNames.length;
      }
    }
    const sink = this.sink;
    sink.reset(qtype);
    const ds = zone.datasets;
    if (ds.length) {
      const wq = this.wq.set(q, below, qtype, zone.hasIp4);
      for (let i = 0; i < ds.length; i++) if (ds[i]!.query(wq, sink)) found = true;
    }
    if (sink.count) pos = this.records(pos);
    let tc = false;
    if (pos > room) {
      // The answer does not fit: TC and no records (the client retries over TCP).
      tc = true;
      pos = q.qEnd;
      this.an = 0;
    }
    let rcode = RCODE_NOERROR;
    if (!tc) {
      if (this.an > 0) {
        if (!this.opts.lazy && zone.nsNames.length) pos = this.authorityNs(pos, zone, zoneAt, room);
      } else {
        if (!found) rcode = RCODE_NXDOMAIN;
        const soa = zone.soaAuthority;
        if (soa !== null) {
          const b = pick(soa, pos);
          if (pos + b.bytes.length <= room) {
            pos = writeBlock(out, pos, b, zoneAt);
            this.nsCount = 1;
          }
        }
      }
    }
    let f1 = 0x80 | (q.flags1 & 1);
    if (q.qclass === C_IN) f1 |= 4;
    if (tc) f1 |= 2;
    out[2] = f1;
    out[3] = rcode;
    return this.finish(pos, rcode, zc, len, client);
  }

  /** Copies the id and question; returns the offset after the question. */
  private header(qEnd: number): number {
    const out = this.out;
    const b = this.q.buf;
    out[0] = b[0]!;
    out[1] = b[1]!;
    out[4] = 0;
    out[5] = 1;
    if (qEnd - 12 < 48) for (let i = 12; i < qEnd; i++) out[i] = b[i]!;
    else b.copy(out, 12, 12, qEnd);
    return qEnd;
  }

  /** The next rotation of the zone's NS RRset (advanced on every write, as rbldnsd does). */
  private rotate(zone: Zone): number {
    const start = zone.nsRotation++ % zone.nsNames.length;
    if (zone.nsRotation >= 0x40000000) zone.nsRotation = 0;
    return start;
  }

  /** NS in AUTHORITY and glue in ADDITIONAL; what does not fit is left out (NS alone, then nothing). */
  private authorityNs(pos: number, zone: Zone, zoneAt: number, room: number): number {
    const r = this.rotate(zone);
    let b = pick(zone.nsGlueBlocks[r]!, pos);
    if (pos + b.bytes.length <= room) {
      this.arCount = zone.glueCount;
    } else {
      b = pick(zone.nsBlocks[r]!, pos);
      if (pos + b.bytes.length > room) return pos;
    }
    this.nsCount = zone.nsNames.length;
    return writeBlock(this.out, pos, b, zoneAt);
  }

  /** TYPE A, CLASS IN, TTL, RDLENGTH 4, address. */
  private aTail(pos: number, ip: number, ttl: number): number {
    const out = this.out;
    out[pos] = 0;
    out[pos + 1] = T_A;
    out[pos + 2] = 0;
    out[pos + 3] = C_IN;
    out[pos + 4] = ttl >>> 24;
    out[pos + 5] = (ttl >>> 16) & 0xff;
    out[pos + 6] = (ttl >>> 8) & 0xff;
    out[pos + 7] = ttl & 0xff;
    out[pos + 8] = 0;
    out[pos + 9] = 4;
    out[pos + 10] = ip >>> 24;
    out[pos + 11] = (ip >>> 16) & 0xff;
    out[pos + 12] = (ip >>> 8) & 0xff;
    out[pos + 13] = ip & 0xff;
    return pos + 14;
  }

  /** The records the datasets produced, owners pointing at the question name. */
  private records(pos: number): number {
    const sink = this.sink;
    const out = this.out;
    const n = sink.count;
    for (let r = 0; r < n; r++) {
      if (pos > MAX_MESSAGE) break; // cannot fit anyway; TC follows
      out[pos] = 0xc0;
      out[pos + 1] = 0x0c;
      pos += 2;
      const type = sink.types[r]!;
      if (type === T_A) {
        pos = this.aTail(pos, sink.nums[r]!, sink.minA);
      } else if (type === T_TXT) {
        pos = this.typeClassTtl(pos, T_TXT, sink.minTxt);
        const s = sink.strs[r]!;
        const l = s.length > 255 ? 255 : s.length;
        out[pos] = 0;
        out[pos + 1] = l + 1;
        out[pos + 2] = l;
        pos += 3;
        for (let i = 0; i < l; i++) out[pos + i] = s.charCodeAt(i);
        pos += l;
      } else {
        pos = this.typeClassTtl(pos, T_MX, sink.minMx);
        const name = this.mxName(sink.strs[r]!);
        const rdlen = 2 + name.length;
        const pref = sink.nums[r]!;
        out[pos] = rdlen >> 8;
        out[pos + 1] = rdlen & 0xff;
        out[pos + 2] = pref >> 8;
        out[pos + 3] = pref & 0xff;
        name.copy(out, pos + 4);
        pos += 4 + name.length;
      }
      this.an++;
    }
    return pos;
  }

  private typeClassTtl(pos: number, type: number, ttl: number): number {
    const out = this.out;
    out[pos] = type >> 8;
    out[pos + 1] = type & 0xff;
    out[pos + 2] = 0;
    out[pos + 3] = C_IN;
    out[pos + 4] = ttl >>> 24;
    out[pos + 5] = (ttl >>> 16) & 0xff;
    out[pos + 6] = (ttl >>> 8) & 0xff;
    out[pos + 7] = ttl & 0xff;
    return pos + 8;
  }

  /** MX exchanges are written in full, as written in the data (rbldnsd does not compress them). */
  private mxName(name: string): Buffer {
    let w = this.mxNames.get(name);
    if (!w) {
      try {
        w = encodeNameAsWritten(name);
      } catch {
        w = Buffer.from([0]);
      }
      if (this.mxNames.size > 10_000) this.mxNames.clear();
      this.mxNames.set(name, w);
    }
    return w;
  }

  /** CH TXT version.bind / version.server (rbldnsd leaves the query's second flags byte as it
   *  was, RA and rcode bits included); any other CH question is REFUSED. */
  private version(len: number, client: string): number {
    const q = this.q;
    const b = q.buf;
    const off = q.labelOff;
    const txt = this.versionTxt;
    if (
      txt === null ||
      (q.qtype !== T_TXT) ||
      q.nLabels !== 2 ||
      !labelIs(b, off[0]!, 'version') ||
      !(labelIs(b, off[1]!, 'bind') || labelIs(b, off[1]!, 'server'))
    ) {
      return this.fail(RCODE_REFUSED, 0x80 | (q.flags1 & 1), null, len, client);
    }
    const out = this.out;
    let pos = this.header(q.qEnd);
    out[pos] = 0xc0;
    out[pos + 1] = 0x0c;
    pos = this.typeClassTtl(pos + 2, T_TXT, 0);
    out[pos - 5] = C_CH;
    out[pos] = 0;
    out[pos + 1] = txt.length + 1;
    out[pos + 2] = txt.length;
    txt.copy(out, pos + 3);
    pos += 3 + txt.length;
    this.an = 1;
    this.nsCount = this.arCount = 0;
    out[2] = 0x80 | (q.flags1 & 1);
    out[3] = q.flags2;
    return this.finish(pos, RCODE_NOERROR, null, len, client);
  }

  /** An error reply: header, the question, the OPT when the query had one. */
  private fail(rcode: number, f1: number, zc: Float64Array | null, len: number, client: string): number {
    const out = this.out;
    const pos = this.header(this.q.qEnd);
    out[2] = f1;
    out[3] = rcode & 0xf;
    this.an = this.nsCount = this.arCount = 0;
    return this.finish(pos, rcode, zc, len, client);
  }

  /** Adds the OPT record, writes the counts, counts and logs the reply. */
  private finish(pos: number, rcode: number, zc: Float64Array | null, len: number, client: string): number {
    const out = this.out;
    const q = this.q;
    let ar = this.arCount;
    if (q.edns) {
      const size = this.opts.maxUdpPayload;
      out[pos] = 0;
      out[pos + 1] = 0;
      out[pos + 2] = T_OPT;
      out[pos + 3] = size >> 8;
      out[pos + 4] = size & 0xff;
      out[pos + 5] = rcode >> 4; // extended rcode (BADVERS)
      out[pos + 6] = 0; // version
      out[pos + 7] = 0;
      out[pos + 8] = 0; // flags: no DO, we do not sign
      out[pos + 9] = 0;
      out[pos + 10] = 0;
      pos += OPT_LEN;
      ar++;
    }
    const an = this.an;
    out[6] = an >> 8;
    out[7] = an & 0xff;
    out[8] = this.nsCount >> 8;
    out[9] = this.nsCount & 0xff;
    out[10] = ar >> 8;
    out[11] = ar & 0xff;
    this.opts.counters.count(zc, rcode, len, pos);
    if (this.opts.queryLog !== undefined) this.log(client, rcode, an, pos);
    return pos;
  }

  private log(client: string, rcode: number, an: number, size: number): void {
    const q = this.q;
    const line =
      `${Math.floor(Date.now() / 1000)} ${client} ${questionName(q)} ${typeName(q.qtype)} ` +
      `${className(q.qclass)}: ${rcodeName(rcode)}/${an}/${size}`;
    this.opts.queryLog!(line);
  }
}

/** Case-insensitive compare of a label with a lowercase ASCII word. */
function labelIs(b: Buffer, o: number, word: string): boolean {
  if (b[o] !== word.length) return false;
  for (let i = 0; i < word.length; i++) {
    let c = b[o + 1 + i]!;
    if (c >= 65 && c <= 90) c |= 32;
    if (c !== word.charCodeAt(i)) return false;
  }
  return true;
}
