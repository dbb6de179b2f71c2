// The TCP listener's guards (server/tcp.ts) on real sockets: backpressure against a client that
// pipelines without reading, the per-message deadline against slowloris, the per-client limit,
// eviction that keeps a slot for a newcomer, and answers over 64 KiB (no TC over TCP).

import { describe, test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { Socket } from 'node:net';
import dnsPacket from 'dns-packet';
import type { DnsServer } from '../../server/index.ts';
import { clientKey } from '../../server/tcp.ts';
import { dataset, portOf, query, startServer, table, udpExchange } from './helpers.ts';

function bigTxt(): string {
  // 255 distinct 250-byte texts for one address: ~67 KB of TXT, more than a TCP message holds.
  const lines = ['$SOA 1h ns1.example.net hostmaster.example.net 1 2h 30m 1w 5m', '$NS 1d ns1.example.net'];
  for (let i = 0; i < 255; i++) lines.push(`192.0.2.1 :127.0.0.2:${String(i).padStart(3, '0')}${'x'.repeat(247)}`);
  lines.push('192.0.2.2 :127.0.0.2:small');
  return lines.join('\n') + '\n';
}

const zones = () => table([{ name: 'bl.example', datasets: [dataset('ip4set', bigTxt())], newestMtime: 1 }]);

function frame(msg: Buffer): Buffer {
  const l = Buffer.alloc(2);
  l.writeUInt16BE(msg.length);
  return Buffer.concat([l, msg]);
}

/** A raw TCP client from a chosen local address that records replies and the close. */
class Client {
  readonly s: Socket;
  replies: Buffer[] = [];
  closed = false;
  private buf = Buffer.alloc(0);
  readonly ready: Promise<void>;

  constructor(port: number, localAddress = '127.0.0.1', read = true) {
    this.s = new Socket();
    this.s.on('error', () => {});
    this.s.on('close', () => (this.closed = true));
    if (read) {
      this.s.on('data', (d: Buffer) => {
        this.buf = Buffer.concat([this.buf, d]);
        while (this.buf.length >= 2 && this.buf.length >= 2 + this.buf.readUInt16BE(0)) {
          this.replies.push(this.buf.subarray(2, 2 + this.buf.readUInt16BE(0)));
          this.buf = this.buf.subarray(2 + this.buf.readUInt16BE(0));
        }
      });
    } else this.s.pause();
    this.ready = new Promise((res) => {
      this.s.once('connect', () => res());
      this.s.once('close', () => res());
    });
    this.s.connect({ port, host: '127.0.0.1', localAddress });
  }

  async ask(name: string, type = 'A', timeoutMs = 3000): Promise<dnsPacket.Packet | null> {
    const n = this.replies.length;
    this.s.write(frame(query(name, type)));
    const end = Date.now() + timeoutMs;
    while (this.replies.length === n && !this.closed && Date.now() < end) await sleep(10);
    return this.replies.length > n ? dnsPacket.decode(this.replies[n]!) : null;
  }

  async waitClosed(timeoutMs: number): Promise<boolean> {
    const end = Date.now() + timeoutMs;
    while (!this.closed && Date.now() < end) await sleep(20);
    return this.closed;
  }

  close(): void {
    this.s.destroy();
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('TCP guards', () => {
  let server: DnsServer;
  let port: number;
  const clients: Client[] = [];
  const client = (...a: ConstructorParameters<typeof Client>) => {
    const c = new Client(...a);
    clients.push(c);
    return c;
  };

  before(async () => {
    server = await startServer(zones(), {
      tcp: { enabled: true, idleTimeoutMs: 5000, maxConnections: 6, perClient: 4, messageTimeoutMs: 800, maxPendingBytes: 64 * 1024, drainTimeoutMs: 1500 },
      maxUdpPayload: 1232,
    });
    port = portOf(server, 'tcp');
  });
  after(async () => {
    for (const c of clients) c.close();
    await server.stop();
  });

  test('an answer over 64 KiB is cut to the records that fit over TCP, never TC; UDP gets TC', async () => {
    const c = client(port);
    await c.ready;
    const p = (await c.ask('1.2.0.192.bl.example', 'TXT'))!;
    assert.ok(p, 'a reply over TCP');
    assert.equal(p.flags! & dnsPacket.TRUNCATED_RESPONSE, 0, 'no TC over TCP');
    assert.equal((p as { rcode?: string }).rcode, 'NOERROR');
    const n = p.answers!.length;
    assert.ok(n > 200 && n < 255, `${n} of 255 records fit`);
    assert.ok(c.replies.at(-1)!.length <= 65535);
    const texts = (p.answers as unknown as { data: Buffer[] }[]).map((a) => String(a.data[0]).slice(0, 3));
    assert.deepEqual(texts, texts.map((_, i) => String(i).padStart(3, '0')), 'whole records, in order');
    const u = await udpExchange(port, query('1.2.0.192.bl.example', 'TXT'));
    assert.ok(u && dnsPacket.decode(u).flags! & dnsPacket.TRUNCATED_RESPONSE, 'UDP: TC');
    c.close();
  });

  test('a client that pipelines without reading is not read further, then closed; others are answered meanwhile', async () => {
    const before = server.counters.toJSON().total.queries;
    const hog = client(port, '127.0.0.1', false);
    await hog.ready;
    // 20 000 queries for a 64 KiB answer: 1.3 GB of replies if all were answered.
    const q = frame(query('1.2.0.192.bl.example', 'TXT'));
    const all = Buffer.concat(Array.from({ length: 20_000 }, () => q));
    hog.s.write(all);
    const other = client(port, '127.0.0.3');
    await other.ready;
    const p = await other.ask('2.2.0.192.bl.example', 'A');
    assert.equal((p as { rcode?: string } | null)?.rcode, 'NOERROR', 'another client is answered while the hog waits');
    const end = Date.now() + 8000;
    while (server.counters.tcpStalled === 0 && Date.now() < end) await sleep(50);
    assert.equal(server.counters.tcpStalled, 1, 'the connection that never reads is closed');
    const answered = server.counters.toJSON().total.queries - before - 1;
    hog.s.resume(); // reading now: what was sent before the close, then the end
    assert.equal(await hog.waitClosed(8000), true);
    // What was answered is bounded by the pending bound plus the kernel's socket buffers.
    assert.ok(answered < 300, `answered ${answered} of 20000 before closing`);
    assert.ok(server.counters.tcpStalled >= 1);
    other.close();
  });

  test('a message trickled one byte at a time is cut at the message deadline; whole queries are not', async () => {
    const slow = client(port, '127.0.0.4');
    await slow.ready;
    const msg = frame(query('2.2.0.192.bl.example', 'A'));
    const was = server.counters.tcpTimedOut;
    let i = 0;
    const t = setInterval(() => {
      if (i < msg.length && !slow.closed) slow.s.write(msg.subarray(i, ++i));
    }, 100);
    try {
      assert.equal(await slow.waitClosed(4000), true, 'closed before the message was complete');
    } finally {
      clearInterval(t);
    }
    assert.ok(i < msg.length, `closed after ${i} of ${msg.length} bytes`);
    assert.equal(server.counters.tcpTimedOut, was + 1);
    // A client asking whole queries keeps its connection across several deadlines.
    const ok = client(port, '127.0.0.5');
    await ok.ready;
    for (let k = 0; k < 4; k++) {
      assert.equal(((await ok.ask('2.2.0.192.bl.example')) as { rcode?: string } | null)?.rcode, 'NOERROR');
      await sleep(400);
    }
    assert.equal(ok.closed, false);
    ok.close();
  });

  test('per-client limit; a full table evicts the least active connection of the heaviest client for a newcomer', async () => {
    await sleep(100);
    assert.equal(server.tcpConnections, 0, 'earlier connections are gone');
    const a = [client(port, '127.0.0.6'), client(port, '127.0.0.6'), client(port, '127.0.0.6'), client(port, '127.0.0.6')];
    for (const c of a) await c.ready;
    const refusedBefore = server.counters.tcpRefused;
    const fifth = client(port, '127.0.0.6');
    assert.equal(await fifth.waitClosed(2000), true, 'a 5th connection from one client is closed');
    assert.equal(server.counters.tcpRefused, refusedBefore + 1);
    // a[0] is the least recently active: the others ask something now.
    await sleep(50);
    for (const c of a.slice(1)) assert.ok(await c.ask('2.2.0.192.bl.example'));
    const b = [client(port, '127.0.0.7'), client(port, '127.0.0.7')]; // table full: 6
    for (const c of b) await c.ready;
    await sleep(50);
    assert.equal(server.tcpConnections, 6);
    const evictedBefore = server.counters.tcpEvicted;
    const newcomer = client(port, '127.0.0.8');
    await newcomer.ready;
    assert.equal(((await newcomer.ask('2.2.0.192.bl.example')) as { rcode?: string } | null)?.rcode, 'NOERROR', 'the newcomer is answered');
    assert.equal(await a[0]!.waitClosed(2000), true, 'the heaviest client lost its idlest connection');
    assert.deepEqual(a.slice(1).map((c) => c.closed), [false, false, false]);
    assert.deepEqual(b.map((c) => c.closed), [false, false]);
    assert.equal(server.counters.tcpEvicted, evictedBefore + 1);
    // Now a holds 3, b 2, newcomer 1: newcomers take slots from whoever holds two more than
    // they do, until every client holds one ...
    for (const addr of ['127.0.0.9', '127.0.0.10', '127.0.0.11']) {
      const c = client(port, addr);
      await c.ready;
      assert.ok(await c.ask('2.2.0.192.bl.example'), `${addr} answered`);
    }
    assert.equal(server.counters.tcpEvicted, evictedBefore + 4);
    assert.equal(server.tcpConnections, 6);
    // ... then a further one is refused rather than taking the only slot of another client.
    const late = client(port, '127.0.0.12');
    assert.equal(await late.waitClosed(2000), true);
    assert.equal(server.counters.toJSON().tcp.evicted, evictedBefore + 4);
    assert.equal(server.tcpConnections, 6);
  });
});

test('clientKey: IPv4 address, IPv6 /64, v4-mapped as IPv4', () => {
  assert.equal(clientKey('192.0.2.1'), '192.0.2.1');
  assert.equal(clientKey('2001:db8:1:2:aaaa::1'), clientKey('2001:db8:1:2::ffff'));
  assert.notEqual(clientKey('2001:db8:1:2::1'), clientKey('2001:db8:1:3::1'));
  assert.equal(clientKey('::ffff:192.0.2.1'), '192.0.2.1');
});
