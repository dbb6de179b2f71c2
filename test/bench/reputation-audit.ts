// The console's Reputation and Audit pages over 100k events: the top keys (rank index), a page of
// recent events (filtered, keyset), and the audit log's filters, median of 10 runs each, on an
// in-memory state database with the real schema, filled through Reputation.report (so 100k
// audit rows too) over 30 simulated days.
//   node --import tsx test/bench/reputation-audit.ts [events] [keys]
import { openDb } from '../../core/db.ts';
import { pageAudit, parseAuditFilter } from '../../sync/local/audit.ts';
import { Reputation, type ReportKind } from '../../sync/local/reputation.ts';

const n = Number(process.argv[2] ?? 100_000);
const keys = Number(process.argv[3] ?? 100_000);
const db = openDb(':memory:');
const t0 = Date.parse('2026-11-01T00:00:00Z');
let now = t0;
const rep = new Reputation(db, { half_life: 7 * 86400, cap: 10, bar: 3 }, () => now);
const kinds: ReportKind[] = ['spam', 'spam', 'spam', 'trap', 'ham', 'false-positive'];
let seed = 1;
const rnd = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
const fill = process.hrtime.bigint();
db.transaction(() => {
  for (let i = 0; i < n; i++) {
    now = t0 + Math.floor((i / n) * 30 * 86_400_000);
    const k = Math.floor(rnd() ** 2 * keys); // some keys get many reports
    const key = k % 10 === 0 ? `host${k}.example.net` : `10.${(k >> 16) & 255}.${(k >> 8) & 255}.${k & 255}`;
    rep.report({ key, kind: kinds[Math.floor(rnd() * kinds.length)], reporter: `mta${i % 5}`, note: `bulk ${i}` }, i % 3 ? `token:mta${i % 5}` : 'user:alice');
  }
})();
const fillMs = Number(process.hrtime.bigint() - fill) / 1e6;
const median = (f: () => unknown) => {
  const ms: number[] = [];
  for (let i = 0; i < 10; i++) {
    const s = process.hrtime.bigint();
    f();
    ms.push(Number(process.hrtime.bigint() - s) / 1e6);
  }
  return ms.sort((a, b) => a - b)[5]!.toFixed(2);
};
const scored = db.prepare('SELECT count(*) FROM reputation_scores').pluck().get();
const audit = db.prepare('SELECT count(*) FROM audit_log').pluck().get();
console.log(`${n} events on ${scored} keys, ${audit} audit rows (filled in ${(fillMs / 1000).toFixed(1)} s); ms per call (median of 10)`);
const mid = Math.floor(n / 2);
console.log('top 20 keys + count over the bar   ', median(() => rep.top(20)));
// What the rank index saves: decaying every key's score in SQL and sorting (a full scan).
const scan = db.prepare('SELECT key, score * pow(0.5, (? - at) / (half_life * 1000.0)) AS s FROM reputation_scores ORDER BY s DESC LIMIT 20');
console.log('  (the same by a full scan)        ', median(() => scan.all(now)));
console.log('events page 1                      ', median(() => rep.recent({ limit: 50 })));
console.log(`events before id ${mid}           `, median(() => rep.recent({ before: mid, limit: 50 })));
console.log('events kind=false-positive         ', median(() => rep.recent({ kind: 'false-positive', limit: 50 })));
console.log('events reporter=mta3               ', median(() => rep.recent({ reporter: 'mta3', limit: 50 })));
console.log('events of one key                  ', median(() => rep.recent({ key: '10.0.0.1', limit: 50 })));
const q = (t: Record<string, string>) => () => pageAudit(db, { ...parseAuditFilter(t), limit: 50 });
console.log('audit page 1                       ', median(q({})));
console.log(`audit before id ${mid}            `, median(q({ before: String(mid) })));
console.log('audit actor=user:alice             ', median(q({ actor: 'user:alice' })));
console.log('audit action=reputation.false-pos. ', median(q({ action: 'reputation.false-positive' })));
console.log('audit action prefix reputation.    ', median(q({ action: 'reputation.' })));
console.log('audit one key                      ', median(q({ target: '10.0.0.1' })));
console.log('audit since/until one day (old)    ', median(q({ since: '2026-11-03', until: '2026-11-03' })));
console.log('audit actor + one day              ', median(q({ actor: 'user:alice', since: '2026-11-03', until: '2026-11-03' })));
console.log('audit unknown actor                ', median(q({ actor: 'user:nobody' })));
// The worst case for the count over the bar: every key over it (an index-only range count).
db.exec(`UPDATE reputation_scores SET score = 5, at = ${now}, rank = log2(5) + ${now} / (half_life * 1000.0)`);
console.log(`top 20 + count, all ${scored} keys over the bar`, median(() => rep.top(20)));
