// Runs dnsperf and parses its summary; the latency run uses `-v` (one line per query with
// its latency) written to a file and turned into percentiles afterwards.
import { closeSync, openSync, readFileSync } from 'node:fs';
import { procInfo, spawnTracked } from './proc.ts';

let dnsperfPath = 'dnsperf';
/** The dnsperf binary found by the caller's tool check. */
export function setDnsperfPath(p: string): void {
  dnsperfPath = p;
}

export interface PerfSummary {
  sent: number;
  completed: number;
  lost: number;
  qps: number;
  avgLatencyMs: number;
  minLatencyMs: number;
  maxLatencyMs: number;
  rcodes: Record<string, number>;
  runSeconds: number;
  cpuSeconds: number; // dnsperf's own CPU time (sampled from /proc while it ran)
}

export interface LatencyPercentiles {
  samples: number;
  qps: number; // the fixed offered rate (-Q)
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  p999Ms: number;
  maxMs: number;
  lost: number;
}

export interface PerfOptions {
  port: number;
  queryFile: string;
  seconds: number;
  extra?: string[];
  stdoutFile?: string; // send stdout there instead of capturing it
}

function num(text: string, re: RegExp): number {
  const m = re.exec(text);
  if (!m) throw new Error(`dnsperf output lacks ${re}:\n${text.slice(-1500)}`);
  return Number(m[1]);
}

export function parseSummary(text: string): Omit<PerfSummary, 'cpuSeconds'> {
  const rcodes: Record<string, number> = {};
  const rc = /Response codes:\s+(.*)/.exec(text)?.[1] ?? '';
  for (const m of rc.matchAll(/([A-Z]+) (\d+)/g)) rcodes[m[1]!] = Number(m[2]);
  return {
    sent: num(text, /Queries sent:\s+(\d+)/),
    completed: num(text, /Queries completed:\s+(\d+)/),
    lost: num(text, /Queries lost:\s+(\d+)/),
    qps: num(text, /Queries per second:\s+([\d.]+)/),
    runSeconds: num(text, /Run time \(s\):\s+([\d.]+)/),
    avgLatencyMs: num(text, /Average Latency \(s\):\s+([\d.]+)/) * 1000,
    minLatencyMs: num(text, /Average Latency \(s\):.*min ([\d.]+)/) * 1000,
    maxLatencyMs: num(text, /Average Latency \(s\):.*max ([\d.]+)/) * 1000,
    rcodes,
  };
}

export async function runDnsperf(o: PerfOptions): Promise<PerfSummary & { stdout: string }> {
  const args = ['-s', '127.0.0.1', '-p', String(o.port), '-d', o.queryFile, '-l', String(o.seconds), ...(o.extra ?? [])];
  const outFd = o.stdoutFile ? openSync(o.stdoutFile, 'w') : null;
  const child = spawnTracked(dnsperfPath, args, { stdio: ['ignore', outFd ?? 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('latin1').on('data', (d: string) => (stdout += d));
  child.stderr?.setEncoding('latin1').on('data', (d: string) => (stderr += d));
  // Sample dnsperf's CPU time while it runs (it cannot be read after exit).
  let cpuTicks = 0;
  const sampler = setInterval(() => {
    const p = child.pid ? procInfo(child.pid) : null;
    if (p) cpuTicks = p.cpuTicks;
  }, 100);
  const code = await new Promise<number>((res, rej) => {
    child.once('error', rej);
    child.once('exit', (c, sig) => res(c ?? (sig ? 128 : 1)));
  }).finally(() => {
    clearInterval(sampler);
    if (outFd !== null) closeSync(outFd);
  });
  if (o.stdoutFile) stdout = readFileSync(o.stdoutFile, 'latin1');
  if (code !== 0) throw new Error(`dnsperf exited ${code}: ${stderr.trim() || stdout.slice(-800)}`);
  return { ...parseSummary(stdout), cpuSeconds: cpuTicks / 100, stdout };
}

/** Percentiles from `dnsperf -v` lines: `> NOERROR 1.2.3.4.bl.bench A 0.000123`. */
export function latencyPercentiles(verboseOutput: string, offeredQps: number): LatencyPercentiles {
  const lat: number[] = [];
  for (const line of verboseOutput.split('\n')) {
    if (!line.startsWith('> ')) continue;
    const v = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (Number.isFinite(v)) lat.push(v * 1000);
  }
  if (lat.length === 0) throw new Error('dnsperf -v produced no per-query latencies');
  const a = Float64Array.from(lat).sort();
  const pct = (p: number): number => a[Math.min(a.length - 1, Math.ceil((p / 100) * a.length) - 1)]!;
  const lost = Number(/Queries lost:\s+(\d+)/.exec(verboseOutput)?.[1] ?? 0);
  return { samples: a.length, qps: offeredQps, p50Ms: pct(50), p90Ms: pct(90), p99Ms: pct(99), p999Ms: pct(99.9), maxMs: a[a.length - 1]!, lost };
}
