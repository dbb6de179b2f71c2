// Hostile clients against a real `bin/quorumbl serve` (issue 9, requirements 5 and 6): slowloris
// connections, a client that pipelines queries and never reads, the per-client limit, an
// answer over 64 KiB over TCP, and a UDP flood under response rate limiting. Other clients
// must keep getting answers throughout, and the server's memory must stay bounded.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Socket } from 'node:net';
import { createSocket } from 'node:dgram';
import dnsPacket from 'dns-packet';
import {
  toolsOrSkip, makeTmpDir, freePort, spawnQuorumbl, stopAll, waitReady, dig, show, writeConfig, waitForLog, type Proc,
} from './helpers.ts';

const skip = toolsOrSkip(['dig']);
const Z = 'abuse.quorumbl.test';

function zoneFile(dir: string): void {
  const lines = ['$SOA 300 ns1.quorumbl.test hostmaster.quorumbl.test 1 1h 10m 1w 60', '$NS 3600 ns1.quorumbl.test'];
  // 192.0.2.1: 255 texts of 250 bytes, about 67 KB of TXT: more than one TCP message holds.
  for (let i = 0; i < 255; i++) lines.push(`192.0.2.1 :127.0.0.2:${String(i).padStart(3, '0')}${'x'.repeat(247)}`);
  lines.push('192.0.2.2 :127.0.0.2:Listed $');
  writeFileSync(join(dir, 'zone.txt'), lines.join('\n') + '\n', { mode: 0o644 });
}

async function startServe(extra: string): Promise<{ proc: Proc; port: number }> {
  const dir = makeTmpDir();
  zoneFile(dir);
  const port = await freePort();
  const cfg = writeConfig(dir, `server:\n  listen: ["127.0.0.1:${port}"]\n${extra}state_dir: ./state\nsources: []\nzones:\n  - name: ${Z}\n    datasets:\n      - { type: ip4set, files: [zone.txt] }\n`);
  const proc = spawnQuorumbl(['serve', '--config', cfg]);
  await waitReady(proc, '127.0.0.1', port, Z);
  return { proc, port };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function rssKb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m![1]);
}

function frame(msg: Buffer): Buffer {
  const l = Buffer.alloc(2);
  l.writeUInt16BE(msg.length);
  return Buffer.concat([l, msg]);
}

function query(name: string, type: string, id = 1): Buffer {
  return dnsPacket.encode({ type: 'query', id, questions: [{ type: type as 'A', name, class: 'IN' }] });
}

/** A TCP connection from `from` that tracks whether the server closed it. */
function connect(port: number, from: string, read = true): { s: Socket; closed: () => boolean; ready: Promise<boolean> } {
  const s = new Socket();
  let closed = false;
  s.on('error', () => {});
  s.on('close', () => (closed = true));
  if (read) s.on('data', () => {});
  else s.pause();
  const ready = new Promise<boolean>((res) => {
    s.once('connect', () => res(true));
    s.once('close', () => res(false));
  });
  s.connect({ port, host: '127.0.0.1', localAddress: from });
  return { s, closed: () => closed, ready };
}

/** Sends SIGUSR1 and returns the counters it logs. */
async function counters(proc: Proc): Promise<{ rrl: { dropped: number; slipped: number }; tcp: { refused: number; evicted: number; timedOut: number; stalled: number } }> {
  const from = proc.output().length;
  proc.signal('SIGUSR1');
  const rec = await waitForLog(proc, from, (r) => r.msg === 'query counters', 'the SIGUSR1 counters log');
  return rec.counters as never;
}

describe('TCP against hostile clients (bin/quorumbl serve)', { skip }, () => {
  let proc: Proc | undefined;
  let port = 0;
  const open: Socket[] = [];
  const tcpDig = (from: string, ...args: string[]) => dig('127.0.0.1', port, ['+tcp', '-b', from, ...args]);

  before(async () => {
    ({ proc, port } = await startServe(
      '  tcp: { max_connections: 32, per_client: 8, message_timeout: 2s, idle_timeout: 10s, max_pending_bytes: 65536, drain_timeout: 3s }\n',
    ));
  });
  after(async () => {
    for (const s of open) s.destroy();
    await stopAll(proc);
  });

  test('slowloris: one byte every second on every slot cannot lock out another client', async () => {
    // As the issue found it: one client trying for every slot, plus three more filling the rest.
    const attackers = ['127.0.1.1', '127.0.1.2', '127.0.1.3', '127.0.1.4'];
    const conns = attackers.flatMap((a) => Array.from({ length: a === '127.0.1.1' ? 64 : 8 }, () => connect(port, a)));
    for (const c of conns) open.push(c.s);
    await Promise.all(conns.map((c) => c.ready));
    const msg = frame(query(`2.2.0.192.${Z}`, 'A'));
    let i = 0;
    const drip = setInterval(() => {
      for (const c of conns) if (!c.closed()) c.s.write(msg.subarray(i % 4, (i % 4) + 1));
      i++;
    }, 1000);
    try {
      const held = () => conns.slice(0, 64).filter((c) => !c.closed()).length;
      for (let end = Date.now() + 5000; held() > 8 && Date.now() < end; ) await sleep(50);
      const first = held();
      assert.ok(first <= 8, `the first attacker holds ${first} connections (per_client 8)`);
      for (let k = 0; k < 3; k++) {
        const r = await tcpDig('127.0.2.2', `2.2.0.192.${Z}`, 'A');
        assert.equal(r.status, 'NOERROR', show(r));
        assert.deepEqual(r.answer.map((a) => a.data), ['127.0.0.2']);
        await sleep(700);
      }
      // Bytes keep coming, but no message completes: each is closed at the message deadline.
      const end = Date.now() + 10_000;
      while (conns.some((c) => !c.closed()) && Date.now() < end) await sleep(100);
      assert.equal(conns.filter((c) => !c.closed()).length, 0, 'every trickling connection is closed');
    } finally {
      clearInterval(drip);
    }
    const c = await counters(proc!);
    assert.ok(c.tcp.timedOut >= 8 && c.tcp.refused >= 56, JSON.stringify(c.tcp));
  });

  test('per-client limit: the 9th connection of one client is closed, the first 8 work', async () => {
    const conns = Array.from({ length: 9 }, () => connect(port, '127.0.3.3'));
    for (const c of conns) open.push(c.s);
    await Promise.all(conns.map((c) => c.ready));
    const closed = () => conns.filter((c) => c.closed()).length;
    for (let end = Date.now() + 5000; closed() === 0 && Date.now() < end; ) await sleep(50);
    await sleep(100);
    assert.equal(closed(), 1, 'exactly one of 9 connections is closed');
    const other = await tcpDig('127.0.3.4', `2.2.0.192.${Z}`, 'A');
    assert.equal(other.status, 'NOERROR', show(other));
    for (const c of conns) c.s.destroy();
    await sleep(200);
    const again = await tcpDig('127.0.3.3', `2.2.0.192.${Z}`, 'A');
    assert.equal(again.status, 'NOERROR', 'the client gets in again once it holds fewer');
  });

  test('a client that pipelines without reading: RSS stays bounded and the connection is closed', async (t) => {
    const rss0 = rssKb(proc!.pid);
    const hog = connect(port, '127.0.4.4', false);
    open.push(hog.s);
    assert.ok(await hog.ready);
    const q = frame(query(`1.2.0.192.${Z}`, 'TXT'));
    const burst = Buffer.concat(Array.from({ length: 5000 }, () => q)); // 5000 x 64 KiB answers
    let peak = rss0;
    let stalled = 0;
    const end = Date.now() + 15_000;
    // Keep writing for a while (the 6 s), while another client asks over TCP.
    for (let k = 0; k < 6 && !hog.closed(); k++) {
      hog.s.write(burst);
      const r = await tcpDig('127.0.4.5', `2.2.0.192.${Z}`, 'A');
      assert.equal(r.status, 'NOERROR', show(r));
      peak = Math.max(peak, rssKb(proc!.pid));
      await sleep(1000);
    }
    while (Date.now() < end && (stalled = (await counters(proc!)).tcp.stalled) === 0) {
      peak = Math.max(peak, rssKb(proc!.pid));
      await sleep(250);
    }
    assert.equal(stalled, 1, 'the connection is closed for not reading');
    const grew = (peak - rss0) / 1024;
    t.diagnostic(`RSS ${(rss0 / 1024).toFixed(0)} MB -> peak ${(peak / 1024).toFixed(0)} MB`);
    assert.ok(grew < 64, `server RSS grew by ${grew.toFixed(0)} MB (before issue 9: 485 MB in 6 s)`);
    hog.s.destroy();
  });

  test('an RRset over 64 KiB: over TCP NOERROR without TC, the records that fit; over UDP TC', async () => {
    const r = await tcpDig('127.0.5.5', `1.2.0.192.${Z}`, 'TXT');
    assert.equal(r.status, 'NOERROR', show(r).slice(0, 500));
    assert.ok(!r.flags.includes('tc'), `flags ${r.flags}`);
    assert.ok(r.answer.length > 200 && r.answer.length < 255, `${r.answer.length} TXT records`);
    const u = await dig('127.0.0.1', port, ['+notcp', '+ignore', '-b', '127.0.5.5', `1.2.0.192.${Z}`, 'TXT']);
    assert.ok(u.flags.includes('tc'), u.flags.join(' '));
  });
});

describe('UDP flood under response rate limiting (bin/quorumbl serve)', { skip }, () => {
  let proc: Proc | undefined;
  let port = 0;
  before(async () => {
    ({ proc, port } = await startServe('  rrl: { enabled: true, responses_per_second: 10, slip: 2 }\n'));
  });
  after(() => stopAll(proc));

  test('a flood from one client is limited, slipped replies have TC and decode; other clients are answered', async () => {
    const s = createSocket('udp4');
    await new Promise<void>((r) => s.bind({ address: '127.0.0.1', port: 0 }, () => r()));
    const got: Buffer[] = [];
    s.on('message', (m) => got.push(m));
    const q = query(`2.2.0.192.${Z}`, 'TXT', 77);
    for (let i = 0; i < 1000; i++) {
      s.send(q, port, '127.0.0.1');
      if (i % 100 === 99) {
        await sleep(10);
        // Meanwhile another client (another /24) asks the same name: answered in full.
        const r = await dig('127.0.0.1', port, ['+notcp', '-b', '127.0.6.6', `2.2.0.192.${Z}`, 'TXT']);
        assert.equal(r.status, 'NOERROR', show(r));
        assert.equal(r.answer.length, 1, show(r));
      }
    }
    let seen = -1;
    while (seen !== got.length) {
      seen = got.length;
      await sleep(300);
    }
    s.close();
    const decoded = got.map((m) => dnsPacket.decode(m));
    const tc = decoded.filter((p) => p.flags! & dnsPacket.TRUNCATED_RESPONSE);
    const full = decoded.length - tc.length;
    assert.ok(full >= 10 && full < 100, `${full} full answers of 1000 (10/s)`);
    assert.ok(tc.length > 300, `${tc.length} truncated`);
    for (const p of tc) {
      assert.equal(p.id, 77);
      assert.equal(p.answers!.length, 0);
      assert.deepEqual(p.questions!.map((x) => x.name), [`2.2.0.192.${Z}`]);
    }
    const c = await counters(proc!);
    assert.ok(c.rrl.dropped > 300 && c.rrl.slipped === tc.length, JSON.stringify(c.rrl));
    // Over TCP the same client is not limited.
    const t = await dig('127.0.0.1', port, ['+tcp', `2.2.0.192.${Z}`, 'TXT']);
    assert.equal(t.answer.length, 1, show(t));
  });

  test('max_udp_payload defaults to 1232; quorumbl rbldnsd keeps 4096', async () => {
    const r = await dig('127.0.0.1', port, ['+notcp', '+bufsize=4096', '-b', '127.0.8.8', `${Z}`, 'SOA']);
    assert.equal(r.ednsUdp, 1232);
    const dir = makeTmpDir();
    zoneFile(dir);
    const p2 = await freePort();
    const rb = spawnQuorumbl(['rbldnsd', '-n', '-b', `127.0.0.1/${p2}`, '-w', dir, `${Z}:ip4set:zone.txt`]);
    try {
      await waitReady(rb, '127.0.0.1', p2, Z);
      const r2 = await dig('127.0.0.1', p2, ['+notcp', '+bufsize=4096', `${Z}`, 'SOA']);
      assert.equal(r2.ednsUdp, 4096);
    } finally {
      await stopAll(rb);
    }
  });
});
