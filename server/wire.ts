// DNS wire-format basics for the hot path: a hand-written parser of header + question + OPT
// that fills one reusable object (no allocation per packet), and name/type helpers used
// when zones are compiled. dns-packet is only used by tests.

export const T_A = 1;
export const T_NS = 2;
export const T_SOA = 6;
export const T_MX = 15;
export const T_TXT = 16;
export const T_AAAA = 28;
export const T_OPT = 41;
export const T_TSIG = 250;
export const T_ANY = 255;

export const C_IN = 1;
export const C_CH = 3;
export const C_ANY = 255;

export const RCODE_NOERROR = 0;
export const RCODE_FORMERR = 1;
export const RCODE_SERVFAIL = 2;
export const RCODE_NXDOMAIN = 3;
export const RCODE_NOTIMP = 4;
export const RCODE_REFUSED = 5;
/** Extended rcode 16 (needs an OPT record: upper bits 1, header rcode 0). */
export const RCODE_BADVERS = 16;

export const MAX_LABELS = 128;

/** Outcome of parsing a query. */
export const PARSE_OK = 0;
/** Not worth an answer (rbldnsd drops these silently). */
export const PARSE_DROP = 1;
/** The question is fine but the OPT record is malformed: FORMERR. */
export const PARSE_FORMERR = 2;
/** OPT with a version we do not speak: BADVERS. */
export const PARSE_BADVERS = 3;

/** The parsed view of one query; one instance is reused for every packet. */
export class ParsedQuery {
  buf: Buffer = Buffer.alloc(0);
  len = 0;
  id = 0;
  /** Header flag bytes 2 and 3 as received. */
  flags1 = 0;
  flags2 = 0;
  /** Offset just past the question's name (the terminating zero included). */
  nameEnd = 0;
  /** Offset just past the question (QTYPE and QCLASS included). */
  qEnd = 0;
  qtype = 0;
  qclass = 0;
  /** Offsets of the length byte of each label of the question name. */
  readonly labelOff = new Int32Array(MAX_LABELS);
  nLabels = 0;
  /** EDNS: true when a well-formed OPT came with the query. */
  edns = false;
  /** Requester's UDP payload size from the OPT record (already raised to 512). */
  ednsSize = 0;
  /** A TSIG record ends the additional section (RFC 8945): the answer must be signed. */
  tsig = false;
}

function u16(b: Buffer, o: number): number {
  return (b[o]! << 8) | b[o + 1]!;
}

/** Skips a (possibly compressed) name in a resource record; returns the offset after it or -1. */
function skipName(b: Buffer, o: number, len: number): number {
  for (;;) {
    if (o >= len) return -1;
    const l = b[o]!;
    if (l === 0) return o + 1;
    if ((l & 0xc0) === 0xc0) return o + 2 <= len ? o + 2 : -1;
    if (l > 63) return -1;
    o += l + 1;
  }
}

/** Looks at the records after the question for an OPT record (RFC 6891). Records that run
 *  past the packet end the scan quietly (rbldnsd ignores bytes after the question).
 *  `skipMisplacedOpt`: an OPT in the answer or authority section makes the query one without
 *  EDNS (rbldnsd mode: rbldnsd ignores it and answers in 512 bytes, with no OPT, also when
 *  another OPT follows in the additional section); otherwise it is FORMERR (RFC 6891 allows
 *  OPT only in the additional section). */
function parseEdns(q: ParsedQuery, an: number, ns: number, ar: number, skipMisplacedOpt: boolean): number {
  const b = q.buf;
  const len = q.len;
  let o = q.qEnd;
  const total = an + ns + ar;
  for (let i = 0; i < total; i++) {
    const nameStart = o;
    o = skipName(b, o, len);
    if (o < 0 || o + 10 > len) return PARSE_OK;
    const type = u16(b, o);
    const rdlen = u16(b, o + 8);
    const rdStart = o + 10;
    const next = rdStart + rdlen;
    if (type === T_OPT && i < an + ns && skipMisplacedOpt) {
      return PARSE_OK; // rbldnsd: EDNS only with the OPT right after the question; none here
    } else if (type === T_OPT) {
      // Malformed: outside the additional section, not owned by the root, a second OPT,
      // RDATA running past the packet or options that do not tile the RDATA exactly.
      if (i < an + ns || o !== nameStart + 1 || q.edns || next > len) return PARSE_FORMERR;
      let p = rdStart;
      while (p < next) {
        if (p + 4 > next) return PARSE_FORMERR;
        p += 4 + u16(b, p + 2);
      }
      if (p !== next) return PARSE_FORMERR;
      const size = u16(b, o + 2);
      q.edns = true;
      q.ednsSize = size < 512 ? 512 : size;
      if (b[o + 5] !== 0) return PARSE_BADVERS; // version
    } else if (next > len) {
      return PARSE_OK;
    } else if (type === T_TSIG && i === total - 1 && i >= an + ns) {
      q.tsig = true;
    }
    o = next;
  }
  return PARSE_OK;
}

/** Parses a query in `buf[0..len)` into `q`. Returns one of the PARSE_* codes.
 *  `skipMisplacedOpt`: see parseEdns (true in rbldnsd mode). */
export function parseQuery(q: ParsedQuery, buf: Buffer, len: number, skipMisplacedOpt = false): number {
  q.buf = buf;
  q.len = len;
  q.edns = false;
  q.ednsSize = 0;
  q.tsig = false;
  if (len < 17) return PARSE_DROP; // header + root name + type + class
  const f1 = buf[2]!;
  if (f1 & 0x80) return PARSE_DROP; // a response
  if (buf[4] !== 0 || buf[5] !== 1) return PARSE_DROP; // QDCOUNT must be 1
  q.id = u16(buf, 0);
  q.flags1 = f1;
  q.flags2 = buf[3]!;
  let o = 12;
  let n = 0;
  const off = q.labelOff;
  for (;;) {
    if (o >= len) return PARSE_DROP;
    const l = buf[o]!;
    if (l === 0) break;
    if (l > 63 || n >= MAX_LABELS) return PARSE_DROP; // also rejects compression pointers
    off[n++] = o;
    o += l + 1;
  }
  o++;
  if (o - 12 > 255 || o + 4 > len) return PARSE_DROP;
  q.nLabels = n;
  q.nameEnd = o;
  q.qtype = u16(buf, o);
  q.qclass = u16(buf, o + 2);
  q.qEnd = o + 4;
  const an = u16(buf, 6);
  const ns = u16(buf, 8);
  const ar = u16(buf, 10);
  if ((an | ns | ar) === 0 || (ar === 0 && skipMisplacedOpt)) return PARSE_OK;
  return parseEdns(q, an, ns, ar, skipMisplacedOpt);
}

/** Lowercased, trailing-dot-free presentation form of a zone/host name. */
export function normalizeName(name: string): string {
  let n = name.toLowerCase();
  while (n.endsWith('.')) n = n.slice(0, -1);
  return n;
}

/** Encodes a dotted name (no escapes; `.`/'' is the root) as uncompressed lowercase wire labels. */
export function encodeName(name: string): Buffer {
  return encodeNameAsWritten(normalizeName(name));
}

/** Like encodeName, but the labels keep their case (MX exchanges, as rbldnsd writes them). */
export function encodeNameAsWritten(name: string): Buffer {
  let n = name;
  while (n.endsWith('.')) n = n.slice(0, -1);
  if (n === '') return Buffer.from([0]);
  const labels = n.split('.');
  const parts: number[] = [];
  for (const l of labels) {
    const bytes = Buffer.from(l, 'latin1');
    if (bytes.length === 0 || bytes.length > 63) throw new Error(`invalid DNS name "${name}"`);
    parts.push(bytes.length, ...bytes);
  }
  parts.push(0);
  if (parts.length > 255) throw new Error(`DNS name too long: "${name}"`);
  return Buffer.from(parts);
}

const TYPE_NAMES: Record<number, string> = {
  1: 'A', 2: 'NS', 5: 'CNAME', 6: 'SOA', 12: 'PTR', 13: 'HINFO', 15: 'MX', 16: 'TXT', 28: 'AAAA',
  33: 'SRV', 35: 'NAPTR', 38: 'A6', 41: 'OPT', 43: 'DS', 46: 'RRSIG', 47: 'NSEC', 48: 'DNSKEY',
  64: 'SVCB', 65: 'HTTPS', 99: 'SPF', 249: 'TKEY', 250: 'TSIG', 251: 'IXFR', 252: 'AXFR',
  253: 'MAILB', 254: 'MAILA', 255: 'ANY', 257: 'CAA',
};
const CLASS_NAMES: Record<number, string> = { 1: 'IN', 3: 'CH', 4: 'HS', 254: 'NONE', 255: 'ANY' };
const RCODE_NAMES = ['NOERROR', 'FORMERR', 'SERVFAIL', 'NXDOMAIN', 'NOTIMP', 'REFUSED'];

export function typeName(t: number): string {
  return TYPE_NAMES[t] ?? `TYPE${t}`;
}
export function className(c: number): string {
  return CLASS_NAMES[c] ?? `CLASS${c}`;
}
export function rcodeName(r: number): string {
  return r === RCODE_BADVERS ? 'BADVERS' : (RCODE_NAMES[r] ?? `RCODE${r}`);
}

/** The question name in presentation form, original case (for the query log). */
export function questionName(q: ParsedQuery): string {
  const b = q.buf;
  let s = '';
  for (let i = 0; i < q.nLabels; i++) {
    const o = q.labelOff[i]!;
    const l = b[o]!;
    if (i) s += '.';
    for (let j = o + 1; j <= o + l; j++) {
      const c = b[j]!;
      if (c <= 32 || c >= 127 || c === 46 || c === 92) s += '\\' + String(c).padStart(3, '0');
      else s += String.fromCharCode(c);
    }
  }
  return s === '' ? '.' : s;
}
