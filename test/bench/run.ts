// One measured server run: spawn, time to first answer, RSS, dnsperf throughput, latency
// percentiles at a fixed rate, then stop. Servers never overlap (the box has 2 cores).
import { createSocket } from 'node:dgram';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Dataset } from './gen.ts';
import { ZONE } from './gen.ts';
import { latencyPercentiles, runDnsperf, type LatencyPercentiles, type PerfSummary } from './dnsperf.ts';
import { waitForAnswer } from './probe.ts';
import { CLK_TCK, cpuTotals, procInfo, serverProcesses, spawnTracked, stop, type ProcInfo } from './proc.ts';

export interface ServerSpec {
  name: string;
  cmd: string;
  prefix: string[]; // e.g. ['rbldnsd'] for `bin/quorumbl rbldnsd ...`
}

export interface RunSettings {
  seconds: number; // main dnsperf run
  warmupSeconds: number;
  latencySeconds: number;
  latencyQps: number; // offered rate for the percentile run
  readyTimeoutMs: number;
  user: string; // -u argument for both servers
  workDir: string; // logs and dnsperf -v output
}

export interface ServerResult {
  server: string;
  command: string;
  ok: boolean;
  error?: string;
  firstAnswerMs?: number;
  probeAttempts?: number;
  processes?: Array<{ pid: number; comm: string; rssAfterLoadMiB: number }>;
  rssAfterLoadMiB?: number;
  rssAfterBenchMiB?: number;
  peakRssMiB?: number;
  throughput?: Omit<PerfSummary, 'cpuSeconds'>;
  latency?: LatencyPercentiles;
  serverCpuUsPerQuery?: number;
  serverCores?: number; // server CPU time / wall time during the main run
  dnsperfCores?: number;
  otherCores?: number; // CPU used by anything else on the box during the main run
  logTail?: string;
}

const MiB = (kib: number): number => Math.round((kib / 1024) * 10) / 10;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const sum = (ps: ProcInfo[], k: 'rssKiB' | 'hwmKiB' | 'cpuTicks'): number => ps.reduce((a, p) => a + p[k], 0);

/** A free loopback UDP port (bound then released; good enough on a quiet box). */
export async function freePort(): Promise<number> {
  const s = createSocket('udp4');
  await new Promise<void>((res) => s.bind(0, '127.0.0.1', res));
  const port = s.address().port;
  await new Promise<void>((res) => s.close(() => res()));
  return port;
}

function tail(file: string, lines = 15): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

export async function runServer(spec: ServerSpec, ds: Dataset, label: string, s: RunSettings): Promise<ServerResult> {
  const port = await freePort();
  const args = [...spec.prefix, '-n', '-u', s.user, '-b', `127.0.0.1/${port}`, '-w', ds.dir, `${ZONE}:ip4set:${ds.dataFile}`];
  const result: ServerResult = { server: spec.name, command: [spec.cmd, ...args].join(' '), ok: false };
  const logFile = join(s.workDir, `${spec.name}-${label}.log`);
  const logFd = openSync(logFile, 'w');
  const t0 = process.hrtime.bigint();
  const child = spawnTracked(spec.cmd, args, { stdio: ['ignore', logFd, logFd] });
  closeSync(logFd);
  let exitMsg = '';
  const exited = new Promise<string>((res) => {
    child.once('exit', (code, sig) => res((exitMsg = `${spec.name} exited (code ${code}, signal ${sig})`)));
    child.once('error', (e) => res((exitMsg = `${spec.name} failed to start: ${e.message}`)));
  });
  const alive = (): void => {
    if (exitMsg) throw new Error(exitMsg);
  };
  try {
    const probe = await waitForAnswer(port, ds.listedProbe, t0, { timeoutMs: s.readyTimeoutMs, abort: exited });
    result.firstAnswerMs = Math.round(probe.ms * 10) / 10;
    result.probeAttempts = probe.attempts;
    process.stdout.write(`    ${spec.name}: first answer after ${(probe.ms / 1000).toFixed(2)} s`);

    await sleep(1000); // let the load's garbage settle before sampling RSS
    alive();
    let procs = serverProcesses(child.pid!);
    result.processes = procs.map((p) => ({ pid: p.pid, comm: p.comm, rssAfterLoadMiB: MiB(p.rssKiB) }));
    result.rssAfterLoadMiB = MiB(sum(procs, 'rssKiB'));
    process.stdout.write(`, RSS ${result.rssAfterLoadMiB} MiB (${procs.map((p) => `${p.comm}:${p.pid} ${MiB(p.rssKiB)}`).join(', ')})\n`);

    const perfArgs = ['-c', '1', '-q', '200', '-t', '2']; // -t 2: don't idle 5 s for stragglers
    if (s.warmupSeconds > 0) await runDnsperf({ port, queryFile: ds.queryFile, seconds: s.warmupSeconds, extra: perfArgs });
    alive();

    procs = serverProcesses(child.pid!); // workers may have been forked lazily
    const cpu0 = sum(procs, 'cpuTicks');
    const tot0 = cpuTotals();
    const w0 = process.hrtime.bigint();
    const perf = await runDnsperf({ port, queryFile: ds.queryFile, seconds: s.seconds, extra: perfArgs });
    const tot1 = cpuTotals();
    const wall = Number(process.hrtime.bigint() - w0) / 1e9; // includes dnsperf's wait for stragglers
    const cpu1 = sum(procs.map((p) => procInfo(p.pid) ?? p), 'cpuTicks');
    alive();
    const { cpuSeconds: dnsperfCpu, stdout: _o, ...throughput } = perf;
    result.throughput = throughput;
    const serverCpu = (cpu1 - cpu0) / CLK_TCK;
    const busy = (tot1.busy - tot0.busy) / CLK_TCK;
    result.serverCpuUsPerQuery = Math.round((serverCpu / Math.max(1, perf.completed)) * 1e6 * 100) / 100;
    result.serverCores = Math.round((serverCpu / perf.runSeconds) * 100) / 100;
    result.dnsperfCores = Math.round((dnsperfCpu / perf.runSeconds) * 100) / 100;
    result.otherCores = Math.round((Math.max(0, busy - serverCpu - dnsperfCpu) / wall) * 100) / 100;
    result.rssAfterBenchMiB = MiB(sum(serverProcesses(child.pid!), 'rssKiB'));
    process.stdout.write(`    ${spec.name}: ${Math.round(perf.qps)} qps, avg ${perf.avgLatencyMs.toFixed(3)} ms, lost ${perf.lost}\n`);

    // Latency percentiles: a separate run at a fixed offered rate, one line per query (-v).
    const vFile = join(s.workDir, `${spec.name}-${label}-latency.txt`);
    const lat = await runDnsperf({
      port, queryFile: ds.queryFile, seconds: s.latencySeconds, stdoutFile: vFile,
      extra: ['-c', '1', '-q', '200', '-t', '2', '-Q', String(s.latencyQps), '-v'],
    });
    alive();
    result.latency = latencyPercentiles(lat.stdout, s.latencyQps);
    result.peakRssMiB = MiB(sum(serverProcesses(child.pid!), 'hwmKiB'));
    process.stdout.write(`    ${spec.name}: p99 ${result.latency.p99Ms.toFixed(3)} ms at ${s.latencyQps} qps, peak RSS ${result.peakRssMiB} MiB\n`);
    result.ok = true;
  } catch (e) {
    result.error = (e as Error).message;
    result.logTail = tail(logFile);
    process.stdout.write(`\n    ${spec.name}: FAILED: ${result.error}\n${result.logTail.replace(/^/gm, '      | ')}\n`);
  } finally {
    await stop(child);
  }
  return result;
}
