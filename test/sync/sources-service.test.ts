// The decision service on a real SQLite file and real files: what happens when a decision fails
// halfway (the audit row cannot be written: nothing is decided, both files are where they were),
// when the quarantine changed since the operator looked, and what the summary of a quarantined
// update says.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDb } from '../../core/db.ts';
import { SyncState, sourcePaths } from '../../sync/state.ts';
import { DecisionFailed, NoQuarantine, QuarantineChanged, SourcesService, UnknownSource } from '../../sync/sources-service.ts';
import { readAudit } from '../../sync/local/audit.ts';
import type { SourceStats } from '../../sync/guards.ts';

const stats = (entries: number): SourceStats => ({
  kind: 'ip', entries, lines: entries, errors: 0, addresses4: entries, forbidden: [], widest4: 32, widest6: null, testPoint: true,
});

function setup() {
  const stateDir = mkdtempSync(join(tmpdir(), 'qbl-sources-svc-'));
  const db = openDb(join(stateDir, 'state.db'));
  const state = new SyncState(db);
  state.finishOk(state.beginRun('psbl'), { stats: stats(40_000), bytes: 10 });
  const p = sourcePaths(stateDir, 'psbl');
  mkdirSync(p.quarantine, { recursive: true });
  writeFileSync(p.current, 'old good copy\n');
  const qfile = join(p.quarantine, 'q1');
  writeFileSync(qfile, 'quarantined copy\n');
  state.finishQuarantined(state.beginRun('psbl'), { reasons: ['entries shrank from 40,000 to 4,000 (-90%), limit -50%'], path: qfile, stats: stats(4000), bytes: 17 });
  const svc = new SourcesService(db, { stateDir, sources: [{ name: 'psbl', min_interval: 3600 }, { name: 'spamcop' }] });
  return { db, state, svc, qfile, current: p.current };
}

test('the view: state in words, and what accepting the quarantine would change (before -> after, share)', () => {
  const { svc } = setup();
  const [psbl, spamcop] = svc.list();
  assert.equal(psbl!.status, 'quarantined');
  assert.deepEqual(psbl!.quarantine!.change, {
    entriesBefore: 40_000, entriesAfter: 4000, entriesDelta: -36_000, entriesShare: -0.9,
    addresses4Before: 40_000, addresses4After: 4000, addresses4Share: -0.9, errorsAfter: 0, linesAfter: 4000,
  });
  assert.equal(spamcop!.status, 'never-synced');
  assert.throws(() => svc.get('nosuch'), (e) => e instanceof UnknownSource && e.status === 404 && /configured sources: psbl, spamcop/.test(e.message));
});

test('an accept whose audit row cannot be written decides nothing: both files back in place, the quarantine still recorded', () => {
  const { db, state, svc, qfile, current } = setup();
  db.exec(`CREATE TRIGGER no_audit BEFORE INSERT ON audit_log BEGIN SELECT RAISE(ABORT, 'simulated write failure'); END`);
  assert.throws(() => svc.decide('psbl', 'accept', 'user:olga'), (e) => e instanceof DecisionFailed && /cannot record the accept of 'psbl' in the state database: simulated write failure/.test(e.message));
  assert.equal(readFileSync(current, 'utf8'), 'old good copy\n');
  assert.equal(readFileSync(qfile, 'utf8'), 'quarantined copy\n');
  assert.equal(existsSync(`${current}.before-accept`), false);
  assert.equal(state.getSource('psbl')!.entries, 40_000);
  assert.equal(state.getQuarantine('psbl')!.path, qfile);
  // The log writable again: the same decision goes through.
  db.exec('DROP TRIGGER no_audit');
  const r = svc.decide('psbl', 'accept', 'user:olga');
  assert.equal(r.run!.note, 'accepted by operator');
  assert.equal(readFileSync(current, 'utf8'), 'quarantined copy\n');
  assert.equal(existsSync(`${current}.before-accept`), false);
  assert.deepEqual(readAudit(db).map((e) => [e.action, e.actor]), [['source.accept', 'user:olga']]);
});

test('a drop whose audit row cannot be written keeps the quarantined file and its record', () => {
  const { db, state, svc, qfile } = setup();
  db.exec(`CREATE TRIGGER no_audit BEFORE INSERT ON audit_log BEGIN SELECT RAISE(ABORT, 'simulated write failure'); END`);
  assert.throws(() => svc.decide('psbl', 'drop', 'token:ops'), DecisionFailed);
  assert.equal(existsSync(qfile), true);
  assert.notEqual(state.getQuarantine('psbl'), null);
});

test('a decision on a quarantine the operator did not see (a newer one since) is refused; none at all is NoQuarantine', () => {
  const { state, svc, qfile } = setup();
  const seen = state.getQuarantine('psbl')!.at;
  assert.throws(() => svc.decide('psbl', 'accept', 'user:olga', { quarantinedAt: seen - 1 }), (e) => e instanceof QuarantineChanged && e.status === 409 && /changed since you looked/.test(e.message));
  assert.equal(existsSync(qfile), true);
  svc.decide('psbl', 'drop', 'user:olga', { quarantinedAt: seen });
  assert.throws(() => svc.decide('psbl', 'drop', 'user:olga'), (e) => e instanceof NoQuarantine && e.message === "source 'psbl' has no quarantined update: nothing to drop");
});
