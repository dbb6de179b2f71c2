// The native recvmmsg/sendmmsg path must answer exactly like the node:dgram fallback, send
// each reply to the client that asked, and survive bursts and oversized datagrams.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { once } from 'node:events';
import dnsPacket from 'dns-packet';
import { batchAvailable, SLOT } from '../../server/udp-batch.ts';
import { UdpListener } from '../../server/udp.ts';
import { Responder } from '../../server/responder.ts';
import { Counters } from '../../server/counters.ts';
import { dataset, startServer, table } from './helpers.ts';

const zones = () =>
  table([{ name: 'bl.example', datasets: [dataset('ip4set', ':127.0.0.2:Listed $\n10.0.0.0/8\n!10.0.0.1\n')], newestMtime: 1 }]);

test('the native batch module is built (required in CI)', { skip: !batchAvailable && process.env.CI !== 'true' ? 'native module not built' : false }, () => {
  assert.ok(batchAvailable, 'server/native/build/Release/udp_batch.node missing: npm ci runs node-gyp for it');
});

/** Sends `names` from several client sockets at once; returns name -> [answers] per socket. */
async function burst(port: number, address: string, names: string[], clients: number): Promise<Map<string, string>> {
  const got = new Map<string, string>();
  const socks: Socket[] = [];
  for (let c = 0; c < clients; c++) {
    const s = createSocket(address.includes(':') ? 'udp6' : 'udp4');
    s.on('message', (m) => {
      const r = dnsPacket.decode(m) as unknown as { id: number; rcode: string; questions: { name: string }[]; answers: { type: string; data: unknown }[] };
      const q = r.questions![0]!.name;
      assert.equal(r.id! % clients, c, `reply for ${q} reached the wrong client`);
      got.set(q, `${r.rcode} ${(r.answers ?? []).map((a) => (a.type === 'TXT' ? String((a.data as Buffer[])[0]) : a.data)).join(',')}`);
    });
    socks.push(s);
  }
  names.forEach((name, i) => {
    const c = i % clients;
    socks[c]!.send(dnsPacket.encode({ type: 'query', id: i, questions: [{ type: 'ANY' as dnsPacket.RecordType, name }] }), port, address);
  });
  const deadline = Date.now() + 5000;
  while (got.size < names.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  for (const s of socks) s.close();
  return got;
}

test('a burst from many clients: every query answered once, to its own client, like node:dgram', async () => {
  const server = await startServer(zones());
  const port = server.addresses.find((a) => a.proto === 'udp')!.port;
  const names = Array.from({ length: 600 }, (_, i) => `${i % 256}.${(i >> 8) & 255}.0.10.bl.example`);
  const got = await burst(port, '127.0.0.1', names, 6);
  await server.stop();
  assert.equal(got.size, names.length);
  assert.equal(got.get('2.0.0.10.bl.example'), 'NOERROR 127.0.0.2,Listed 10.0.0.2');
  assert.equal(got.get('1.0.0.10.bl.example'), 'NXDOMAIN ');

  // Same questions through the dgram listener and the same responder code.
  const r = new Responder({ lazy: false, version: 'version', versionText: 'q', maxUdpPayload: 4096, acl: null, counters: new Counters() }, zones());
  const l = new UdpListener(() => r, { failure: (e) => assert.fail(String(e)), socketError: () => {} }, '127.0.0.1');
  const p2 = await l.bind(0);
  const ref = await burst(p2, '127.0.0.1', names, 6);
  await l.close();
  assert.deepEqual([...got].sort(), [...ref].sort());
});

test('IPv6 clients and oversized datagrams', async () => {
  const server = await startServer(zones(), { listen: [{ address: '::1', port: 0 }] });
  const port = server.addresses.find((a) => a.proto === 'udp')!.port;
  const s = createSocket('udp6');
  s.send(Buffer.alloc(SLOT + 100, 1), port, '::1'); // larger than a slot: dropped, not misread
  s.send(dnsPacket.encode({ type: 'query', id: 7, questions: [{ type: 'A', name: '2.0.0.10.bl.example' }] }), port, '::1');
  const [msg] = (await once(s, 'message')) as [Buffer];
  s.close();
  await server.stop();
  const r = dnsPacket.decode(msg);
  assert.equal(r.id, 7);
  assert.deepEqual((r.answers as { data: unknown }[]).map((a) => a.data), ['127.0.0.2']);
  assert.equal(server.counters.toJSON().total.queries, 1);
});
