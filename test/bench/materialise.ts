// Materialise benchmark (issue 12, requirement 2): records() of bl over 1M listed IPv4 keys
// (random /32s, 0.2% /20../28 CIDRs, 30% listed by both sources: two answers), a provider feed,
// 1,000 overrides and 1,000 scored keys. Prints the time to iterate every record, the records
// and owner names, the longest single next() (what a transfer slicing between packets waits
// at most), and peak RSS (VmHWM) before and after.
//
//   node --import tsx test/bench/materialise.ts
//   MAT_KEYS=100k MAT_DOMAINS=1M node --import tsx test/bench/materialise.ts   # dbl too

import { RangeBuilder4, emptyRangeSet6 } from '../../core/ranges.ts';
import { buildEvidence } from '../../sync/merge/evidence.ts';
import { MergeView } from '../../sync/merge/evaluate.ts';
import { mergedDatasets } from '../../sync/merge/datasets.ts';
import { Overlay } from '../../sync/local/overlay.ts';
import type { Override } from '../../sync/local/overrides.ts';
import type { ScoreState } from '../../sync/local/reputation.ts';
import type { Dataset } from '../../core/datasets/types.ts';
import { DEFAULT_MAX_EXPANSION } from '../../core/zones/records.ts';
import { mulberry32 as rng, count, vm } from './datagen.ts';

const nKeys = count(process.env.MAT_KEYS, 1_000_000);
const nDomains = count(process.env.MAT_DOMAINS, 0);
const dotted = (x: number): string => `${x >>> 24}.${(x >>> 16) & 255}.${(x >>> 8) & 255}.${x & 255}`;

const r = rng(20261206);
const a = new RangeBuilder4(nKeys);
const b = new RangeBuilder4(nKeys);
for (let i = 0; i < nKeys; i++) {
  const x = r() % 1000;
  if (x < 998) {
    const ip = r() >>> 0;
    a.add(ip, ip);
    if (x < 300) b.add(ip, ip);
  } else {
    const bits = 20 + (r() % 9);
    const size = 2 ** (32 - bits);
    const start = (r() & ~(size - 1)) >>> 0;
    a.add(start, start + size - 1);
  }
}
const feed = new RangeBuilder4();
for (let i = 0; i < 50; i++) {
  const size = 2 ** (32 - (16 + (r() % 9)));
  const start = (r() & ~(size - 1)) >>> 0;
  feed.add(start, start + size - 1);
}
const names: string[] = [];
for (let i = 0; i < nDomains; i++) names.push(`${i % 10 === 0 ? '*.' : ''}h${r().toString(36)}.d${r() % 50000}.${['com', 'net', 'org'][i % 3]}`);
const evidence = buildEvidence({
  sources: [
    { name: 'a', weight: 1, v4: a.build(), v6: emptyRangeSet6(), domains: [...new Set(names)].sort() },
    { name: 'b', weight: 1, v4: b.build(), v6: emptyRangeSet6(), domains: [] },
  ],
  providers: [{ name: 'feed', v4: feed.build(), v6: emptyRangeSet6() }],
});
const now = Date.now();
const overrides: Override[] = [];
for (let i = 0; i < 1000; i++) {
  const len = [32, 32, 24][i % 3]!;
  const ip = (r() >>> (32 - len)) << (32 - len) >>> 0;
  overrides.push({ id: i + 1, key: len === 32 ? dotted(ip) : `${dotted(ip)}/${len}`, kind: 'ip4', action: i % 2 ? 'allow' : 'deny', reason: 'bench', author: 'b', created: 0, expires: null });
}
const scores: ScoreState[] = [];
for (let i = 0; i < 1000; i++) scores.push({ key: dotted(r() >>> 0), keyKind: 'ip4', score: 6, at: now, events: 3 });
const view = new MergeView(evidence, { threshold: 1, consensus: 2, providerExempt: true, providerBar: 5, reputationBar: 3, protectedDomains: [], weights: [] },
  new Overlay(overrides.filter((o, i, all) => all.findIndex((x) => x.key === o.key) === i), scores, { halfLife: 86400, builtAt: now }));
const zones = mergedDatasets(view, { base: 'dnsbl.internal', lookupUrl: 'https://dnsbl.example.org/lookup?q=$', ttl: 300 });
console.log(`evidence: ${evidence.starts4.length} IPv4 intervals, ${evidence.domains.length} domain entries; RSS ${vm('VmRSS').toFixed(0)} MiB, peak ${vm('VmHWM').toFixed(0)} MiB`);

function run(name: string, ds: Dataset): void {
  const hwm0 = vm('VmHWM');
  const problems: string[] = [];
  const t0 = performance.now();
  let records = 0;
  let bytes = 0;
  let longest = 0;
  const owners = new Set<string>();
  const it = ds.records!({ maxExpansion: DEFAULT_MAX_EXPANSION, report: (p) => problems.push(p) })[Symbol.iterator]();
  for (;;) {
    const s = performance.now();
    const n = it.next();
    const d = performance.now() - s;
    if (d > longest) longest = d;
    if (n.done) break;
    records++;
    bytes += n.value.name.length + n.value.data.length;
    if (records % 16 === 0 && owners.size < 1) owners.add(n.value.name);
  }
  const ms = performance.now() - t0;
  console.log(`${name}: ${records} records in ${(ms / 1000).toFixed(2)} s (${Math.round(records / (ms / 1000))}/s), ` +
    `${(bytes / 1048576).toFixed(0)} MiB of names+data, longest next() ${longest.toFixed(1)} ms, ` +
    `peak RSS ${hwm0.toFixed(0)} -> ${vm('VmHWM').toFixed(0)} MiB, ${problems.length} ranges left out`);
}

run('bl', zones.bl);
run('wl', zones.wl);
if (nDomains) run('dbl', zones.dbl);
