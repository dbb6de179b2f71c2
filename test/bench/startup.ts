// Start-up benchmark (issue 11, requirement 5): the TypeScript sources through tsx (how
// bin/quorumbl ran before the compiled build) against the compiled dist/ (node directly, and
// through bin/quorumbl, which adds bash and the staleness check).
//
//   node --import tsx test/bench/startup.ts [--runs 10]
//
// For each variant, median of RUNS (variants alternate within a round, so machine load drifts
// evenly): a one-shot command to its exit (`--version` when the CLI has it, else `help`: every
// command loads the whole CLI), and `serve` with the embedded default config from spawn to the
// first correct answer for the RFC 5782 test point (UDP query every 5 ms), the CPU time (user+sys)
// and RSS of its processes (node and any child) at that moment, and RSS 2 s later (start-up work done). dist/ is built first.

import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import dnsPacket from 'dns-packet';
import { ROOT, freePort, makeTmpDir } from '../integration/helpers.ts';
import { CLK_TCK, serverProcesses } from './proc.ts';

const { values: opt } = parseArgs({ options: { runs: { type: 'string', default: '10' } } });
const RUNS = Number(opt.runs);
const TSX = join(ROOT, 'node_modules', 'tsx', 'dist', 'loader.mjs');
const VARIANTS: { name: string; cmd: string; args: string[] }[] = [
  { name: 'tsx (node --import tsx cli/main.ts)', cmd: process.execPath, args: ['--import', TSX, join(ROOT, 'cli', 'main.ts')] },
  { name: 'compiled (node dist/cli/main.js)', cmd: process.execPath, args: [join(ROOT, 'dist', 'cli', 'main.js')] },
  { name: 'compiled via bin/quorumbl', cmd: join(ROOT, 'bin', 'quorumbl'), args: [] },
];
const TEST_POINT = '2.0.0.127.demo.dnsbl.internal';
const say = (s: string) => process.stderr.write(`[startup] ${s}\n`);

function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('QUORUMBL_') && k !== 'NODE_OPTIONS' && k !== 'NODE_TEST_CONTEXT') env[k] = v;
  return { ...env, ...extra };
}

const ms = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e6;
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
// summed over the server's processes (node, and any child such as tsx's esbuild service)
const rssMiB = (pid: number) => serverProcesses(pid).reduce((a, p) => a + p.rssKiB, 0) / 1024;
const cpuMs = (pid: number) => (serverProcesses(pid).reduce((a, p) => a + p.cpuTicks, 0) * 1000) / CLK_TCK;

function oneShotArgs(): string[] {
  const r = spawnSync(process.execPath, [join(ROOT, 'dist', 'cli', 'main.js'), '--version'], { env: cleanEnv(), encoding: 'utf8' });
  return r.status === 0 ? ['--version'] : ['help'];
}

/** Wall time to exit, and CPU time (user+sys, GNU time) of the command and its children. */
function oneShot(v: (typeof VARIANTS)[number], args: string[]): { wall: number; cpu: number } {
  const t0 = process.hrtime.bigint();
  const r = spawnSync('/usr/bin/time', ['-f', 'cpu %U %S', v.cmd, ...v.args, ...args], { env: cleanEnv(), stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  const wall = ms(t0);
  const m = /cpu ([\d.]+) ([\d.]+)\s*$/.exec(r.stderr);
  if (r.status !== 0 || !m) throw new Error(`${v.name} ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return { wall, cpu: (Number(m[1]) + Number(m[2])) * 1000 };
}

async function serveOnce(v: (typeof VARIANTS)[number]): Promise<{ answerMs: number; cpuMs: number; rss: number; rssSettled: number }> {
  const port = await freePort();
  const web = await freePort();
  const state = makeTmpDir('quorumbl-startup-');
  const sock = createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
  const query = dnsPacket.encode({ type: 'query', id: 7, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type: 'A', name: TEST_POINT }] });
  const t0 = process.hrtime.bigint();
  const child = spawn(v.cmd, [...v.args, 'serve'], {
    cwd: state,
    env: cleanEnv({ QUORUMBL_SERVER__LISTEN: `127.0.0.1:${port}`, QUORUMBL_WEB__LISTEN: `127.0.0.1:${web}`, QUORUMBL_STATE_DIR: state, QUORUMBL_SYNC__ENABLED: 'false', QUORUMBL_LOG__LEVEL: 'warn' }),
    stdio: ['ignore', 'ignore', 'inherit'],
    detached: true,
  });
  let exited = false;
  child.once('exit', () => (exited = true));
  try {
    const answerMs = await new Promise<number>((resolve, reject) => {
      const timer = setInterval(() => {
        if (exited) reject(new Error(`${v.name} serve exited before answering`));
        else if (ms(t0) > 120000) reject(new Error(`${v.name} serve did not answer within 120 s`));
        else sock.send(query, port, '127.0.0.1');
      }, 5);
      sock.on('message', (buf) => {
        const r = dnsPacket.decode(buf) as unknown as { rcode: string; answers?: { type: string; data: unknown }[] };
        if (r.rcode === 'NOERROR' && r.answers?.some((a) => a.type === 'A' && a.data === '127.0.0.2')) {
          clearInterval(timer);
          resolve(ms(t0));
        }
      });
    });
    const cpu = cpuMs(child.pid!);
    const rss = rssMiB(child.pid!);
    await new Promise((r) => setTimeout(r, 2000));
    return { answerMs, cpuMs: cpu, rss, rssSettled: rssMiB(child.pid!) };
  } finally {
    sock.close();
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
}

async function main(): Promise<void> {
  execFileSync(process.execPath, [join(ROOT, 'scripts', 'build.mjs')], { stdio: 'inherit' });
  const args = oneShotArgs();
  const rows = VARIANTS.map(() => ({ oneShot: [] as number[], oneShotCpu: [] as number[], answer: [] as number[], cpu: [] as number[], rss: [] as number[], rssSettled: [] as number[] }));
  for (let i = 0; i < RUNS; i++) {
    for (const [k, v] of VARIANTS.entries()) {
      const o = oneShot(v, args);
      rows[k]!.oneShot.push(o.wall);
      rows[k]!.oneShotCpu.push(o.cpu);
      const s = await serveOnce(v);
      rows[k]!.answer.push(s.answerMs);
      rows[k]!.cpu.push(s.cpuMs);
      rows[k]!.rss.push(s.rss);
      rows[k]!.rssSettled.push(s.rssSettled);
    }
    say(`round ${i + 1}/${RUNS} done`);
  }
  console.log(`| median of ${RUNS} | \`quorumbl ${args.join(' ')}\` to exit | its CPU | \`serve\`: spawn to first answer | CPU to first answer | RSS at first answer | RSS 2 s later |`);
  console.log('| --- | --- | --- | --- | --- | --- | --- |');
  for (const [k, v] of VARIANTS.entries()) {
    const r = rows[k]!;
    console.log(`| ${v.name} | ${median(r.oneShot).toFixed(0)} ms | ${median(r.oneShotCpu).toFixed(0)} ms | ${median(r.answer).toFixed(0)} ms | ${median(r.cpu).toFixed(0)} ms | ${median(r.rss).toFixed(0)} MiB | ${median(r.rssSettled).toFixed(0)} MiB |`);
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
