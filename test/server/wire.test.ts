import { test } from 'node:test';
import assert from 'node:assert/strict';
import dnsPacket from 'dns-packet';
import {
  PARSE_BADVERS, PARSE_DROP, PARSE_FORMERR, PARSE_OK, ParsedQuery, encodeName, parseQuery, questionName,
} from '../../server/wire.ts';

function parse(buf: Buffer): [number, ParsedQuery] {
  const q = new ParsedQuery();
  return [parseQuery(q, buf, buf.length), q];
}

const plain = () =>
  dnsPacket.encode({ type: 'query', id: 7, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type: 'TXT', name: '2.0.0.127.Bl.Example', class: 'IN' }] });

test('parses header and question without touching case', () => {
  const [r, q] = parse(plain());
  assert.equal(r, PARSE_OK);
  assert.equal(q.id, 7);
  assert.equal(q.qtype, 16);
  assert.equal(q.qclass, 1);
  assert.equal(q.nLabels, 6);
  assert.equal(questionName(q), '2.0.0.127.Bl.Example');
  assert.equal(q.edns, false);
});

test('drops what rbldnsd drops', () => {
  const good = plain();
  assert.equal(parse(good.subarray(0, 16))[0], PARSE_DROP, 'truncated question');
  const resp = Buffer.from(good);
  resp[2]! |= 0x80;
  assert.equal(parse(resp)[0], PARSE_DROP, 'QR set');
  const two = Buffer.from(good);
  two[5] = 2;
  assert.equal(parse(two)[0], PARSE_DROP, 'QDCOUNT 2');
  const ptr = Buffer.concat([good.subarray(0, 12), Buffer.from([0xc0, 0x0c, 0, 1, 0, 1])]);
  assert.equal(parse(ptr)[0], PARSE_DROP, 'compression pointer in the question');
  const long = Buffer.concat([good.subarray(0, 12), Buffer.from([64]), Buffer.alloc(64, 97), Buffer.from([0, 0, 1, 0, 1])]);
  assert.equal(parse(long)[0], PARSE_DROP, 'label of 64 bytes');
  const labels: number[] = [];
  for (let i = 0; i < 130; i++) labels.push(1, 97);
  const huge = Buffer.concat([good.subarray(0, 12), Buffer.from(labels), Buffer.from([0, 0, 1, 0, 1])]);
  assert.equal(parse(huge)[0], PARSE_DROP, 'name over 255 bytes');
  assert.equal(parse(Buffer.alloc(0))[0], PARSE_DROP);
});

test('extra bytes after the question are ignored', () => {
  const [r, q] = parse(Buffer.concat([plain(), Buffer.from([1, 2, 3])]));
  assert.equal(r, PARSE_OK);
  assert.equal(q.edns, false);
});

test('EDNS: OPT is found, small sizes are raised to 512', () => {
  const withOpt = (udpPayloadSize: number) =>
    dnsPacket.encode({
      type: 'query', id: 1, questions: [{ type: 'A', name: 'x.example', class: 'IN' }],
      additionals: [{ type: 'OPT', name: '.', udpPayloadSize, flags: 0 } as dnsPacket.Answer],
    });
  let [r, q] = parse(withOpt(1232));
  assert.equal(r, PARSE_OK);
  assert.equal(q.edns, true);
  assert.equal(q.ednsSize, 1232);
  [r, q] = parse(withOpt(100));
  assert.equal(q.ednsSize, 512);
});

test('EDNS: malformed OPT gives FORMERR, unknown version BADVERS', () => {
  const base = dnsPacket.encode({ type: 'query', id: 1, questions: [{ type: 'A', name: 'x.example', class: 'IN' }] });
  const head = Buffer.from(base);
  head[11] = 1; // ARCOUNT 1
  const opt = (name: number[], rest: number[]) => Buffer.concat([head, Buffer.from(name), Buffer.from(rest)]);
  // OPT: type 41, class 1232, ttl (ext rcode, version, flags), rdlen
  assert.equal(parse(opt([0], [0, 41, 4, 208, 0, 0, 0, 0, 0, 0]))[0], PARSE_OK);
  assert.equal(parse(opt([1, 97, 0], [0, 41, 4, 208, 0, 0, 0, 0, 0, 0]))[0], PARSE_FORMERR, 'owner not root');
  assert.equal(parse(opt([0], [0, 41, 4, 208, 0, 0, 0, 0, 0, 9, 0, 1]))[0], PARSE_FORMERR, 'rdata past the end');
  assert.equal(parse(opt([0], [0, 41, 4, 208, 0, 0, 0, 0, 0, 5, 0, 10, 0, 8, 1]))[0], PARSE_FORMERR, 'option past rdata');
  assert.equal(parse(opt([0], [0, 41, 4, 208, 0, 1, 0, 0, 0, 0]))[0], PARSE_BADVERS, 'version 1');
  const twice = Buffer.concat([head, Buffer.from([0, 0, 41, 4, 208, 0, 0, 0, 0, 0, 0, 0, 0, 41, 4, 208, 0, 0, 0, 0, 0, 0])]);
  twice[11] = 2;
  assert.equal(parse(twice)[0], PARSE_FORMERR, 'two OPT records');
});

test('encodeName lowercases and rejects bad names', () => {
  assert.deepEqual([...encodeName('NS1.Example.')], [3, 110, 115, 49, 7, 101, 120, 97, 109, 112, 108, 101, 0]);
  assert.deepEqual([...encodeName('.')], [0]);
  assert.throws(() => encodeName('a..b'));
});
