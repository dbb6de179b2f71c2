// The long packet fuzzer (issue 9): by default 1M mutated messages, half over UDP and half over
// TCP, against a real `bin/quorumbl serve` (the world of test/fuzz/world.ts) and/or
// `bin/quorumbl rbldnsd`. Prints messages/s, replies, drops, rcodes, RSS at start and end, and
// every decode/echo failure with the seed and the packet hex; writes results/fuzz.json.
//
//   node --import tsx test/bench/fuzz.ts [--count 1000000] [--seed N] [--mode serve|rbldnsd|both] [--out FILE]

import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stopAll } from '../integration/helpers.ts';
import { procInfo } from './proc.ts';
import { Rng, fuzzSeed } from '../fuzz/mutate.ts';
import { describeFailures, emptyStats, fuzzTcp, fuzzUdp, type FuzzStats } from '../fuzz/driver.ts';
import { knownAnswerErrors, startRbldnsdWorld, startServeWorld, type FuzzWorld } from '../fuzz/world.ts';

const HERE = dirname(fileURLToPath(import.meta.url));

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : def;
}

function count(text: string): number {
  const m = /^(\d+(?:\.\d+)?)([kM]?)$/.exec(text);
  if (!m) throw new Error(`--count: "${text}" is not a number like 1000000, 500k or 1M`);
  return Math.round(Number(m[1]) * (m[2] === 'M' ? 1e6 : m[2] === 'k' ? 1e3 : 1));
}

const total = count(arg('count', '1M'));
const seed = fuzzSeed(arg('seed', process.env.FUZZ_SEED ?? ''));
const mode = arg('mode', 'serve');
const out = arg('out', join(HERE, 'results', 'fuzz.json'));
const CHUNK = 50_000;

interface Run {
  mode: string;
  seed: number;
  udp: FuzzStats & { seconds: number; perSecond: number };
  tcp: FuzzStats & { seconds: number; perSecond: number };
  rssStartKiB: number;
  rssEndKiB: number;
  hwmEndKiB: number;
  alive: boolean;
  knownAnswerErrors: string[];
  responderFailuresLogged: number;
}

async function runOne(w: FuzzWorld, s: number): Promise<Run> {
  const t = { host: '127.0.0.1', port: w.port, names: w.names, sentinel: w.sentinel, sentinelOk: w.sentinelOk };
  const r = new Rng(s);
  const rss0 = procInfo(w.proc.pid)?.rssKiB ?? 0;
  const per = Math.ceil(total / 2);
  const res: Partial<Run> = { mode: w.mode, seed: s, rssStartKiB: rss0 };
  for (const proto of ['udp', 'tcp'] as const) {
    const st = emptyStats();
    const t0 = performance.now();
    for (let done = 0; done < per; done += CHUNK) {
      const n = Math.min(CHUNK, per - done);
      if (proto === 'udp') await fuzzUdp(t, r, n, st);
      else await fuzzTcp(t, r, n, st);
      const secs = (performance.now() - t0) / 1000;
      const rss = procInfo(w.proc.pid)?.rssKiB ?? 0;
      console.log(`${w.mode} ${proto}: ${st.sent} sent, ${st.replies} replies, ${st.noReply} no reply, ${st.failures.length} failures, ${Math.round(st.sent / secs)} msg/s, RSS ${Math.round(rss / 1024)} MiB`);
    }
    const seconds = (performance.now() - t0) / 1000;
    res[proto] = { ...st, seconds: Math.round(seconds * 10) / 10, perSecond: Math.round(st.sent / seconds) };
  }
  const info = procInfo(w.proc.pid);
  res.rssEndKiB = info?.rssKiB ?? 0;
  res.hwmEndKiB = info?.hwmKiB ?? 0;
  res.alive = w.proc.exitStatus === null;
  res.knownAnswerErrors = res.alive ? await knownAnswerErrors(w) : ['server exited'];
  res.responderFailuresLogged = w.proc.logs().filter((l) => l.msg === 'query handling failed; packet dropped').length;
  return res as Run;
}

const runs: Run[] = [];
let bad = false;
for (const m of mode === 'both' ? ['serve', 'rbldnsd'] : [mode]) {
  if (m !== 'serve' && m !== 'rbldnsd') throw new Error(`--mode: "${m}" is not serve, rbldnsd or both`);
  const w = m === 'serve' ? await startServeWorld() : await startRbldnsdWorld();
  const s = m === 'serve' ? seed : (seed + 1) >>> 0;
  try {
    const run = await runOne(w, s);
    runs.push(run);
    const failures = [...run.udp.failures, ...run.tcp.failures];
    console.log(
      `\n${m} (seed ${s}): UDP ${run.udp.sent} sent, ${run.udp.replies} replies, ${run.udp.noReply} no reply, ${run.udp.perSecond} msg/s; ` +
        `TCP ${run.tcp.sent} sent, ${run.tcp.replies} replies, ${run.tcp.noReply} no reply, ${run.tcp.perSecond} msg/s\n` +
        `  rcodes UDP ${JSON.stringify(run.udp.rcodes)}\n  rcodes TCP ${JSON.stringify(run.tcp.rcodes)}\n` +
        `  RSS ${Math.round(run.rssStartKiB / 1024)} MiB -> ${Math.round(run.rssEndKiB / 1024)} MiB (peak ${Math.round(run.hwmEndKiB / 1024)} MiB); ` +
        `alive ${run.alive}; known answers ${run.knownAnswerErrors.length ? run.knownAnswerErrors.join('; ') : 'correct'}; responder failures logged ${run.responderFailuresLogged}; decode/echo failures ${failures.length}`,
    );
    if (failures.length) console.log(describeFailures(s, { ...run.udp, failures }, 50));
    if (failures.length || !run.alive || run.knownAnswerErrors.length || run.responderFailuresLogged) bad = true;
  } catch (e) {
    console.error(`${m} (seed ${s}): ${(e as Error).message}\n${w.proc.tail()}`);
    bad = true;
  } finally {
    await stopAll(w.proc);
  }
}
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, JSON.stringify({ date: new Date().toISOString(), node: process.version, count: total, runs }, null, 2) + '\n');
console.log(`wrote ${out}`);
process.exit(bad ? 1 : 0);
