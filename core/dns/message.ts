// Just enough DNS wire format for a zone transfer client: queries, message walking with raw
// offsets (TSIG needs them), names with compression, and master-file text for the record types
// a DNSBL zone holds.

export const T = { A: 1, NS: 2, CNAME: 5, SOA: 6, PTR: 12, MX: 15, TXT: 16, AAAA: 28, SRV: 33, DNAME: 39, TSIG: 250, AXFR: 252 } as const;

const TYPE_NAMES: Record<number, string> = {
  1: 'A', 2: 'NS', 5: 'CNAME', 6: 'SOA', 12: 'PTR', 13: 'HINFO', 15: 'MX', 16: 'TXT', 28: 'AAAA', 33: 'SRV',
  39: 'DNAME', 43: 'DS', 46: 'RRSIG', 47: 'NSEC', 48: 'DNSKEY', 50: 'NSEC3', 51: 'NSEC3PARAM', 99: 'SPF', 257: 'CAA',
};

export const RCODES = ['NOERROR', 'FORMERR', 'SERVFAIL', 'NXDOMAIN', 'NOTIMP', 'REFUSED', 'YXDOMAIN', 'YXRRSET', 'NXRRSET', 'NOTAUTH', 'NOTZONE'];
export const rcodeName = (r: number) => RCODES[r] ?? `RCODE${r}`;
export const typeName = (t: number) => TYPE_NAMES[t] ?? `TYPE${t}`;

export class WireError extends Error {}

/** Text name -> uncompressed wire form (no escapes: zone and key names are plain). */
export function encodeName(name: string, lower = false): Buffer {
  const parts: Buffer[] = [];
  for (const label of name.replace(/\.$/, '').split('.')) {
    if (label === '') continue;
    const b = Buffer.from(lower ? label.toLowerCase() : label, 'latin1');
    if (b.length > 63) throw new WireError(`label too long in ${name}`);
    parts.push(Buffer.from([b.length]), b);
  }
  parts.push(Buffer.from([0]));
  const out = Buffer.concat(parts);
  if (out.length > 255) throw new WireError(`name too long: ${name}`);
  return out;
}

export function buildQuery(id: number, zone: string, qtype: number): Buffer {
  const head = Buffer.alloc(12);
  head.writeUInt16BE(id, 0);
  head.writeUInt16BE(0, 2); // standard query, no RD: we ask the authority itself
  head.writeUInt16BE(1, 4);
  const tail = Buffer.alloc(4);
  tail.writeUInt16BE(qtype, 0);
  tail.writeUInt16BE(1, 2);
  return Buffer.concat([head, encodeName(zone), tail]);
}

/** Reads a (possibly compressed) name; labels are raw bytes. `end` is the offset after the name
 *  where it sits (after the first pointer). */
export function readName(msg: Buffer, off: number): { labels: Buffer[]; end: number } {
  const labels: Buffer[] = [];
  let end = -1;
  let jumps = 0;
  let len = 0;
  for (;;) {
    if (off >= msg.length) throw new WireError('name runs past the message');
    const b = msg[off]!;
    if (b === 0) {
      if (end < 0) end = off + 1;
      break;
    }
    if ((b & 0xc0) === 0xc0) {
      if (off + 1 >= msg.length) throw new WireError('truncated compression pointer');
      if (end < 0) end = off + 2;
      if (++jumps > 64) throw new WireError('compression pointer loop');
      off = ((b & 0x3f) << 8) | msg[off + 1]!;
      continue;
    }
    if (b & 0xc0) throw new WireError('bad label type');
    if (off + 1 + b > msg.length) throw new WireError('label runs past the message');
    labels.push(msg.subarray(off + 1, off + 1 + b));
    len += b + 1;
    if (len > 255) throw new WireError('name too long');
    off += 1 + b;
  }
  return { labels, end };
}

export interface RR {
  name: Buffer[];
  type: number;
  klass: number;
  ttl: number;
  rdOff: number;
  rdLen: number;
  /** offset of the RR's first byte and the one after it */
  start: number;
  end: number;
}

export interface Message {
  buf: Buffer;
  id: number;
  flags: number;
  rcode: number;
  answers: RR[];
  authority: RR[];
  additional: RR[];
}

export function parseMessage(buf: Buffer): Message {
  if (buf.length < 12) throw new WireError('message shorter than a header');
  const qd = buf.readUInt16BE(4);
  const counts = [buf.readUInt16BE(6), buf.readUInt16BE(8), buf.readUInt16BE(10)];
  let off = 12;
  for (let i = 0; i < qd; i++) {
    off = readName(buf, off).end + 4;
    if (off > buf.length) throw new WireError('truncated question');
  }
  const sections: RR[][] = [[], [], []];
  for (let s = 0; s < 3; s++) {
    for (let i = 0; i < counts[s]!; i++) {
      const start = off;
      const n = readName(buf, off);
      off = n.end;
      if (off + 10 > buf.length) throw new WireError('truncated record header');
      const rdLen = buf.readUInt16BE(off + 8);
      const rr: RR = {
        name: n.labels,
        type: buf.readUInt16BE(off),
        klass: buf.readUInt16BE(off + 2),
        ttl: buf.readUInt32BE(off + 4),
        rdOff: off + 10,
        rdLen,
        start,
        end: off + 10 + rdLen,
      };
      if (rr.end > buf.length) throw new WireError('truncated record data');
      off = rr.end;
      sections[s]!.push(rr);
    }
  }
  const flags = buf.readUInt16BE(2);
  return { buf, id: buf.readUInt16BE(0), flags, rcode: flags & 0xf, answers: sections[0]!, authority: sections[1]!, additional: sections[2]! };
}

export function sameName(a: Buffer[], b: Buffer[]): boolean {
  return a.length === b.length && a.every((l, i) => l.toString('latin1').toLowerCase() === b[i]!.toString('latin1').toLowerCase());
}

/** Canonical (lowercase, uncompressed) wire form of labels, as TSIG digests want it. */
export function canonicalWire(labels: Buffer[]): Buffer {
  const parts: Buffer[] = [];
  for (const l of labels) parts.push(Buffer.from([l.length]), Buffer.from(l.toString('latin1').toLowerCase(), 'latin1'));
  parts.push(Buffer.from([0]));
  return Buffer.concat(parts);
}

// ---------------------------------------------------------------------------------------------
// Text forms

/** One label in master-file text; bytes that would confuse a loader (., \, ", ;, #, $, blanks,
 *  non-printables) become \ddd. */
export function labelText(l: Buffer): string {
  let s = '';
  for (const c of l) {
    if (c === 0x2e) s += '\\.';
    else if (c > 0x20 && c < 0x7f && c !== 0x5c && c !== 0x22 && c !== 0x3b && c !== 0x23 && c !== 0x24 && c !== 0x28 && c !== 0x29 && c !== 0x40) {
      s += String.fromCharCode(c);
    } else s += '\\' + String(c).padStart(3, '0');
  }
  return s;
}

export function absName(labels: Buffer[]): string {
  return labels.length ? labels.map(labelText).join('.') + '.' : '.';
}

/** Name relative to the zone ('@' for the apex); null when outside it. */
export function relName(labels: Buffer[], zone: Buffer[]): string | null {
  if (labels.length < zone.length) return null;
  const tail = labels.slice(labels.length - zone.length);
  if (!sameName(tail, zone)) return null;
  const rel = labels.slice(0, labels.length - zone.length);
  return rel.length ? rel.map(labelText).join('.') : '@';
}

export function ipv4(buf: Buffer, off: number): string {
  return `${buf[off]}.${buf[off + 1]}.${buf[off + 2]}.${buf[off + 3]}`;
}

function ipv6(buf: Buffer, off: number): string {
  const w: string[] = [];
  for (let i = 0; i < 8; i++) w.push(buf.readUInt16BE(off + 2 * i).toString(16));
  // shorten the longest run of zero words (RFC 5952)
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (w[i] !== '0') { i++; continue; }
    let j = i;
    while (j < 8 && w[j] === '0') j++;
    if (j - i > bestLen) { best = i; bestLen = j - i; }
    i = j;
  }
  if (best < 0) return w.join(':');
  return `${w.slice(0, best).join(':')}::${w.slice(best + bestLen).join(':')}`;
}

/** TXT character-strings, latin1 byte strings. */
export function txtStrings(buf: Buffer, off: number, len: number): string[] {
  const out: string[] = [];
  const end = off + len;
  while (off < end) {
    const n = buf[off]!;
    if (off + 1 + n > end) throw new WireError('TXT string runs past its record');
    out.push(buf.toString('latin1', off + 1, off + 1 + n));
    off += 1 + n;
  }
  return out;
}

export interface Soa {
  mname: Buffer[];
  rname: Buffer[];
  serial: number;
  refresh: number;
  retry: number;
  expire: number;
  minimum: number;
}

export function readSoa(msg: Buffer, rr: RR): Soa {
  const m = readName(msg, rr.rdOff);
  const r = readName(msg, m.end);
  const o = r.end;
  if (o + 20 > rr.end) throw new WireError('short SOA record');
  return {
    mname: m.labels,
    rname: r.labels,
    serial: msg.readUInt32BE(o),
    refresh: msg.readUInt32BE(o + 4),
    retry: msg.readUInt32BE(o + 8),
    expire: msg.readUInt32BE(o + 12),
    minimum: msg.readUInt32BE(o + 16),
  };
}

/** rdata in master-file text; unknown types in the RFC 3597 form. */
export function rdataText(msg: Buffer, rr: RR): string {
  const { rdOff: o, rdLen: n } = rr;
  switch (rr.type) {
    case T.A:
      if (n === 4) return ipv4(msg, o);
      break;
    case T.AAAA:
      if (n === 16) return ipv6(msg, o);
      break;
    case T.NS:
    case T.CNAME:
    case T.PTR:
    case T.DNAME:
      return absName(readName(msg, o).labels);
    case T.MX:
      return `${msg.readUInt16BE(o)} ${absName(readName(msg, o + 2).labels)}`;
    case T.SRV:
      return `${msg.readUInt16BE(o)} ${msg.readUInt16BE(o + 2)} ${msg.readUInt16BE(o + 4)} ${absName(readName(msg, o + 6).labels)}`;
    case T.TXT:
      return txtStrings(msg, o, n).map((s) => `"${s.replace(/[\\"]/g, '\\$&').replace(/[\x00-\x1f\x7f-\xff]/g, (c) => '\\' + String(c.charCodeAt(0)).padStart(3, '0'))}"`).join(' ');
    case T.SOA: {
      const s = readSoa(msg, rr);
      return `${absName(s.mname)} ${absName(s.rname)} ${s.serial} ${s.refresh} ${s.retry} ${s.expire} ${s.minimum}`;
    }
  }
  return `\\# ${n}${n ? ' ' + msg.toString('hex', o, o + n) : ''}`;
}
