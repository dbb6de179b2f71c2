import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDb } from '../../core/db.ts';
import { SyncState, sourcePaths } from '../../sync/state.ts';
import { sourcesCommand } from '../../cli/sources.ts';
import type { SourceStats } from '../../sync/guards.ts';

const T0 = Date.parse('2024-06-01T12:00:00Z');

const stats = (entries: number): SourceStats => ({
  kind: 'ip', entries, lines: entries, errors: 0, addresses4: entries, forbidden: [], widest4: 32, widest6: null, testPoint: true,
});

/** A state dir with a real SQLite file: 'drop' synced fine, 'psbl' has a quarantined update, 'dshield' failed. */
function setup() {
  const stateDir = mkdtempSync(join(tmpdir(), 'qbl-sources-'));
  const dbPath = join(stateDir, 'state.db');
  const db = openDb(dbPath);
  let t = T0 - 3 * 3_600_000;
  const state = new SyncState(db, () => t);
  state.finishOk(state.beginRun('drop'), { stats: stats(1234), bytes: 10 });
  state.finishOk(state.beginRun('psbl'), { stats: stats(41_230), bytes: 500_000 });
  t += 3_600_000;
  const p = sourcePaths(stateDir, 'psbl');
  mkdirSync(p.quarantine, { recursive: true });
  writeFileSync(p.current, 'old good copy\n');
  const qfile = join(p.quarantine, '2024-06-01T10-00-00-000Z');
  writeFileSync(qfile, 'quarantined copy\n');
  state.finishQuarantined(state.beginRun('psbl'), {
    reasons: ['entries shrank from 41,230 to 3,102 (-92%), limit -50%', 'the RFC 5782 test point 127.0.0.2 is missing (this source promises it)'],
    path: qfile, stats: stats(3102), bytes: 17, validators: { etag: 'q' },
  });
  t += 2 * 3_600_000 - 5 * 60_000;
  state.finishFailed(state.beginRun('dshield'), 'HTTP 500 from https://feeds.example/block.txt');
  db.close();
  const ctx = (extra: object = {}) => {
    const o = { out: '', err: '' };
    return {
      o,
      ctx: {
        dbPath, stateDir, sources: [{ name: 'drop' }, { name: 'psbl' }, { name: 'dshield' }, { name: 'fresh' }],
        out: (s: string) => void (o.out += s), err: (s: string) => void (o.err += s), now: () => T0, ...extra,
      },
    };
  };
  return { stateDir, dbPath, qfile, current: p.current, ctx };
}

test('sources prints a table: age of last success, last outcome, entries, quarantine with its reason', async () => {
  const { ctx } = setup();
  const { o, ctx: c } = ctx();
  assert.equal(await sourcesCommand([], c), 0);
  const lines = o.out.split('\n');
  assert.match(lines[0]!, /^NAME\s+LAST SUCCESS\s+LAST ATTEMPT\s+ENTRIES\s+QUARANTINED$/);
  assert.match(o.out, /^drop\s+3h ago\s+ok, 3h ago\s+1,234\s+no$/m);
  assert.match(o.out, /^psbl\s+3h ago\s+quarantined, 2h ago\s+41,230\s+yes, 2h ago: entries shrank from 41,230 to 3,102 \(-92%\), limit -50% \(\+1 more\)$/m);
  assert.match(o.out, /^dshield\s+never\s+failed, 5m ago\s+-\s+no$/m);
  assert.match(o.out, /^fresh\s+never\s+never\s+-\s+no$/m);
  // Details below the table: the failure and every quarantine reason with what to do.
  assert.match(o.out, /dshield: last sync failed: HTTP 500 from https:\/\/feeds.example\/block.txt/);
  assert.match(o.out, /the RFC 5782 test point 127\.0\.0\.2 is missing/);
  assert.match(o.out, /quorumbl sources accept psbl/);
  assert.equal(o.err, '');
});

test('sources --json gives the same facts in machine form', async () => {
  const { ctx, qfile } = setup();
  const { o, ctx: c } = ctx();
  assert.equal(await sourcesCommand(['--json'], c), 0);
  const list = JSON.parse(o.out) as any[];
  assert.deepEqual(list.map((s) => s.name), ['drop', 'psbl', 'dshield', 'fresh']);
  const psbl = list[1];
  assert.equal(psbl.lastOutcome, 'quarantined');
  assert.equal(psbl.lastSuccess, '2024-06-01T09:00:00Z');
  assert.equal(psbl.entries, 41_230);
  assert.equal(psbl.quarantine.path, qfile);
  assert.equal(psbl.quarantine.reasons.length, 2);
  assert.equal(psbl.quarantine.stats.entries, 3102);
  assert.equal(list[3].lastAttempt, null);
  assert.equal(list[3].quarantine, null);
});

test('sources accept promotes the quarantined file to current, clears the quarantine and records an ok run', async () => {
  const { ctx, qfile, current, dbPath } = setup();
  const { o, ctx: c } = ctx();
  assert.equal(await sourcesCommand(['accept', 'psbl'], c), 0);
  assert.equal(readFileSync(current, 'utf8'), 'quarantined copy\n');
  assert.equal(existsSync(qfile), false);
  assert.match(o.out, /accepted the quarantined update of 'psbl' \(quarantined 2h ago, 3,102 entries, 17 bytes\)/);
  assert.match(o.out, /entries shrank from 41,230 to 3,102/);
  assert.match(o.out, new RegExp(`last good copy: ${current.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}`));
  const db = openDb(dbPath);
  const state = new SyncState(db);
  const s = state.getSource('psbl')!;
  assert.equal(s.quarantine, null);
  assert.equal(s.entries, 3102);
  assert.equal(s.lastOutcome, 'ok');
  assert.deepEqual(s.validators, { etag: 'q' });
  const run = state.recentRuns('psbl')[0]!;
  assert.equal(run.outcome, 'ok');
  assert.equal(run.note, 'accepted by operator');
  db.close();

  // Nothing left to accept.
  const again = ctx();
  assert.equal(await sourcesCommand(['accept', 'psbl'], again.ctx), 1);
  assert.match(again.o.err, /source 'psbl' has no quarantined update: nothing to accept/);
});

test('sources drop deletes the quarantined file and clears the quarantine; the good copy stays', async () => {
  const { ctx, qfile, current, dbPath } = setup();
  const { o, ctx: c } = ctx();
  assert.equal(await sourcesCommand(['drop', 'psbl'], c), 0);
  assert.equal(existsSync(qfile), false);
  assert.equal(readFileSync(current, 'utf8'), 'old good copy\n');
  assert.match(o.out, /dropped the quarantined update of 'psbl'/);
  const db = openDb(dbPath);
  const s = new SyncState(db).getSource('psbl')!;
  assert.equal(s.quarantine, null);
  assert.equal(s.entries, 41_230);
  db.close();
  const again = ctx();
  assert.equal(await sourcesCommand(['drop', 'psbl'], again.ctx), 1);
  assert.match(again.o.err, /nothing to drop/);
});

test('unknown sources, sources without quarantine, and a missing quarantined file are clear errors (exit 1)', async () => {
  const { ctx, qfile } = setup();
  let r = ctx();
  assert.equal(await sourcesCommand(['accept', 'nosuch'], r.ctx), 1);
  assert.match(r.o.err, /unknown source 'nosuch'; configured sources: drop, psbl, dshield, fresh/);
  r = ctx();
  assert.equal(await sourcesCommand(['drop', 'drop'], r.ctx), 1);
  assert.match(r.o.err, /source 'drop' has no quarantined update/);
  r = ctx();
  assert.equal(await sourcesCommand(['accept', 'fresh'], r.ctx), 1, 'configured but never synced');
  // The file vanished behind our back: accept refuses, drop still clears the record.
  const { rmSync } = await import('node:fs');
  rmSync(qfile);
  r = ctx();
  assert.equal(await sourcesCommand(['accept', 'psbl'], r.ctx), 1);
  assert.match(r.o.err, /that file is missing; 'quorumbl sources drop psbl' forgets it/);
  r = ctx();
  assert.equal(await sourcesCommand(['drop', 'psbl'], r.ctx), 0);
  assert.match(r.o.out, /was already gone/);
});

test('usage errors exit 2; sources no longer in the config still show', async () => {
  const { ctx } = setup();
  let r = ctx();
  assert.equal(await sourcesCommand(['accept'], r.ctx), 2);
  assert.match(r.o.err, /usage: quorumbl sources/);
  r = ctx();
  assert.equal(await sourcesCommand(['frobnicate'], r.ctx), 2);
  r = ctx({ sources: [{ name: 'drop' }] });
  assert.equal(await sourcesCommand([], r.ctx), 0);
  assert.match(r.o.out, /^psbl \(not in config\)/m);
});

test('sources show lists one source with its recent runs', async () => {
  const { ctx } = setup();
  const r = ctx();
  assert.equal(await sourcesCommand(['show', 'psbl'], r.ctx), 0);
  assert.match(r.o.out, /last good copy: 41,230 entries/);
  assert.match(r.o.out, /STARTED\s+DURATION\s+OUTCOME/);
  assert.match(r.o.out, /quarantined/);
  assert.match(r.o.out, /2024-06-01T09:00:00Z\s+0\.0s\s+ok\s+500,000\s+41,230/);
});

test('an unusable database path is reported with the path (exit 1)', async () => {
  const { ctx, stateDir } = setup();
  const r = ctx({ dbPath: stateDir });
  assert.equal(await sourcesCommand([], r.ctx), 1);
  assert.match(r.o.err, new RegExp(`cannot open the state database ${stateDir.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}`));
});

test('sources accept and drop are audited (cli:<user>, source:<name>, the quarantine before); a failed audit write leaves the decision undone', async () => {
  const { readAudit } = await import('../../sync/local/audit.ts');
  let f = setup();
  let r = f.ctx({ user: 'alice' });
  assert.equal(await sourcesCommand(['accept', 'psbl'], r.ctx), 0, r.o.err);
  let db = openDb(f.dbPath);
  let a = readAudit(db);
  assert.deepEqual(a.map((e) => [e.action, e.actor, e.target, e.at]), [['source.accept', 'cli:alice', 'source:psbl', T0]]);
  assert.match(JSON.stringify(a[0]!.before), /entries shrank from 41,230 to 3,102/);
  assert.deepEqual(a[0]!.after, { current: f.current, bytes: 17 });
  db.close();
  r = f.ctx({ user: 'alice' });
  assert.equal(await sourcesCommand(['accept', 'psbl'], r.ctx), 1);
  db = openDb(f.dbPath);
  assert.equal(readAudit(db).length, 1, 'a refused accept is not a decision');
  db.close();

  f = setup();
  r = f.ctx({ user: 'bob' });
  assert.equal(await sourcesCommand(['drop', 'psbl'], r.ctx), 0, r.o.err);
  db = openDb(f.dbPath);
  a = readAudit(db);
  assert.deepEqual(a.map((e) => [e.action, e.actor, e.target]), [['source.drop', 'cli:bob', 'source:psbl']]);
  assert.deepEqual(a[0]!.after, { deleted: f.qfile });
  db.close();

  // The audit row cannot be written: the quarantine stays recorded, the command says why.
  f = setup();
  db = openDb(f.dbPath);
  db.exec(`CREATE TRIGGER no_audit BEFORE INSERT ON audit_log BEGIN SELECT RAISE(ABORT, 'simulated write failure'); END`);
  db.close();
  r = f.ctx({ user: 'bob' });
  assert.equal(await sourcesCommand(['drop', 'psbl'], r.ctx), 1);
  assert.match(r.o.err, /cannot record the drop of 'psbl' in .*: simulated write failure/);
  db = openDb(f.dbPath);
  assert.notEqual(new SyncState(db).getSource('psbl')!.quarantine, null, 'not cleared without its audit row');
  db.close();
  r = f.ctx({ user: 'bob' });
  assert.equal(await sourcesCommand(['drop', 'psbl'], r.ctx), 1, 'still failing while the log cannot be written');
  assert.match(r.o.err, /simulated write failure/);
});
