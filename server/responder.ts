// Turns one query packet into one reply, written into a preallocated buffer: the rbldnsd
// rules (drop, NOTIMP, REFUSED, apex SOA/NS, NXDOMAIN/NODATA with the SOA, NS + glue in the
// authority of positive answers, NS rotation, dedup and same-type minimum TTL) plus EDNS0
// echo, the TC bit, the allow-query list and rbldnsd's `acl` datasets (global and per zone).
// Transport code (udp.ts, udp-batch.ts, tcp.ts) only moves bytes.

import type { ClientAcl } from './acl.ts';
import { ACL_EMPTY, ACL_IGNORE, ACL_LISTED, ACL_REFUSE, type AclDataset } from '../core/datasets/acl.ts';
import { expandTxt } from '../core/rbldnsd/value.ts';
import { ip4Dotted } from '../core/ip4.ts';
import { ACL_DNSBL, ACL_FOUND, aclDatasetAnswer } from './acl-answer.ts';
import { ip6ClientText, parseIp4Text, parseIp6Text } from './peer.ts';
import type { Counters } from './counters.ts';
import { pick, writeBlock } from './compress.ts';
import { WireQuery } from './query.ts';
import { AnswerSink } from './sink.ts';
import type { Zone, ZoneTable } from './zones.ts';
import type { Dataset } from '../core/datasets/types.ts';
import {
  C_ANY, C_CH, C_IN, PARSE_BADVERS, PARSE_DROP, PARSE_FORMERR, ParsedQuery, RCODE_BADVERS, RCODE_FORMERR,
  RCODE_NOERROR, RCODE_NOTIMP, RCODE_NXDOMAIN, RCODE_REFUSED, RCODE_SERVFAIL, T_A, T_ANY, T_MX, T_NS, T_OPT,
  T_SOA, T_TXT, className, encodeNameAsWritten, normalizeName, parseQuery, questionName, rcodeName, typeName,
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
  /** rbldnsd mode: an OPT record in the answer or authority section is ignored (rbldnsd
   *  answers such a query as one without EDNS) instead of FORMERR. */
  skipMisplacedOpt?: boolean;
  /** Replica mode: a NOTIFY (RFC 1996) for `zone` (lowercase, no trailing dot) from `client`,
   *  the whole query in `query`: the reply's rcode (NOERROR = accepted, AA set; REFUSED;
   *  NOTAUTH for a bad TSIG) and, for a signed NOTIFY, how to sign the reply (TSIG last).
   *  Absent: NOTIFY is NOTIMP like other opcodes. */
  onNotify?: (zone: string, client: string, query: Buffer) => NotifyVerdict;
}

export interface NotifyVerdict {
  rcode: number;
  sign?: (reply: Buffer) => Buffer;
}

/** Largest DNS message (TCP); the buffer has room for the longest record past it. */
export const MAX_MESSAGE = 65535;
const OPT_LEN = 11;

// rbldnsd ACL results of one query, OR-ed over the global and the zone ACL; the strongest
// wins: ignore > refuse > empty > always listed.
const F_IGNORE = 1;
const F_REFUSE = 2;
const F_EMPTY = 4;
const F_LISTED = 8;

export class Responder {
  /** The reply of the last `respond` call lives in `out[0..length)`. */
  readonly out = Buffer.allocUnsafe(MAX_MESSAGE + 1024);
  private readonly q = new ParsedQuery();
  private readonly wq = new WireQuery();
  private readonly sink = new AnswerSink();
  private table: ZoneTable;
  private zoneCounters: Float64Array[] = [];
  private readonly versionTxt: string | null;
  private readonly mxNames = new Map<string, Buffer>();
  private an = 0;
  private nsCount = 0;
  private arCount = 0;
  /** The client of the current query, for ACL lookups: family 4 (peerIp4), 6 (peer6 at
   *  peer6Off) or 0 (unknown: no ACL entry matches). */
  private peerFamily = 0;
  private peerIp4 = 0;
  private peer6: Uint8Array = new Uint8Array(16);
  private peer6Off = 0;
  private readonly peer6Scratch = new Uint8Array(16);
  /** The ACL whose always-listed value answers (the first one that said so: global first). */
  private listedAcl: AclDataset | null = null;
  private listedValue = 0;
  private readonly aclScratch = new AnswerSink();

  constructor(
    private readonly opts: ResponderOptions,
    table: ZoneTable,
  ) {
    this.table = table;
    this.setTable(table);
    const v = opts.version === 'hide' ? (opts.versionText.split(/\s+/)[0] ?? '') : opts.versionText;
    this.versionTxt = opts.version === 'refuse' ? null : Buffer.from(v.slice(0, 255), 'latin1').toString('latin1');
  }

  /** A transfer server is set (DnsServer.setTransferHandler): IXFR over UDP answers the SOA. */
  transfersOn = false;
  /** Signs the answer to a TSIG-signed query (server/xfr/sign-answer.ts, set with transfers):
   *  a secondary's SOA refresh is signed and an unsigned answer fails it. Returns the signed
   *  reply (or a NOTAUTH for a bad signature), null to send the reply as it is. Only signed
   *  queries pay for it. */
  signAnswer: ((query: Buffer, reply: Buffer, qEnd: number, limit: number) => Buffer | null) | null = null;
  private limit = 512;

  /** The table answered from now (zone transfers follow it). */
  get zoneTable(): ZoneTable {
    return this.table;
  }

  setTable(table: ZoneTable): void {
    this.zoneCounters = table.zones.map((z) => this.opts.counters.forZone(z.name));
    this.table = table; // last: a query never sees the new table with the old counters
  }

  // For response rate limiting (rrl.ts), read right after `respond`: where the question ends
  // in `out`, whether the reply carries an OPT (always its last 11 bytes), and the zone of the
  // query (index in the current table, -1 for none; RRL counts NXDOMAIN per zone).
  get lastQEnd(): number {
    return this.q.qEnd;
  }
  get lastEdns(): boolean {
    return this.q.edns;
  }
  lastZone(): number {
    return this.table.find(this.q);
  }

  /** Answers `msg[0..len)` from `client`; returns the reply length in `out`, 0 = drop.
   *  `peer`: the client address as 4 or 16 bytes when the transport has them (rbldnsd ACLs
   *  look them up; without them `client` is parsed, and only when an ACL exists). */
  respond(msg: Buffer, len: number, client: string, tcp: boolean, peer: Uint8Array | null = null): number {
    const n = this.respondUnsigned(msg, len, client, tcp, peer);
    const q = this.q;
    // a signed ordinary query (not a NOTIFY: the replica's hook signs those itself)
    if (n === 0 || !q.tsig || this.signAnswer === null || (q.flags1 & 0x78) !== 0) return n;
    const signed = this.signAnswer(msg.subarray(0, len), this.out.subarray(0, n), q.qEnd, this.limit);
    return signed === null || signed.length > this.out.length ? n : signed.copy(this.out, 0);
  }

  private respondUnsigned(msg: Buffer, len: number, client: string, tcp: boolean, peer: Uint8Array | null): number {
    const q = this.q;
    const table = this.table;
    const aclOn = table.aclInUse;
    let acl = 0;
    if (aclOn) {
      // rbldnsd consults the global ACL before it even parses the packet.
      this.setPeer(client, peer);
      this.listedAcl = null;
      if (table.globalAcl !== null) {
        acl = this.aclFlags(table.globalAcl);
        if (acl & F_IGNORE) {
          this.opts.counters.dropped++;
          return 0;
        }
      }
    }
    const res = parseQuery(q, msg, len, this.opts.skipMisplacedOpt === true);
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
    this.limit = limit;
    if (res === PARSE_FORMERR) {
      q.edns = false; // the reply to a broken OPT carries none
      return this.fail(RCODE_FORMERR, 0x80 | (q.flags1 & 1), null, len, client);
    }
    if (res === PARSE_BADVERS) return this.fail(RCODE_BADVERS, 0x80 | (q.flags1 & 1), null, len, client);
    if (this.opts.acl !== null && !this.opts.acl.allows(client)) {
      return this.fail(RCODE_REFUSED, 0x80 | (q.flags1 & 1), null, len, client);
    }
    if ((q.flags1 & 0x78) === 0x20 && this.opts.onNotify !== undefined) {
      // NOTIFY: the reply echoes the opcode and question, AA set when accepted (rare: allocates)
      const v = this.opts.onNotify(normalizeName(questionName(q)), client, msg.subarray(0, len));
      let n = this.fail(v.rcode, v.rcode === RCODE_NOERROR ? 0xa4 : 0xa0, null, len, client);
      if (v.sign !== undefined) {
        const signed = v.sign(this.out.subarray(0, n));
        if (signed.length <= MAX_MESSAGE) n = signed.copy(this.out, 0);
      }
      return n;
    }
    // Opcode other than QUERY, or AA/TC set by the client: NOTIMP, flags just QR (rbldnsd).
    if ((q.flags1 & 0x7e) !== 0) return this.fail(RCODE_NOTIMP, 0x80, null, len, client);
    const qclass = q.qclass;
    if (qclass !== C_IN && qclass !== C_ANY) {
      if (qclass === C_CH) return this.version(len, client);
      return this.fail(RCODE_REFUSED, 0x80 | (q.flags1 & 1), null, len, client);
    }
    let qtype = q.qtype;
    // Zone transfers reach here over TCP only when no transfer server (server/xfr) takes them:
    // REFUSED. With transfers on, IXFR over UDP gets the SOA only (RFC 1995 2: the client then
    // asks over TCP); off, it stays NOTIMP as in rbldnsd.
    if (qtype === 251 && !tcp && this.transfersOn) qtype = q.qtype = T_SOA;
    else if ((qtype === 251 || qtype === 252) && tcp) return this.fail(RCODE_REFUSED, 0x80 | (q.flags1 & 1), null, len, client);
    if (qtype >= 250 && qtype !== T_ANY) return this.fail(RCODE_NOTIMP, 0x80 | (q.flags1 & 1), null, len, client);
    const zi = table.find(q);
    if (zi < 0) return this.fail(RCODE_REFUSED, 0x80 | (q.flags1 & 1), null, len, client);
    const zone = table.zones[zi]!;
    const zc = this.zoneCounters[zi]!;
    if (aclOn && zone.acl !== null) {
      acl |= this.aclFlags(zone.acl);
      if (acl & F_IGNORE) {
        this.opts.counters.dropped++;
        return 0;
      }
    }
    if (zone.failed) return this.fail(RCODE_SERVFAIL, 0x80 | (q.flags1 & 1), zc, len, client);
    // ACL refuse: REFUSED with AA clear, apex SOA/NS included (checked after SERVFAIL, as rbldnsd).
    if (acl & F_REFUSE) return this.fail(RCODE_REFUSED, 0x80 | (q.flags1 & 1), zc, len, client);
    return this.answer(zone, zc, limit, len, client, acl);
  }

  /** Records the client address for ACL lookups: the transport's bytes, else parsed text
   *  (an IPv4 client on an IPv6 socket stays IPv6, ::ffff:a.b.c.d, as in rbldnsd). */
  private setPeer(client: string, peer: Uint8Array | null): void {
    if (peer !== null) {
      if (peer.length === 4) {
        this.peerFamily = 4;
        this.peerIp4 = ((peer[0]! << 24) | (peer[1]! << 16) | (peer[2]! << 8) | peer[3]!) >>> 0;
      } else {
        this.peerFamily = 6;
        this.peer6 = peer;
        this.peer6Off = 0;
      }
      return;
    }
    if (client.includes(':')) {
      this.peerFamily = parseIp6Text(client, this.peer6Scratch) ? 6 : 0;
      this.peer6 = this.peer6Scratch;
      this.peer6Off = 0;
    } else {
      const ip = parseIp4Text(client);
      this.peerFamily = ip < 0 ? 0 : 4;
      this.peerIp4 = ip;
    }
  }

  /** One ACL's verdict for the current client as F_* flags; remembers the first always-listed
   *  value (the global ACL's wins over the zone's). */
  private aclFlags(a: AclDataset): number {
    const f = this.peerFamily;
    const code = f === 4 ? a.match4(this.peerIp4) : f === 6 ? a.match6(this.peer6, this.peer6Off) : 0;
    if (code === 0) return 0;
    if (code === ACL_IGNORE) return F_IGNORE;
    if (code === ACL_REFUSE) return F_REFUSE;
    if (code === ACL_EMPTY) return F_EMPTY;
    if (this.listedAcl === null) {
      this.listedAcl = a;
      this.listedValue = code - ACL_LISTED;
    }
    return F_LISTED;
  }

  /** `$` of an always-listed TXT: the client address as getnameinfo prints it. */
  private peerText(): string {
    if (this.peerFamily === 4) return ip4Dotted(this.peerIp4);
    if (this.peerFamily === 6) return ip6ClientText(this.peer6, this.peer6Off);
    return '';
  }

  /** The zone's datasets under an empty/always-listed ACL (acl-answer.ts); returns whether the
   *  name counts as found. Always-listed adds the ACL's A/TXT once, after everything else. */
  private aclDatasets(ds: readonly Dataset[], wq: WireQuery, acl: number): boolean {
    let found = false;
    let listed = false;
    for (let i = 0; i < ds.length; i++) {
      const r = aclDatasetAnswer(ds[i]!, wq, this.aclScratch);
      if (r & ACL_FOUND) found = true;
      if ((r & ACL_DNSBL) !== 0 && (acl & F_EMPTY) === 0) listed = true;
    }
    const a = this.listedAcl;
    if (listed && a !== null) {
      const v = a.values[this.listedValue]!;
      const sink = this.sink;
      sink.a(v.a, a.ttl);
      if (sink.wantTxt) {
        const t = expandTxt(v.txt, this.peerText(), a.subs);
        if (t !== null) sink.txt(t, a.ttl);
      }
    }
    return found || listed;
  }

  private answer(zone: Zone, zc: Float64Array, limit: number, len: number, client: string, acl: number): number {
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
        if (zone.liveSerial !== null) writeU32(out, pos - SOA_SERIAL_FROM_END, zone.liveSerial.serial);
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
      if (acl === 0) {
        for (let i = 0; i < ds.length; i++) if (ds[i]!.query(wq, sink)) found = true;
      } else if (this.aclDatasets(ds, wq, acl)) found = true;
    }
    // Over TCP (the only 64 KiB limit) TC must not be set (RFC 7766 §8): the records that fit
    // are sent, the rest left out, so a listing is still seen as one. UDP: TC below.
    if (sink.count) pos = this.records(pos, limit === MAX_MESSAGE ? room : MAX_MESSAGE);
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
            if (zone.liveSerial !== null) writeU32(out, pos - SOA_SERIAL_FROM_END, zone.liveSerial.serial);
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
  private records(pos: number, fit: number): number {
    const sink = this.sink;
    const out = this.out;
    const n = sink.count;
    for (let r = 0; r < n; r++) {
      if (pos > MAX_MESSAGE) break; // cannot fit anyway; TC follows
      const start = pos;
      out[pos] = 0xc0;
      out[pos + 1] = 0x0c;
      pos += 2;
      const type = sink.types[r]!;
      if (type === T_A) {
        pos = this.aTail(pos, sink.nums[r]!, sink.minA);
      } else if (type === T_TXT) {
        pos = writeTxtRdata(out, this.typeClassTtl(pos, T_TXT, sink.minTxt), sink.strs[r]!);
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
      if (pos > fit) return start; // TCP: this record and the rest do not fit
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
    pos = writeTxtRdata(out, pos, txt);
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

/** SERIAL REFRESH RETRY EXPIRE MINIMUM end an SOA record: the serial starts 20 bytes before. */
const SOA_SERIAL_FROM_END = 20;

function writeU32(out: Buffer, pos: number, v: number): void {
  out[pos] = v >>> 24;
  out[pos + 1] = (v >>> 16) & 0xff;
  out[pos + 2] = (v >>> 8) & 0xff;
  out[pos + 3] = v & 0xff;
}

/** Largest character-string in a TXT RDATA (its length is one byte). */
export const TXT_STRING_MAX = 255;

/** RDLENGTH and the RDATA of a TXT record holding `s` (a byte string: one char per byte) as
 *  one character-string, cut at 255 bytes as rbldnsd cuts (every producer already keeps to
 *  254/255). RDLENGTH is two bytes: a 255-byte string makes 256, which once overflowed the
 *  low byte into a malformed record. A char above 0xff (not a byte) is written as '?'. */
export function writeTxtRdata(out: Buffer, pos: number, s: string): number {
  const l = s.length > TXT_STRING_MAX ? TXT_STRING_MAX : s.length;
  const rdlen = l + 1;
  out[pos] = rdlen >> 8;
  out[pos + 1] = rdlen & 0xff;
  out[pos + 2] = l;
  pos += 3;
  for (let i = 0; i < l; i++) {
    const c = s.charCodeAt(i);
    out[pos + i] = c > 0xff ? 0x3f : c;
  }
  return pos + l;
}
