// Zone transfer benchmark (issue 12, requirement 7) with the real server and a real secondary:
// `bin/quorumbl serve` with one plain-list source of N random public /32s merged into bl.<base>,
// transfer configured (TSIG, NOTIFY to a knotd on loopback).
//
//   node --import tsx test/bench/transfer.ts [--entries 1M] [--overrides 100] [--idle 8] [--out FILE]
//
// 1. idle: dnsperf on bl.<base> (-c 1 -q 200, per-second stats) with nothing else running.
// 2. AXFR to kdig (TSIG, output counted and thrown away): time, bytes, records, while dnsperf
//    runs; qps in that window vs idle; the serve process tree's peak RSS.
// 3. AXFR to knotd (a secondary of bl only): time from its start to serving the primary's serial,
//    bytes and messages from Knot's log, qps in that window.
// 4. N overrides through the REST API (deny, new addresses), then the time from the last one's
//    201 to Knot answering it, and the IXFR(s) Knot took: count and bytes from its log.
// Prints a table and writes results/transfer.json. Figures only: nothing here asserts a timing.

import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { sfc32 } from './datagen.ts';
import { parseSummary } from './dnsperf.ts';
import { installCleanupHandlers, procInfo, processTree, spawnTracked, stop } from './proc.ts';
import { freePort } from './run.ts';
import { FORBIDDEN_V4 } from '../../sync/guards.ts';
import { soaSerial, startSecondary, udpAsker, type Secondary } from '../integration/secondaries.ts';
import { makeTmpDir } from '../integration/helpers.ts';
import { T } from '../../core/dns/message.ts';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '../..');
const BIN = join(repo, 'bin', 'quorumbl');
const BASE = 'xfr.bench';
const ZONE = `bl.${BASE}`;
const KEY = { name: 'bench-key', algorithm: 'hmac-sha256', secret: Buffer.alloc(32, 0x42).toString('base64') };

const { values: opt } = parseArgs({
  options: {
    entries: { type: 'string', default: '1M' },
    overrides: { type: 'string', default: '100' },
    idle: { type: 'string', default: '8' },
    out: { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (opt.help) {
  process.stdout.write('usage: node --import tsx test/bench/transfer.ts [--entries 1M] [--overrides 100] [--idle 8] [--out FILE]\n');
  process.exit(0);
}
const count = (s: string) => {
  const m = /^(\d+(?:\.\d+)?)([kKmM]?)$/.exec(s.trim());
  if (!m) throw new Error(`bad number: ${s}`);
  const u = m[2]!.toLowerCase();
  return Math.round(Number(m[1]) * (u === 'm' ? 1e6 : u === 'k' ? 1e3 : 1));
};
const ENTRIES = count(opt.entries!);
const OVERRIDES = count(opt.overrides!);
const IDLE = Number(opt.idle);

installCleanupHandlers();

const dotted = (x: number) => `${x >>> 24}.${(x >>> 16) & 255}.${(x >>> 8) & 255}.${x & 255}`;
const qname = (x: number) => `${x & 255}.${(x >>> 8) & 255}.${(x >>> 16) & 255}.${x >>> 24}.${ZONE}`;
function publicIp(r: () => number): number {
  for (;;) {
    const ip = r() >>> 0;
    if (!FORBIDDEN_V4.some((f) => ip >= f.start && ip <= f.end)) return ip;
  }
}

// ---- data ---------------------------------------------------------------------------------

function data(dir: string): { list: string; queries: string; listed: number[] } {
  const cache = join(here, '.cache');
  mkdirSync(cache, { recursive: true });
  const list = join(cache, `transfer-${ENTRIES}.txt`);
  const queries = join(cache, `transfer-${ENTRIES}.queries`);
  const r = sfc32(7);
  const listed: number[] = [];
  const lines: string[] = [];
  for (let i = 0; i < ENTRIES; i++) {
    const ip = publicIp(r);
    lines.push(dotted(ip));
    if (i % 100 === 0) listed.push(ip);
  }
  if (!existsSync(list)) writeFileSync(list, lines.join('\n') + '\n');
  if (!existsSync(queries)) {
    const q: string[] = [];
    for (let i = 0; i < 20000; i++) q.push(`${qname(i % 2 ? listed[i % listed.length]! : publicIp(r))} A`);
    writeFileSync(queries, q.join('\n') + '\n');
  }
  void dir;
  return { list, queries, listed };
}

// ---- dnsperf with per-second stats (as merge-qps.ts) ---------------------------------------

interface Second {
  end: number;
  qps: number;
}

function startDnsperf(port: number, queryFile: string, seconds: number, outFile: string) {
  const fd = openSync(outFile, 'w');
  const child = spawnTracked('dnsperf', ['-s', '127.0.0.1', '-p', String(port), '-d', queryFile, '-l', String(seconds), '-S', '1', '-c', '1', '-q', '200', '-t', '2'], {
    stdio: ['ignore', fd, fd],
  });
  const done = new Promise<void>((res) => child.once('exit', () => res())).then(() => {
    closeSync(fd);
    const text = readFileSync(outFile, 'latin1');
    const seconds: Second[] = [];
    for (const m of text.matchAll(/^(\d{9,}\.\d+): ([\d.]+)$/gm)) seconds.push({ end: Number(m[1]) * 1000, qps: Number(m[2]) });
    let summary = null;
    try {
      summary = parseSummary(text);
    } catch {
      /* interrupted before its summary */
    }
    return { seconds, summary };
  });
  return { child, done };
}

function windowQps(seconds: Second[], from: number, to: number): number {
  let answered = 0;
  for (const s of seconds) {
    const overlap = Math.max(0, Math.min(s.end, to) - Math.max(s.end - 1000, from));
    answered += (s.qps * overlap) / 1000;
  }
  return Math.round(answered / ((to - from) / 1000));
}

// ---- the serve process tree's RSS ----------------------------------------------------------

function treeRssMiB(pid: number): number {
  let kib = 0;
  for (const p of processTree(pid)) kib += procInfo(p)?.rssKiB ?? 0;
  return Math.round(kib / 1024);
}

function run(cmd: string, args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((res) => {
    const c = spawn(cmd, args, { cwd: repo, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    c.stdout.on('data', (b) => (out += b));
    c.stderr.on('data', (b) => (out += b));
    c.once('exit', (code) => res({ code: code ?? 1, out }));
  });
}

/** kdig AXFR with the output counted, not kept: [ms, bytes, records, messages]. */
function kdigAxfr(port: number): Promise<{ ms: number; bytes: number; records: number; messages: number; ok: boolean; tail: string }> {
  return new Promise((res) => {
    const t0 = performance.now();
    const c = spawn('kdig', ['+timeout=60', '-p', String(port), '@127.0.0.1', '-y', `hmac-sha256:${KEY.name}:${KEY.secret}`, ZONE, 'AXFR'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let tail = '';
    const keep = (b: Buffer) => (tail = (tail + b.toString('latin1')).slice(-2000));
    c.stdout.on('data', keep);
    c.stderr.on('data', keep);
    c.once('exit', () => {
      const ms = performance.now() - t0;
      // ";; Received 12345 B" / ";; Received 12345 B (67 messages, 890 records)"
      const m = /Received (\d+) B \((\d+) messages?, (\d+) records?\)/.exec(tail);
      res({ ms, bytes: Number(m?.[1] ?? 0), messages: Number(m?.[2] ?? 0), records: Number(m?.[3] ?? 0), ok: !!m && Number(m[3]) > 2, tail });
    });
  });
}

async function main(): Promise<void> {
  const dir = makeTmpDir('quorumbl-xfr-bench-');
  const d = data(dir);
  const listed = d.listed;
  const dns = await freePort();
  const web = await freePort();
  const knotPort = await freePort();
  const cfg = join(dir, 'quorumbl.yaml');
  writeFileSync(
    cfg,
    [
      `server: { listen: ["127.0.0.1:${dns}"] }`,
      `web: { listen: "127.0.0.1:${web}" }`,
      'state_dir: state',
      `base: ${BASE}`,
      'sync: { enabled: false }',
      'policy: { threshold: 1, consensus: 2 }',
      'sources:',
      `  - { name: big, kind: ip, fetch: ${d.list}, format: plain, schedule: "0 0 1 1 *", min_interval: 1w, weight: 1 }`,
      'providers: []',
      'transfer:',
      `  keys: [{ name: ${KEY.name}, algorithm: ${KEY.algorithm}, secret: "${KEY.secret}" }]`,
      `  acl: { "*": { allow: [127.0.0.1/32], keys: [${KEY.name}] } }`,
      `  notify: [{ address: "127.0.0.1:${knotPort}", key: ${KEY.name}, zones: [bl] }]`,
      '',
    ].join('\n'),
  );
  const log = (m: string) => process.stdout.write(`[transfer] ${m}\n`);
  log(`sync of ${ENTRIES} entries`);
  const s = await run(BIN, ['sync', '--config', cfg]);
  if (s.code !== 0) throw new Error(`sync failed: ${s.out}`);
  const tok = await run(BIN, ['token', 'create', '--name', 'bench', '--scope', 'admin', '--config', cfg]);
  const token = tok.out.trim().split('\n').pop()!.trim();
  const serveOut = openSync(join(dir, 'serve.log'), 'w');
  const serve = spawnTracked(BIN, ['serve', '--config', cfg], { cwd: repo, stdio: ['ignore', serveOut, serveOut] });
  const serveLog = () => readFileSync(join(dir, 'serve.log'), 'utf8');
  // ready: the merge is served and an AXFR gets the whole zone
  const ask = udpAsker('127.0.0.1', dns);
  const deadline = Date.now() + 600_000;
  for (;;) {
    if (Date.now() > deadline) throw new Error(`serve not ready; log:\n${serveLog().slice(-3000)}`);
    if (serveLog().includes('"merged zones served"')) {
      const [a] = await ask([{ name: qname(listed[1]!), type: T.A }]).catch(() => [null]);
      if (a && a.rcode === 0) break;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  let first = await kdigAxfr(dns);
  while (!first.ok && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 2000));
    first = await kdigAxfr(dns);
  }
  if (!first.ok) throw new Error(`AXFR never succeeded: ${first.tail}`);
  log(`ready; first AXFR ${Math.round(first.ms)} ms (warm-up)`);

  // 1. idle qps
  const idleRun = startDnsperf(dns, d.queries, IDLE, join(dir, 'idle.perf'));
  const idle = await idleRun.done;
  const idleQps = idle.summary ? Math.round(idle.summary.qps) : windowQps(idle.seconds, idle.seconds[0]!.end - 1000, idle.seconds.at(-1)!.end);

  // 2. AXFR to kdig under load
  let peakRss = treeRssMiB(serve.pid!);
  const rssTimer = setInterval(() => (peakRss = Math.max(peakRss, treeRssMiB(serve.pid!))), 200);
  const load = startDnsperf(dns, d.queries, 600, join(dir, 'load.perf'));
  await new Promise((r) => setTimeout(r, 2500));
  const ka0 = Date.now();
  const ka = await kdigAxfr(dns);
  const ka1 = Date.now();
  // 3. AXFR to knotd under load
  await new Promise((r) => setTimeout(r, 1500));
  const kn0 = Date.now();
  const primarySerial = await soaSerial('127.0.0.1', dns, ZONE);
  const knot: Secondary = await startSecondary({ kind: 'knot', primary: { host: '127.0.0.1', port: dns }, key: KEY, zones: [ZONE], port: knotPort });
  await knot.waitSerial(ZONE, primarySerial ?? undefined, 600_000);
  const kn1 = Date.now();
  await new Promise((r) => setTimeout(r, 1500));
  load.child.kill('SIGINT');
  const loaded = await load.done;
  clearInterval(rssTimer);
  const axfrLog = /AXFR, incoming.*finished, ([\d.]+) seconds, (\d+) messages, (\d+) bytes/.exec(knot.log());

  // 4. overrides -> NOTIFY -> IXFR -> Knot's answer
  const r = sfc32(99);
  const ips = Array.from({ length: OVERRIDES }, () => publicIp(r));
  const knotLogAt = knot.log().length;
  for (const ip of ips) {
    const res = await fetch(`http://127.0.0.1:${web}/api/v1/overrides`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ action: 'deny', key: dotted(ip), reason: 'transfer bench' }),
    });
    if (res.status !== 201) throw new Error(`override: ${res.status} ${await res.text()}`);
  }
  const lastAt = Date.now();
  const kAsk = udpAsker('127.0.0.1', knot.port);
  for (;;) {
    const [a] = await kAsk([{ name: qname(ips.at(-1)!), type: T.A }]);
    if (a!.rcode === 0 && a!.a.length) break;
    if (Date.now() - lastAt > 900_000) throw new Error(`Knot never answered the last override; knot log:\n${knot.tail()}`);
    await new Promise((res) => setTimeout(res, 50));
  }
  const answerMs = Date.now() - lastAt;
  await new Promise((res) => setTimeout(res, 500));
  const after = knot.log().slice(knotLogAt);
  const ixfrs = [...after.matchAll(/IXFR, incoming.*finished, ([\d.]+) seconds, (\d+) messages, (\d+) bytes/g)];
  const axfrsAfter = [...after.matchAll(/AXFR, incoming.*finished/g)].length;
  const ixfrBytes = ixfrs.reduce((a, m) => a + Number(m[3]), 0);
  const [all] = await kAsk(ips.map((ip) => ({ name: qname(ip), type: T.A }))).then((x) => [x.filter((a) => a.rcode === 0).length]);

  await knot.stop();
  await stop(serve);

  const rows: Array<[string, string]> = [
    ['zone', `${ZONE}: ${ENTRIES.toLocaleString('en')} listed /32s (one source, merged)`],
    ['AXFR to kdig: time', `${(ka.ms / 1000).toFixed(2)} s`],
    ['AXFR to kdig: bytes / messages / records', `${(ka.bytes / 2 ** 20).toFixed(1)} MiB / ${ka.messages} / ${ka.records.toLocaleString('en')}`],
    ['AXFR to knotd: start -> serving the serial', `${((kn1 - kn0) / 1000).toFixed(2)} s`],
    ['AXFR to knotd: Knot\'s log', axfrLog ? `${axfrLog[1]} s, ${axfrLog[2]} messages, ${(Number(axfrLog[3]) / 2 ** 20).toFixed(1)} MiB` : 'n/a'],
    ['primary RSS (serve tree, peak while transferring)', `${peakRss} MiB`],
    ['DNS qps idle', `${idleQps}`],
    ['DNS qps during the kdig AXFR', `${windowQps(loaded.seconds, ka0, ka1)} (${(windowQps(loaded.seconds, ka0, ka1) / idleQps).toFixed(2)}x)`],
    ['DNS qps during the knotd AXFR', `${windowQps(loaded.seconds, kn0, kn1)} (${(windowQps(loaded.seconds, kn0, kn1) / idleQps).toFixed(2)}x)`],
    [`${OVERRIDES} overrides: last 201 -> Knot answers it`, `${answerMs} ms`],
    ['IXFRs Knot took / bytes', `${ixfrs.length} / ${ixfrBytes.toLocaleString('en')} B (AXFRs: ${axfrsAfter})`],
    ['overrides Knot answers afterwards', `${all} of ${OVERRIDES}`],
  ];
  const w = Math.max(...rows.map((x) => x[0].length));
  process.stdout.write('\n' + rows.map(([k, v]) => `${k.padEnd(w)}  ${v}`).join('\n') + '\n');
  const out = opt.out ?? join(here, 'results', 'transfer.json');
  writeFileSync(out, JSON.stringify({ date: new Date().toISOString(), entries: ENTRIES, overrides: OVERRIDES, rows: Object.fromEntries(rows) }, null, 2) + '\n');
  log(`wrote ${out}`);
}

main().then(
  () => process.exit(0),
  (e) => {
    process.stderr.write(`transfer bench failed: ${(e as Error).stack ?? e}\n`);
    process.exit(1);
  },
);
