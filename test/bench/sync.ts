// Sync benchmark (issue 3, requirement 11): DNS qps while a 10M-entry source syncs and the
// server reloads its mirror zone. Goal: qps during the sync >= 0.9x idle qps.
//
//   node --import tsx test/bench/sync.ts [--lines 10000000] [--seed-lines 20000] [--idle 10]
//        [--nice N] [--out FILE] [--keep]
//
// One run: `bin/quorumbl serve` (a temp config: one plain-list source `big` fetched from a local
// file, sync.enabled false, reload.check_interval 1s) is seeded with a small list through
// `bin/quorumbl sync`; then dnsperf measures idle qps, then runs while `bin/quorumbl sync big`
// (a separate process, as an admin would run it) copies, parses and guards the 10M-line list
// and the server notices the new copy and reloads it in a worker thread; then idle qps again.
// --nice N runs the sync command under `nice -n N` and renices the server's threads started
// during the sync (its reload worker) to N, as a worker calling os.setPriority(N) on itself
// would. See test/bench/README.md.
import { execFileSync, type ChildProcess } from 'node:child_process';
import { accessSync, constants, createWriteStream, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { parseSummary, runDnsperf, setDnsperfPath } from './dnsperf.ts';
import { waitForAnswer } from './probe.ts';
import { CLK_TCK, cpuTotals, installCleanupHandlers, serverProcesses, spawnTracked, stop } from './proc.ts';
import { freePort } from './run.ts';
import { ensureSyncData } from './sync/data.ts';
import { parseIntervals, windowQps, type Interval } from './sync/intervals.ts';
import { ThreadSampler, type CpuProfile } from './sync/threads.ts';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '../..');
const BASE = 'sync.bench';
const ZONE = `big.mirror.${BASE}`;
const GOAL = 0.9;
const WINDOW_TIMEOUT_MS = 15 * 60_000; // sync + reload must finish within this
const PERF_ARGS = ['-c', '1', '-q', '200', '-t', '2'];

const { values: opt } = parseArgs({
  options: {
    lines: { type: 'string', default: '10000000' },
    'seed-lines': { type: 'string', default: '20000' },
    idle: { type: 'string', default: '10' },
    nice: { type: 'string' },
    out: { type: 'string' },
    keep: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (opt.help) {
  process.stdout.write('usage: node --import tsx test/bench/sync.ts [--lines N] [--seed-lines N] [--idle SECONDS] [--nice N] [--out FILE] [--keep]\n');
  process.exit(0);
}
const LINES = Number(opt.lines);
const SEED_LINES = Number(opt['seed-lines']);
const IDLE_SECONDS = Number(opt.idle);
const NICE = opt.nice === undefined ? null : Number(opt.nice);
const OUT = opt.out ?? join(here, 'results', NICE === null ? 'sync.json' : `sync-nice${NICE}.json`);

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const MiB = (kib: number): number => Math.round((kib / 1024) * 10) / 10;
const r1 = (x: number): number => Math.round(x * 10) / 10;
const r2 = (x: number): number => Math.round(x * 100) / 100;
const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');

function fail(msg: string, code = 2): never {
  process.stderr.write(`sync bench: ${msg}\n`);
  process.exit(code);
}

function findExecutable(name: string): string | null {
  for (const d of (process.env.PATH ?? '').split(':').filter(Boolean)) {
    try {
      accessSync(join(d, name), constants.X_OK);
      return join(d, name);
    } catch {
      /* next */
    }
  }
  return null;
}

interface LogLine {
  at: number; // epoch ms when we read it
  time?: number; // pino's own timestamp, epoch ms
  msg?: string;
  [k: string]: unknown;
}

/** Collects the JSON log lines of a child (stdout+stderr) and tees them to a file. */
class LogWatch {
  readonly lines: LogLine[] = [];
  private waiters: Array<() => void> = [];
  constructor(child: ChildProcess, file: string) {
    const out = createWriteStream(file);
    for (const s of [child.stdout, child.stderr]) {
      let rest = '';
      s?.setEncoding('utf8').on('data', (d: string) => {
        out.write(d);
        rest += d;
        let nl: number;
        while ((nl = rest.indexOf('\n')) >= 0) {
          const line = rest.slice(0, nl);
          rest = rest.slice(nl + 1);
          try {
            const obj = JSON.parse(line) as LogLine;
            // pino writes ISO times here (numbers with other settings): keep epoch ms
            const time = typeof obj.time === 'string' ? Date.parse(obj.time) : obj.time;
            this.lines.push({ ...obj, time, at: Date.now() });
          } catch {
            this.lines.push({ at: Date.now(), msg: line });
          }
          for (const w of this.waiters.splice(0)) w();
        }
      });
    }
  }
  find(pred: (l: LogLine) => boolean): LogLine | undefined {
    return this.lines.find(pred);
  }
  /** Resolves with the first line matching `pred`; rejects on timeout or when `abort` resolves. */
  waitFor(pred: (l: LogLine) => boolean, timeoutMs: number, abort: Promise<string>): Promise<LogLine> {
    return new Promise((res, rej) => {
      const timer = setTimeout(() => rej(new Error(`log line not seen within ${timeoutMs} ms`)), timeoutMs);
      void abort.then((why) => {
        clearTimeout(timer);
        rej(new Error(why));
      });
      const check = (): void => {
        const hit = this.find(pred);
        if (hit) {
          clearTimeout(timer);
          res(hit);
        } else this.waiters.push(check);
      };
      check();
    });
  }
}

function exitOf(child: ChildProcess, name: string): Promise<string> {
  return new Promise((res) => {
    child.once('exit', (code, sig) => res(`${name} exited (code ${code}, signal ${sig})`));
    child.once('error', (e) => res(`${name} failed to start: ${e.message}`));
  });
}

function memOf(pid: number): { rssMiB: number; hwmMiB: number } {
  const ps = serverProcesses(pid);
  return { rssMiB: MiB(ps.reduce((a, p) => a + p.rssKiB, 0)), hwmMiB: MiB(ps.reduce((a, p) => a + p.hwmKiB, 0)) };
}

interface IdleRun {
  qps: number;
  worstIntervalQps: number;
  avgLatencyMs: number;
  lost: number;
  rcodes: Record<string, number>;
  serverCores: number;
  dnsperfCores: number;
  otherCores: number;
  intervals: number[]; // per-second qps
}

async function idleRun(port: number, queryFile: string, serverPid: number, seconds: number): Promise<IdleRun> {
  const sampler = new ThreadSampler(250);
  sampler.watch(serverPid, 'server');
  sampler.start();
  const from = Date.now();
  const perf = await runDnsperf({ port, queryFile, seconds, extra: [...PERF_ARGS, '-S', '1'] });
  const to = Date.now();
  sampler.stop();
  const prof = sampler.profile(from, to);
  const iv = parseIntervals(perf.stdout, from).filter((i) => i.end <= from + seconds * 1000 + 900);
  const serverCores = prof.processes.find((p) => p.proc === 'server')?.cores ?? 0;
  const dnsperfCores = perf.cpuSeconds / perf.runSeconds;
  return {
    qps: r1(perf.qps), worstIntervalQps: r1(Math.min(...iv.map((i) => i.qps))), avgLatencyMs: Math.round(perf.avgLatencyMs * 1000) / 1000,
    lost: perf.lost, rcodes: perf.rcodes, serverCores, dnsperfCores: r2(dnsperfCores),
    otherCores: r2(Math.max(0, prof.boxBusyCores - serverCores - dnsperfCores)),
    intervals: iv.map((i) => Math.round(i.qps)),
  };
}

async function main(): Promise<void> {
  if (!(LINES > 0 && SEED_LINES > 0 && IDLE_SECONDS > 0)) fail('--lines, --seed-lines and --idle must be positive');
  const dnsperf = findExecutable('dnsperf');
  if (!dnsperf) fail('dnsperf not found on PATH. Install it: apt-get install dnsperf');
  setDnsperfPath(dnsperf);
  const quorumbl = join(repo, 'bin/quorumbl');
  if (!existsSync(quorumbl)) fail(`${quorumbl} does not exist`);
  const nice = NICE === null ? null : findExecutable('nice');
  if (NICE !== null && !nice) fail('nice not found on PATH');

  installCleanupHandlers();
  const workDir = mkdtempSync(join(tmpdir(), 'quorumbl-syncbench-'));
  let keep = opt.keep;
  process.on('exit', () => keep || rmSync(workDir, { recursive: true, force: true }));
  // Other tenants: CPU busy on the box for 2 s before we start anything.
  const b0 = cpuTotals();
  await sleep(2000);
  const otherLoadBeforeCores = r2((cpuTotals().busy - b0.busy) / CLK_TCK / 2);
  const started = new Date().toISOString();
  const host = {
    nproc: Number(execFileSync('nproc', { encoding: 'utf8' }).trim()), cpu: cpus()[0]?.model ?? '?', memGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version, loadavgAtStart: loadavg().map(r2), otherLoadBeforeCores,
  };
  process.stdout.write(
    `quorumbl sync bench: ${fmt(LINES)}-line plain list, dnsperf ${PERF_ARGS.join(' ')}\n` +
      `host: nproc ${host.nproc} (${host.cpu}), load average ${host.loadavgAtStart.join(' ')}, ${otherLoadBeforeCores} cores busy before start; work dir ${workDir}\n`,
  );
  if (otherLoadBeforeCores > 0.25) process.stdout.write(`WARNING: other processes use ${otherLoadBeforeCores} of ${host.nproc} cores: every qps number below is lowered by them\n`);

  // Data (cached).
  const cache = join(here, '.cache');
  mkdirSync(cache, { recursive: true });
  const data = ensureSyncData(cache, LINES, SEED_LINES, ZONE);
  process.stdout.write(
    `data: ${fmt(data.lines)} lines (${data.cidrs.s24} /24, ${data.cidrs.s20} /20, rest /32), ${(data.bytes / 2 ** 20).toFixed(0)} MiB` +
      (data.genSeconds ? `, generated in ${data.genSeconds.toFixed(1)} s\n` : ' (cached)\n'),
  );

  // Config: one plain-list source read from a local file (a symlink we repoint), guards relaxed
  // so that 20k -> 10M entries pass; sync.enabled false so only our `sync` command syncs.
  const port = await freePort();
  const stateDir = join(workDir, 'state');
  const upstream = join(workDir, 'upstream.txt');
  symlinkSync(data.seedFile, upstream);
  const cfgFile = join(workDir, 'config.yaml');
  const config = {
    server: { listen: [`127.0.0.1:${port}`], tcp: { enabled: false }, allow_query: null },
    reload: { check_interval: '1s' },
    state_dir: stateDir,
    log: { level: 'info' },
    base: BASE,
    sync: { enabled: false },
    sources: [
      {
        name: 'big', kind: 'ip', fetch: upstream, format: 'plain', max_size: '2G', timeout: '10m',
        max_prefix: { v4: 8 }, guards: { max_grow: 1000, world_share: 1000 },
      },
    ],
  };
  writeFileSync(cfgFile, `# written by test/bench/sync.ts (JSON is YAML)\n${JSON.stringify(config, null, 2)}\n`);

  const syncCmd = (): [string, string[]] => {
    const args = ['sync', '--config', cfgFile, 'big'];
    return nice ? [nice, ['-n', String(NICE), quorumbl, ...args]] : [quorumbl, args];
  };

  // Seed: the first sync, so the mirror zone exists and answers before we measure.
  {
    const [cmd, args] = syncCmd();
    const child = spawnTracked(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const log = new LogWatch(child, join(workDir, 'sync-seed.log'));
    const code = await new Promise<number | null>((res) => child.once('exit', (c) => res(c)));
    if (code !== 0) {
      keep = true;
      fail(`seed sync exited ${code}:\n${log.lines.slice(-10).map((l) => JSON.stringify(l)).join('\n')}\nlogs in ${workDir}`, 1);
    }
  }

  const server = spawnTracked(quorumbl, ['serve', '--config', cfgFile], { stdio: ['ignore', 'pipe', 'pipe'] });
  const serverLog = new LogWatch(server, join(workDir, 'server.log'));
  const serverExit = exitOf(server, 'server');
  let report: Record<string, unknown> | undefined;
  try {
    await waitForAnswer(port, data.seedProbe, process.hrtime.bigint(), { timeoutMs: 120_000, abort: serverExit });
    const spid = server.pid!;
    process.stdout.write(`server: pid ${spid}, port ${port}, seed copy (${fmt(SEED_LINES)} entries) answering\n`);

    await runDnsperf({ port, queryFile: data.queryFile, seconds: 2, extra: PERF_ARGS }); // warm-up
    const idleBefore = await idleRun(port, data.queryFile, spid, IDLE_SECONDS);
    const memBefore = memOf(spid);
    process.stdout.write(`idle before: ${fmt(idleBefore.qps)} qps (worst 1 s: ${fmt(idleBefore.worstIntervalQps)}), server ${idleBefore.serverCores} cores, RSS ${memBefore.rssMiB} MiB\n`);

    // ---- The sync window ------------------------------------------------------------------
    const perfOut = join(workDir, 'dnsperf-sync.txt');
    const perf = spawnTracked(dnsperf, ['-s', '127.0.0.1', '-p', String(port), '-d', data.queryFile, '-l', String(WINDOW_TIMEOUT_MS / 1000 + 60), ...PERF_ARGS, '-S', '1'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const perfStart = Date.now();
    let perfText = '';
    perf.stdout!.setEncoding('latin1').on('data', (d: string) => (perfText += d));
    const perfDone = new Promise<void>((res) => perf.once('exit', () => res()));
    const sampler = new ThreadSampler(100);
    sampler.watch(spid, 'server');
    sampler.watch(perf.pid!, 'dnsperf');
    if (NICE !== null) sampler.reniceNewThreads('server', NICE);
    sampler.start();
    await sleep(3000); // lead-in: dnsperf at steady state before the sync starts

    // Repoint the upstream file to the big list, then sync as an admin would.
    const tmpLink = upstream + '.new';
    symlinkSync(data.bigFile, tmpLink);
    renameSync(tmpLink, upstream);
    const staged = join(stateDir, 'sources/big/staging/download');
    const t0 = Date.now();
    const [cmd, args] = syncCmd();
    const sync = spawnTracked(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    sampler.watch(sync.pid!, 'sync CLI');
    const syncLog = new LogWatch(sync, join(workDir, 'sync-big.log'));
    let syncExitAt = 0;
    const syncCode = new Promise<number | null>((res) => sync.once('exit', (c) => ((syncExitAt = Date.now()), res(c))));
    // Side sampling: when the copy lands in staging (fetch done), peak RSS of the sync command.
    let fetchedAt = 0;
    let syncHwmKiB = 0;
    const side = setInterval(() => {
      if (!fetchedAt && existsSync(staged)) fetchedAt = Date.now();
      if (sync.exitCode === null) {
        const ps = serverProcesses(sync.pid!);
        syncHwmKiB = Math.max(syncHwmKiB, ps.reduce((a, p) => a + p.hwmKiB, 0));
      }
    }, 50);
    const probe = waitForAnswer(port, data.bigProbe, process.hrtime.bigint(), { intervalMs: 100, timeoutMs: WINDOW_TIMEOUT_MS, abort: serverExit }).then(() => Date.now());
    const loaded = serverLog.waitFor(
      (l) => l.msg === 'dataset loaded' && (l.time ?? l.at) >= t0 && Number(l.entries ?? 0) > SEED_LINES * 2,
      WINDOW_TIMEOUT_MS,
      serverExit,
    );
    probe.catch(() => {}); // awaited below; no unhandled rejection when we bail out earlier
    loaded.catch(() => {});
    const code = await syncCode;
    if (code !== 0) throw new Error(`bin/quorumbl sync big exited ${code}: ${syncLog.lines.slice(-5).map((l) => l.msg ?? JSON.stringify(l)).join(' | ')}`);
    const [answeredAt, loadedLine] = await Promise.all([probe, loaded]);
    const t1 = Math.max(answeredAt, loadedLine.time ?? loadedLine.at);
    clearInterval(side);
    const memPeakDuring = memOf(spid);

    // Tail: 3 s after the swap (snapshot write, old data's garbage), then stop dnsperf.
    await sleep(3000);
    const t2 = Date.now();
    sampler.stop();
    perf.kill('SIGINT');
    await Promise.race([perfDone, sleep(10_000)]);
    await stop(perf);
    writeFileSync(perfOut, perfText);
    const summary = parseSummary(perfText);
    const intervals: Interval[] = parseIntervals(perfText, perfStart);
    const during = windowQps(intervals, t0, t1);
    const leadIn = windowQps(intervals, t0 - 2000, t0); // the first second is dnsperf's start
    const tail = windowQps(intervals, t1, t2);
    const committed = syncLog.find((l) => l.msg === 'sync: new data in place');
    const profile: CpuProfile = sampler.profile(t0, t1);
    const tLoaded = loadedLine.time ?? loadedLine.at;
    const tCommitted = committed ? (committed.time ?? committed.at) : syncExitAt;
    const tReload = tLoaded - Number(loadedLine.ms);
    const phases = [
      { phase: 'sync command: start-up + copy (fetch)', from: t0, to: fetchedAt || t0 },
      { phase: 'sync command: parse + guards (worker)', from: fetchedAt || t0, to: tCommitted },
      { phase: 'server: until its next file check', from: tCommitted, to: tReload },
      { phase: 'server: reload (loader thread) + swap', from: tReload, to: t1 },
      { phase: 'after the swap (3 s)', from: t1, to: t2 },
    ].filter((p) => p.to - p.from >= 200).map((p) => {
      const q = windowQps(intervals, p.from, p.to);
      const prof = sampler.profile(p.from, p.to);
      const k = prof.kinds;
      const total = (proc: string): number => r2(prof.processes.filter((x) => x.proc === proc || x.proc.startsWith(`${proc}/`)).reduce((a, x) => a + x.cores, 0));
      return {
        phase: p.phase, fromS: r2((p.from - t0) / 1000), toS: r2((p.to - t0) / 1000), qps: r1(q.qps), worstIntervalQps: r1(q.worst?.qps ?? 0),
        cores: {
          serverChildren: r2(total('server') - (prof.processes.find((x) => x.proc === 'server')?.cores ?? 0)),
          serverMain: k.server?.main ?? 0, serverNewThreads: k.server?.newThreads ?? 0, serverOtherThreads: k.server?.otherThreads ?? 0,
          syncCommand: total('sync CLI'), dnsperf: total('dnsperf'), otherTenants: prof.otherCores, boxBusy: prof.boxBusyCores,
        },
      };
    });
    process.stdout.write(`sync window: ${((t1 - t0) / 1000).toFixed(1)} s, ${fmt(during.qps)} qps (worst 1 s: ${fmt(during.worst?.qps ?? 0)})\n`);

    const idleAfter = await idleRun(port, data.queryFile, spid, IDLE_SECONDS);
    const memAfter = memOf(spid);
    process.stdout.write(`idle after: ${fmt(idleAfter.qps)} qps (worst 1 s: ${fmt(idleAfter.worstIntervalQps)}), RSS ${memAfter.rssMiB} MiB\n`);

    const idle = (idleBefore.qps + idleAfter.qps) / 2;
    const ratio = during.qps / idle;
    const worstRatio = (during.worst?.qps ?? 0) / idle;
    const rel = (t: number): number => r2((t - t0) / 1000);
    report = {
      started, finished: new Date().toISOString(), commit: gitCommit(), host: { ...host, loadavgAtEnd: loadavg().map(r2) },
      settings: { lines: LINES, seedLines: SEED_LINES, idleSeconds: IDLE_SECONDS, dnsperfArgs: PERF_ARGS.join(' '), nice: NICE, checkInterval: '1s', zone: ZONE, data: { bytes: data.bytes, cidrs: data.cidrs } },
      goal: { ratio: GOAL, met: ratio >= GOAL, note: 'qps during the sync window / mean of idle before and after' },
      idleBefore, idleAfter,
      sync: {
        windowSeconds: r2((t1 - t0) / 1000),
        ratioToLeadIn: r2(during.qps / leadIn.qps),
        qps: r1(during.qps), worstIntervalQps: r1(during.worst?.qps ?? 0), ratio: r2(ratio), worstRatio: r2(worstRatio),
        leadInQps: r1(leadIn.qps), tailQps: r1(tail.qps), tailWorstIntervalQps: r1(tail.worst?.qps ?? 0),
        dnsperf: { ...summary, note: 'whole run: 3 s lead-in + window + 3 s tail' },
        intervals: intervals.map((i) => ({ t: rel(i.end), qps: Math.round(i.qps) })),
        timeline: {
          // seconds from the sync command's start
          fetched: fetchedAt ? rel(fetchedAt) : null,
          committed: committed ? rel(committed.time ?? committed.at) : null,
          syncExited: rel(syncExitAt),
          reloadLoaded: rel(loadedLine.time ?? loadedLine.at),
          bigProbeAnswered: rel(answeredAt),
        },
        syncEngineMs: committed ? Number(committed.ms) : null,
        syncProcessSeconds: r2((syncExitAt - t0) / 1000),
        reloadMs: Number(loadedLine.ms),
        entriesLoaded: Number(loadedLine.entries),
        profile,
        phases,
      },
      memory: {
        serverRssBeforeMiB: memBefore.rssMiB, serverRssAfterMiB: memAfter.rssMiB, serverPeakMiB: memAfter.hwmMiB,
        serverPeakAtReloadMiB: memPeakDuring.hwmMiB, serverPeakBeforeSyncMiB: memBefore.hwmMiB, syncCliPeakMiB: MiB(syncHwmKiB),
      },
    };
    printReport(report);
  } catch (e) {
    keep = true;
    process.stdout.write(`\nFAILED: ${(e as Error).message}\nserver log tail:\n${serverLog.lines.slice(-10).map((l) => '  | ' + (l.msg ?? '') + ' ' + JSON.stringify(l).slice(0, 300)).join('\n')}\nlogs kept in ${workDir}\n`);
    process.exitCode = 1;
  } finally {
    await stop(server);
  }
  if (report) {
    mkdirSync(dirname(OUT), { recursive: true });
    writeFileSync(OUT, JSON.stringify(report, null, 2) + '\n');
    process.stdout.write(`\nresults written to ${OUT}${keep ? `; logs in ${workDir}` : ''}\n`);
  }
}

function gitCommit(): string {
  try {
    return execFileSync('git', ['-C', repo, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
  } catch {
    return '?';
  }
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
function printReport(r: any): void {
  const s = r.sync;
  const tl = s.timeline;
  const rows: Array<[string, string]> = [
    ['cores (nproc) / load average', `${r.host.nproc} / start ${r.host.loadavgAtStart.join(' ')}, end ${r.host.loadavgAtEnd.join(' ')}; other tenants ${r.host.otherLoadBeforeCores} cores before start`],
    ['idle qps before / after', `${fmt(r.idleBefore.qps)} / ${fmt(r.idleAfter.qps)} (worst 1 s: ${fmt(r.idleBefore.worstIntervalQps)} / ${fmt(r.idleAfter.worstIntervalQps)})`],
    ['qps during sync (overall)', `${fmt(s.qps)} over ${s.windowSeconds} s (dnsperf at steady state just before: ${fmt(s.leadInQps)})`],
    ['qps during sync (worst 1 s)', fmt(s.worstIntervalQps)],
    ['ratio during / idle', `${s.ratio.toFixed(2)}x (worst 1 s: ${s.worstRatio.toFixed(2)}x); goal >= ${GOAL}x: ${r.goal.met ? 'MET' : 'NOT MET'}; vs the 2 s just before: ${s.ratioToLeadIn.toFixed(2)}x`],
    ['qps in the 3 s after the swap', `${fmt(s.tailQps)} (worst 1 s: ${fmt(s.tailWorstIntervalQps)})`],
    ['sync (fetch+parse+guards)', `${s.syncEngineMs !== null ? (s.syncEngineMs / 1000).toFixed(1) : '?'} s in the engine (copy done at ${tl.fetched ?? '?'} s); command ran ${s.syncProcessSeconds} s${r.settings.nice !== null ? ` under nice -n ${r.settings.nice}` : ''}`],
    ['server reload', `${(s.reloadMs / 1000).toFixed(1)} s in the loader thread (${fmt(s.entriesLoaded)} ranges), done at ${tl.reloadLoaded} s; probe answered at ${tl.bigProbeAnswered} s`],
    ['server RSS before / after / peak', `${r.memory.serverRssBeforeMiB} / ${r.memory.serverRssAfterMiB} / ${r.memory.serverPeakMiB} MiB (VmHWM); sync command peak ${r.memory.syncCliPeakMiB} MiB`],
  ];
  const w = Math.max(...rows.map((x) => x[0].length));
  process.stdout.write('\n' + rows.map(([k, v]) => `  ${k.padEnd(w)}  ${v}`).join('\n') + '\n');
  process.stdout.write(`\n  CPU during the sync window (${s.profile.seconds} s; box busy ${s.profile.boxBusyCores} of ${r.host.nproc} cores, other tenants ${s.profile.otherCores}):\n`);
  for (const t of s.profile.threads.slice(0, 12)) {
    process.stdout.write(`    ${t.proc.padEnd(16)} ${`${t.thread}${t.threads > 1 ? ` x${t.threads}` : ''}`.padEnd(22)} ${t.cpuSeconds.toFixed(2).padStart(7)} s  ${t.cores.toFixed(2)} cores${t.nice ? `  nice ${t.nice}` : ''}\n`);
  }
  process.stdout.write(`\n  phases (s from the sync command's start; cores used by: server main thread / server threads started in the window / sync command / dnsperf / other tenants):\n`);
  for (const p of s.phases) {
    const c = p.cores;
    process.stdout.write(`    ${`${p.fromS}-${p.toS}`.padEnd(12)} ${p.phase.padEnd(40)} ${fmt(p.qps).padStart(7)} qps (worst ${fmt(p.worstIntervalQps).padStart(6)})  ` +
      `${c.serverMain.toFixed(2)} / ${c.serverNewThreads.toFixed(2)} / ${c.syncCommand.toFixed(2)} / ${c.dnsperf.toFixed(2)} / ${c.otherTenants.toFixed(2)}\n`);
  }
  process.stdout.write(`  per-second qps (s from sync start): ${s.intervals.map((i: { t: number; qps: number }) => `${i.t}:${fmt(i.qps)}`).join(' ')}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`sync bench: ${(e as Error)?.stack ?? String(e)}\n`);
  process.exit(1);
});
