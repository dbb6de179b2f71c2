// Response rate limiting (server/rrl.ts): buckets per class, client prefix and name, slip to
// TC, exemptions, a fixed table, the private-address rule of `auto`, and both UDP listeners
// (native batch and node:dgram) limiting one flooding client while others are answered.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import dnsPacket from 'dns-packet';
import { Counters } from '../../server/counters.ts';
import { Responder } from '../../server/responder.ts';
import { isPrivateAddress, Rrl, RRL_DROP, RRL_PASS, RRL_SLIP, type RrlOptions } from '../../server/rrl.ts';
import { UdpListener } from '../../server/udp.ts';
import { batchAvailable } from '../../server/udp-batch.ts';
import { dataset, portOf, query, startServer, table } from './helpers.ts';

const ZONE_DATA = `$SOA 1h ns1.example.net hostmaster.example.net 1 2h 30m 1w 5m
$NS 1d ns1.example.net
:127.0.0.2:Listed $
192.0.2.0/24
`;
const zones = () => table([{ name: 'bl.example', datasets: [dataset('ip4set', ZONE_DATA)], newestMtime: 1 }]);

function responder(counters = new Counters()): Responder {
  return new Responder({ lazy: false, version: 'version', versionText: 'q', maxUdpPayload: 1232, acl: null, counters }, zones());
}

const ip = (s: string) => new Uint8Array(s.split('.').map(Number));
function ip6(hex: string): Uint8Array {
  const b = new Uint8Array(16);
  for (let i = 0; i < 16; i++) b[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return b;
}

/** An RRL with a hand-driven clock. */
function rrl(over: Partial<RrlOptions> = {}, counters: Counters | null = null): { l: Rrl; at: (ms: number) => void } {
  const l = new Rrl({ responsesPerSecond: 5, nxdomainsPerSecond: 5, errorsPerSecond: 5, slip: 2, tableSize: 1024, ...over }, counters);
  let t = 1000;
  l.now = () => t;
  return { l, at: (ms) => (t = ms) };
}

/** Verdicts for `n` replies of the responder to `msg` from `peer`. */
function verdicts(l: Rrl, r: Responder, msg: Buffer, peer: Uint8Array, n: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const len = r.respond(msg, msg.length, '192.0.2.200', false);
    assert.ok(len > 0);
    l.tick();
    out.push(l.decide(r.out, r.lastQEnd, peer, r.out[3]! & 15, r.out.readUInt16BE(6), r));
  }
  return out;
}

test('a bucket passes `rate` replies a second, then drops with every 2nd slipped; refills with time', () => {
  const { l, at } = rrl();
  const r = responder();
  const q = query('1.2.0.192.bl.example', 'A');
  const P = RRL_PASS, D = RRL_DROP, S = RRL_SLIP;
  assert.deepEqual(verdicts(l, r, q, ip('198.51.100.7'), 9), [P, P, P, P, P, D, S, D, S]);
  at(1400); // 0.4 s: 2 tokens back
  assert.deepEqual(verdicts(l, r, q, ip('198.51.100.7'), 3), [P, P, D]);
  at(60_000); // a long pause refills to one second's worth, not more
  assert.equal(verdicts(l, r, q, ip('198.51.100.7'), 7).filter((v) => v === P).length, 5);
});

test('keys: /24 and /56 share a bucket, other prefixes do not; positive by qname (any case), NXDOMAIN by zone', () => {
  const r = responder();
  const listed = query('1.2.0.192.bl.example', 'A');
  let { l } = rrl();
  verdicts(l, r, listed, ip('198.51.100.7'), 5);
  assert.deepEqual(verdicts(l, r, listed, ip('198.51.100.99'), 1), [RRL_DROP], 'same /24 shares the bucket');
  assert.deepEqual(verdicts(l, r, listed, ip('198.51.101.7'), 1), [RRL_PASS], 'another /24 has its own');
  assert.deepEqual(verdicts(l, r, query('1.2.0.192.BL.Example', 'A'), ip('198.51.100.7'), 1), [RRL_SLIP], 'case does not make a new bucket');
  assert.deepEqual(verdicts(l, r, query('2.2.0.192.bl.example', 'A'), ip('198.51.100.7'), 1), [RRL_PASS], 'another qname has its own');
  assert.deepEqual(verdicts(l, r, query('1.2.0.192.bl.example', 'TXT'), ip('198.51.100.7'), 1), [RRL_PASS], 'another qtype has its own');

  ({ l } = rrl());
  const a = ip6('20010db8000001000000000000000001');
  const sameSlash56 = ip6('20010db8000001ff0000000000000002');
  const other56 = ip6('20010db8000002000000000000000001');
  verdicts(l, r, listed, a, 5);
  assert.deepEqual(verdicts(l, r, listed, sameSlash56, 1), [RRL_DROP]);
  assert.deepEqual(verdicts(l, r, listed, other56, 1), [RRL_PASS]);

  // Random names under the zone: NXDOMAIN, one bucket for the zone.
  ({ l } = rrl());
  const got: number[] = [];
  for (let i = 0; i < 8; i++) got.push(...verdicts(l, r, query(`${i}.9.9.9.bl.example`, 'A'), ip('203.0.113.1'), 1));
  assert.equal(got.filter((v) => v === RRL_PASS).length, 5, `NXDOMAIN per zone: ${got}`);
  // Errors (REFUSED outside every zone) by prefix only.
  const err: number[] = [];
  for (let i = 0; i < 8; i++) err.push(...verdicts(l, r, query(`x${i}.elsewhere.test`, 'A'), ip('203.0.113.1'), 1));
  assert.equal(err.filter((v) => v === RRL_PASS).length, 5);
});

test('a rate of 0 is no limit for its class; exempt clients are never limited', () => {
  const r = responder();
  const { l } = rrl({ responsesPerSecond: 0, exempt: ['203.0.113.0/28', '2001:db8::/32'] });
  assert.ok(verdicts(l, r, query('1.2.0.192.bl.example', 'A'), ip('198.51.100.7'), 50).every((v) => v === RRL_PASS));
  const nx = query('1.9.9.9.bl.example', 'A');
  assert.ok(verdicts(l, r, nx, ip('203.0.113.9'), 50).every((v) => v === RRL_PASS), 'exempt v4');
  assert.ok(verdicts(l, r, nx, ip6('20010db8000000000000000000000009'), 50).every((v) => v === RRL_PASS), 'exempt v6');
  assert.ok(verdicts(l, r, nx, ip('203.0.113.19'), 50).includes(RRL_DROP), 'outside the /28 is limited');
  assert.throws(() => new Rrl({ exempt: ['10.0.0.0/33'] }), /rrl: exempt: invalid address or CIDR "10\.0\.0\.0\/33"/);
  assert.throws(() => new Rrl({ slip: -1 }), /rrl: slip must be a number >= 0/);
});

test('the table is fixed: a flood of distinct prefixes recycles buckets and a limited client stays limited', () => {
  const r = responder();
  const { l } = rrl({ tableSize: 1024 });
  const q = query('1.2.0.192.bl.example', 'A');
  verdicts(l, r, q, ip('198.51.100.7'), 6);
  const size = l.size;
  for (let i = 0; i < 20_000; i++) verdicts(l, r, q, ip(`10.${(i >> 8) & 255}.${i & 255}.1`), 1);
  assert.equal(l.size, size);
  // The flood may have taken the client's bucket over (then it starts afresh, full), never more.
  const v = verdicts(l, r, q, ip('198.51.100.7'), 10);
  assert.ok(v.filter((x) => x === RRL_PASS).length <= 5, String(v));
});

test('filter: a slipped reply is header + question (+ OPT), TC set, and decodes; counters count drops and slips', () => {
  const counters = new Counters();
  const r = responder(counters);
  const { l } = rrl({ slip: 1 }, counters);
  const q = query('1.2.0.192.bl.example', 'TXT', { additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 1232, flags: 0 } as dnsPacket.Answer] });
  const lens: number[] = [];
  let last = Buffer.alloc(0);
  for (let i = 0; i < 7; i++) {
    const n = r.respond(q, q.length, '198.51.100.7', false);
    l.tick();
    const m = l.filterText(r, n, '198.51.100.7');
    lens.push(m);
    last = Buffer.from(r.out.subarray(0, m));
  }
  assert.ok(lens.slice(0, 5).every((n) => n > 60));
  const p = dnsPacket.decode(last) as unknown as { flags: number; id: number; rcode: string; questions: { name: string; type: string }[]; answers: unknown[]; additionals: { type: string; udpPayloadSize: number }[] };
  assert.ok(p.flags & dnsPacket.TRUNCATED_RESPONSE, 'TC set');
  assert.equal(p.id, 4242);
  assert.deepEqual(p.questions.map((x) => [x.name, x.type]), [['1.2.0.192.bl.example', 'TXT']]);
  assert.equal(p.answers.length, 0);
  assert.deepEqual(p.additionals.map((a) => [a.type, a.udpPayloadSize]), [['OPT', 1232]]);
  assert.equal(counters.rrlSlipped, 2);
  const { l: dropAll } = rrl({ slip: 0 }, counters);
  for (let i = 0; i < 7; i++) {
    dropAll.tick();
    dropAll.filterText(r, r.respond(q, q.length, '::1', false), '::1');
  }
  assert.equal(counters.rrlDropped, 2);
  assert.deepEqual(counters.toJSON().rrl, { dropped: 2, slipped: 2 });
});

test('exemptPrivate (auto): private clients are never limited, public ones are', () => {
  const r = responder();
  const { l } = rrl({ exemptPrivate: true });
  const q = query('1.2.0.192.bl.example', 'A');
  for (const p of [ip('10.1.2.3'), ip('192.168.0.9'), ip('127.0.0.1'), ip6('fd000000000000000000000000000053'), ip6('00000000000000000000ffff0a000001')]) {
    assert.ok(verdicts(l, r, q, p, 30).every((v) => v === RRL_PASS), String(p));
  }
  assert.ok(verdicts(l, r, q, ip('198.51.100.7'), 30).includes(RRL_DROP));
  assert.ok(verdicts(l, r, q, ip6('00000000000000000000ffffc6336407'), 30).includes(RRL_DROP), 'v4-mapped public');
});

test('auto: private listener addresses are loopback, RFC 1918, 100.64/10, link-local, ULA', () => {
  for (const a of ['127.0.0.1', '10.1.2.3', '172.16.0.1', '172.31.255.255', '192.168.1.1', '100.64.0.1', '169.254.1.1', '::1', 'fd00::53', 'fe80::1', '::ffff:10.0.0.1']) {
    assert.equal(isPrivateAddress(a), true, a);
  }
  for (const a of ['0.0.0.0', '::', '192.0.2.1', '172.32.0.1', '8.8.8.8', '100.128.0.1', '2001:db8::1', '::ffff:8.8.8.8']) {
    assert.equal(isPrivateAddress(a), false, a);
  }
});

/** Floods `count` copies of a query from one socket and collects the replies. */
async function flood(port: number, msg: Buffer, count: number, bindTo: string): Promise<Buffer[]> {
  const s: Socket = createSocket('udp4');
  await new Promise<void>((res) => s.bind({ address: bindTo, port: 0 }, () => res()));
  const got: Buffer[] = [];
  s.on('message', (m) => got.push(m));
  for (let i = 0; i < count; i++) {
    s.send(msg, port, '127.0.0.1');
    if (i % 50 === 49) await new Promise((r) => setImmediate(r));
  }
  const deadline = Date.now() + 3000;
  let seen = -1;
  while (Date.now() < deadline && seen !== got.length) {
    seen = got.length;
    await new Promise((r) => setTimeout(r, 200));
  }
  s.close();
  return got;
}

async function oneAnswer(port: number, from: string): Promise<{ rcode: string; tc: boolean; answers: number } | null> {
  const r = await flood(port, query('1.2.0.192.bl.example', 'A'), 1, from);
  if (r.length === 0) return null;
  const p = dnsPacket.decode(r[0]!) as unknown as { rcode: string; flags: number; answers: unknown[] };
  return { rcode: p.rcode, tc: (p.flags & dnsPacket.TRUNCATED_RESPONSE) !== 0, answers: p.answers.length };
}

async function floodCase(port: number, counters: Counters): Promise<void> {
  const msg = query('1.2.0.192.bl.example', 'A');
  const got = await flood(port, msg, 300, '127.0.0.1');
  const tc = got.filter((m) => (dnsPacket.decode(m).flags! & dnsPacket.TRUNCATED_RESPONSE) !== 0);
  const full = got.length - tc.length;
  // A burst of 300 within a few seconds: the rate (5/s) plus a few seconds of refill at most.
  assert.ok(full >= 5 && full <= 40, `full answers ${full}`);
  assert.ok(tc.length >= 100, `slipped ${tc.length}`);
  for (const m of tc) assert.equal((dnsPacket.decode(m).answers ?? []).length, 0);
  assert.ok(counters.rrlDropped >= 100, `dropped ${counters.rrlDropped}`);
  assert.equal(counters.rrlDropped + counters.rrlSlipped + full, 300);
  // Another client (another /24 of the loopback net) is answered in full.
  assert.deepEqual(await oneAnswer(port, '127.0.9.1'), { rcode: 'NOERROR', tc: false, answers: 1 });
}

test('DnsServer (native batch listener when built): a flood from one client is limited, others answered', async () => {
  const s = await startServer(zones(), { maxUdpPayload: 1232, rrl: { enabled: true, responsesPerSecond: 5, slip: 2 } });
  try {
    await floodCase(portOf(s), s.counters);
  } finally {
    await s.stop();
  }
  assert.ok(batchAvailable || process.env.CI !== 'true');
});

test('node:dgram listener: the same limits', async () => {
  const counters = new Counters();
  const r = responder(counters);
  const l = new UdpListener(() => r, { failure: (e) => assert.fail(String(e)), socketError: () => {} }, '127.0.0.1', new Rrl({ responsesPerSecond: 5, slip: 2 }, counters));
  const port = await l.bind(0);
  try {
    await floodCase(port, counters);
  } finally {
    await l.close();
  }
});

test('auto leaves a loopback listener alone; false turns RRL off', async () => {
  for (const enabled of ['auto', false] as const) {
    const s = await startServer(zones(), { rrl: { enabled, responsesPerSecond: 5 } });
    try {
      const got = await flood(portOf(s), query('1.2.0.192.bl.example', 'A'), 100, '127.0.0.1');
      assert.equal(got.length, 100, `enabled: ${enabled}`);
      assert.equal(s.counters.rrlDropped + s.counters.rrlSlipped, 0);
    } finally {
      await s.stop();
    }
  }
});
