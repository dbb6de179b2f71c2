// Merge-under-load benchmark (issue 4, requirement 9) in the real server: `bin/quorumbl serve`
// with 5 plain-list sources x 4M entries; DNS qps on bl.<base> while a full re-merge runs vs idle
// (goal >= 0.9x), the merge duration from the server's log (goal <= 10 s) and RSS.
//
//   node --import tsx test/bench/merge-qps.ts [--entries 4M] [--sources 5] [--seed 1]
//        [--idle 10] [--rounds 3] [--nice-workers N [--idle-workers]] [--cpu-prof] [--max-other 0.25]
//        [--out FILE] [--keep]
//
// One run: data (cached in test/bench/.cache/), a temp config (sources fetched from the local
// files, sync.enabled false, web off, reload.check_interval 1s, two static provider feeds),
// `bin/quorumbl sync` once (setup, timed), `bin/quorumbl serve` until 'merge done', idle dnsperf,
// then one source's current copy is replaced by rename of a 1%-changed file while dnsperf runs
// with per-second stats; the server reloads that mirror and re-runs the merge over all sources.
// The window is trigger -> the second 'merge done'. --cpu-prof runs the server with node's
// --cpu-prof and prints where the main thread's time went inside the window. --nice-workers N
// renices every server thread started during a round (the reload and merge workers) to N, as a
// worker calling os.setPriority(N) on itself would (Linux nice values are per thread); with
// --idle-workers they get SCHED_IDLE (chrt --idle) instead. Both were measured and did not help:
// the product paces its workers itself (background.cpu_share, core/pace.ts). See README.md.
import { sfc32 } from './datagen.ts';
import { execFileSync, spawnSync, type ChildProcess } from 'node:child_process';
import {
  closeSync, copyFileSync, createWriteStream, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync, writeSync,
} from 'node:fs';
import { cpus, loadavg, setPriority, tmpdir, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { parseSummary, type PerfSummary } from './dnsperf.ts';
import { waitForAnswer } from './probe.ts';
import { CLK_TCK, cpuTotals, installCleanupHandlers, procInfo, processTree, spawnTracked, stop } from './proc.ts';
import { freePort } from './run.ts';
import { FORBIDDEN_V4 } from '../../sync/guards.ts';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '../..');
const BASE = 'merge.bench';
const GOAL_RATIO = 0.9;
const GOAL_MERGE_MS = 10_000;
const GEN_VERSION = 2;
const PERF_ARGS = ['-c', '1', '-q', '200', '-t', '2'];

const { values: opt } = parseArgs({
  options: {
    entries: { type: 'string', default: '4M' },
    sources: { type: 'string', default: '5' },
    seed: { type: 'string', default: '1' },
    idle: { type: 'string', default: '10' },
    rounds: { type: 'string', default: '3' },
    'cpu-prof': { type: 'boolean', default: false },
    'nice-workers': { type: 'string' },
    'idle-workers': { type: 'boolean', default: false },
    'max-other': { type: 'string', default: '0.25' },
    'cpu-share': { type: 'string' },
    out: { type: 'string' },
    keep: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (opt.help) {
  process.stdout.write('usage: node --import tsx test/bench/merge-qps.ts [--entries 4M] [--sources 5] [--seed 1] [--idle 10] [--rounds 3] [--nice-workers N] [--cpu-prof] [--max-other 0.25] [--out FILE] [--keep]\n');
  process.exit(0);
}

function count(s: string): number {
  const m = /^(\d+(?:\.\d+)?)([kKmM]?)$/.exec(s.trim());
  if (!m) throw new Error(`bad number: ${s}`);
  const unit = m[2]!.toLowerCase();
  return Math.round(Number(m[1]) * (unit === 'm' ? 1e6 : unit === 'k' ? 1e3 : 1));
}
const ENTRIES = count(opt.entries!);
const SOURCES = count(opt.sources!);
const SEED = Number(opt.seed);
const IDLE_SECONDS = Number(opt.idle);
const ROUNDS = Math.max(1, Number(opt.rounds));
const MAX_OTHER = Number(opt['max-other']);
const CPU_PROF = opt['cpu-prof']!;
/** background.cpu_share of the server (unset: the product's default). */
const CPU_SHARE = opt['cpu-share'] === undefined ? null : Number(opt['cpu-share']);
const NICE = opt['nice-workers'] === undefined ? null : Number(opt['nice-workers']);
const IDLE_POLICY = opt['idle-workers']!;
const OUT = opt.out ?? join(here, 'results', `merge-qps${NICE === null ? '' : `-nice${NICE}`}${CPU_PROF ? '-cpuprof' : ''}.json`);

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const MiB = (kib: number): number => Math.round((kib / 1024) * 10) / 10;
const r1 = (x: number): number => Math.round(x * 10) / 10;
const r2 = (x: number): number => Math.round(x * 100) / 100;
const say = (s: string): void => void process.stdout.write(s + '\n');

// ---- data ----------------------------------------------------------------------------------

const prng = sfc32; // seeded, deterministic (test/bench/datagen.ts)

/** Buffered line writer that formats addresses straight into bytes (no per-line strings). */
class Out {
  private buf = Buffer.allocUnsafe(1 << 20);
  private pos = 0;
  bytes = 0;
  private static oct = Array.from({ length: 256 }, (_, i) => Buffer.from(String(i), 'latin1'));
  private readonly fd: number;
  constructor(path: string) {
    this.fd = openSync(path, 'w');
  }
  private flush(): void {
    writeSync(this.fd, this.buf, 0, this.pos);
    this.bytes += this.pos;
    this.pos = 0;
  }
  str(s: string): void {
    if (this.pos + s.length + 1 > this.buf.length) this.flush();
    this.pos += this.buf.write(s, this.pos, 'latin1');
  }
  /** `a.b.c.d[/bits]\n` */
  ip(x: number, bits = 32): void {
    if (this.pos + 20 > this.buf.length) this.flush();
    for (let sh = 24; sh >= 0; sh -= 8) {
      const o = Out.oct[(x >>> sh) & 255]!;
      o.copy(this.buf, this.pos);
      this.pos += o.length;
      if (sh) this.buf[this.pos++] = 46;
    }
    if (bits !== 32) {
      this.buf[this.pos++] = 47;
      const o = Out.oct[bits]!;
      o.copy(this.buf, this.pos);
      this.pos += o.length;
    }
    this.buf[this.pos++] = 10;
  }
  close(): void {
    this.flush();
    closeSync(this.fd);
  }
}

interface Data {
  dir: string;
  files: string[];
  /** A 1%-changed copy of files[0]: the trigger of the re-merge. */
  variant: string;
  queryFile: string;
  listedProbe: string;
  bytes: number;
  genSeconds: number; // 0 = from the cache
}

const dotted = (x: number): string => `${x >>> 24}.${(x >>> 16) & 255}.${(x >>> 8) & 255}.${x & 255}`;
const qname = (x: number): string => `${x & 255}.${(x >>> 8) & 255}.${(x >>> 16) & 255}.${x >>> 24}.bl.${BASE}`;

/** A random address outside the special-purpose space the sync guards reject. */
function publicIp(r: () => number): number {
  for (;;) {
    const ip = r();
    if (!FORBIDDEN_V4.some((f) => ip >= f.start && ip <= f.end)) return ip;
  }
}

/**
 * Per source: 30% addresses from a pool shared by all sources (so sources overlap and consensus
 * happens), 69.8% random /32s, 0.2% CIDRs /22../28. The variant of source 0 differs in 1% of lines.
 */
function ensureData(): Data {
  const dir = join(here, '.cache', `merge-qps-${SOURCES}x${ENTRIES}-s${SEED}-v${GEN_VERSION}`);
  const metaPath = join(dir, 'meta.json');
  if (existsSync(metaPath)) {
    const m = JSON.parse(readFileSync(metaPath, 'utf8')) as Data;
    if ([...m.files, m.variant, m.queryFile].every((f) => existsSync(f))) return { ...m, genSeconds: 0 };
  }
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const t0 = performance.now();
  const r = prng(SEED);
  const shared = new Uint32Array(ENTRIES);
  for (let i = 0; i < shared.length; i++) shared[i] = publicIp(r);
  const LISTED = 50_000;
  const listed: number[] = [];
  const every = Math.max(1, Math.floor((SOURCES * ENTRIES) / LISTED));
  const files: string[] = [];
  let bytes = 0;
  const variant = join(dir, 'src0.changed.txt');
  for (let s = 0; s < SOURCES; s++) {
    const file = join(dir, `src${s}.txt`);
    files.push(file);
    const out = new Out(file);
    const alt = s === 0 ? new Out(variant) : null;
    out.str(`# merge-qps bench source ${s}: ${ENTRIES} entries, seed ${SEED}\n`);
    alt?.str(`# merge-qps bench source ${s} (changed copy): ${ENTRIES} entries, seed ${SEED}\n`);
    for (let i = 0; i < ENTRIES; i++) {
      const x = r() % 1000;
      let ip: number;
      let bits = 32;
      if (x < 300) ip = shared[r() % ENTRIES]!;
      else if (x < 998) ip = publicIp(r);
      else {
        // forbidden ranges are /16 or wider: an aligned /22../28 at a public address stays public
        bits = 22 + (r() % 7);
        ip = (publicIp(r) & ~(2 ** (32 - bits) - 1)) >>> 0;
      }
      out.ip(ip, bits);
      if (alt) {
        if (i % 100 === 7) alt.ip(publicIp(r));
        else alt.ip(ip, bits);
      }
      if (bits === 32 && i % every === 0 && listed.length < LISTED) listed.push(ip);
    }
    out.close();
    alt?.close();
    bytes += out.bytes;
  }
  // Queries: half listed addresses, half random ones; A and TXT mixed (4:1).
  const q: string[] = [];
  for (let i = 0; i < listed.length; i++) {
    q.push(`${qname(listed[i]!)} ${i % 5 === 4 ? 'TXT' : 'A'}`);
    q.push(`${qname(r())} ${i % 5 === 2 ? 'TXT' : 'A'}`);
  }
  const queryFile = join(dir, 'queries.txt');
  writeFileSync(queryFile, q.join('\n') + '\n');
  const data: Data = { dir, files, variant, queryFile, listedProbe: qname(listed[0]!), bytes, genSeconds: (performance.now() - t0) / 1000 };
  writeFileSync(metaPath, JSON.stringify(data, null, 2));
  return data;
}

// ---- server log ----------------------------------------------------------------------------

interface LogEvent {
  at: number; // Date.now() when read
  time?: number; // pino's own time (ms)
  msg?: string;
  [k: string]: unknown;
}

class ServerLog {
  readonly events: LogEvent[] = [];
  private waiters: { from: number; pred: (e: LogEvent) => boolean; res: (e: LogEvent) => void }[] = [];
  constructor(child: ChildProcess, file: string) {
    const sink = createWriteStream(file);
    let rest = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      sink.write(d);
      const lines = (rest + d).split('\n');
      rest = lines.pop()!;
      for (const l of lines) {
        let e: LogEvent;
        try {
          e = { ...(JSON.parse(l) as object), at: Date.now() } as LogEvent;
        } catch {
          e = { at: Date.now(), msg: l };
        }
        this.events.push(e);
        const i = this.events.length - 1;
        this.waiters = this.waiters.filter((w) => (i >= w.from && w.pred(e) ? (w.res(e), false) : true));
      }
    });
    child.stderr!.setEncoding('utf8').on('data', (d: string) => sink.write(d));
  }
  /** The first event at index >= from matching pred (already logged or still to come). */
  wait(pred: (e: LogEvent) => boolean, from: number, timeoutMs: number, what: string, abort: Promise<string>): Promise<LogEvent> {
    const hit = this.events.slice(from).find(pred);
    if (hit) return Promise.resolve(hit);
    return new Promise((res, rej) => {
      const t = setTimeout(() => rej(new Error(`no '${what}' in the server log within ${timeoutMs / 1000} s`)), timeoutMs);
      void abort.then((why) => rej(new Error(why)));
      this.waiters.push({ from, pred, res: (e) => (clearTimeout(t), res(e)) });
    });
  }
}

const isMergeDone = (e: LogEvent): boolean => typeof e.msg === 'string' && e.msg.startsWith('merge done');

// ---- dnsperf with per-second stats ---------------------------------------------------------

interface Second {
  end: number; // epoch ms at the end of the 1 s interval
  qps: number;
}

function perSecond(text: string): Second[] {
  const out: Second[] = [];
  for (const m of text.matchAll(/^(\d{9,}\.\d+): ([\d.]+)$/gm)) out.push({ end: Number(m[1]) * 1000, qps: Number(m[2]) });
  return out;
}

interface PerfRun {
  child: ChildProcess;
  done: Promise<{ summary: Omit<PerfSummary, 'cpuSeconds'>; seconds: Second[]; cpuSeconds: number }>;
}

function startDnsperf(port: number, queryFile: string, seconds: number, outFile: string): PerfRun {
  const fd = openSync(outFile, 'w');
  const child = spawnTracked('dnsperf', ['-s', '127.0.0.1', '-p', String(port), '-d', queryFile, '-l', String(seconds), '-S', '1', ...PERF_ARGS], { stdio: ['ignore', fd, fd] });
  let ticks = 0;
  const sampler = setInterval(() => {
    const p = child.pid ? procInfo(child.pid) : null;
    if (p) ticks = p.cpuTicks;
  }, 100);
  const done = new Promise<number>((res, rej) => {
    child.once('error', rej);
    child.once('exit', (c, sig) => res(c ?? (sig ? 128 : 1)));
  }).then((code) => {
    clearInterval(sampler);
    closeSync(fd);
    const text = readFileSync(outFile, 'latin1');
    if (code !== 0) throw new Error(`dnsperf exited ${code}: ${text.slice(-800)}`);
    return { summary: parseSummary(text), seconds: perSecond(text), cpuSeconds: ticks / CLK_TCK };
  });
  return { child, done };
}

/** qps over [from, to] from per-second samples (each weighted by its overlap with the window),
 *  and the worst second overlapping the window by at least half. */
function windowStats(seconds: Second[], from: number, to: number): { qps: number; worst: number; samples: number } {
  let answered = 0;
  let worst = Infinity;
  let samples = 0;
  for (const s of seconds) {
    const overlap = Math.max(0, Math.min(s.end, to) - Math.max(s.end - 1000, from));
    if (overlap <= 0) continue;
    answered += (s.qps * overlap) / 1000;
    if (overlap >= 500) {
      worst = Math.min(worst, s.qps);
      samples++;
    }
  }
  return { qps: answered / ((to - from) / 1000), worst: samples ? worst : NaN, samples };
}

// ---- per-thread CPU of the server ----------------------------------------------------------

/** Per thread: name, CPU time and time spent runnable but waiting for a CPU (schedstat, ns). */
type ThreadTicks = Map<number, { comm: string; runNs: number; waitNs: number }>;

function threadTicks(pid: number): ThreadTicks {
  const out: ThreadTicks = new Map();
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const t of tids) {
    try {
      const [run, wait] = readFileSync(`/proc/${pid}/task/${t}/schedstat`, 'latin1').split(' ').map(Number);
      const comm = readFileSync(`/proc/${pid}/task/${t}/comm`, 'latin1').trim();
      out.set(Number(t), { comm, runNs: run!, waitNs: wait! });
    } catch {
      /* thread gone */
    }
  }
  return out;
}

/** Samples the server's threads while a window runs: threads that end inside it (the merge and
 *  reload workers) keep their last reading. */
class ThreadSampler {
  private first: ThreadTicks;
  private last: ThreadTicks = new Map();
  private timer: NodeJS.Timeout;
  rssMaxKiB = 0;
  constructor(private readonly pid: number) {
    this.first = threadTicks(pid);
    this.timer = setInterval(() => this.sample(), NICE === null ? 50 : 10);
  }
  /** Child processes (e.g. an esbuild service a worker's tsx starts): pid -> comm, ticks. */
  private readonly kids = new Map<number, { comm: string; first: number; last: number }>();
  private n = 0;
  private readonly reniced = new Set<number>();
  renicedOk = 0;
  private sample(): void {
    for (const [tid, v] of threadTicks(this.pid)) {
      this.last.set(tid, v);
      if (NICE !== null && !this.first.has(tid) && !this.reniced.has(tid)) {
        this.reniced.add(tid);
        try {
          if (IDLE_POLICY) execFileSync('chrt', ['--idle', '-p', '0', String(tid)]);
          else setPriority(tid, NICE);
          this.renicedOk++;
        } catch {
          /* gone already */
        }
      }
    }
    if (this.n++ % 4 === 0) {
      for (const c of processTree(this.pid).slice(1)) {
        const p = procInfo(c);
        if (!p) continue;
        const k = this.kids.get(c);
        if (k) k.last = p.cpuTicks;
        else this.kids.set(c, { comm: p.comm, first: p.cpuTicks, last: p.cpuTicks });
      }
    }
    const p = procInfo(this.pid);
    if (p) this.rssMaxKiB = Math.max(this.rssMaxKiB, p.rssKiB);
  }
  /** Child processes seen in the window and their CPU seconds (from their first sighting). */
  children(): { pid: number; comm: string; cpuSeconds: number }[] {
    return [...this.kids].map(([pid, k]) => ({ pid, comm: k.comm, cpuSeconds: r2((k.last - k.first) / CLK_TCK) }));
  }
  /** CPU seconds and run-queue wait per thread in the window, busiest first. */
  finish(): { tid: number; comm: string; main: boolean; cpuSeconds: number; runQueueWaitSeconds: number }[] {
    this.n = 0;
    this.sample();
    clearInterval(this.timer);
    return [...this.last]
      .map(([tid, v]) => {
        const f = this.first.get(tid);
        return { tid, comm: v.comm, main: tid === this.pid, cpuSeconds: r2((v.runNs - (f?.runNs ?? 0)) / 1e9), runQueueWaitSeconds: r2((v.waitNs - (f?.waitNs ?? 0)) / 1e9) };
      })
      .filter((t) => t.cpuSeconds > 0)
      .sort((a, b) => b.cpuSeconds - a.cpuSeconds);
  }
}

// ---- CPU profile of the main thread --------------------------------------------------------

interface ProfNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

/**
 * Self time by function in the main thread's profile inside [from, to] (epoch ms). The profile's
 * clock is monotonic: it is anchored at its end, taken as the moment the server exited.
 */
function profileWindow(dir: string, pid: number, exitedAt: number, from: number, to: number): { file: string; windowMs: number; top: { fn: string; ms: number }[] } | null {
  // CPU.<date>.<time>.<pid>.<tid>.<seq>.cpuprofile; tid 0 = the main thread
  const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile') && f.split('.')[3] === String(pid) && f.split('.')[4] === '0');
  if (!file) return null;
  const p = JSON.parse(readFileSync(join(dir, file), 'utf8')) as Profile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<string, number>();
  let t = p.startTime;
  const toEpoch = (us: number): number => exitedAt - (p.endTime - us) / 1000;
  for (let i = 0; i < p.samples.length; i++) {
    const dt = p.timeDeltas[i] ?? 0;
    t += dt;
    const at = toEpoch(t);
    if (at < from || at > to) continue;
    const n = byId.get(p.samples[i]!)!;
    const f = n.callFrame;
    const where = f.url ? `${f.url.replace(/^file:\/\/.*?\/(main|node_modules)\//, '$1/').replace(/^main\//, '')}:${f.lineNumber + 1}` : '';
    const key = `${f.functionName || '(anonymous)'}${where ? ' ' + where : ''}`;
    // a sample's weight: the time until the next sample
    self.set(key, (self.get(key) ?? 0) + (p.timeDeltas[i + 1] ?? dt) / 1000);
  }
  const top = [...self].map(([fn, ms]) => ({ fn, ms: r1(ms) })).sort((a, b) => b.ms - a.ms).slice(0, 25);
  return { file, windowMs: to - from, top };
}

// ---- host ----------------------------------------------------------------------------------

function tool(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return `${r.stdout ?? ''}${r.stderr ?? ''}`;
}

/** Cores used over `ms` by everything except `ours` (the server and its children). */
async function otherCores(ours: number | null, ms: number): Promise<number> {
  const tick = (): number => (ours === null ? 0 : processTree(ours).reduce((a, p) => a + (procInfo(p)?.cpuTicks ?? 0), 0));
  const c0 = cpuTotals();
  const o0 = tick();
  await sleep(ms);
  const c1 = cpuTotals();
  const o1 = tick();
  const cores = cpus().length;
  return Math.max(0, ((c1.busy - c0.busy) / Math.max(1, c1.total - c0.total)) * cores - (o1 - o0) / CLK_TCK / (ms / 1000));
}

/** Waits (up to 90 s) until other tenants use less than --max-other cores; the load average
 *  is only reported (it lags, and counts our own previous dnsperf run). */
async function waitQuiet(label: string, ours: number | null): Promise<{ load1: number; otherCores: number }> {
  const deadline = Date.now() + 90_000;
  let other = await otherCores(ours, 2000);
  if (other > MAX_OTHER) say(`[${label}] other processes use ${other.toFixed(2)} cores > ${MAX_OTHER}: waiting up to 90 s for a quieter box`);
  while (other > MAX_OTHER && Date.now() < deadline) other = await otherCores(ours, 3000);
  if (other > MAX_OTHER) say(`[${label}] other processes still use ${other.toFixed(2)} cores: measuring anyway (numbers are pessimistic)`);
  return { load1: r2(loadavg()[0]!), otherCores: r2(other) };
}

/** CPU busy on the box (all processes) over an interval, in cores. */
function boxBusy(a: { busy: number; total: number }, b: { busy: number; total: number }, cores: number): number {
  return r2(((b.busy - a.busy) / Math.max(1, b.total - a.total)) * cores);
}

// ---- the run -------------------------------------------------------------------------------

async function main(): Promise<void> {
  installCleanupHandlers();
  if (!tool('dnsperf', ['-h']).includes('dnsperf')) {
    process.stderr.write('dnsperf not found (apt-get install dnsperf)\n');
    process.exit(2);
  }
  const cores = cpus().length;
  const host = {
    nproc: cores,
    cpu: cpus()[0]?.model ?? '?',
    memGiB: r1(totalmem() / 2 ** 30),
    node: process.version,
    dnsperf: /Version ([\d.]+)/.exec(tool('dnsperf', ['-h']))?.[1] ?? '?',
    commit: execFileSync('git', ['-C', repo, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim(),
    loadAtStart: loadavg().map(r2),
  };
  say(`host: ${host.nproc} cores (${host.cpu}), load ${host.loadAtStart.join(' ')}, node ${host.node}, dnsperf ${host.dnsperf}`);

  const data = ensureData();
  say(`data: ${SOURCES} sources x ${ENTRIES} entries, ${MiB(data.bytes / 1024)} MiB${data.genSeconds ? `, generated in ${r1(data.genSeconds)} s` : ' (cached)'} in ${data.dir}`);

  const work = mkdtempSync(join(tmpdir(), 'quorumbl-merge-qps-'));
  const stateDir = join(work, 'state');
  const port = await freePort();
  const config = {
    server: { listen: [`127.0.0.1:${port}`], tcp: { enabled: false } },
    reload: { check_interval: 1 },
    state_dir: stateDir,
    log: { level: 'info' },
    base: BASE,
    sync: { enabled: false },
    web: { enabled: false },
    ...(CPU_SHARE === null ? {} : { background: { cpu_share: CPU_SHARE } }),
    sources: data.files.map((f, i) => ({
      name: `src${i}`,
      kind: 'ip',
      fetch: f,
      format: 'plain',
      max_size: '1G',
      weight: 1,
      guards: { max_error_ratio: 1, max_shrink: 1, max_grow: 1000, world_share: 1000 },
    })),
    providers: [
      { provider: 'bench-mail-a', type: 'static', cidrs: ['40.92.0.0/15', '40.107.0.0/16', '52.100.0.0/14', '104.47.0.0/17', '2a01:111:f400::/48'] },
      { provider: 'bench-mail-b', type: 'static', cidrs: ['35.190.247.0/24', '64.233.160.0/19', '66.102.0.0/20', '108.177.8.0/21', '172.217.0.0/19', '209.85.128.0/17'] },
    ],
  };
  const cfgFile = join(work, 'quorumbl.yaml');
  writeFileSync(cfgFile, JSON.stringify(config, null, 2)); // JSON is YAML
  const cli = join(repo, 'bin/quorumbl');
  const result: Record<string, unknown> = {
    benchmark: 'merge-qps',
    when: new Date().toISOString(),
    goal: { qpsRatio: GOAL_RATIO, mergeMs: GOAL_MERGE_MS },
    host,
    data: { sources: SOURCES, entriesPerSource: ENTRIES, seed: SEED, mixture: '30% shared pool, 69.8% random /32, 0.2% /22../28', bytes: data.bytes, genSeconds: r1(data.genSeconds), queries: 'bl names, half listed, half random; A:TXT 4:1' },
    dnsperf: PERF_ARGS.join(' ') + ' -S 1',
  };

  let server: ChildProcess | null = null;
  let ok = false;
  try {
    // Setup: every source's current copy in place.
    say(`setup: bin/quorumbl sync (${SOURCES} sources) ...`);
    let t = performance.now();
    const sync = spawnSync(cli, ['sync', '--config', cfgFile], { encoding: 'utf8', maxBuffer: 64 << 20 });
    const syncSeconds = (performance.now() - t) / 1000;
    writeFileSync(join(work, 'sync.log'), `${sync.stdout}${sync.stderr}`);
    if (sync.status !== 0) throw new Error(`bin/quorumbl sync exited ${sync.status}; log: ${join(work, 'sync.log')}\n${(sync.stdout + sync.stderr).slice(-1500)}`);
    say(`setup: sync done in ${r1(syncSeconds)} s`);
    result.setup = { syncSeconds: r1(syncSeconds) };

    // Serve.
    const profDir = join(work, 'cpuprof');
    // --cpu-prof is not allowed in NODE_OPTIONS: run what bin/quorumbl execs, with the flag.
    let cmd = cli;
    let args = ['serve', '--config', cfgFile];
    if (CPU_PROF) {
      mkdirSync(profDir);
      cmd = process.execPath;
      args = ['--cpu-prof', `--cpu-prof-dir=${profDir}`, '--cpu-prof-interval=500', '--import', join(repo, 'node_modules/tsx/dist/loader.mjs'), join(repo, 'cli/main.ts'), ...args];
    }
    await waitQuiet('start', null);
    const since = process.hrtime.bigint();
    const startedAt = Date.now();
    server = spawnTracked(cmd, args, { cwd: work, stdio: ['ignore', 'pipe', 'pipe'] });
    const srv = server;
    const logFile = join(work, 'serve.log');
    const log = new ServerLog(srv, logFile);
    let exitedAt = 0;
    const abort = new Promise<string>((res) => srv.once('exit', (c, s) => ((exitedAt = Date.now()), res(`server exited (${c ?? s}); log: ${logFile}`))));
    const pid = srv.pid!;
    const first = await waitForAnswer(port, `2.0.0.127.bl.${BASE}`, since, { timeoutMs: 600_000, abort, intervalMs: 50 });
    const merged = await log.wait(isMergeDone, 0, 600_000, 'merge done', abort);
    await waitForAnswer(port, data.listedProbe, process.hrtime.bigint(), { timeoutMs: 10_000, abort });
    const comm = procInfo(pid)?.comm;
    if (comm !== 'node') throw new Error(`server pid ${pid} is '${comm}', not node (does bin/quorumbl still exec node?)`);
    result.startup = { firstAnswerMs: Math.round(first.ms), firstMergeDoneAfterMs: merged.at - startedAt, firstMergeMs: merged.ms, intervals: merged.intervals };
    say(`serve: first answer after ${r1(first.ms / 1000)} s, first merge done after ${r1((merged.at - startedAt) / 1000)} s (merge ${merged.ms} ms, ${merged.intervals} IPv4 intervals)`);

    await sleep(3000);
    const rssIdle = procInfo(pid)!;

    const srcDir = join(stateDir, 'sources', 'src0');
    /** dnsperf alone for `seconds`; `other` = CPU (cores) used by anything but server and dnsperf. */
    const measureIdle = async (label: string, seconds: number) => {
      const { load1, otherCores: otherBefore } = await waitQuiet(label, pid);
      const c0 = cpuTotals();
      const s0 = procInfo(pid)!.cpuTicks;
      const m0 = threadTicks(pid).get(pid);
      const run = await startDnsperf(port, data.queryFile, seconds, join(work, `dnsperf-${label}.txt`)).done;
      const m1 = threadTicks(pid).get(pid);
      const mainWait = m0 && m1 ? (m1.waitNs - m0.waitNs) / 1e9 / run.summary.runSeconds : NaN;
      const busy = boxBusy(c0, cpuTotals(), cores);
      const serverCpu = (procInfo(pid)!.cpuTicks - s0) / CLK_TCK;
      const other = r2(Math.max(0, busy - (serverCpu + run.cpuSeconds) / run.summary.runSeconds));
      say(`${label}: ${Math.round(run.summary.qps)} qps idle (${run.summary.lost} lost; load ${load1}; other load on box ${other} cores; main thread waited ${r2(mainWait)} s/s for a CPU)`);
      return { qps: Math.round(run.summary.qps), mainThreadRunQueueWaitPerSecond: r2(mainWait), load1, otherCoresBefore: otherBefore, boxBusyCores: busy, otherLoadCores: other, serverCpuSeconds: r2(serverCpu), dnsperfCpuSeconds: r2(run.cpuSeconds), perSecond: run.seconds.map((s) => Math.round(s.qps)).filter((q) => q > 0), summary: run.summary };
    };

    /** One re-merge under load: rename `file` over src0's current copy while dnsperf runs. */
    const remerge = async (k: number, file: string) => {
      copyFileSync(file, join(srcDir, 'current.bench-next'));
      await sleep(1500); // let the copy's writeback settle
      const { load1, otherCores: otherBefore } = await waitQuiet(`round ${k}`, pid);
      try {
        writeFileSync(`/proc/${pid}/clear_refs`, '5'); // VmHWM := VmRSS, so the peak below is this merge's
      } catch {
        say('note: could not reset VmHWM (/proc/PID/clear_refs); the peak includes startup');
      }
      const rssBefore = procInfo(pid)!;
      const mark = log.events.length;
      const perf = startDnsperf(port, data.queryFile, 900, join(work, `dnsperf-merge-${k}.txt`));
      await sleep(2500); // dnsperf at full speed before the trigger
      const c1 = cpuTotals();
      const s1 = procInfo(pid)!.cpuTicks;
      const d1 = procInfo(perf.child.pid!)?.cpuTicks ?? 0;
      const sampler = new ThreadSampler(pid);
      const trigger = Date.now();
      renameSync(join(srcDir, 'current.bench-next'), join(srcDir, 'current'));
      const loaded = await log.wait((e) => e.msg === 'dataset loaded' && String(e.dataset ?? '').includes('/src0/'), mark, 600_000, 'dataset loaded (src0)', abort);
      const done = await log.wait(isMergeDone, mark, 600_000, 'merge done', abort);
      const end = done.at;
      const busy = boxBusy(c1, cpuTotals(), cores);
      const serverCpu = (procInfo(pid)!.cpuTicks - s1) / CLK_TCK;
      const dnsperfCpu = ((procInfo(perf.child.pid!)?.cpuTicks ?? d1) - d1) / CLK_TCK;
      const threads = sampler.finish();
      // dnsperf prints no partial second on SIGINT: run on past the window so its seconds cover it
      await sleep(1500);
      perf.child.kill('SIGINT');
      const run = await perf.done;
      const peak = procInfo(pid)!;
      const w = windowStats(run.seconds, trigger, end);
      // the merge proper: the changed source is loaded, the sweep over all sources runs
      const wm = windowStats(run.seconds, loaded.at, end);
      const windowS = (end - trigger) / 1000;
      const kids = sampler.children();
      if (NICE !== null) say(`  reniced ${sampler.renicedOk} new server threads to ${NICE}`);
      const kidsCpu = kids.reduce((a, c) => a + c.cpuSeconds, 0);
      const other = r2(Math.max(0, busy - (serverCpu + kidsCpu + dnsperfCpu) / windowS));
      const mergeMs = Number(done.ms);
      const mainWait = r2((threads.find((t) => t.main)?.runQueueWaitSeconds ?? NaN) / windowS);
      say(`round ${k}: rename -> 'dataset loaded' after ${r1((loaded.at - trigger) / 1000)} s (reload ${loaded.ms} ms) -> 'merge done' after ${r1(windowS)} s (merge ${mergeMs} ms): ` +
        `${Math.round(w.qps)} qps in the window (${Math.round(wm.qps)} from 'dataset loaded'), worst 1 s ${Math.round(w.worst)}; other load ${other} cores`);
      say(`  main thread waited ${mainWait} s/s for a CPU; server threads' CPU in the window: ${threads.slice(0, 5).map((x) => `${x.main ? 'main' : `${x.comm}#${x.tid}`} ${x.cpuSeconds}s (waited ${x.runQueueWaitSeconds}s for a CPU)`).join(', ')}` +
        `${kids.length ? `; child processes ${kids.map((c) => `${c.comm} ${c.cpuSeconds}s`).join(', ')}` : ''}; dnsperf ${r2(dnsperfCpu)} s; box busy ${busy} of ${cores} cores`);
      return {
        file: file === data.variant ? 'changed copy' : 'original',
        load1,
        otherCoresBefore: otherBefore,
        trigger,
        end,
        reloadMs: Number(loaded.ms),
        reloadLoggedAfterMs: loaded.at - trigger,
        mergeMs,
        windowSeconds: r2(windowS),
        qps: Math.round(w.qps),
        mergeWindowQps: Math.round(wm.qps),
        worst1sQps: Math.round(w.worst),
        boxBusyCores: busy,
        otherLoadCores: other,
        serverCpuSeconds: r2(serverCpu),
        dnsperfCpuSeconds: r2(dnsperfCpu),
        mainThreadRunQueueWaitPerSecond: mainWait,
        serverThreadsCpuSeconds: threads,
        serverChildProcesses: kids,
        perSecond: run.seconds.map((s) => ({ tMinusTrigger: r1((s.end - trigger) / 1000), qps: Math.round(s.qps) })),
        dnsperfWholeRun: run.summary,
        rssMiB: { before: MiB(rssBefore.rssKiB), peak: MiB(peak.hwmKiB), sampledMax: MiB(sampler.rssMaxKiB), rightAfter: MiB(peak.rssKiB) },
        log: log.events.slice(mark).filter((e) => e.msg === 'dataset loaded' || isMergeDone(e)).map((e) => ({ msg: e.msg, tMinusTriggerMs: e.at - trigger, ms: e.ms, dataset: e.dataset })),
      };
    };

    // Rounds: idle, re-merge (alternating the changed copy and the original), ..., idle. Each
    // round's baseline is the mean of the idle runs around it (other tenants drift).
    const idles: Awaited<ReturnType<typeof measureIdle>>[] = [];
    const rounds: Awaited<ReturnType<typeof remerge>>[] = [];
    for (let k = 0; k < ROUNDS; k++) {
      idles.push(await measureIdle(`idle ${k}`, IDLE_SECONDS));
      rounds.push(await remerge(k, k % 2 === 0 ? data.variant : data.files[0]!));
      await sleep(3000);
    }
    idles.push(await measureIdle(`idle ${ROUNDS}`, IDLE_SECONDS));
    await sleep(2000);
    const rssAfter = procInfo(pid)!;
    const scored = rounds.map((r, k) => {
      const idleQps = (idles[k]!.qps + idles[k + 1]!.qps) / 2;
      return { round: k, idleQps: Math.round(idleQps), ratio: r2(r.qps / idleQps), mergeWindowRatio: r2(r.mergeWindowQps / idleQps), worst1sRatio: r2(r.worst1sQps / idleQps), ...r };
    });
    const ratios = scored.map((r) => r.ratio).sort((a, b) => a - b);
    const median = ratios[Math.floor((ratios.length - 1) / 2)]!;
    const mergeMss = scored.map((r) => r.mergeMs).sort((a, b) => a - b);
    const mergeMedian = mergeMss[Math.floor((mergeMss.length - 1) / 2)]!;
    const peakRss = Math.max(...scored.map((r) => r.rssMiB.peak));
    say('');
    say(`nproc ${cores}, load average ${loadavg().map(r2).join(' ')}`);
    for (const r of scored) say(`round ${r.round}: idle ${r.idleQps} qps, during ${r.qps} qps over ${r.windowSeconds} s = ${r.ratio}x (merge part ${r.mergeWindowRatio}x; worst 1 s ${r.worst1sQps} = ${r.worst1sRatio}x), merge ${r.mergeMs} ms, reload ${r.reloadMs} ms, peak RSS ${r.rssMiB.peak} MiB`);
    say(`qps during the re-merge / idle: median ${median}x over ${ROUNDS} rounds (range ${ratios[0]}..${ratios[ratios.length - 1]}), goal >= ${GOAL_RATIO}x: ${median >= GOAL_RATIO ? 'met' : 'NOT met'}`);
    say(`merge (log ms): median ${mergeMedian} ms, goal <= ${GOAL_MERGE_MS / 1000} s: ${mergeMss[mergeMss.length - 1]! <= GOAL_MERGE_MS ? 'met' : 'NOT met'} (max ${mergeMss[mergeMss.length - 1]} ms)`);
    say(`RSS (node process): idle ${MiB(rssIdle.rssKiB)} MiB, startup peak ${MiB(rssIdle.hwmKiB)} MiB, re-merge peak ${peakRss} MiB, after ${MiB(rssAfter.rssKiB)} MiB`);

    let profile: ReturnType<typeof profileWindow> = null;
    if (CPU_PROF) {
      await stop(srv, 10_000);
      server = null;
      await sleep(500);
      const last = scored[scored.length - 1]!;
      profile = profileWindow(profDir, pid, exitedAt || Date.now(), last.trigger, last.end);
      if (profile) {
        say(`main thread self time in the last round's window (${r1(profile.windowMs / 1000)} s; ${profile.file}):`);
        for (const x of profile.top.slice(0, 15)) say(`  ${String(x.ms).padStart(8)} ms  ${x.fn}`);
      } else say(`no main-thread profile found in ${profDir}`);
    }

    Object.assign(result, {
      summary: {
        ratioMedian: median,
        ratioRange: [ratios[0], ratios[ratios.length - 1]],
        ratioGoalMet: median >= GOAL_RATIO,
        worst1sRatioMin: Math.min(...scored.map((r) => r.worst1sRatio)),
        mergeMsMedian: mergeMedian,
        mergeMsMax: mergeMss[mergeMss.length - 1],
        mergeGoalMet: mergeMss[mergeMss.length - 1]! <= GOAL_MERGE_MS,
        reloadMsMedian: scored.map((r) => r.reloadMs).sort((a, b) => a - b)[Math.floor((ROUNDS - 1) / 2)],
        rssMiB: { idle: MiB(rssIdle.rssKiB), startupPeak: MiB(rssIdle.hwmKiB), remergePeak: peakRss, after: MiB(rssAfter.rssKiB) },
      },
      how: 'per round: idle dnsperf; then dnsperf -S 1 while a changed copy (alternately the original) is renamed over <state>/sources/src0/current; the 1 s file check reloads that mirror, then the merge re-runs over all sources; window = rename -> the log line "merge done"; baseline = mean of the idle runs before and after the round',
      rssNote: 'VmRSS/VmHWM of the node process (all threads); VmHWM reset through /proc/PID/clear_refs before each trigger',
      idle: idles,
      rounds: scored,
      mainThreadProfile: profile,
      loadAtEnd: loadavg().map(r2),
    });
    mkdirSync(dirname(OUT), { recursive: true });
    writeFileSync(OUT, JSON.stringify(result, null, 2) + '\n');
    say(`wrote ${OUT}`);
    ok = true;
  } finally {
    if (server) await stop(server, 5000);
    if (opt.keep || !ok) say(`kept ${work} (config, logs, dnsperf output)`);
    else rmSync(work, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`merge-qps: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exitCode = 1;
});
