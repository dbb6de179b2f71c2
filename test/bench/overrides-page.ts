// The console's Overrides list over 100k overrides: a page (filtered, keyset) and the CSV export's
// row walk, median of 10 runs each, on an in-memory state database with the real schema.
//   node --import tsx test/bench/overrides-page.ts [rows]
import { openDb } from '../../core/db.ts';
import { Overrides } from '../../sync/local/overrides.ts';

const n = Number(process.argv[2] ?? 100_000);
const db = openDb(':memory:');
const now = Date.now();
const ins = db.prepare('INSERT INTO overrides (key, kind, action, reason, author, created, expires) VALUES (?, ?, ?, ?, ?, ?, ?)');
db.transaction(() => {
  for (let i = 0; i < n; i++) ins.run(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, 'ip4', i % 3 ? 'deny' : 'allow', `bulk reason ${i}`, `seed${i % 7}`, now - i, i % 5 === 0 ? now - 1000 : null);
})();
const o = new Overrides(db);
const median = (f: () => unknown) => {
  const ms: number[] = [];
  for (let i = 0; i < 10; i++) {
    const s = process.hrtime.bigint();
    f();
    ms.push(Number(process.hrtime.bigint() - s) / 1e6);
  }
  return ms.sort((a, b) => a - b)[5]!.toFixed(1);
};
const mid = Math.floor(n / 2);
console.log(`${n} overrides; ms per call (median of 10), page = 50 rows + count of matches + older/newer`);
console.log('page 1, active          ', median(() => o.page({}, { limit: 50 })));
console.log(`page before id ${mid}    `, median(() => o.page({}, { before: mid, limit: 50 })));
console.log('search q="reason 9999"  ', median(() => o.page({ q: 'reason 9999' }, { limit: 50 })));
console.log('author + action filter  ', median(() => o.page({ author: 'seed3', action: 'deny' }, { limit: 50 })));
console.log('expired                 ', median(() => o.page({ status: 'expired' }, { limit: 50 })));
console.log('author suggestions      ', median(() => o.authors()));
console.log('export walk, all rows   ', median(() => { let k = 0; for (const _ of o.each({ status: 'all' })) k++; return k; }));
