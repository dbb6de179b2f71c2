// The DnsServer on real sockets (127.0.0.1 and ::1, random ports), queried with `dig`.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import dnsPacket from 'dns-packet';
import { DnsServer } from '../../server/index.ts';
import { ZoneTable } from '../../server/zones.ts';
import { TcpClient, dataset, dig, digRaw, options, parseDig, portOf, query, startServer, toolsOrSkip, udpExchange } from './helpers.ts';

const IP4SET = `$SOA 1h ns1.example.net hostmaster.example.net 2024010101 2h 30m 1w 5m
$NS 1d ns1.example.net ns2.example.net
$TTL 15m
:127.0.0.2:Listed: see https://bl.example/lookup?ip=$
192.0.2.2 :127.0.0.3:Custom text for $
198.51.100.0/24
!198.51.100.7
`;

function bigLines(): string {
  const lines: string[] = [];
  for (let i = 0; i < 12; i++) lines.push(`192.0.2.1 :127.0.0.${i + 2}:${`text ${i} `.padEnd(90, 'x')}`);
  return lines.join('\n');
}

function zones(): ZoneTable {
  return new ZoneTable([
    { name: 'bl.example', datasets: [dataset('ip4set', IP4SET)], newestMtime: 1700000000 },
    { name: 'big.example', datasets: [dataset('ip4set', IP4SET.split('\n').slice(0, 2).join('\n') + '\n' + bigLines())], newestMtime: 1 },
  ]);
}

describe('DnsServer over UDP and TCP with dig', { skip: toolsOrSkip(['dig']) }, () => {
  let server: DnsServer;
  let port: number;
  let port6: number;

  before(async () => {
    server = await startServer(zones(), {
      listen: [{ address: '127.0.0.1', port: 0 }, { address: '::1', port: 0 }],
      tcp: { enabled: true, idleTimeoutMs: 500, maxConnections: 3 },
      maxUdpPayload: 1232,
    });
    port = portOf(server, 'udp', 4);
    port6 = portOf(server, 'udp', 6);
  });
  after(() => server.stop());

  test('binds UDP and TCP on the same port for each address', () => {
    assert.equal(portOf(server, 'tcp', 4), port);
    assert.equal(portOf(server, 'tcp', 6), port6);
  });

  test('listed, NXDOMAIN, REFUSED over UDP, case preserved, no OPT with +noedns', async () => {
    let r = await dig(port, ['+notcp', '+noedns', '2.2.0.192.BL.Example', 'TXT']);
    assert.equal(r.status, 'NOERROR');
    assert.deepEqual(r.flags, ['qr', 'aa']);
    assert.deepEqual(r.answer.map((a) => [a.name, a.ttl, a.type, a.data]), [['2.2.0.192.BL.Example.', 900, 'TXT', '"Custom text for 192.0.2.2"']]);
    assert.deepEqual(r.authority.map((a) => [a.name, a.type]), [['BL.Example.', 'NS'], ['BL.Example.', 'NS']]);
    assert.equal(r.udp, undefined);
    r = await dig(port, ['+notcp', '7.100.51.198.bl.example', 'A']);
    assert.equal(r.status, 'NXDOMAIN');
    assert.equal(r.authority[0]!.ttl, 300);
    assert.equal(r.udp, 1232, 'EDNS query: OPT echoed with our ceiling');
    r = await dig(port, ['+notcp', '+rec', 'www.example.com', 'A']);
    assert.equal(r.status, 'REFUSED');
    assert.deepEqual(r.flags, ['qr', 'rd']);
  });

  test('IPv6 listener answers the same', async () => {
    const r = await dig(port6, ['+notcp', '2.2.0.192.bl.example', 'A'], '::1');
    assert.equal(r.status, 'NOERROR');
    assert.equal(r.answer[0]!.data, '127.0.0.3');
    const t = await dig(port6, ['+tcp', 'bl.example', 'SOA'], '::1');
    assert.equal(t.answer[0]!.type, 'SOA');
  });

  test('TC over UDP, full answer over TCP (dig retries on its own)', async () => {
    let r = await dig(port, ['+notcp', '+ignore', '+noedns', '1.2.0.192.big.example', 'TXT']);
    assert.ok(r.flags.includes('tc'));
    assert.equal(r.answer.length, 0);
    r = await dig(port, ['+notcp', '+ignore', '+bufsize=4096', '1.2.0.192.big.example', 'TXT']);
    assert.ok(r.flags.includes('tc'), 'client 4096 is capped at maxUdpPayload 1232');
    r = await dig(port, ['+notcp', '+ignore', '+bufsize=1232', '1.2.0.192.big.example', 'A']);
    assert.ok(!r.flags.includes('tc'));
    assert.equal(r.answer.length, 12);
    const raw = await digRaw(port, ['+notcp', '+noedns', '1.2.0.192.big.example', 'TXT']);
    assert.match(raw, /Truncated, retrying in TCP mode/);
    r = parseDig(raw.slice(raw.indexOf('Truncated')));
    assert.equal(r.answer.length, 12);
    assert.ok(!r.flags.includes('tc'));
  });

  test('several queries on one TCP connection (+keepopen)', async () => {
    const raw = await digRaw(port, ['+tcp', '+keepopen', '2.2.0.192.bl.example', 'A', '1.1.1.1.bl.example', 'A', 'bl.example', 'NS']);
    const replies = raw.split('->>HEADER<<-').slice(1);
    assert.equal(replies.length, 3);
    assert.match(replies[0]!, /status: NOERROR/);
    assert.match(replies[1]!, /status: NXDOMAIN/);
    assert.match(replies[2]!, /IN\s+NS\s+ns1\.example\.net/);
  });

  test('pipelined TCP queries are answered in order', async () => {
    const c = new TcpClient(port);
    await c.ready();
    const names = ['2.2.0.192.bl.example', '1.1.1.1.bl.example', 'bl.example', '5.100.51.198.bl.example'];
    const all = Buffer.concat(names.map((n, i) => {
      const m = query(n, 'A', { id: i + 1 });
      const l = Buffer.alloc(2);
      l.writeUInt16BE(m.length);
      return Buffer.concat([l, m]);
    }));
    c.socket.write(all.subarray(0, 7)); // split mid-message
    setTimeout(() => c.socket.write(all.subarray(7)), 30);
    const got = (await c.take(4)).map((b) => dnsPacket.decode(b));
    assert.deepEqual(got.map((p) => p.id), [1, 2, 3, 4]);
    assert.deepEqual(got.map((p) => (p as { rcode?: string }).rcode), ['NOERROR', 'NXDOMAIN', 'NOERROR', 'NOERROR']);
    c.close();
  });

  test('idle TCP connections are closed; extra connections beyond the cap are closed', async () => {
    const idle = new TcpClient(port);
    await idle.ready();
    assert.equal(await idle.waitClosed(3000), true, 'idle connection closed by the server');
    const held = [new TcpClient(port), new TcpClient(port), new TcpClient(port)];
    await Promise.all(held.map((c) => c.ready()));
    await new Promise((r) => setTimeout(r, 50));
    const extra = new TcpClient(port);
    await extra.ready().catch(() => {});
    assert.equal(await extra.waitClosed(1000), true, 'the 4th connection is closed at once');
    held[0]!.send(query('2.2.0.192.bl.example', 'A'));
    assert.equal((await held[0]!.take(1)).length, 1, 'connections within the cap still work');
    for (const c of held) c.close();
  });

  test('survives random and mutated packets over UDP and TCP', async () => {
    let seed = 12345;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
    const valid = [
      query('2.2.0.192.bl.example', 'ANY'),
      query('big.example', 'ANY', { additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 4096, flags: 0 } as dnsPacket.Answer] }),
      query('version.bind', 'TXT'),
    ];
    const packets: Buffer[] = [];
    for (let i = 0; i < 1500; i++) {
      if (i % 3 === 0) {
        const b = Buffer.alloc(Math.floor(rnd() * 80));
        for (let j = 0; j < b.length; j++) b[j] = Math.floor(rnd() * 256);
        packets.push(b);
      } else {
        const b = Buffer.from(valid[i % valid.length]!);
        const flips = 1 + Math.floor(rnd() * 4);
        for (let f = 0; f < flips; f++) b[Math.floor(rnd() * b.length)] = Math.floor(rnd() * 256);
        packets.push(rnd() < 0.2 ? b.subarray(0, Math.floor(rnd() * b.length)) : b);
      }
    }
    const { createSocket } = await import('node:dgram');
    const s = createSocket('udp4');
    for (const p of packets) s.send(p, port, '127.0.0.1');
    await new Promise((r) => setTimeout(r, 200));
    s.close();
    const c = new TcpClient(port);
    await c.ready();
    for (const p of packets.slice(0, 300)) c.send(p);
    c.socket.write(Buffer.from([0xff, 0xff, 1, 2, 3])); // a frame that never completes
    c.close();
    const reply = await udpExchange(port, query('2.2.0.192.bl.example', 'A'));
    assert.ok(reply, 'still answers over UDP');
    assert.equal((dnsPacket.decode(reply) as { rcode?: string }).rcode, 'NOERROR');
    const r = await dig(port, ['+tcp', '2.2.0.192.bl.example', 'A']);
    assert.equal(r.status, 'NOERROR', 'still answers over TCP');
    assert.equal(server.counters.failures, 0, 'no packet made the handler throw');
  });

  test('swap is seen by the next query', async () => {
    server.swap(new ZoneTable([{ name: 'bl.example', datasets: [dataset('ip4set', '1.1.1.1\n')], newestMtime: 1 }]));
    const r = await dig(port, ['+notcp', '1.1.1.1.bl.example', 'A']);
    assert.equal(r.status, 'NOERROR');
    server.swap(zones());
  });
});

describe('DnsServer options', { skip: toolsOrSkip(['dig']) }, () => {
  test('allowQuery: a loopback client outside the list is REFUSED', async () => {
    const s = await startServer(zones(), { allowQuery: ['10.0.0.0/8'], tcp: { enabled: true, idleTimeoutMs: 1000, maxConnections: 4 } });
    try {
      const r = await dig(portOf(s), ['+notcp', '2.2.0.192.bl.example', 'A']);
      assert.equal(r.status, 'REFUSED');
      assert.equal(r.answer.length, 0);
      const t = await dig(portOf(s), ['+tcp', '2.2.0.192.bl.example', 'A']);
      assert.equal(t.status, 'REFUSED');
    } finally {
      await s.stop();
    }
    const ok = await startServer(zones(), { allowQuery: ['127.0.0.0/8', '::1/128'] });
    try {
      assert.equal((await dig(portOf(ok), ['+notcp', '2.2.0.192.bl.example', 'A'])).status, 'NOERROR');
    } finally {
      await ok.stop();
    }
  });

  test('TCP disabled: UDP only', async () => {
    const s = await startServer(zones(), { tcp: { enabled: false, idleTimeoutMs: 1000, maxConnections: 4 } });
    try {
      assert.deepEqual(s.addresses.map((a) => a.proto), ['udp']);
    } finally {
      await s.stop();
    }
  });

  test('start() rejects with the address:port that failed', async () => {
    const a = await startServer(zones());
    const taken = portOf(a);
    const b = new DnsServer(options({ listen: [{ address: '127.0.0.1', port: taken }] }), zones());
    try {
      await assert.rejects(b.start(), new RegExp(`127\\.0\\.0\\.1:${taken}`));
      await assert.rejects(new DnsServer(options({ listen: [{ address: 'localhost', port: 0 }] }), zones()).start(), /localhost:0/);
    } finally {
      await a.stop();
      await b.stop();
    }
  });
});
