// Disk trouble classified from real errors, and the state-disk watcher on a real tmpfs: full
// (filled to the last block), read-only (remounted), and back.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { openDb } from '../../core/db.ts';
import { diskCodeOf, diskErrorOf, diskPathOf } from '../../core/disk.ts';
import { DiskHealth } from '../../core/disk-health.ts';
import { fill, remount, tmpfs, tmpfsOrSkip, unmountAll } from './tmpfs.ts';

const skip = tmpfsOrSkip();
after(unmountAll);

function capture() {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk, _e, cb) {
      for (const l of String(chunk).split('\n')) if (l.trim()) lines.push(JSON.parse(l));
      cb();
    },
  });
  return { log: pino({ level: 'info' }, sink), lines };
}

function thrown(f: () => unknown): unknown {
  try {
    f();
  } catch (e) {
    return e;
  }
  assert.fail('expected a throw');
}

test('diskErrorOf: SQLite and errno codes, through cause chains; other errors are not disk trouble', () => {
  const db = openDb(join(mkdtempSync(join(tmpdir(), 'qbl-disk-')), 's.sqlite'));
  db.pragma('query_only = ON');
  const ro = thrown(() => db.prepare('INSERT INTO audit_log (at, actor, action, target) VALUES (1, ?, ?, ?)').run('a', 'b', 'c'));
  assert.equal(diskErrorOf(ro), 'readonly');
  assert.equal(diskCodeOf(ro), 'SQLITE_READONLY');
  const wrapped = new Error('https://x/list: write failed', { cause: ro });
  assert.equal(diskErrorOf(wrapped), 'readonly');
  const enoent = thrown(() => writeFileSync('/nonexistent-dir/x', 'a'));
  assert.equal(diskErrorOf(enoent), null);
  assert.equal(diskErrorOf(new Error('plain')), null);
  assert.equal(diskErrorOf(null), null);
  assert.equal(diskErrorOf(Object.assign(new Error('x'), { code: 'SQLITE_IOERR_WRITE' })), 'io');
  assert.equal(diskErrorOf(Object.assign(new Error('x'), { code: 'SQLITE_FULL' })), 'full');
  assert.equal(diskErrorOf(Object.assign(new Error('x'), { code: 'SQLITE_BUSY' })), null);
  db.close();
});

test('a full tmpfs: ENOSPC and SQLITE_FULL are "full"; the watcher logs once, refuses, and clears only on proof', { skip }, () => {
  const dir = tmpfs('4m');
  const db = openDb(join(dir, 'q.sqlite'));
  let t = 1_000_000;
  const { log, lines } = capture();
  const h = new DiskHealth({ dir, dbPath: join(dir, 'q.sqlite'), log, intervalMs: 5000, minFreeBytes: 256 * 1024, now: () => t,
    sqliteProbe: () => void db.pragma('user_version = 1') });
  assert.equal(h.probe(), 'writable');
  assert.equal(h.refusal(), null);
  fill(join(dir, 'filler'));
  const enospc = thrown(() => writeFileSync(join(dir, 'more'), Buffer.alloc(65536)));
  assert.equal(diskErrorOf(enospc), 'full');
  assert.equal(diskPathOf(enospc), undefined, 'a failed write(2) names no file: the reporter gives the path');
  const sqlFull = thrown(() => {
    for (let i = 0; i < 1000; i++) db.prepare('INSERT INTO audit_log (at, actor, action, target, after) VALUES (?, ?, ?, ?, ?)').run(i, 'a', 'b', 'c', 'x'.repeat(4000));
  });
  assert.equal(diskCodeOf(sqlFull), 'SQLITE_FULL');
  assert.equal(h.report(sqlFull), true);
  assert.equal(h.report(new Error('not disk')), false);
  assert.equal(h.state, 'full');
  assert.equal(h.writable, false);
  assert.equal(h.refusal()!.message, `the state disk is full (SQLITE_FULL writing ${join(dir, 'q.sqlite')}): writes are refused until space returns`);
  h.report(enospc);
  h.report(sqlFull);
  assert.equal(lines.filter((l) => l.level === 50).length, 1, 'logged once when it started');
  // Still full: the probe keeps it so.
  t += 10_000;
  assert.equal(h.probe(), 'full');
  // Space returns; a write fails again just before the probe: not cleared yet (one interval).
  rmSync(join(dir, 'filler'));
  h.report(sqlFull);
  t += 1;
  assert.equal(h.probe(), 'full');
  // One interval later, with space, a file write and a database write: cleared, logged once.
  t += 5000;
  assert.equal(h.probe(), 'writable');
  assert.equal(lines.filter((l) => /^state disk writable again/.test(String(l.msg))).length, 1);
  const st = h.status();
  assert.equal(st.state, 'writable');
  assert.ok(st.last_errors.some((e) => e.code === 'SQLITE_FULL' && e.count >= 2), JSON.stringify(st.last_errors));
  // A full disk found by the probe alone (nobody wrote).
  fill(join(dir, 'filler'));
  assert.equal(h.probe(), 'full');
  rmSync(join(dir, 'filler'));
  t += 5000;
  assert.equal(h.probe(), 'writable');
  db.close();
});

test('a database probe that fails keeps the fault even when the file probe works', { skip }, () => {
  const dir = tmpfs('2m');
  const db = openDb(join(dir, 'q.sqlite'));
  let t = 0;
  const { log } = capture();
  const h = new DiskHealth({ dir, log, now: () => t, minFreeBytes: 1024, sqliteProbe: () => void db.pragma('user_version = 1') });
  db.pragma('query_only = ON');
  h.report(thrown(() => db.pragma('user_version = 2')));
  assert.equal(h.state, 'read-only');
  t += 10_000;
  assert.equal(h.probe(), 'read-only');
  db.pragma('query_only = OFF');
  t += 10_000;
  assert.equal(h.probe(), 'writable');
  db.close();
});

test('a read-only remount is seen by the probe and clears when writable again', { skip }, () => {
  const dir = tmpfs('2m');
  let t = 0;
  const { log, lines } = capture();
  const h = new DiskHealth({ dir, log, now: () => t, minFreeBytes: 1024 });
  remount(dir, 'ro');
  try {
    assert.equal(h.probe(), 'read-only');
    assert.match(h.refusal()!.message, /^the state directory is read-only \(EROFS writing /);
  } finally {
    remount(dir, 'rw');
  }
  t += 10_000;
  assert.equal(h.probe(), 'writable');
  assert.equal(lines.length, 2);
});
