// `npm run bench`: rbldnsd vs `bin/quorumbl rbldnsd` on generated 1M/10M ip4set zones.
// See test/bench/README.md. Env: BENCH_SIZES (1M,10M), BENCH_DURATION (15),
// BENCH_SERVERS (rbldnsd,quorumbl), BENCH_LATENCY_QPS (20000), BENCH_USER (nobody), BENCH_READY_TIMEOUT (300),
// BENCH_ROUNDS (1), BENCH_SYNC=1 (then run test/bench/sync.ts),
// BENCH_OUT; flag --quick.
import { execFileSync, spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureDataset, parseSize, sizeLabel } from './gen.ts';
import { setDnsperfPath } from './dnsperf.ts';
import { installCleanupHandlers } from './proc.ts';
import { formatTable, TARGETS, verdicts } from './report.ts';
import { runServer, type RunSettings, type ServerResult, type ServerSpec } from './run.ts';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '../..');

function fail(msg: string): never {
  process.stderr.write(`bench: ${msg}\n`);
  process.exit(2);
}

function findExecutable(name: string, extraDirs: string[] = []): string | null {
  const dirs = [...(process.env.PATH ?? '').split(':'), ...extraDirs].filter(Boolean);
  for (const d of dirs) {
    const p = join(d, name);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      /* next */
    }
  }
  return null;
}

function version(cmd: string, args: string[], re: RegExp): string {
  try {
    const out = execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    return re.exec(out)?.[1] ?? out.trim().split('\n')[0] ?? '?';
  } catch (e) {
    const out = String((e as { stdout?: string }).stdout ?? '') + String((e as { stderr?: string }).stderr ?? '');
    return re.exec(out)?.[1] ?? '?';
  }
}

function gitCommit(): string {
  try {
    return execFileSync('git', ['-C', repo, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
  } catch {
    return '?';
  }
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write('usage: npm run bench [-- --quick]\nenv: BENCH_SIZES=1M,10M BENCH_DURATION=15 BENCH_SERVERS=rbldnsd,quorumbl BENCH_LATENCY_QPS=20000 BENCH_USER=nobody BENCH_READY_TIMEOUT=300 BENCH_ROUNDS=1 BENCH_OUT=file\n');
    return;
  }
  const unknown = argv.filter((a) => a !== '--quick');
  if (unknown.length) fail(`unknown argument(s): ${unknown.join(' ')} (try --help)`);
  const quick = argv.includes('--quick');

  const rbldnsd = findExecutable('rbldnsd', ['/usr/sbin', '/usr/local/sbin']);
  if (!rbldnsd) fail('rbldnsd not found (PATH, /usr/sbin). Install it: apt-get install rbldnsd');
  const dnsperf = findExecutable('dnsperf');
  if (!dnsperf) fail('dnsperf not found on PATH. Install it: apt-get install dnsperf');
  setDnsperfPath(dnsperf);
  if (process.getuid?.() !== 0) process.stderr.write('bench: note: not root; rbldnsd -u nobody may fail, run as root\n');

  const wanted = (process.env.BENCH_SERVERS ?? 'rbldnsd,quorumbl').split(',').map((s) => s.trim()).filter(Boolean);
  const quorumbl = join(repo, 'bin/quorumbl');
  const servers: ServerSpec[] = [];
  for (const w of wanted) {
    if (w === 'rbldnsd') servers.push({ name: 'rbldnsd', cmd: rbldnsd, prefix: [] });
    else if (w === 'quorumbl') {
      if (!existsSync(quorumbl)) fail(`${quorumbl} does not exist (set BENCH_SERVERS=rbldnsd to measure rbldnsd alone)`);
      servers.push({ name: 'quorumbl', cmd: quorumbl, prefix: ['rbldnsd'] });
    } else fail(`unknown server "${w}" in BENCH_SERVERS (rbldnsd, quorumbl)`);
  }

  const sizes = quick ? [100_000] : (process.env.BENCH_SIZES ?? '1M,10M').split(',').map(parseSize);
  const roundsWanted = Number(process.env.BENCH_ROUNDS ?? 1);
  if (!(Number.isInteger(roundsWanted) && roundsWanted >= 1)) fail('BENCH_ROUNDS must be a positive integer');
  const seconds = Number(process.env.BENCH_DURATION ?? (quick ? 3 : 15));
  if (!(seconds > 0)) fail('BENCH_DURATION must be a positive number of seconds');
  const settings: Omit<RunSettings, 'workDir'> = {
    seconds,
    warmupSeconds: quick ? 1 : 2,
    latencySeconds: quick ? 2 : 5,
    latencyQps: Number(process.env.BENCH_LATENCY_QPS ?? 20000),
    readyTimeoutMs: Number(process.env.BENCH_READY_TIMEOUT ?? 300) * 1000,
    user: process.env.BENCH_USER ?? 'nobody',
  };

  installCleanupHandlers();
  const cacheRoot = join(here, '.cache');
  mkdirSync(cacheRoot, { recursive: true });
  const workDir = mkdtempSync(join(tmpdir(), 'quorumbl-bench-'));
  let keepLogs = false;
  process.on('exit', () => keepLogs || rmSync(workDir, { recursive: true, force: true }));
  const startedAt = new Date().toISOString();
  const host = {
    cpu: cpus()[0]?.model ?? '?', cores: cpus().length, memGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version, rbldnsd: version('dpkg-query', ['-W', '-f', '${Version}', 'rbldnsd'], /(.+)/),
    dnsperf: version(dnsperf, ['-h'], /Version (\S+)/), loadavgAtStart: loadavg().map((x) => Math.round(x * 100) / 100),
  };
  process.stdout.write(
    `quorumbl bench (${quick ? 'quick' : 'full'}): sizes ${sizes.map(sizeLabel).join(', ')}; dnsperf -c 1 -q 200 for ${seconds} s; ` +
      `p99 from dnsperf -v at ${settings.latencyQps} qps for ${settings.latencySeconds} s\n` +
      `host: ${host.cores}x ${host.cpu}, load ${host.loadavgAtStart.join(' ')}; logs in ${workDir}\n`,
  );

  const sizeResults = [];
  let failed = false;
  for (const n of sizes) {
    const label = sizeLabel(n);
    process.stdout.write(`\n== ip4set ${label}\n`);
    const ds = ensureDataset(cacheRoot, n);
    process.stdout.write(
      `  data: ${ds.entries.toLocaleString('en-US')} /32 + ${ds.ranges.s24}/24 + ${ds.ranges.s20}/20 + ${ds.ranges.s16}/16, ` +
        `${ds.ranges.excl} exclusions, ${(ds.bytes / 2 ** 20).toFixed(0)} MiB` +
        (ds.genSeconds ? `, generated in ${ds.genSeconds.toFixed(1)} s\n` : ' (cached)\n'),
    );
    // Rounds alternate the servers so that both see similar background load; the round with
    // the best qps represents each server (the least disturbed one).
    const rounds: ServerResult[][] = [];
    for (let round = 1; round <= roundsWanted; round++) {
      if (roundsWanted > 1) process.stdout.write(`  round ${round}/${roundsWanted}\n`);
      const got: ServerResult[] = [];
      for (const spec of servers) {
        const res = await runServer(spec, ds, `${label}-r${round}`, { ...settings, workDir });
        if (!res.ok) failed = true;
        got.push(res);
      }
      rounds.push(got);
    }
    const results = servers.map((spec) => {
      const mine = rounds.map((r) => r.find((x) => x.server === spec.name)!);
      return mine.filter((x) => x.ok).sort((a, b) => b.throughput!.qps - a.throughput!.qps)[0] ?? mine[0]!;
    });
    const v = verdicts(n, results.find((r) => r.server === 'rbldnsd'), results.find((r) => r.server === 'quorumbl'));
    const title = `\nip4set ${label}${roundsWanted > 1 ? ` (best of ${roundsWanted} rounds)` : ''}: qps from dnsperf -c 1 -q 200 over ${seconds} s (saturated); p-latencies at a fixed ${settings.latencyQps} qps`;
    process.stdout.write(formatTable(title, results, v) + '\n');
    sizeResults.push({ size: label, entries: n, ranges: ds.ranges, dataBytes: ds.bytes, results, verdicts: v, rounds: roundsWanted > 1 ? rounds : undefined });
  }

  const report = {
    startedAt, finishedAt: new Date().toISOString(), quick, commit: gitCommit(), host,
    settings: { sizes: sizes.map(sizeLabel), rounds: roundsWanted, ...settings, dnsperfArgs: '-c 1 -q 200 -t 2', latencyMethod: 'dnsperf -v (per-query latency) at a fixed -Q rate, separate run' },
    targets: TARGETS, sizes: sizeResults,
  };
  const out = process.env.BENCH_OUT ?? join(here, 'results', quick ? 'quick.json' : 'latest.json');
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, JSON.stringify(report, null, 2) + '\n');
  process.stdout.write(`\nresults written to ${out}\n`);
  // BENCH_SYNC=1: the sync benchmark (test/bench/sync.ts, see README) runs after the comparison.
  if (process.env.BENCH_SYNC === '1') {
    process.stdout.write('\n== sync benchmark (BENCH_SYNC=1)\n');
    if (spawnSync(process.execPath, ['--import', 'tsx', join(here, 'sync.ts')], { stdio: 'inherit', cwd: repo }).status !== 0) failed = true;
  }
  keepLogs = failed;
  if (failed) process.stdout.write(`server logs kept in ${workDir}\n`);
  process.exitCode = failed ? 1 : 0;
}

main().catch((e: unknown) => {
  process.stderr.write(`bench: ${(e as Error)?.stack ?? String(e)}\n`);
  process.exit(1);
});
