// Resolution rules, checked on the reply bytes (decoded with dns-packet) against what the
// rbldnsd oracle answers for the same data (reference rbldnsd.md sections 4 and 6).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import dnsPacket from 'dns-packet';
import { Counters } from '../../server/counters.ts';
import { ClientAcl } from '../../server/acl.ts';
import { Responder, type ResponderOptions } from '../../server/responder.ts';
import { ZoneTable } from '../../server/zones.ts';
import { dataset, query } from './helpers.ts';

const IP4SET = `$SOA 1h ns1.gen.example hostmaster.example.net 2024010101 2h 30m 1w 5m
$NS 1d ns1.gen.example ns2.gen.example ns3.example.net
$TTL 15m
:127.0.0.2:Listed: see https://bl.example/lookup?ip=$
192.0.2.2 :127.0.0.3:Custom text for $
192.0.2.4 :5:
198.51.100.0/24
!198.51.100.7
10.20.0.0/20 :127.0.0.10:narrow /20
10.20.0.0/17 :127.0.0.11:wide /17
`;
const GENERIC = `$SOA 0 ns1.gen.example hostmaster.example.net 0 2h 30m 1w 5m
$NS 1d ns1.gen.example
ns1 A 192.0.2.53
ns2 600 A 192.0.2.55
@ TXT "apex text"
mx MX 10 mail.example.net
`;
const TRIE = `$TTL 2100
192.0.2.0/24 :127.0.0.2:Listed: see https://bl.example/lookup?ip=$
`;

function zones(): ZoneTable {
  return new ZoneTable([
    { name: 'ip4set.bl.example', datasets: [dataset('ip4set', IP4SET)], newestMtime: 1700000000 },
    { name: 'Gen.Example.', datasets: [dataset('generic', GENERIC)], newestMtime: 1700000000 },
    { name: 'multi.example', datasets: [dataset('ip4trie', TRIE), dataset('ip4set', IP4SET)], newestMtime: 1 },
    { name: 'nosoa.example', datasets: [dataset('ip4trie', TRIE)], newestMtime: 1 },
    { name: 'broken.example', datasets: [], newestMtime: 0, failed: true },
  ]);
}

function responder(over: Partial<ResponderOptions> = {}, t = zones()): Responder {
  return new Responder(
    { lazy: false, version: 'version', versionText: 'quorumbl 0.1.0', maxUdpPayload: 4096, acl: null, counters: new Counters(), ...over },
    t,
  );
}

/** dns-packet's decoded records, loosely typed (its Answer union has OPT without ttl). */
interface RR {
  name: string;
  type: string;
  class: string;
  ttl: number;
  data: unknown;
}
type Decoded = Omit<dnsPacket.DecodedPacket, 'answers' | 'authorities' | 'additionals'> & {
  rcode: string;
  answers?: RR[];
  authorities?: RR[];
  additionals?: RR[];
};

function ask(r: Responder, msg: Buffer, tcp = false, client = '127.0.0.1') {
  const n = r.respond(msg, msg.length, client, tcp);
  if (n === 0) return null;
  const raw = Buffer.from(r.out.subarray(0, n));
  return { raw, p: dnsPacket.decode(raw) as unknown as Decoded };
}

function get(r: Responder, name: string, type: string, over: Partial<dnsPacket.Packet> = {}, tcp = false) {
  const res = ask(r, query(name, type, over), tcp);
  assert.ok(res, `no reply to ${name} ${type}`);
  return res;
}

const data = (a: RR) => {
  const d = (a as { data: unknown }).data;
  if (Array.isArray(d)) return d.map((x) => Buffer.from(x as Buffer).toString('latin1')).join('');
  return d;
};

test('listed address: A + TXT, NS authority, glue, AA, RD echoed, case kept', () => {
  const r = responder();
  const { p, raw } = get(r, '2.2.0.192.IP4SET.bl.Example', 'ANY');
  assert.equal(p.rcode, 'NOERROR');
  assert.equal(p.flag_aa, true);
  assert.equal(p.flag_rd, true);
  assert.equal(p.flag_ra, false);
  assert.deepEqual(p.answers!.map((a) => [a.name, a.type, a.ttl, data(a)]), [
    ['2.2.0.192.IP4SET.bl.Example', 'A', 900, '127.0.0.3'],
    ['2.2.0.192.IP4SET.bl.Example', 'TXT', 900, 'Custom text for 192.0.2.2'],
  ]);
  assert.deepEqual(p.authorities!.map((a) => [a.name, a.type, a.ttl]), [
    ['IP4SET.bl.Example', 'NS', 86400], ['IP4SET.bl.Example', 'NS', 86400], ['IP4SET.bl.Example', 'NS', 86400],
  ]);
  // glue: NS names inside gen.example, found through its generic data; one shared (min) TTL.
  // The names are compressed against the zone suffix in the question, so `Example` takes its case.
  assert.deepEqual(p.additionals!.map((a) => [a.name, a.type, a.ttl, data(a)]).sort(), [
    ['ns1.gen.Example', 'A', 600, '192.0.2.53'], ['ns2.gen.Example', 'A', 600, '192.0.2.55'],
  ]);
  assert.equal(raw.readUInt16BE(12 + 29 + 4), 0xc00c, 'answer owner points at the question');
});

test('NS rotation: each write advances the zone rotation', () => {
  const r = responder();
  const order = () => get(r, '2.2.0.192.ip4set.bl.example', 'A').p.authorities!.map((a) => data(a));
  const a = order();
  const b = order();
  assert.deepEqual(b, [...a.slice(1), a[0]]);
});

test('NODATA, NXDOMAIN, exclusions, SOA minimum TTL in authority', () => {
  const r = responder();
  let { p } = get(r, '4.2.0.192.ip4set.bl.example', 'TXT');
  assert.equal(p.rcode, 'NOERROR');
  assert.equal(p.answers!.length, 0);
  assert.deepEqual(p.authorities!.map((a) => [a.type, a.ttl]), [['SOA', 300]]);
  ({ p } = get(r, '7.100.51.198.ip4set.bl.example', 'ANY'));
  assert.equal(p.rcode, 'NXDOMAIN');
  assert.equal(p.flag_aa, true);
  const soa = p.authorities![0] as RR & { data: dnsPacket.SoaData };
  assert.equal(soa.ttl, 300);
  assert.equal(soa.data.serial, 2024010101);
  assert.equal(soa.data.mname, 'ns1.gen.example');
  ({ p } = get(r, '2.0.192.ip4set.bl.example', 'A'));
  assert.equal(p.rcode, 'NXDOMAIN', 'empty non-terminal: NXDOMAIN like rbldnsd');
  ({ p } = get(r, '1.2.0.192.ip4set.bl.example', 'AAAA'));
  assert.equal(p.rcode, 'NXDOMAIN');
  ({ p } = get(r, '5.0.20.10.ip4set.bl.example', 'ANY'));
  assert.deepEqual(p.answers!.map((a) => data(a)), ['127.0.0.10', 'narrow /20', '127.0.0.11', 'wide /17']);
});

test('apex: SOA, NS, ANY, other types NODATA; serial 0 = newest mtime', () => {
  const r = responder();
  let { p } = get(r, 'ip4set.bl.example', 'SOA');
  assert.deepEqual(p.answers!.map((a) => [a.type, a.ttl]), [['SOA', 3600]]);
  assert.equal(p.authorities!.length, 3);
  ({ p } = get(r, 'ip4set.bl.example', 'NS'));
  assert.equal(p.answers!.length, 3);
  assert.equal(p.authorities!.length, 3);
  ({ p } = get(r, 'ip4set.bl.example', 'ANY'));
  assert.deepEqual(p.answers!.map((a) => a.type), ['SOA', 'NS', 'NS', 'NS']);
  ({ p } = get(r, 'ip4set.bl.example', 'A'));
  assert.equal(p.rcode, 'NOERROR');
  assert.deepEqual(p.authorities!.map((a) => [a.type, a.ttl]), [['SOA', 300]]);
  ({ p } = get(r, 'gen.example', 'SOA'));
  assert.equal((p.answers![0] as { data: dnsPacket.SoaData }).data.serial, 1700000000);
  ({ p } = get(r, 'gen.example', 'TXT'));
  assert.deepEqual(p.answers!.map((a) => data(a)), ['apex text']);
  ({ p } = get(r, 'nosoa.example', 'SOA'));
  assert.equal(p.rcode, 'REFUSED');
  assert.equal(p.flag_aa, false);
  ({ p } = get(r, 'nosoa.example', 'NS'));
  assert.equal(p.rcode, 'REFUSED');
  ({ p } = get(r, '9.9.9.9.nosoa.example', 'A'));
  assert.equal(p.rcode, 'NXDOMAIN');
  assert.equal(p.authorities!.length, 0, 'no SOA configured: empty authority');
});

test('generic MX and lazy mode', () => {
  let r = responder();
  let { p } = get(r, 'mx.gen.example', 'MX');
  assert.deepEqual(p.answers!.map((a) => data(a)), [{ preference: 10, exchange: 'mail.example.net' }]);
  r = responder({ lazy: true });
  ({ p } = get(r, 'ns1.gen.example', 'A'));
  assert.equal(p.answers!.length, 1);
  assert.equal(p.authorities!.length, 0);
  assert.equal(p.additionals!.length, 0);
});

test('several datasets merge: dedup and the smallest TTL per type', () => {
  const r = responder();
  const { p } = get(r, '2.2.0.192.multi.example', 'ANY');
  // ip4trie gives A .2 + TXT (2100), ip4set gives A .3 + its TXT (900): all share 900
  assert.deepEqual(p.answers!.map((a) => [a.type, a.ttl, data(a)]), [
    ['A', 900, '127.0.0.2'], ['TXT', 900, 'Listed: see https://bl.example/lookup?ip=192.0.2.2'],
    ['A', 900, '127.0.0.3'], ['TXT', 900, 'Custom text for 192.0.2.2'],
  ]);
  const dup = get(r, '9.2.0.192.multi.example', 'TXT').p;
  assert.equal(dup.answers!.length, 1, 'identical TXT from two datasets appears once');
});

test('header rules: NOTIMP, REFUSED, SERVFAIL, class ANY, CH version', () => {
  const r = responder();
  const notimp = (over: Partial<dnsPacket.Packet>, type = 'A') => get(r, '2.2.0.192.ip4set.bl.example', type, over).raw;
  let raw = notimp({ flags: dnsPacket.AUTHORITATIVE_ANSWER | dnsPacket.RECURSION_DESIRED });
  assert.equal(raw[2], 0x80);
  assert.equal(raw[3], 4);
  raw = notimp({ flags: dnsPacket.TRUNCATED_RESPONSE });
  assert.equal(raw[3], 4);
  raw = notimp({ flags: 2 << 11 | dnsPacket.RECURSION_DESIRED }); // opcode STATUS
  assert.equal(raw[2], 0x80);
  assert.equal(raw[3], 4);
  raw = notimp({}, 'AXFR');
  assert.equal(raw[2], 0x81, 'QR+RD');
  assert.equal(raw[3], 4);
  raw = notimp({}, 'CAA');
  assert.equal(raw[3], 4);
  let { p } = get(r, '1.2.0.192.example', 'A');
  assert.equal(p.rcode, 'REFUSED');
  assert.equal(p.flag_aa, false);
  ({ p } = get(r, 'x.broken.example', 'A'));
  assert.equal(p.rcode, 'SERVFAIL');
  assert.equal(p.flag_aa, false);
  const anyClass = query('ip4set.bl.example', 'A');
  anyClass.writeUInt16BE(255, anyClass.length - 2);
  ({ p } = ask(r, anyClass)!);
  assert.equal(p.rcode, 'NOERROR');
  assert.equal(p.flag_aa, false, 'class ANY: no AA');
  assert.equal(p.authorities![0]!.class, 'IN');
  const ch = query('VERSION.bind', 'TXT', { flags: dnsPacket.AUTHENTIC_DATA });
  ch.writeUInt16BE(3, ch.length - 2);
  ({ p, raw } = ask(r, ch)!);
  assert.equal(p.answers![0]!.class, 'CH');
  assert.equal(p.answers![0]!.ttl, 0);
  assert.equal(data(p.answers![0]!), 'quorumbl 0.1.0');
  assert.equal(p.flag_ad, true, 'rbldnsd echoes the second flags byte on this path');
  const hide = ask(responder({ version: 'hide' }), ch)!.p;
  assert.equal(data(hide.answers![0]!), 'quorumbl');
  assert.equal(ask(responder({ version: 'refuse' }), ch)!.p.rcode, 'REFUSED');
  const chA = query('version.bind', 'A');
  chA.writeUInt16BE(3, chA.length - 2);
  assert.equal(ask(r, chA)!.p.rcode, 'REFUSED');
  const hs = query('2.2.0.192.ip4set.bl.example', 'A');
  hs.writeUInt16BE(4, hs.length - 2);
  assert.equal(ask(r, hs)!.p.rcode, 'REFUSED');
});

test('EDNS: OPT echoed on every reply, FORMERR on a broken OPT, BADVERS', () => {
  const r = responder({ maxUdpPayload: 1232 });
  const opt = { additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 4096, flags: 0 } as dnsPacket.Answer] };
  for (const [name, type] of [['2.2.0.192.ip4set.bl.example', 'A'], ['1.1.1.1.ip4set.bl.example', 'A'], ['nowhere.test', 'A'], ['x.ip4set.bl.example', 'AXFR']]) {
    const { p } = get(r, name!, type!, opt);
    const o = p.additionals!.find((a) => a.type === 'OPT') as { udpPayloadSize: number } | undefined;
    assert.ok(o, `OPT in reply to ${name} ${type}`);
    assert.equal(o.udpPayloadSize, 1232);
  }
  assert.equal(get(r, '1.1.1.1.ip4set.bl.example', 'A').p.additionals!.length, 0, 'no OPT without one in the query');
  const bad = query('2.2.0.192.ip4set.bl.example', 'A');
  bad[11] = 1;
  const formerr = ask(r, Buffer.concat([bad, Buffer.from([1, 97, 0, 0, 41, 16, 0, 0, 0, 0, 0, 0, 0])]))!;
  assert.equal(formerr.p.rcode, 'FORMERR');
  const v1 = ask(r, Buffer.concat([bad, Buffer.from([0, 0, 41, 16, 0, 0, 1, 0, 0, 0, 0])]))!;
  const o = v1.p.additionals![0] as unknown as { extendedRcode: number };
  assert.equal(v1.raw[3]! & 15, 0);
  assert.equal(o.extendedRcode, 1, 'BADVERS = extended rcode 16');
});

function bigZone(): ZoneTable {
  const lines = ['$SOA 1h ns1.example.net hostmaster.example.net 1 2h 30m 1w 5m', '$NS 1d ns1.example.net ns2.example.net'];
  for (let i = 0; i < 12; i++) lines.push(`192.0.2.1 :127.0.0.${i + 2}:${`text ${i} `.padEnd(90, 'x')}`);
  return new ZoneTable([{ name: 'big.example', datasets: [dataset('ip4set', lines.join('\n'))], newestMtime: 1 }]);
}

test('TC when the answer does not fit; EDNS size honoured up to the ceiling; TCP gets it all', () => {
  const r = responder({ maxUdpPayload: 1232 }, bigZone());
  let res = get(r, '1.2.0.192.big.example', 'TXT');
  assert.equal(res.p.flag_tc, true);
  assert.equal(res.p.answers!.length, 0);
  assert.ok(res.raw.length <= 512);
  const edns = (size: number) => ({ additionals: [{ type: 'OPT', name: '.', udpPayloadSize: size, flags: 0 } as dnsPacket.Answer] });
  res = get(r, '1.2.0.192.big.example', 'TXT', edns(4096)); // capped at 1232: still too big
  assert.equal(res.p.flag_tc, true);
  assert.ok(res.raw.length <= 1232);
  res = get(r, '1.2.0.192.big.example', 'A', edns(600));
  assert.equal(res.p.flag_tc, false);
  assert.equal(res.p.answers!.length, 12);
  res = get(r, '1.2.0.192.big.example', 'TXT', {}, true);
  assert.equal(res.p.flag_tc, false);
  assert.equal(res.p.answers!.length, 12);
  assert.equal(res.p.authorities!.length, 2);
  // the answer fits but the NS authority does not: dropped silently, no TC
  const r2 = responder({ maxUdpPayload: 4096 }, bigZone());
  const full = get(r2, '1.2.0.192.big.example', 'ANY', edns(4096)).raw.length;
  const tight = get(r2, '1.2.0.192.big.example', 'ANY', edns(full - 30)); // 2 NS RRs are 58 bytes
  assert.equal(tight.p.flag_tc, false);
  assert.equal(tight.p.answers!.length, 24);
  assert.equal(tight.p.authorities!.length, 0);
});

test('allowQuery: other clients get REFUSED', () => {
  const r = responder({ acl: new ClientAcl(['10.0.0.0/8', '2001:db8::/32']) });
  const msg = query('2.2.0.192.ip4set.bl.example', 'A');
  assert.equal(ask(r, msg, false, '127.0.0.1')!.p.rcode, 'REFUSED');
  assert.equal(ask(r, msg, false, '10.1.2.3')!.p.rcode, 'NOERROR');
  assert.equal(ask(r, msg, false, '::ffff:10.1.2.3')!.p.rcode, 'NOERROR');
  assert.equal(ask(r, msg, false, '2001:db8::1')!.p.rcode, 'NOERROR');
  assert.equal(ask(r, msg, false, '::1')!.p.rcode, 'REFUSED');
});

test('counters and query log', () => {
  const counters = new Counters();
  const lines: string[] = [];
  const r = responder({ counters, queryLog: (l) => lines.push(l) });
  get(r, '2.2.0.192.ip4set.bl.example', 'A');
  get(r, '1.1.1.1.ip4set.bl.example', 'A');
  get(r, 'elsewhere.test', 'A');
  r.respond(Buffer.alloc(5), 5, '127.0.0.1', false);
  const j = counters.toJSON();
  assert.equal(j.total.queries, 3);
  assert.equal(j.zones['ip4set.bl.example']!.ok, 1);
  assert.equal(j.zones['ip4set.bl.example']!.nxdomain, 1);
  assert.equal(j.total.errors, 1);
  assert.equal(j.dropped, 1);
  assert.match(counters.statsLine(), /^\d+ .*ip4set\.bl\.example:2:1:1:\d+:\d+ .*\*:3:1:1:\d+:\d+$/);
  assert.match(lines[0]!, /^\d+ 127\.0\.0\.1 2\.2\.0\.192\.ip4set\.bl\.example A IN: NOERROR\/1\/\d+$/);
  assert.match(lines[2]!, /elsewhere\.test A IN: REFUSED\/0\/\d+$/);
  counters.reset();
  assert.equal(counters.toJSON().total.queries, 0);
});

test('swap: the next query sees the new table, counters continue', () => {
  const counters = new Counters();
  const r = responder({ counters });
  assert.equal(get(r, '1.1.1.1.ip4set.bl.example', 'A').p.rcode, 'NXDOMAIN');
  r.setTable(new ZoneTable([{ name: 'ip4set.bl.example', datasets: [dataset('ip4set', '1.1.1.1\n')], newestMtime: 1 }]));
  assert.equal(get(r, '1.1.1.1.ip4set.bl.example', 'A').p.rcode, 'NOERROR');
  assert.equal(counters.toJSON().zones['ip4set.bl.example']!.queries, 2);
});

test('glue: a missing A for an NS inside a served zone is a warning', () => {
  const warnings: string[] = [];
  new ZoneTable(
    [
      { name: 'a.example', datasets: [dataset('ip4set', '$NS 1h ns9.gen.example\n1.2.3.4\n')], newestMtime: 1 },
      { name: 'gen.example', datasets: [dataset('generic', 'ns1 A 192.0.2.1\n')], newestMtime: 1 },
    ],
    (m) => warnings.push(m),
  );
  assert.equal(warnings.length, 1);
  assert.match(warnings[0]!, /ns9\.gen\.example/);
});

test('IPv6 names and dnset names reach the datasets', () => {
  const t = new ZoneTable([
    { name: 'ip6.example', datasets: [dataset('ip6trie', ':127.0.1.2:v6 $\n2001:db8:c000::/36\n')], newestMtime: 1 },
    { name: 'dn.example', datasets: [dataset('dnset', ':127.0.0.2:Domain $ is listed\n.evil.test\n!ok.evil.test\n')], newestMtime: 1 },
  ]);
  const r = responder({}, t);
  const name = '1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.f.c.8.b.d.0.1.0.0.2.ip6.example';
  assert.deepEqual(get(r, name, 'A').p.answers!.map((a) => data(a)), ['127.0.1.2']);
  assert.deepEqual(get(r, 'X.Evil.Test.dn.example', 'TXT').p.answers!.map((a) => data(a)), ['Domain evil.test is listed']);
  assert.equal(get(r, 'ok.evil.test.dn.example', 'A').p.rcode, 'NXDOMAIN');
});

// rbldnsd compresses each fragment it writes (SOA record, NS RRset, NS RRset + glue) on its own:
// names point at a suffix of the zone name in the question or at an earlier name of the same
// fragment; MX exchanges are written in full, as written in the data.
test('name compression: NS, SOA and glue names point into the zone suffix and take the query case', () => {
  const t = new ZoneTable([
    { name: 'ip4set.bl.example', datasets: [dataset('ip4set', '$NS 1d ns1.gen.example ns2.example.net\n:127.0.0.2:L $\n192.0.2.0/24\n')], newestMtime: 1 },
    { name: 'gen.example', datasets: [dataset('generic', GENERIC)], newestMtime: 1 },
  ]);
  const r = responder({}, t);
  let { p, raw } = get(r, '1.2.0.192.ip4set.bl.example', 'A');
  assert.equal(raw.length, 128, 'the size rbldnsd answers with');
  ({ p, raw } = get(r, '2.2.0.192.IP4SET.BL.EXAMPLE', 'A'));
  assert.deepEqual(p.authorities!.map((a) => data(a)).sort(), ['ns1.gen.EXAMPLE', 'ns2.example.net']);
  assert.deepEqual(p.additionals!.map((a) => [a.name, data(a)]), [['ns1.gen.EXAMPLE', '192.0.2.53']]);
  // NXDOMAIN: the SOA names point into the question's zone suffix too
  ({ p } = get(r, 'nx.Gen.Example', 'A'));
  assert.equal(p.rcode, 'NXDOMAIN');
  const soa = data(p.authorities![0]!) as { mname: string; rname: string };
  assert.equal(soa.mname, 'ns1.Gen.Example');
  assert.equal(soa.rname, 'hostmaster.example.net');
});

test('name compression: an apex NS answer and the authority NS set are compressed separately', () => {
  const t = new ZoneTable([
    { name: 'z.example', datasets: [dataset('generic', '$NS 1h ns.example.net ns2.example.net ns3.z.example\nns3 A 192.0.2.9\n')], newestMtime: 1 },
  ]);
  const { p, raw } = get(responder({}, t), 'z.example', 'NS');
  assert.equal(p.answers!.length, 3);
  assert.equal(p.authorities!.length, 3);
  assert.deepEqual(p.additionals!.map((a) => [a.name, data(a)]), [['ns3.z.example', '192.0.2.9']]);
  // As rbldnsd (checked with g4.example, one byte longer): 27 header+question, answer 29+18+17
  // (one "example.net" written, "ns3" + pointer), the authority the same again (it does not
  // point into the answer), the glue owner a pointer into the authority: 171
  assert.equal(raw.length, 171);
});

test('name compression: a block beyond the 14-bit pointer range is written without inner pointers', () => {
  const lines = ['$NS 1d ns1.example.net ns2.example.net', '$TTL 60'];
  for (let i = 0; i < 300; i++) lines.push(`192.0.2.1 :127.0.${i >> 8}.${i & 255}:${`t${i} `.padEnd(100, 'x')}`);
  const t = new ZoneTable([{ name: 'huge.example', datasets: [dataset('ip4set', lines.join('\n'))], newestMtime: 1 }]);
  const { p, raw } = get(responder({}, t), '1.2.0.192.huge.example', 'TXT', {}, true);
  assert.ok(raw.length > 0x4000);
  assert.equal(p.answers!.length, 255);
  assert.deepEqual(p.authorities!.map((a) => data(a)).sort(), ['ns1.example.net', 'ns2.example.net']);
});

test('MX exchanges keep the case they have in the data', () => {
  const t = new ZoneTable([
    { name: 'gen.example', datasets: [dataset('generic', '@ MX 10 MX2.Example.NET.\nx MX 20 mx.X.GEN.example\n')], newestMtime: 1 },
  ]);
  const r = responder({}, t);
  assert.deepEqual(get(r, 'gen.example', 'MX').p.answers!.map((a) => data(a)), [{ preference: 10, exchange: 'MX2.Example.NET' }]);
  assert.deepEqual(get(r, 'X.gen.example', 'MX').p.answers!.map((a) => data(a)), [{ preference: 20, exchange: 'mx.X.GEN.example' }]);
});

test('glue: an address already given to an earlier NS name is not repeated', () => {
  const t = new ZoneTable([
    {
      name: 'bl.example',
      datasets: [
        dataset('ip4set', '$NS 1h ns.bl.example ns1.gen.example -skipped.example.net ns.bl.example\n:127.0.0.20:p $\n192.0.2.0/24\n'),
        dataset('generic', 'ns A 192.0.2.53\nns A 192.0.2.54\n'),
      ],
      newestMtime: 1,
    },
    { name: 'gen.example', datasets: [dataset('generic', 'ns1 600 A 192.0.2.53\n')], newestMtime: 1 },
  ]);
  const { p } = get(responder({}, t), '1.2.0.192.bl.example', 'A');
  assert.equal(p.authorities!.length, 2);
  // ns1.gen.example's only address went to ns.bl.example already; its TTL still lowers the glue TTL
  assert.deepEqual(p.additionals!.map((a) => [a.name, a.ttl, data(a)]), [
    ['ns.bl.example', 600, '192.0.2.53'], ['ns.bl.example', 600, '192.0.2.54'],
  ]);
});

test('v4-mapped names: IPv4 lookup only in zones with a plain IPv4 dataset', () => {
  const v6 = '::/0 :127.0.0.7:v6 $\n';
  const t = new ZoneTable([
    { name: 'v6.example', datasets: [dataset('ip6trie', v6)], newestMtime: 1 },
    { name: 'mixed.example', datasets: [dataset('ip6trie', v6), dataset('ip4set', ':127.0.0.3:v4 $\n192.0.2.1\n')], newestMtime: 1 },
  ]);
  const r = responder({}, t);
  const mapped = '1.0.2.0.0.0.0.c.f.f.f.f.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0';
  assert.deepEqual(get(r, `${mapped}.v6.example`, 'TXT').p.answers!.map((a) => data(a)), ['v6 ::ffff:c000:201']);
  assert.deepEqual(get(r, `${mapped}.mixed.example`, 'TXT').p.answers!.map((a) => data(a)), ['v4 192.0.2.1']);
  assert.equal(t.zoneOf('v6.example')!.hasIp4, false);
  assert.equal(t.zoneOf('mixed.example')!.hasIp4, true);
});

test('CH version.bind: the second flags byte of the query comes back untouched', () => {
  const r = responder();
  for (const f2 of [0xb0, 0x80, 0x00, 0xbf]) {
    const ch = query('version.bind', 'TXT');
    ch.writeUInt16BE(3, ch.length - 2);
    ch[2] = 0x01;
    ch[3] = f2;
    const { raw } = ask(r, ch)!;
    assert.equal(raw[2], 0x81);
    assert.equal(raw[3], f2);
  }
});

test('TXT of every length 0..255: RDLENGTH is two bytes (a 255-byte string makes 256)', () => {
  const lines = ['$TTL 60'];
  for (let n = 0; n <= 255; n++) lines.push(`l${n} TXT "${'t'.repeat(n)}"`);
  const r = responder({}, new ZoneTable([{ name: 'txt.example', datasets: [dataset('generic', lines.join('\n'))], newestMtime: 1 }]));
  for (let n = 0; n <= 255; n++) {
    const { p, raw } = get(r, `l${n}.txt.example`, 'TXT', {}, true);
    assert.equal(p.answers!.length, 1, `l${n}`);
    assert.equal(data(p.answers![0]!), 't'.repeat(n), `l${n}`);
    // question 12 + name + 4; answer: pointer 2 + type/class/ttl 8, then RDLENGTH
    const rdlen = raw.readUInt16BE(12 + `l${n}.txt.example`.length + 2 + 4 + 2 + 8);
    assert.equal(rdlen, n + 1, `l${n} RDLENGTH`);
  }
});

test('OPT in the answer or authority section: FORMERR, or (rbldnsd mode) a reply without EDNS', () => {
  const q = query('2.2.0.192.ip4set.bl.example', 'A');
  const opt = Buffer.from([0, 0, 41, 16, 0, 0, 0, 0, 0, 0, 0]);
  const inAuthority = (ar: number) => {
    const b = Buffer.concat([q, opt, ar ? opt : Buffer.alloc(0)]);
    b.writeUInt16BE(1, 8);
    b.writeUInt16BE(ar, 10);
    return b;
  };
  const strict = responder();
  const lenient = responder({ skipMisplacedOpt: true });
  for (const ar of [0, 1]) {
    assert.equal(ask(strict, inAuthority(ar))!.p.rcode, 'FORMERR', `serve, ARCOUNT ${ar}`);
    const { p, raw } = ask(lenient, inAuthority(ar))!;
    assert.equal(p.rcode, 'NOERROR', `rbldnsd mode, ARCOUNT ${ar}`);
    assert.deepEqual(p.answers!.map((a) => data(a)), ['127.0.0.3']);
    assert.ok(!p.additionals!.some((a) => a.type === 'OPT'), 'no OPT in the reply');
    assert.ok(raw.length <= 512);
  }
  const inAnswer = Buffer.concat([q, opt]);
  inAnswer.writeUInt16BE(1, 6);
  assert.equal(ask(strict, inAnswer)!.p.rcode, 'FORMERR');
  assert.equal(ask(lenient, inAnswer)!.p.rcode, 'NOERROR');
});

test('a live serial (merged zones) is written into every SOA: apex answer and negative authority', () => {
  const live = { serial: 1_800_000_000 };
  const soa = { ttl: 300, mname: 'ns1.example.net', rname: 'hostmaster.example.net', serial: 7, refresh: 3600, retry: 600, expire: 604800, minimum: 60 };
  const meta = { type: 'zone-meta', ttl: 300, meta: { soa, ns: { ttl: 60, names: ['ns1.example.net'] }, liveSerial: live }, size: 0, query: () => false, dump: () => {}, snapshot: () => ({ type: 'zone-meta', meta: null, arrays: [] }) };
  const r = responder({}, new ZoneTable([{ name: 'bl.example', datasets: [meta], newestMtime: 1 }]));
  const serialOf = (rr: RR) => (rr.data as { serial: number }).serial;
  const apex = () => get(r, 'bl.example', 'SOA').p.answers![0]!;
  const neg = () => get(r, '1.2.3.4.bl.example', 'A').p.authorities![0]!;
  assert.equal(serialOf(apex()), 1_800_000_000);
  assert.equal(serialOf(neg()), 1_800_000_000);
  assert.equal(neg().ttl, 60, 'negative TTL = SOA minimum');
  live.serial = 1_800_000_005;
  assert.equal(serialOf(apex()), 1_800_000_005, 'no new table needed');
  assert.equal(serialOf(neg()), 1_800_000_005);
  const any = get(r, 'bl.example', 'ANY').p.answers!.find((a) => a.type === 'SOA')!;
  assert.equal(serialOf(any), 1_800_000_005);
  assert.deepEqual({ ...(apex().data as object), serial: 0 }, { mname: 'ns1.example.net', rname: 'hostmaster.example.net', serial: 0, refresh: 3600, retry: 600, expire: 604800, minimum: 60 });
});
