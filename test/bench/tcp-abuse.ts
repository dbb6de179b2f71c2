// TCP abuse figures (issue 9, requirement 5) with the default TCP settings: a slowloris client
// (300 connections from one address, one byte every 2 s) and a client that pipelines queries for
// a 52 KB answer for 6 s without reading. Prints whether another client still gets a TCP
// answer, how many attacker connections stay open, and the server's RSS growth.
//
//   node --import tsx test/bench/tcp-abuse.ts              # this tree
//   node --import tsx test/bench/tcp-abuse.ts /path/to/other/checkout   # e.g. before issue 9

import { writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Socket } from 'node:net';
import dnsPacket from 'dns-packet';
import { Proc, ROOT, digRaw, freePort, makeTmpDir, stopAll, waitReady, writeConfig } from '../integration/helpers.ts';

const root = process.argv[2] ?? ROOT;
const Z = 'abuse.bench';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function rssMb(pid: number): number {
  return Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;
}

function frame(name: string, type: string): Buffer {
  const m = dnsPacket.encode({ type: 'query', id: 1, questions: [{ type: type as 'A', name, class: 'IN' }] });
  const l = Buffer.alloc(2);
  l.writeUInt16BE(m.length);
  return Buffer.concat([l, m]);
}

function connect(port: number, from: string, read: boolean): { s: Socket; closed: () => boolean } {
  const s = new Socket();
  let closed = false;
  s.on('error', () => {});
  s.on('close', () => (closed = true));
  if (read) s.on('data', () => {});
  else s.pause();
  s.connect({ port, host: '127.0.0.1', localAddress: from });
  return { s, closed: () => closed };
}

async function otherClientAnswered(port: number): Promise<string> {
  const r = await digRaw('127.0.0.1', port, ['+tcp', '-b', '127.0.2.2', `2.2.0.192.${Z}`, 'A']);
  return r.replies[0]?.status ?? 'no answer';
}

async function slowloris(port: number): Promise<void> {
  const conns = Array.from({ length: 300 }, () => connect(port, '127.0.1.1', true));
  const msg = frame(`2.2.0.192.${Z}`, 'A');
  let i = 0;
  const drip = setInterval(() => {
    for (const c of conns) if (!c.closed()) c.s.write(msg.subarray(i % 4, (i % 4) + 1));
    i++;
  }, 2000);
  await sleep(2500);
  const heldAt2s = conns.filter((c) => !c.closed()).length;
  const during = await otherClientAnswered(port);
  await sleep(9000);
  const heldAt11s = conns.filter((c) => !c.closed()).length;
  clearInterval(drip);
  for (const c of conns) c.s.destroy();
  process.stdout.write(`slowloris: attacker holds ${heldAt2s}/300 connections at 2.5 s, ${heldAt11s} at 11.5 s; another client over TCP: ${during}\n`);
  await sleep(1000);
}

async function main(): Promise<void> {
  const dir = makeTmpDir('qbl-tcpabuse-');
  const lines = ['$SOA 300 ns1.abuse.bench hostmaster.abuse.bench 1 1h 10m 1w 60', '$NS 3600 ns1.abuse.bench'];
  for (let i = 0; i < 255; i++) lines.push(`192.0.2.1 :127.0.0.2:${String(i).padStart(3, '0')}${'x'.repeat(247)}`);
  // 192.0.2.3: 200 texts, a 52 KB answer that fits a TCP message (before issue 9 the 255-text
  // key got TC and no records over TCP, a tiny reply).
  for (let i = 0; i < 200; i++) lines.push(`192.0.2.3 :127.0.0.2:${String(i).padStart(3, '0')}${'y'.repeat(247)}`);
  lines.push('192.0.2.2 :127.0.0.2:Listed $');
  writeFileSync(join(dir, 'zone.txt'), lines.join('\n') + '\n');
  const port = await freePort();
  const cfg = writeConfig(dir, `server:\n  listen: ["127.0.0.1:${port}"]\nstate_dir: ./state\nsources: []\nzones:\n  - name: ${Z}\n    datasets:\n      - { type: ip4set, files: [zone.txt] }\n`);
  const proc = new Proc('serve', join(root, 'bin', 'quorumbl'), ['serve', '--config', cfg], {});
  try {
    await waitReady(proc, '127.0.0.1', port, Z);
    // Slowloris (TCP_ABUSE=pipe skips it).
    if (process.env.TCP_ABUSE !== 'pipe') await slowloris(port);
    // Pipelining without reading.
    const rss0 = rssMb(proc.pid);
    const hog = connect(port, '127.0.4.4', false);
    const burst = Buffer.concat(Array.from({ length: 2000 }, () => frame(`3.2.0.192.${Z}`, 'TXT')));
    let peak = rss0;
    let answered = '';
    for (let k = 0; k < 12; k++) {
      if (!hog.s.destroyed) hog.s.write(burst);
      await sleep(500);
      peak = Math.max(peak, rssMb(proc.pid));
      if (k === 6) answered = await otherClientAnswered(port);
    }
    hog.s.destroy();
    process.stdout.write(`pipelining without reading, 6 s: RSS ${rss0.toFixed(0)} MB -> peak ${peak.toFixed(0)} MB (+${(peak - rss0).toFixed(0)} MB); another client over TCP meanwhile: ${answered}\n`);
  } finally {
    await stopAll(proc);
  }
}

main().then(
  () => process.exit(0),
  (e) => {
    process.stderr.write(`${(e as Error).stack ?? e}\n`);
    process.exit(1);
  },
);
