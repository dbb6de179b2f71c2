// Merge benchmark (issue 4, requirement 9): 5 sources x 4M entries (seeded random /32s, a share
// of addresses common to several sources, some CIDRs) + 2 provider feeds, merged in the worker
// thread as the server does it. Prints the time of the whole call (worker start, input copy,
// sweep, transfer back) and peak RSS (VmHWM, all threads). Goal: <= 10 s on the 2-core box.
//
//   node --import tsx test/bench/merge.ts            # 5 x 4M
//   MERGE_SOURCES=5 MERGE_ENTRIES=1M node --import tsx test/bench/merge.ts

import { RangeBuilder4, RangeBuilder6, emptyRangeSet6, type RangeSet4 } from '../../core/ranges.ts';
import { buildEvidenceInWorker } from '../../sync/merge/build.ts';
import type { EvidenceInputs } from '../../sync/merge/types.ts';
import { mulberry32 as rng, count, vm } from './datagen.ts';

const nSources = count(process.env.MERGE_SOURCES, 5);
const nEntries = count(process.env.MERGE_ENTRIES, 4_000_000);

const t0 = performance.now();
const r = rng(20240117);
// addresses several sources agree on (partial overlap between lists)
const shared = new Uint32Array(nEntries);
for (let i = 0; i < shared.length; i++) shared[i] = r();
const sources: EvidenceInputs['sources'] = [];
for (let s = 0; s < nSources; s++) {
  const b = new RangeBuilder4(nEntries);
  for (let i = 0; i < nEntries; i++) {
    const x = r() % 1000;
    if (x < 300) {
      const ip = shared[r() % nEntries]!; // 30%: also in other sources
      b.add(ip, ip);
    } else if (x < 998) {
      const ip = r();
      b.add(ip, ip);
    } else {
      const bits = 20 + (r() % 9); // 0.2%: a /20../28
      const size = 2 ** (32 - bits);
      const start = (r() & ~(size - 1)) >>> 0;
      b.add(start, start + size - 1);
    }
  }
  sources.push({ name: `src${s}`, weight: 1, v4: b.build(), v6: emptyRangeSet6(), domains: [] });
}
const providers: EvidenceInputs['providers'] = [];
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
const ranges = (x: RangeSet4) => x.start.length;
const genS = (performance.now() - t0) / 1000;
const hwmBefore = vm('VmHWM');
console.log(`generated ${nSources} sources x ${nEntries} entries (${sources.map((x) => ranges(x.v4)).join(' + ')} merged ranges) in ${genS.toFixed(1)} s; VmHWM ${hwmBefore.toFixed(0)} MiB`);

const t1 = performance.now();
const { evidence: e } = await buildEvidenceInWorker({ sources, providers, serial: 1 });
const mergeS = (performance.now() - t1) / 1000;
console.log(`merge (worker start + input copy + sweep + transfer back): ${mergeS.toFixed(2)} s  [goal <= 10 s: ${mergeS <= 10 ? 'met' : 'NOT met'}]`);
console.log(`evidence: ${e.starts4.length} IPv4 intervals, ${e.starts6.length / 4} IPv6 intervals, ${e.classSources.length} classes`);
console.log(`peak RSS (VmHWM, all threads): ${vm('VmHWM').toFixed(0)} MiB (before the merge: ${hwmBefore.toFixed(0)} MiB); RSS now ${vm('VmRSS').toFixed(0)} MiB`);
