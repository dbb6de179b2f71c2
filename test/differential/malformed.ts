// Raw packets that are malformed or unusual at the header level. Both servers must agree on
// "no reply" vs. reply, and on the reply's bytes.

import { buildHeader, buildQuery, encodeName } from './wire.ts';

const ID = 0x4242;
const NAME = '1.2.0.192.ip4set.bl.example';

function qtail(qtype = 1, qclass = 1): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt16BE(qtype, 0);
  b.writeUInt16BE(qclass, 2);
  return b;
}

const q = buildQuery(ID, NAME, 1);
const question = q.subarray(12);

export interface RawCase {
  title: string;
  packet: Buffer;
}

export const RAW_CASES: RawCase[] = [
  { title: 'well-formed query (control)', packet: q },
  { title: 'QDCOUNT 2 with two questions', packet: Buffer.concat([buildHeader(ID, {}, [2, 0, 0, 0]), question, question]) },
  { title: 'QDCOUNT 2 with one question', packet: Buffer.concat([buildHeader(ID, {}, [2, 0, 0, 0]), question]) },
  { title: 'QDCOUNT 0', packet: buildHeader(ID, {}, [0, 0, 0, 0]) },
  { title: 'QDCOUNT 0 with a question', packet: Buffer.concat([buildHeader(ID, {}, [0, 0, 0, 0]), question]) },
  { title: 'QR bit set', packet: Buffer.concat([buildHeader(ID, { qr: true }, [1, 0, 0, 0]), question]) },
  {
    title: 'label of 64 bytes',
    packet: Buffer.concat([buildHeader(ID, {}, [1, 0, 0, 0]), Buffer.from([64]), Buffer.alloc(64, 0x61), encodeName('ip4set.bl.example'), qtail()]),
  },
  {
    title: 'label of 63 bytes (legal, not listed)',
    packet: Buffer.concat([buildHeader(ID, {}, [1, 0, 0, 0]), Buffer.from([63]), Buffer.alloc(63, 0x61), encodeName('ip4set.bl.example'), qtail()]),
  },
  {
    title: 'compression pointer in the question',
    packet: Buffer.concat([buildHeader(ID, {}, [1, 0, 0, 0]), Buffer.from([1, 0x31, 0xc0, 0x0c]), qtail()]),
  },
  { title: 'question truncated inside the name', packet: q.subarray(0, 12 + 8) },
  { title: 'question without qtype/qclass', packet: q.subarray(0, q.length - 4) },
  { title: 'question without qclass', packet: q.subarray(0, q.length - 2) },
  { title: 'question with one byte of qclass', packet: q.subarray(0, q.length - 1) },
  { title: 'header only, 12 bytes, QDCOUNT 1', packet: q.subarray(0, 12) },
  { title: 'shorter than a header', packet: q.subarray(0, 7) },
  { title: 'empty packet', packet: Buffer.alloc(0) },
  {
    title: 'name longer than 255 bytes',
    packet: Buffer.concat([buildHeader(ID, {}, [1, 0, 0, 0]),
      ...Array.from({ length: 5 }, () => Buffer.concat([Buffer.from([60]), Buffer.alloc(60, 0x62)])), encodeName('bl.example'), qtail()]),
  },
  { title: 'opcode 1 (IQUERY)', packet: buildQuery(ID, NAME, 1, 1, { opcode: 1 }) },
  { title: 'opcode 2 (STATUS)', packet: buildQuery(ID, NAME, 1, 1, { opcode: 2 }) },
  { title: 'opcode 4 (NOTIFY)', packet: buildQuery(ID, 'ip4set.bl.example', 6, 1, { opcode: 4, rd: false, aa: true }) },
  { title: 'opcode 5 (UPDATE)', packet: buildQuery(ID, 'ip4set.bl.example', 6, 1, { opcode: 5 }) },
  { title: 'opcode 15', packet: buildQuery(ID, NAME, 1, 1, { opcode: 15 }) },
  { title: 'AA set in the query', packet: buildQuery(ID, NAME, 1, 1, { aa: true }) },
  { title: 'TC set in the query', packet: buildQuery(ID, NAME, 1, 1, { tc: true, rd: false }) },
  { title: 'RA, Z, AD, CD set in the query', packet: buildQuery(ID, NAME, 1, 1, { ra: true, z: true, ad: true, cd: true }) },
  { title: 'trailing garbage after the question', packet: Buffer.concat([q, Buffer.from('garbage-bytes')]) },
  { title: 'ANCOUNT 1 without records', packet: Buffer.concat([buildHeader(ID, {}, [1, 1, 0, 0]), question]) },
  { title: 'NSCOUNT 1 and ARCOUNT 2 without records', packet: Buffer.concat([buildHeader(ID, {}, [1, 0, 1, 2]), question]) },
  { title: 'root name, class IN, type NS', packet: buildQuery(ID, '.', 2) },
  { title: 'AXFR over UDP', packet: buildQuery(ID, 'ip4set.bl.example', 252) },
  { title: 'IXFR over UDP', packet: buildQuery(ID, 'ip4set.bl.example', 251) },
  { title: 'mixed-case name echoed', packet: buildQuery(ID, '1.2.0.192.IP4SET.bl.EXAMPLE', 255) },
  { title: 'CH version.bind with AD set (flags echo quirk)', packet: buildQuery(ID, 'version.bind', 16, 3, { ad: true, cd: true, ra: true }) },
  { title: 'query id 0', packet: buildQuery(0, NAME, 1) },
  { title: 'query id 0xffff', packet: buildQuery(0xffff, NAME, 16) },
];
