// DNS wire helpers for the differential suite: hand-built queries (so every header bit and
// every label byte is under our control) and a normalized, comparable view of a reply.

import dnsPacket from 'dns-packet';

export const QTYPE: Record<string, number> = {
  A: 1, NS: 2, SOA: 6, PTR: 12, MX: 15, TXT: 16, AAAA: 28, TKEY: 249, IXFR: 251, AXFR: 252,
  ANY: 255, CAA: 257, TYPE0: 0,
};
export const QCLASS: Record<string, number> = { IN: 1, CH: 3, HS: 4, ANY: 255 };

const RCODES = ['NOERROR', 'FORMERR', 'SERVFAIL', 'NXDOMAIN', 'NOTIMP', 'REFUSED'];

/** Splits a presentation name into label bytes; understands `\.` and `\DDD` escapes. */
export function nameToLabels(name: string): Buffer[] {
  if (name === '.' || name === '') return [];
  const labels: Buffer[] = [];
  let cur: number[] = [];
  for (let i = 0; i < name.length; i++) {
    const c = name[i]!;
    if (c === '\\') {
      const d = name.slice(i + 1, i + 4);
      if (/^[0-9]{3}$/.test(d)) {
        cur.push(Number(d));
        i += 3;
      } else {
        cur.push(name.charCodeAt(i + 1));
        i += 1;
      }
    } else if (c === '.') {
      labels.push(Buffer.from(cur));
      cur = [];
    } else {
      cur.push(name.charCodeAt(i));
    }
  }
  if (cur.length) labels.push(Buffer.from(cur));
  return labels;
}

export function encodeName(name: string): Buffer {
  const parts: Buffer[] = [];
  for (const l of nameToLabels(name)) parts.push(Buffer.from([l.length]), l);
  parts.push(Buffer.from([0]));
  return Buffer.concat(parts);
}

export interface QueryFlags {
  rd?: boolean;
  aa?: boolean;
  tc?: boolean;
  ra?: boolean;
  ad?: boolean;
  cd?: boolean;
  z?: boolean;
  qr?: boolean;
  opcode?: number;
}

export function buildHeader(id: number, flags: QueryFlags, counts: [number, number, number, number]): Buffer {
  const h = Buffer.alloc(12);
  h.writeUInt16BE(id, 0);
  let f = 0;
  if (flags.qr) f |= 0x8000;
  f |= ((flags.opcode ?? 0) & 0xf) << 11;
  if (flags.aa) f |= 0x0400;
  if (flags.tc) f |= 0x0200;
  if (flags.rd ?? true) f |= 0x0100;
  if (flags.ra) f |= 0x0080;
  if (flags.z) f |= 0x0040;
  if (flags.ad) f |= 0x0020;
  if (flags.cd) f |= 0x0010;
  h.writeUInt16BE(f, 2);
  counts.forEach((c, i) => h.writeUInt16BE(c, 4 + 2 * i));
  return h;
}

export function buildQuery(id: number, name: string, qtype: number, qclass = 1, flags: QueryFlags = {}): Buffer {
  const tail = Buffer.alloc(4);
  tail.writeUInt16BE(qtype, 0);
  tail.writeUInt16BE(qclass, 2);
  return Buffer.concat([buildHeader(id, flags, [1, 0, 0, 0]), encodeName(name), tail]);
}

/** Header fields of any reply, even one dns-packet cannot decode. */
export interface Header {
  id: number;
  opcode: number;
  flags: string; // e.g. "qr aa rd"
  rcode: string;
  counts: string; // "qd/an/ns/ar"
}

export function parseHeader(b: Buffer): Header {
  if (b.length < 12) return { id: -1, opcode: -1, flags: `short reply (${b.length} bytes)`, rcode: '?', counts: '?' };
  const f = b.readUInt16BE(2);
  const names: string[] = [];
  const bits: [number, string][] = [
    [0x8000, 'qr'], [0x0400, 'aa'], [0x0200, 'tc'], [0x0100, 'rd'], [0x0080, 'ra'], [0x0040, 'z'],
    [0x0020, 'ad'], [0x0010, 'cd'],
  ];
  for (const [m, n] of bits) if (f & m) names.push(n);
  const rc = f & 0xf;
  return {
    id: b.readUInt16BE(0),
    opcode: (f >> 11) & 0xf,
    flags: names.join(' '),
    rcode: RCODES[rc] ?? `RCODE${rc}`,
    counts: [4, 6, 8, 10].map((o) => b.readUInt16BE(o)).join('/'),
  };
}

/** Byte length of the (single) question section starting at offset 12, or -1. */
export function questionEnd(b: Buffer): number {
  let o = 12;
  for (;;) {
    if (o >= b.length) return -1;
    const l = b[o]!;
    if (l === 0) break;
    if (l >= 0xc0) {
      o += 1;
      break;
    }
    o += 1 + l;
  }
  o += 1 + 4;
  return o <= b.length ? o : -1;
}

function latin1Quote(buf: Buffer): string {
  let s = '"';
  for (const c of buf) {
    if (c === 0x22 || c === 0x5c) s += '\\' + String.fromCharCode(c);
    else if (c < 0x20 || c > 0x7e) s += '\\' + String(c).padStart(3, '0');
    else s += String.fromCharCode(c);
  }
  return s + '"';
}

type AnyRecord = { name: string; type: string; class?: string; ttl?: number; data?: unknown; udpPayloadSize?: number };

function rdataText(r: AnyRecord): string {
  const d = r.data as any;
  switch (r.type) {
    case 'A':
    case 'AAAA':
    case 'NS':
    case 'PTR':
    case 'CNAME':
      return String(d);
    case 'TXT':
      return (Array.isArray(d) ? d : [d]).map((x: Buffer | string) => latin1Quote(Buffer.isBuffer(x) ? x : Buffer.from(x, 'latin1'))).join(' ');
    case 'MX':
      return `${d.preference} ${d.exchange}`;
    case 'SOA':
      return `${d.mname} ${d.rname} ${d.serial} ${d.refresh} ${d.retry} ${d.expire} ${d.minimum}`;
    case 'OPT':
      return `udp=${r.udpPayloadSize} ${JSON.stringify((r as any).options ?? [])}`;
    default:
      return Buffer.isBuffer(d) ? d.toString('hex') : JSON.stringify(d);
  }
}

/** One record as a comparable line: owner (case kept), TTL, class, type, rdata. */
export function recordLine(r: AnyRecord): string {
  const cls = r.type === 'OPT' ? '-' : (r.class ?? '?');
  return `${r.name || '.'} ${r.ttl ?? '-'} ${cls} ${r.type} ${rdataText(r)}`;
}

/** The comparable view of a reply. Sections are sorted: RRset order (rotation) is not compared. */
export interface Normalized {
  header: Omit<Header, 'id'>;
  question: string; // hex of the echoed question bytes
  answer: string[];
  authority: string[];
  additional: string[];
  undecodable?: string;
}

export function normalize(b: Buffer): Normalized {
  const h = parseHeader(b);
  const { id: _id, ...header } = h;
  const qd = b.length >= 12 ? b.readUInt16BE(4) : 0;
  const qEnd = qd > 0 ? questionEnd(b) : 12;
  const question = qEnd > 12 ? b.subarray(12, qEnd).toString('hex') : '';
  const out: Normalized = { header, question, answer: [], authority: [], additional: [] };
  try {
    const p = dnsPacket.decode(b) as any;
    out.answer = (p.answers ?? []).map(recordLine).sort();
    out.authority = (p.authorities ?? []).map(recordLine).sort();
    out.additional = (p.additionals ?? []).map(recordLine).sort();
  } catch (e) {
    out.undecodable = `${(e as Error).message}: ${b.toString('hex')}`;
  }
  return out;
}

export function typeName(t: number): string {
  for (const [k, v] of Object.entries(QTYPE)) if (v === t) return k;
  return `TYPE${t}`;
}

export function className(c: number): string {
  for (const [k, v] of Object.entries(QCLASS)) if (v === c) return k;
  return `CLASS${c}`;
}
