// How long indexing the parents of a big domain source takes (dbl empty non-terminals), and the
// longest event-loop turn meanwhile (DNS packets wait at most that long).
//   node --import tsx test/bench/dbl-parents.ts [entries=1000000]
import { buildEvidence } from '../../sync/merge/evidence.ts';
import { MergeView } from '../../sync/merge/evaluate.ts';
import { emptyRangeSet4, emptyRangeSet6 } from '../../core/ranges.ts';
const n = Number(process.argv[2] ?? 1_000_000);
const tlds = ['com', 'net', 'org', 'info', 'co.uk', 'de', 'ru', 'xyz'];
const domains: string[] = [];
for (let i = 0; i < n; i++) domains.push(`${i % 7 ? '' : 'mail.'}d${i.toString(36)}.${tlds[i % tlds.length]}`);
domains.sort();
const e = buildEvidence({ sources: [{ name: 's', weight: 1, v4: emptyRangeSet4(), v6: emptyRangeSet6(), domains }], providers: [] });
const t0 = process.hrtime.bigint();
const v = new MergeView(e, { threshold: 1, consensus: 2, providerExempt: true, providerBar: 5, reputationBar: 3, protectedDomains: [], weights: [1] });
console.log(`constructor ${(Number(process.hrtime.bigint() - t0) / 1e6).toFixed(1)} ms; while indexing, 'org' -> ${v.hasDomainBelow('org')}`);
// longest gap between two turns of the event loop while indexing
let last = process.hrtime.bigint(); let worst = 0n; let turns = 0;
const tick = () => { const now = process.hrtime.bigint(); if (now - last > worst) worst = now - last; last = now; turns++; if (v.hasDomainBelow('zz-nothing') ) setImmediate(tick); else done(); };
const done = () => console.log(`indexed after ${(Number(process.hrtime.bigint() - t0) / 1e6).toFixed(0)} ms, ${turns} loop turns, longest turn ${(Number(worst) / 1e6).toFixed(1)} ms; com -> ${v.hasDomainBelow('com')}, zz -> ${v.hasDomainBelow('zz')}`);
setImmediate(tick);
