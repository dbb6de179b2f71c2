// Restart benchmark (issue 9, requirement 1): how long `bin/quorumbl serve` with 5 plain-list
// sources x 4M entries takes from process start to its first correct bl answer for a listed key,
// without persisted evidence (first start: SERVFAIL until the first merge ends) and with it
// (a restart: the evidence is loaded before the listeners open), and peak RSS; plus the
// evidence file's size and write time per merge, from the server's log.
//
//   node --import tsx test/bench/restart.ts [--entries 4M] [--sources 5] [--seed 1] [--keep]
//
// Data: the seeded generator of the restart tests (test/integration/restart-kit.ts: 30% of each
// source from a shared pool, the rest random public /32s, a static provider range), fetched from
// local files with `bin/quorumbl sync`. A UDP client sends bl queries for 600 listed keys at
// ~1000 qps from before the process starts; "first correct" is the first reply equal to the truth.
// Phases: (1) first start, (2) restart with the same inputs (restart merge skipped), (3) restart
// after one source changed while down (the old evidence answers; merge in the background).

import { readFileSync } from 'node:fs';
import { loadavg, cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { freePort, makeTmpDir, poll, runQuorumbl, spawnQuorumbl, stopAll, waitForLog, type Proc } from '../integration/helpers.ts';
import { generate, queryLoop, writeServeConfig } from '../integration/restart-kit.ts';
import { parseSize } from './gen.ts';

const { values: opt } = parseArgs({
  options: {
    entries: { type: 'string', default: '4M' },
    sources: { type: 'string', default: '5' },
    seed: { type: 'string', default: '1' },
    keep: { type: 'boolean', default: false },
  },
});
const ENTRIES = parseSize(opt.entries!);
const SOURCES = Number(opt.sources);
const say = (s: string) => process.stderr.write(`[restart] ${s}\n`);
const kB = (pid: number, field: string): number => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
const MiB = (k: number) => Math.round(k / 1024);

async function main(): Promise<void> {
  if (opt.keep) process.env.KEEP_TMP = '1';
  const dir = makeTmpDir('quorumbl-restart-bench-');
  let t = Date.now();
  const data = generate(dir, SOURCES, ENTRIES, Number(opt.seed));
  say(`data: ${SOURCES} x ${ENTRIES} entries generated in ${((Date.now() - t) / 1000).toFixed(1)} s in ${dir}`);
  const port = await freePort();
  const cfg = writeServeConfig(dir, port, data.files);
  t = Date.now();
  const s = await runQuorumbl(['sync', '--config', cfg], { timeoutMs: 1_800_000 });
  if (s.code !== 0) throw new Error(`sync failed:\n${s.output.slice(-2000)}`);
  say(`sync: ${((Date.now() - t) / 1000).toFixed(1)} s`);

  const listed = data.sample.filter((k) => k.what === 'listed'); // (the bench adds no overrides)
  const loop = queryLoop(port, listed, { qps: 1000, blOnly: true, allowServfail: true });
  const results: Record<string, unknown>[] = [];
  const procs: Proc[] = [];
  const phase = async (name: string, ready: (p: Proc) => Promise<unknown>) => {
    loop.mark();
    const wrongBefore = loop.tally.wrong.length;
    const servfailBefore = loop.tally.servfail;
    const startedAt = Date.now();
    const p = spawnQuorumbl(['serve', '--config', cfg]);
    procs.push(p);
    const first = await poll(async () => loop.tally.firstCorrectAfterMark ?? undefined, 'a correct answer', { timeoutMs: 1_800_000, intervalMs: 20, describe: () => p.tail() });
    await ready(p);
    await new Promise((r) => setTimeout(r, 2000));
    const logs = p.logs();
    const at = (m: string) => logs.find((r) => typeof r.msg === 'string' && r.msg.startsWith(m));
    const loaded = at('persisted evidence loaded');
    const persisted = at('evidence persisted');
    const merge = at('merge done');
    const serving = at('serving');
    const r = {
      phase: name,
      firstCorrectMs: first - startedAt,
      listeningMs: serving ? Date.parse(String(serving.time)) - startedAt : null,
      evidenceLoadMs: loaded?.ms ?? null,
      mergeMs: merge?.ms ?? null,
      evidenceBytes: persisted?.bytes ?? loaded?.bytes ?? null,
      evidenceWriteMs: persisted?.ms ?? null,
      peakRssMiB: MiB(kB(p.pid, 'VmHWM')),
      rssMiB: MiB(kB(p.pid, 'VmRSS')),
      wrongAnswers: loop.tally.wrong.length - wrongBefore,
      wrong: loop.tally.wrong.slice(wrongBefore, wrongBefore + 5),
      servfailReplies: loop.tally.servfail - servfailBefore,
      load1: loadavg()[0]!.toFixed(1),
    };
    results.push(r);
    say(JSON.stringify(r));
    await p.stop();
  };
  try {
    await phase('first start (no evidence)', (p) => waitForLog(p, 0, (r) => r.msg === 'evidence persisted', 'evidence persisted', 1_800_000));
    await phase('restart, same inputs', (p) => waitForLog(p, 0, (r) => r.msg === 'merge skipped: the persisted evidence was built from these inputs', 'merge skipped', 600_000));
    data.changeSource0(99);
    const s2 = await runQuorumbl(['sync', 'src0', '--config', cfg], { timeoutMs: 1_800_000 });
    if (s2.code !== 0) throw new Error(`sync src0 failed:\n${s2.output.slice(-2000)}`);
    await phase('restart, one source changed', (p) => waitForLog(p, 0, (r) => r.msg === 'evidence persisted', 'evidence persisted', 1_800_000));
  } finally {
    await loop.stop();
    await stopAll(...procs);
  }
  process.stdout.write(JSON.stringify({ benchmark: 'restart', when: new Date().toISOString(), sources: SOURCES, entries: ENTRIES, cores: cpus().length, results }, null, 2) + '\n');
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).stack ?? e}\n`);
  process.exit(1);
});
