// Collisions benchmark (issue 10): the per source x provider intersection MergeService runs on the
// main thread after each merge, on test/bench/merge.ts-style data: 5 sources x 4M entries (seeded
// random /32s, 30% shared, 0.2% /20../28) against 2 provider feeds of 50 ranges (/14../24) + 6
// IPv6 ranges, and against a wide feed (32 x /8: 1/8 of the space, ~0.5M hits a source) as a
// worst case. Prints the time of computeCollisions (samples included) and the hits.
//
//   node --import tsx test/bench/collisions.ts
//   MERGE_SOURCES=5 MERGE_ENTRIES=1M node --import tsx test/bench/collisions.ts

import { RangeBuilder4, RangeBuilder6, emptyRangeSet6 } from '../../core/ranges.ts';
import { collidePair, computeCollisions, type CollisionProviderInput, type CollisionSourceInput } from '../../sync/merge/collisions.ts';
import { mulberry32 as rng, count } from './datagen.ts';

const nSources = count(process.env.MERGE_SOURCES, 5);
const nEntries = count(process.env.MERGE_ENTRIES, 4_000_000);
const r = rng(20240117);
const shared = new Uint32Array(nEntries);
for (let i = 0; i < shared.length; i++) shared[i] = r();
const sources: CollisionSourceInput[] = [];
for (let s = 0; s < nSources; s++) {
  const b = new RangeBuilder4(nEntries);
  for (let i = 0; i < nEntries; i++) {
    const x = r() % 1000;
    if (x < 300) {
      const ip = shared[r() % nEntries]!;
      b.add(ip, ip);
    } else if (x < 998) {
      const ip = r();
      b.add(ip, ip);
    } else {
      const bits = 20 + (r() % 9);
      const size = 2 ** (32 - bits);
      const start = (r() & ~(size - 1)) >>> 0;
      b.add(start, start + size - 1);
    }
  }
  sources.push({ name: `src${s}`, v4: b.build(), v6: emptyRangeSet6() });
}
const providers: CollisionProviderInput[] = [];
for (let p = 0; p < 2; p++) {
  const b4 = new RangeBuilder4();
  for (let i = 0; i < 50; i++) {
    const bits = 14 + (r() % 11);
    const size = 2 ** (32 - bits);
    const start = (r() & ~(size - 1)) >>> 0;
    b4.add(start, start + size - 1);
  }
  const b6 = new RangeBuilder6();
  for (let i = 0; i < 6; i++) b6.addWords(0x2a010111, (r() & 0xffff0000) >>> 0, 0, 0, 0x2a010111, (r() | 0xffff) >>> 0, 0xffffffff, 0xffffffff);
  providers.push({ name: `provider${p}`, v4: b4.build(), v6: b6.build() });
}
const wide = new RangeBuilder4();
for (let i = 0; i < 32; i++) wide.add(i * 8 * 2 ** 24, i * 8 * 2 ** 24 + 2 ** 24 - 1);
const worst: CollisionProviderInput = { name: 'wide', v4: wide.build(), v6: emptyRangeSet6() };

function run(label: string, provs: CollisionProviderInput[]): void {
  computeCollisions(sources, provs); // warm-up (JIT)
  const times: number[] = [];
  let pairs = computeCollisions(sources, provs);
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    pairs = computeCollisions(sources, provs);
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  const keys = pairs.reduce((a, p) => a + p.keys, 0);
  const ranges = pairs.reduce((a, p) => a + p.ranges, 0);
  // the longest single pair: the longest event-loop turn of the sliced computation in serve
  let longest = 0;
  for (const s of sources) for (const p of provs) {
    const t0 = performance.now();
    collidePair(s, p);
    longest = Math.max(longest, performance.now() - t0);
  }
  console.log(`${label}: ${pairs.length} pairs, ${keys} keys / ${ranges} source ranges colliding; all pairs median ${times[2]!.toFixed(1)} ms, max ${times[4]!.toFixed(1)} ms; longest pair ${longest.toFixed(1)} ms`);
}

console.log(`${nSources} sources x ${nEntries} entries (${sources.map((s) => s.v4.start.length).join(' + ')} merged ranges)`);
run('2 feeds x 50 ranges + 6 IPv6 (bench/merge.ts)', providers);
run('worst case: a feed of 32 x /8', [worst]);
