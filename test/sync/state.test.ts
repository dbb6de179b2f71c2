import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDb } from '../../core/db.ts';
import { SyncState, sourcePaths, quarantineSnapshotPath, promoteQuarantineSnapshot, removeQuarantined } from '../../sync/state.ts';
import type { SourceStats } from '../../sync/guards.ts';

function setup() {
  const path = join(mkdtempSync(join(tmpdir(), 'qbl-state-')), 'state.db');
  const db = openDb(path);
  let t = 1_700_000_000_000;
  const clock = { now: () => t, advance: (ms: number) => (t += ms) };
  return { db, path, state: new SyncState(db, clock.now), clock };
}

const stats = (entries: number, extra: Partial<SourceStats> = {}): SourceStats => ({
  kind: 'ip', entries, lines: entries + 2, errors: 0, addresses4: entries, forbidden: [], widest4: 32, widest6: null, testPoint: true, ...extra,
});

test('a successful run records the attempt, the success, the stats and the validators', () => {
  const { state, clock, db } = setup();
  const id = state.beginRun('drop');
  const started = clock.now();
  let s = state.getSource('drop')!;
  assert.equal(s.lastAttempt, started);
  assert.equal(s.lastSuccess, null);
  assert.equal(state.recentRuns('drop')[0]!.outcome, null, 'in progress');
  clock.advance(1500);
  state.finishOk(id, { bytes: 4096, stats: stats(1200), validators: { etag: '"abc"', lastModified: 'Sat, 01 Jun 2024 00:00:00 GMT' } });
  s = state.getSource('drop')!;
  assert.equal(s.lastOutcome, 'ok');
  assert.equal(s.lastSuccess, started + 1500);
  assert.equal(s.lastError, null);
  assert.equal(s.entries, 1200);
  assert.deepEqual(s.stats, stats(1200));
  assert.deepEqual(state.lastGoodStats('drop'), stats(1200));
  assert.deepEqual(state.getValidators('drop'), { etag: '"abc"', lastModified: 'Sat, 01 Jun 2024 00:00:00 GMT' });
  assert.deepEqual(state.recentRuns('drop'), [{ id, source: 'drop', started, ended: started + 1500, bytes: 4096, entries: 1200, outcome: 'ok', error: null, note: null, holder: null }]);
  db.close();
});

test('not-modified keeps the last good copy and counts as a success; failures keep it too', () => {
  const { state, clock } = setup();
  state.finishOk(state.beginRun('psbl'), { stats: stats(50), validators: { etag: 'v1' } });
  clock.advance(60_000);
  const nm = state.beginRun('psbl');
  state.finishNotModified(nm);
  let s = state.getSource('psbl')!;
  assert.equal(s.lastOutcome, 'not-modified');
  assert.equal(s.lastSuccess, clock.now());
  assert.equal(s.entries, 50);
  assert.deepEqual(s.validators, { etag: 'v1' });

  clock.advance(60_000);
  const f = state.beginRun('psbl');
  state.finishFailed(f, 'HTTP 500 from https://psbl.example/list.txt', 12);
  s = state.getSource('psbl')!;
  assert.equal(s.lastOutcome, 'failed');
  assert.equal(s.lastError, 'HTTP 500 from https://psbl.example/list.txt');
  assert.equal(s.lastSuccess, clock.now() - 60_000, 'last success unchanged');
  assert.deepEqual(state.lastGoodStats('psbl'), stats(50));
  assert.deepEqual(state.recentRuns('psbl').map((r) => r.outcome), ['failed', 'not-modified', 'ok']);
  assert.equal(state.recentRuns('psbl', 1).length, 1);

  // A later success clears the error.
  state.finishOk(state.beginRun('psbl'), { stats: stats(55) });
  s = state.getSource('psbl')!;
  assert.equal(s.lastError, null);
  assert.deepEqual(s.validators, { etag: 'v1' }, 'validators kept when the run gives none');
});

test('a run cannot be finished twice, nor a run that does not exist', () => {
  const { state } = setup();
  const id = state.beginRun('x');
  state.finishFailed(id, 'boom');
  assert.throws(() => state.finishOk(id, { stats: stats(1) }), /already finished/);
  assert.throws(() => state.finishFailed(9999, 'x'), /does not exist/);
  // The failed attempt to finish again changed nothing.
  assert.equal(state.getSource('x')!.lastOutcome, 'failed');
});

test('quarantine: recorded with reasons, stats and validators; the last good copy is untouched', () => {
  const { state, clock } = setup();
  state.finishOk(state.beginRun('bl'), { stats: stats(41_230), validators: { etag: 'good' } });
  clock.advance(3_600_000);
  const id = state.beginRun('bl');
  const replaced = state.finishQuarantined(id, {
    reasons: ['entries shrank from 41,230 to 3,102 (-92%), limit -50%'],
    path: '/state/sources/bl/quarantine/20240601T000000Z', stats: stats(3102), bytes: 50_000, validators: { etag: 'bad' },
  });
  assert.equal(replaced, null);
  const s = state.getSource('bl')!;
  assert.equal(s.lastOutcome, 'quarantined');
  assert.match(s.lastError!, /^quarantined: entries shrank/);
  assert.deepEqual(state.lastGoodStats('bl'), stats(41_230));
  assert.deepEqual(s.quarantine, {
    reasons: ['entries shrank from 41,230 to 3,102 (-92%), limit -50%'],
    path: '/state/sources/bl/quarantine/20240601T000000Z', at: clock.now(), stats: stats(3102), bytes: 50_000, validators: { etag: 'bad' },
  });
  // The next fetch sends the quarantined copy's validators: an unchanged upstream costs a 304.
  assert.deepEqual(state.getValidators('bl'), { etag: 'bad' });
  const run = state.recentRuns('bl')[0]!;
  assert.equal(run.outcome, 'quarantined');
  assert.equal(run.entries, 3102);

  // A newer quarantined copy replaces the older one, whose file the caller deletes.
  const again = state.finishQuarantined(state.beginRun('bl'), { reasons: ['r2'], path: '/q2', stats: null });
  assert.equal(again, '/state/sources/bl/quarantine/20240601T000000Z');
  assert.deepEqual(state.getQuarantine('bl')!.reasons, ['r2']);

  // Dropping forgets it; the good copy's validators apply again.
  const dropped = state.clearQuarantine('bl');
  assert.equal(dropped!.path, '/q2');
  assert.equal(state.getQuarantine('bl'), null);
  assert.equal(state.clearQuarantine('bl'), null);
  assert.deepEqual(state.getValidators('bl'), { etag: 'good' });
});

test('a good update supersedes a quarantined one (accepting the old one later would roll back)', () => {
  const { state } = setup();
  state.finishQuarantined(state.beginRun('s'), { reasons: ['r'], path: '/q/old', stats: stats(1) });
  const superseded = state.finishOk(state.beginRun('s'), { stats: stats(100) });
  assert.equal(superseded, '/q/old');
  assert.equal(state.getQuarantine('s'), null);
  assert.equal(state.finishOk(state.beginRun('s'), { stats: stats(100) }), null);
});

test('accepting a quarantined copy makes it the last good copy and records an ok run', () => {
  const { state, clock } = setup();
  state.finishOk(state.beginRun('bl'), { stats: stats(1000), validators: { etag: 'old' } });
  state.finishQuarantined(state.beginRun('bl'), { reasons: ['grew'], path: '/q/1', stats: stats(9000), bytes: 777, validators: { etag: 'new', lastModified: 'lm' } });
  clock.advance(10_000);
  const r = state.acceptQuarantine('bl')!;
  assert.equal(r.quarantine.path, '/q/1');
  assert.equal(r.run.outcome, 'ok');
  assert.equal(r.run.note, 'accepted by operator');
  assert.equal(r.run.entries, 9000);
  assert.equal(r.run.bytes, 777);
  const s = state.getSource('bl')!;
  assert.equal(s.quarantine, null);
  assert.equal(s.lastOutcome, 'ok');
  assert.equal(s.lastSuccess, clock.now());
  assert.equal(s.lastError, null);
  assert.equal(s.entries, 9000);
  assert.deepEqual(s.stats, stats(9000));
  assert.deepEqual(s.validators, { etag: 'new', lastModified: 'lm' });
  assert.equal(state.acceptQuarantine('bl'), null, 'nothing left to accept');
});

test('validators can be set directly; unknown sources have none', () => {
  const { state } = setup();
  assert.deepEqual(state.getValidators('nope'), {});
  assert.equal(state.getSource('nope'), null);
  assert.equal(state.lastGoodStats('nope'), null);
  state.setValidators('a', { lastModified: 'Mon' });
  assert.deepEqual(state.getValidators('a'), { lastModified: 'Mon' });
  state.setValidators('a', {});
  assert.deepEqual(state.getValidators('a'), {});
});

test('listSources returns every source with its state, by name; state survives a reopen', () => {
  const { state, db, path } = setup();
  state.finishOk(state.beginRun('zeta'), { stats: stats(3) });
  state.finishFailed(state.beginRun('alpha'), 'timeout');
  state.setQuarantine('mid', { reasons: ['x'], path: '/q', at: 5, stats: null, bytes: null, validators: {} });
  assert.deepEqual(state.listSources().map((s) => s.name), ['alpha', 'mid', 'zeta']);
  db.close();
  const db2 = openDb(path);
  const again = new SyncState(db2);
  assert.equal(again.getSource('alpha')!.lastError, 'timeout');
  assert.equal(again.getSource('zeta')!.entries, 3);
  assert.equal(again.getQuarantine('mid')!.at, 5);
  again.forget('zeta');
  assert.equal(again.getSource('zeta'), null);
  assert.equal(again.recentRuns('zeta').length, 0, 'history goes with the source');
  db2.close();
});

test('runs left in progress by a stopped process are marked failed at start-up', () => {
  const { state } = setup();
  const a = state.beginRun('a');
  state.finishOk(state.beginRun('b'), { stats: stats(1) });
  assert.equal(state.abandonRunning(), 1);
  const r = state.run(a)!;
  assert.equal(r.outcome, 'failed');
  assert.match(r.error!, /interrupted/);
});

test('abandonRunning leaves alone a run whose lease holder is alive: a second process never closes it', () => {
  const { state } = setup();
  const live = state.beginRun('a', 'token-live');
  const dead = state.beginRun('b', 'token-dead');
  const legacy = state.beginRun('c'); // a run from before leases: no holder recorded
  const seen: [string, string | null][] = [];
  const n = state.abandonRunning((source, holder) => {
    seen.push([source, holder]);
    return holder === 'token-live';
  });
  assert.equal(n, 2);
  assert.deepEqual(seen.sort(), [['a', 'token-live'], ['b', 'token-dead'], ['c', null]]);
  assert.equal(state.run(live)!.outcome, null, 'the live run is still open');
  assert.match(state.run(dead)!.error!, /interrupted/);
  assert.equal(state.run(legacy)!.outcome, 'failed');
  // The live holder finishes normally: no "already finished" error.
  state.finishOk(live, { stats: stats(2) });
  assert.equal(state.run(live)!.outcome, 'ok');
  // Restricted to one source.
  const x = state.beginRun('x', 't1');
  const y = state.beginRun('y', 't2');
  assert.equal(state.abandonRunning(() => false, 'x'), 1);
  assert.equal(state.run(x)!.outcome, 'failed');
  assert.equal(state.run(y)!.outcome, null);
});

test('generation moves when the last good copy is replaced (sync ok, accepted quarantine), not otherwise', () => {
  const { state, clock } = setup();
  state.finishOk(state.beginRun('a'), { stats: stats(1) });
  assert.equal(state.generations().get('a'), 1);
  state.finishNotModified(state.beginRun('a'));
  state.finishFailed(state.beginRun('a'), 'boom');
  state.finishQuarantined(state.beginRun('a'), { reasons: ['shrink'], path: '/q/1', stats: stats(0) });
  assert.equal(state.generations().get('a'), 1, 'not-modified, failed and quarantined leave the copy as it was');
  state.acceptQuarantine('a');
  assert.equal(state.generations().get('a'), 2);
  const since = clock.now();
  clock.advance(10);
  assert.equal(state.finishedSince('a', since + 1), null);
  const id = state.beginRun('a');
  state.finishOk(id, { stats: stats(3) });
  assert.equal(state.finishedSince('a', since + 1)!.id, id);
});

test('sourcePaths lays out current, staging and quarantine under the state dir, and rejects odd names', () => {
  assert.deepEqual(sourcePaths('/st', 'spamhaus-drop'), {
    dir: '/st/sources/spamhaus-drop', current: '/st/sources/spamhaus-drop/current',
    staging: '/st/sources/spamhaus-drop/staging', quarantine: '/st/sources/spamhaus-drop/quarantine',
  });
  for (const bad of ['../etc', 'a/b', '', '.hidden']) assert.throws(() => sourcePaths('/st', bad), /invalid source name/);
});

test('a quarantined copy keeps its parsed snapshot beside it: accept moves it to snapshots/, drop deletes it', () => {
  const dir = mkdtempSync(join(tmpdir(), 'qbl-qsnap-'));
  const q = join(dir, 'sources', 'trap', 'quarantine');
  mkdirSync(q, { recursive: true });
  const a = join(q, '2026-01-01T00-00-00-000Z');
  const b = join(q, '2026-01-02T00-00-00-000Z');
  for (const f of [a, b]) writeFileSync(f, 'data');
  const snap = join(dir, 'snapshots', '0123456789abcdef0123456789abcdef.qsnap');
  writeFileSync(quarantineSnapshotPath(a, snap), 'snapshot a');
  writeFileSync(quarantineSnapshotPath(b, snap), 'snapshot b');
  assert.equal(quarantineSnapshotPath(a, snap), `${a}.0123456789abcdef0123456789abcdef.qsnap`);
  removeQuarantined(a);
  assert.deepEqual(readdirSync(q).sort(), [basenameOf(b), `${basenameOf(b)}.0123456789abcdef0123456789abcdef.qsnap`], "only a's files are gone");
  assert.equal(promoteQuarantineSnapshot(dir, b), true);
  assert.ok(existsSync(snap));
  assert.deepEqual(readdirSync(q), [basenameOf(b)]);
  assert.equal(promoteQuarantineSnapshot(dir, b), false, 'nothing left to move');
});

function basenameOf(p: string): string {
  return p.slice(p.lastIndexOf('/') + 1);
}

test('failureCounts: totals and streaks per source, read incrementally; a run still open when counted is counted once it fails', () => {
  const { state } = setup();
  state.finishFailed(state.beginRun('a'), 'HTTP 500');
  state.finishOk(state.beginRun('a'), { stats: stats(10) });
  const open = state.beginRun('b'); // a sync still running (another process)
  state.finishFailed(state.beginRun('a'), 'timeout');
  let c = state.failureCounts();
  assert.deepEqual(c.get('a'), { total: 2, consecutive: 1 });
  assert.deepEqual(c.get('b'), { total: 0, consecutive: 0 });
  state.finishFailed(open, 'HTTP 503');
  state.finishFailed(state.beginRun('a'), 'timeout');
  c = state.failureCounts();
  assert.deepEqual(c.get('a'), { total: 3, consecutive: 2 });
  assert.deepEqual(c.get('b'), { total: 1, consecutive: 1 });
  // Read again with nothing new: the same, nothing counted twice.
  assert.deepEqual(state.failureCounts(), c);
  state.finishOk(state.beginRun('a'), { stats: stats(10) });
  assert.deepEqual(state.failureCounts().get('a'), { total: 3, consecutive: 0 });
});
