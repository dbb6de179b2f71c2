// Packet fuzzing of the real servers: mutated queries (mutate.ts) over UDP and TCP against
// `bin/quorumbl serve` (merged zones, mirrors, rbldnsd zones, EDNS, test points) and
// `bin/quorumbl rbldnsd`. Every reply must decode with dns-packet, carry the query's ID and QR
// and echo its question; afterwards the server must be alive, answer known names correctly and
// not have logged a failed query. FUZZ_SEED=N repeats a run; FUZZ_COUNT=N sets the messages per
// transport and server (default 50000 for serve, 20000 for rbldnsd mode).

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { stopAll, toolsOrSkip } from '../integration/helpers.ts';
import { procInfo } from '../bench/proc.ts';
import { Rng, fuzzSeed } from './mutate.ts';
import { describeFailures, emptyStats, fuzzTcp, fuzzUdp, type FuzzStats } from './driver.ts';
import { knownAnswerErrors, startRbldnsdWorld, startServeWorld, type FuzzWorld } from './world.ts';

const skip = toolsOrSkip(['dig']);
const SEED = fuzzSeed();
const COUNT = process.env.FUZZ_COUNT ? Number(process.env.FUZZ_COUNT) : undefined;

function rssKiB(w: FuzzWorld): number {
  return procInfo(w.proc.pid)?.rssKiB ?? 0;
}

function summary(what: string, s: FuzzStats): string {
  return `${what}: sent ${s.sent}, replies ${s.replies}, no reply ${s.noReply}, rcodes ${JSON.stringify(s.rcodes)}, failures ${s.failures.length}`;
}

/** Runs UDP then TCP against one world and checks everything a user would notice. */
async function fuzzWorld(w: FuzzWorld, count: number, seed: number): Promise<void> {
  const target = { host: '127.0.0.1', port: w.port, names: w.names, sentinel: w.sentinel, sentinelOk: w.sentinelOk };
  const r = new Rng(seed);
  const rss0 = rssKiB(w);
  const udp = emptyStats();
  const tcp = emptyStats();
  try {
    await fuzzUdp(target, r, count, udp);
    await fuzzTcp(target, r, count, tcp);
  } catch (e) {
    throw new Error(`FUZZ_SEED=${seed}: ${(e as Error).message}\nserver output:\n${w.proc.tail()}`);
  }
  const rss1 = rssKiB(w);
  console.log(`# ${w.mode} FUZZ_SEED=${seed}\n# ${summary('udp', udp)}\n# ${summary('tcp', tcp)}\n# RSS ${rss0} KiB -> ${rss1} KiB`);
  assert.equal(udp.failures.length + tcp.failures.length, 0, describeFailures(seed, { ...udp, failures: [...udp.failures, ...tcp.failures] }));
  assert.ok(udp.sent >= count && tcp.sent >= count, 'all messages were sent');
  // Guard against a test that cannot fail: most of the messages get some reply.
  assert.ok(udp.replies > count / 4 && tcp.replies > count / 4, `${summary('udp', udp)}\n${summary('tcp', tcp)}`);
  assert.equal(w.proc.exitStatus, null, `the server exited during the run (FUZZ_SEED=${seed}):\n${w.proc.tail()}`);
  assert.deepEqual(await knownAnswerErrors(w), [], `known answers after the run (FUZZ_SEED=${seed})`);
  const failed = w.proc.logs().filter((l) => l.msg === 'query handling failed; packet dropped');
  assert.deepEqual(failed, [], `the responder threw on a fuzz message (FUZZ_SEED=${seed})`);
  // Generous on purpose (no flaky size assertion): a leak per message would pass 4x quickly.
  assert.ok(rss1 < 4 * rss0, `RSS ran away: ${rss0} KiB -> ${rss1} KiB (FUZZ_SEED=${seed})`);
}

describe('packet fuzzer: quorumbl serve', { skip }, () => {
  let w: FuzzWorld | undefined;
  before(async () => {
    w = await startServeWorld();
  });
  after(() => stopAll(w?.proc));

  test(`mutated UDP and TCP queries (FUZZ_SEED=${SEED})`, { timeout: 300_000 }, async () => {
    await fuzzWorld(w!, COUNT ?? 50_000, SEED);
  });
});

describe('packet fuzzer: quorumbl rbldnsd', { skip }, () => {
  let w: FuzzWorld | undefined;
  before(async () => {
    w = await startRbldnsdWorld();
  });
  after(() => stopAll(w?.proc));

  test(`mutated UDP and TCP queries (FUZZ_SEED=${SEED + 1})`, { timeout: 300_000 }, async () => {
    await fuzzWorld(w!, COUNT ?? 20_000, (SEED + 1) >>> 0);
  });
});
