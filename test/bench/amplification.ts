// Amplification (issue 9, requirement 6): how many bytes quorumbl sends to a spoofed victim per
// byte an attacker sends. Starts `bin/quorumbl serve` on loopback with a zone whose keys carry
// 1..20 TXT records of 250 bytes (an rbldnsd-style zone with long texts: the worst an operator
// can publish) plus the apex SOA/NS, in three set-ups:
//   before      max_udp_payload 4096, no RRL            (the defaults before issue 9)
//   1232        max_udp_payload 1232, no RRL            (the new default on a private listener)
//   1232+rrl    max_udp_payload 1232, RRL on (defaults) (the new default on a public listener)
// For each: (1) every candidate query (apex ANY/SOA/NS, each key's TXT and ANY, with EDNS 4096
// and without EDNS) once; the largest reply/query ratio is the amplification factor; (2) a
// flood of that query at QPS for SECONDS from a socket bound to 127.0.5.5 (the "victim": on
// loopback the replies reach the address the queries name, as with spoofing): bytes the victim
// received / bytes the attacker sent. UDP payload bytes; `+hdr` adds 28 bytes of IPv4+UDP
// header per packet (what a link carries).
//
//   node --import tsx test/bench/amplification.ts                 # QPS=2000 SECONDS=5
//   AMP_QPS=5000 AMP_SECONDS=10 node --import tsx test/bench/amplification.ts
// Writes test/bench/results/amplification.json.

import { createSocket, type Socket } from 'node:dgram';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import dnsPacket from 'dns-packet';
import { ROOT, freePort, makeTmpDir, spawnQuorumbl, stopAll, waitReady, writeConfig, type Proc } from '../integration/helpers.ts';

const QPS = Number(process.env.AMP_QPS ?? 2000);
const SECONDS = Number(process.env.AMP_SECONDS ?? 5);
const ZONE = 'amp.bench';
const VICTIM = '127.0.5.5';
const OUT = join(ROOT, 'test', 'bench', 'results', 'amplification.json');
const HDR = 28;

function zoneData(): string {
  const lines = [
    '$SOA 1h ns1.amp.bench hostmaster.amp.bench 1 2h 30m 1w 5m',
    '$NS 1d ns1.amp.bench ns2.amp.bench ns3.amp.bench',
    '$TTL 1h',
  ];
  for (let k = 1; k <= 20; k++) {
    for (let i = 0; i < k; i++) lines.push(`10.0.${k}.1 :127.0.0.2:${`${k}-${i} `.padEnd(250, 'x')}`);
  }
  lines.push('10.1.0.0/16 :127.0.0.2:Listed, see https://amp.bench/lookup?ip=$');
  return lines.join('\n') + '\n';
}

interface Candidate {
  label: string;
  msg: Buffer;
}

function q(name: string, type: string, edns: boolean): Buffer {
  return dnsPacket.encode({
    type: 'query',
    id: 1,
    flags: 0,
    questions: [{ type: type as 'A', name, class: 'IN' }],
    additionals: edns ? [{ type: 'OPT', name: '.', udpPayloadSize: 4096, flags: 0 } as dnsPacket.Answer] : [],
  });
}

function candidates(): Candidate[] {
  const c: Candidate[] = [];
  for (const edns of [true, false]) {
    const e = edns ? ' +edns4096' : '';
    for (const t of ['ANY', 'SOA', 'NS']) c.push({ label: `${ZONE} ${t}${e}`, msg: q(ZONE, t, edns) });
    for (let k = 1; k <= 20; k++) {
      for (const t of ['TXT', 'ANY']) c.push({ label: `1.${k}.0.10.${ZONE} ${t}${e} (${k} TXT)`, msg: q(`1.${k}.0.10.${ZONE}`, t, edns) });
    }
    c.push({ label: `5.5.1.10.${ZONE} ANY${e} (typical listing)`, msg: q(`5.5.1.10.${ZONE}`, 'ANY', edns) });
  }
  return c;
}

function exchange(sock: Socket, port: number, msg: Buffer): Promise<Buffer | null> {
  return new Promise((resolve) => {
    const t = setTimeout(() => {
      sock.off('message', on);
      resolve(null);
    }, 1000);
    const on = (m: Buffer) => {
      clearTimeout(t);
      sock.off('message', on);
      resolve(m);
    };
    sock.on('message', on);
    sock.send(msg, port, '127.0.0.1');
  });
}

interface Single {
  label: string;
  query: number;
  reply: number;
  factor: number;
  tc: boolean;
}

async function singles(port: number): Promise<Single[]> {
  // From its own /24, so the flood's RRL buckets start empty.
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind({ address: '127.0.7.7', port: 0 }, () => r()));
  const res: Single[] = [];
  for (const c of candidates()) {
    const m = await exchange(s, port, c.msg);
    if (!m) throw new Error(`no reply to ${c.label}`);
    const tc = (dnsPacket.decode(m).flags! & dnsPacket.TRUNCATED_RESPONSE) !== 0;
    res.push({ label: c.label, query: c.msg.length, reply: m.length, factor: m.length / c.msg.length, tc });
  }
  s.close();
  return res;
}

interface Flood {
  query: string;
  sent: number;
  sentBytes: number;
  received: number;
  receivedBytes: number;
  truncated: number;
  factor: number;
  factorWithHeaders: number;
}

async function flood(port: number, c: Single, msg: Buffer): Promise<Flood> {
  const s = createSocket({ type: 'udp4', recvBufferSize: 8 << 20 });
  await new Promise<void>((r) => s.bind({ address: VICTIM, port: 0 }, () => r()));
  let received = 0;
  let receivedBytes = 0;
  let truncated = 0;
  s.on('message', (m) => {
    received++;
    receivedBytes += m.length;
    if (m[2]! & 2) truncated++;
  });
  let sent = 0;
  const total = QPS * SECONDS;
  const start = performance.now();
  await new Promise<void>((resolve) => {
    const tick = setInterval(() => {
      const due = Math.min(total, Math.floor(((performance.now() - start) / 1000) * QPS));
      while (sent < due) {
        s.send(msg, port, '127.0.0.1');
        sent++;
      }
      if (sent >= total) {
        clearInterval(tick);
        resolve();
      }
    }, 5);
  });
  await new Promise((r) => setTimeout(r, 1000));
  s.close();
  const sentBytes = sent * msg.length;
  return {
    query: c.label,
    sent,
    sentBytes,
    received,
    receivedBytes,
    truncated,
    factor: receivedBytes / sentBytes,
    factorWithHeaders: (receivedBytes + received * HDR) / (sentBytes + sent * HDR),
  };
}

const SETUPS = [
  { name: 'before', yaml: '  max_udp_payload: 4096\n' },
  { name: '1232', yaml: '  max_udp_payload: 1232\n' },
  { name: '1232+rrl', yaml: '  max_udp_payload: 1232\n  rrl: { enabled: true }\n' },
];

async function main(): Promise<void> {
  const results: Record<string, { worst: Single; top: Single[]; apexAny: Single; typical: Single; flood: Flood }> = {};
  for (const setup of SETUPS) {
    const dir = makeTmpDir('qbl-amp-');
    writeFileSync(join(dir, 'amp.txt'), zoneData());
    const port = await freePort();
    const cfg = writeConfig(dir, `server:\n  listen: ["127.0.0.1:${port}"]\n  allow_query: null\n${setup.yaml}state_dir: ./state\nsync: { enabled: false }\nsources: []\nzones:\n  - name: ${ZONE}\n    datasets:\n      - { type: ip4set, files: [amp.txt] }\n`);
    let proc: Proc | undefined;
    try {
      proc = spawnQuorumbl(['serve', '--config', cfg]);
      await waitReady(proc, '127.0.0.1', port, ZONE);
      const all = await singles(port);
      const sorted = [...all].sort((a, b) => b.factor - a.factor);
      const worst = sorted[0]!;
      const msg = candidates().find((c) => c.label === worst.label)!.msg;
      const f = await flood(port, worst, msg);
      const apexAny = all.find((x) => x.label === `${ZONE} ANY +edns4096`)!;
      const typical = all.find((x) => x.label.endsWith('ANY +edns4096 (typical listing)'))!;
      results[setup.name] = { worst, top: sorted.slice(0, 5), apexAny, typical, flood: f };
      process.stdout.write(
        `${setup.name.padEnd(9)} worst single: ${worst.label}: ${worst.query} -> ${worst.reply} B = ${worst.factor.toFixed(1)}x` +
          ` | flood ${f.sent} q at ${QPS}/s: victim got ${f.received} replies (${f.truncated} TC), ${f.receivedBytes} B` +
          ` for ${f.sentBytes} B sent = ${f.factor.toFixed(2)}x (${f.factorWithHeaders.toFixed(2)}x with headers)` +
          ` | apex ANY ${apexAny.factor.toFixed(1)}x, typical listing ANY ${typical.factor.toFixed(1)}x\n`,
      );
    } finally {
      await stopAll(proc);
    }
  }
  mkdirSync(join(ROOT, 'test', 'bench', 'results'), { recursive: true });
  writeFileSync(OUT, JSON.stringify({ date: new Date().toISOString(), qps: QPS, seconds: SECONDS, results }, null, 2) + '\n');
  process.stdout.write(`written ${OUT}\n`);
}

main().then(
  () => process.exit(0),
  (e) => {
    process.stderr.write(`${(e as Error).stack ?? e}\n`);
    process.exit(1);
  },
);
