import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDb, schemaVersion, MIGRATIONS, DbError, readOnlyReason } from '../../core/db.ts';
import { diskErrorOf } from '../../core/disk.ts';
import { remount, tmpfs, tmpfsOrSkip, unmountAll } from './tmpfs.ts';

after(unmountAll);

const tmp = () => mkdtempSync(join(tmpdir(), 'qbl-db-'));

test('openDb creates the directory and file, in WAL mode with foreign keys and a busy timeout', () => {
  const path = join(tmp(), 'a', 'b', 'state.db');
  const db = openDb(path);
  assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
  assert.equal(db.pragma('foreign_keys', { simple: true }), 1);
  assert.ok((db.pragma('busy_timeout', { simple: true }) as number) > 0);
  assert.equal(schemaVersion(db), MIGRATIONS.length);
  const tables = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[]).map((r) => r.name);
  assert.ok(tables.includes('source_state') && tables.includes('sync_runs'));
  db.close();
});

test('reopening keeps the data and applies only new migrations, in order', () => {
  const path = join(tmp(), 'state.db');
  const m1 = { name: 'one', sql: 'CREATE TABLE t1 (x INTEGER)' };
  const m2 = { name: 'two', sql: 'CREATE TABLE t2 (y INTEGER REFERENCES t1(x)); INSERT INTO t1 VALUES (7)' };
  let db = openDb(path, { migrations: [m1] });
  db.prepare('INSERT INTO t1 VALUES (1)').run();
  db.close();
  db = openDb(path, { migrations: [m1, m2] });
  assert.equal(schemaVersion(db), 2);
  assert.deepEqual(db.prepare('SELECT x FROM t1 ORDER BY x').all(), [{ x: 1 }, { x: 7 }]);
  const versions = db.prepare('SELECT version, name FROM schema_version ORDER BY version').all();
  assert.deepEqual(versions, [{ version: 1, name: 'one' }, { version: 2, name: 'two' }]);
  db.close();
  // A third open runs nothing again (the INSERT in m2 would duplicate 7).
  db = openDb(path, { migrations: [m1, m2] });
  assert.equal((db.prepare('SELECT count(*) AS n FROM t1').get() as { n: number }).n, 2);
  db.close();
});

test('a failing migration leaves the previous version intact and names itself', () => {
  const path = join(tmp(), 'state.db');
  const good = { name: 'good', sql: 'CREATE TABLE t1 (x)' };
  const bad = { name: 'broken', sql: 'CREATE TABLE t2 (y); SELEC nonsense' };
  assert.throws(() => openDb(path, { migrations: [good, bad] }), (e: Error) =>
    e instanceof DbError && e.message.includes(path) && /migration 2 \(broken\)/.test(e.message));
  const db = openDb(path, { migrations: [good] });
  assert.equal(schemaVersion(db), 1);
  assert.equal(db.prepare("SELECT name FROM sqlite_master WHERE name = 't2'").get(), undefined);
  db.close();
});

test('a database from a newer release is refused', () => {
  const path = join(tmp(), 'state.db');
  openDb(path, { migrations: [{ name: 'a', sql: 'SELECT 1' }, { name: 'b', sql: 'SELECT 1' }] }).close();
  assert.throws(() => openDb(path, { migrations: [{ name: 'a', sql: 'SELECT 1' }] }), /newer/);
});

test('a path that cannot be opened gives an error naming it', () => {
  const dir = tmp();
  const notDb = join(dir, 'garbage.db');
  writeFileSync(notDb, 'this is not a database, just some text that is long enough'.repeat(20));
  assert.throws(() => openDb(notDb), (e: Error) => e instanceof DbError && e.message.includes(notDb));
  // A directory where the file should be.
  assert.throws(() => openDb(dir), (e: Error) => e instanceof DbError && e.message.includes(dir));
  if (process.getuid?.() !== 0) {
    const ro = join(dir, 'ro');
    writeFileSync(join(dir, 'x'), '');
    chmodSync(dir, 0o555);
    try {
      assert.throws(() => openDb(join(ro, 'state.db')), (e: Error) => e instanceof DbError && e.message.includes(join(ro, 'state.db')));
    } finally {
      chmodSync(dir, 0o755);
    }
  }
});

test('foreign keys are enforced: a run needs its source', () => {
  const db = openDb(':memory:');
  assert.throws(() => db.prepare('INSERT INTO sync_runs (source, started) VALUES (?, ?)').run('nope', 1), /FOREIGN KEY/);
  db.close();
});

test('a read-only state directory: openDb fails with the path, or with readOnlyFallback reads the data and refuses writes', { skip: tmpfsOrSkip() }, () => {
  const dir = tmpfs('2m');
  const path = join(dir, 'quorumbl.sqlite');
  let db = openDb(path);
  db.prepare("INSERT INTO overrides (key, kind, action, reason, author, created) VALUES ('192.0.2.1', 'ip4', 'deny', 'r', 'a', 1)").run();
  db.close();
  remount(dir, 'ro');
  try {
    assert.throws(() => openDb(path), (e: Error) => e instanceof DbError && e.message.includes(path));
    db = openDb(path, { readOnlyFallback: true });
    assert.deepEqual(readOnlyReason(db), { code: 'EROFS', why: 'read from an in-memory copy' });
    assert.deepEqual(db.prepare('SELECT key FROM overrides').pluck().all(), ['192.0.2.1']);
    const err = (() => {
      try {
        db.prepare("DELETE FROM overrides").run();
      } catch (e) {
        return e;
      }
    })();
    assert.equal(diskErrorOf(err), 'readonly', 'a write fails, never lands in memory only');
    assert.equal(db.prepare('SELECT count(*) FROM overrides').pluck().get(), 1);
    db.close();
    // No database yet: an empty one with the schema.
    const none = openDb(join(dir, 'absent.sqlite'), { readOnlyFallback: true });
    assert.equal(readOnlyReason(none)?.why, 'no state database yet: an empty one in memory');
    assert.equal(schemaVersion(none), MIGRATIONS.length);
    none.close();
  } finally {
    remount(dir, 'rw');
  }
  // Writable: the fallback changes nothing.
  db = openDb(path, { readOnlyFallback: true });
  assert.equal(readOnlyReason(db), null);
  db.close();
});
