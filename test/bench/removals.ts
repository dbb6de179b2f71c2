// Removal requests over 100k stored ones (in a real SQLite file): filing one (validation, the
// per-client and global hour counts, the open-per-key count, the insert) and the Requests page's
// list of 200, mean of 500 each.
//   node --import tsx test/bench/removals.ts
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDb } from '../../core/db.ts';
import { LocalStore } from '../../sync/local/store.ts';
import { Removals } from '../../sync/local/removals.ts';
const db = openDb(join(mkdtempSync(join(tmpdir(), 'qbl-rb-')), 's.sqlite'));
const store = new LocalStore(db, { reputation: { half_life: 604800, cap: 10 } });
const ins = db.prepare("INSERT INTO removal_requests (key, contact, message, client, created, state) VALUES (?, 'a@example.net', 'm', ?, ?, ?)");
const old = Date.now() - 86400_000 * 30;
db.transaction(() => { for (let i = 0; i < 100_000; i++) ins.run(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, `c${i % 5000}`, old + i, i % 3 ? 'rejected' : 'approved'); })();
const r = new Removals(store, { perClientHour: 5, globalHour: 1000, maxMessage: 2000, openPerKey: 3 });
const t0 = process.hrtime.bigint();
for (let i = 0; i < 500; i++) r.file({ key: `192.0.2.${i % 250}`, contact: 'a@example.net', message: 'fixed', client: `x${i}` });
const t1 = process.hrtime.bigint();
for (let i = 0; i < 500; i++) r.list({ limit: 200 });
const t2 = process.hrtime.bigint();
console.log(`file: ${(Number(t1 - t0) / 1e6 / 500).toFixed(3)} ms each; list(200): ${(Number(t2 - t1) / 1e6 / 500).toFixed(3)} ms each; openCount ${r.openCount()}`);
