// Every earlier schema version opens with the current code and keeps its data. For each N from 0
// to MIGRATIONS.length: a real SQLite file gets the first N migrations and representative rows in
// every table that exists at that version (only the columns it has then), and is then opened with
// openDb (which applies the rest). The rows must all be there, unchanged, and readable through the
// stores serve uses (overrides in the overlay, tokens verify, users sign in, reputation ranks).
// The loop runs over MIGRATIONS: a migration appended later is covered without editing this file,
// and a table it adds without a sample row below fails the first test, naming it.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DbError, MIGRATIONS, openDb, schemaVersion, type Db } from '../../core/db.ts';
import { LocalStore } from '../../sync/local/store.ts';
import { DEFAULT_REPUTATION } from '../../sync/local/reputation.ts';
import { hashToken } from '../../sync/local/tokens.ts';
import { Users, hashPassword } from '../../sync/local/users.ts';

const tmp = () => mkdtempSync(join(tmpdir(), 'qbl-migrations-'));
const HOUR = 3_600_000;
const NOW = Date.now();
const HALF_LIFE = DEFAULT_REPUTATION.half_life;
const TOKEN = 'qbl_migrationtestsecret0123456789abcdef';
const PASSWORD = 'a password for the migration test';
// Cheap scrypt parameters: the stored string carries them, so verification uses the same.
const PASSWORD_HASH = await hashPassword(PASSWORD, { N: 1024, r: 8, p: 1 });

type Row = Record<string, string | number | null>;

/** Representative rows of every table, with every column of the current schema. Inserted in
 *  this order (parents before children); at an older version only the columns it has. */
const SAMPLES: Record<string, Row[]> = {
  source_state: [{
    name: 'trap', last_attempt: NOW - HOUR, last_outcome: 'ok', last_success: NOW - HOUR, last_error: null, etag: '"e1"',
    last_modified: 'Sat, 01 Jun 2024 10:00:00 GMT', entries: 1001, addresses4: 1001, lines: 1001, errors: 0,
    stats: '{"kind":"ip","entries":1001}', q_reasons: null, q_path: null, q_at: null, q_stats: null, q_bytes: null, q_etag: null,
    q_last_modified: null, generation: 4,
  }],
  sync_runs: [{ id: 1, source: 'trap', started: NOW - HOUR, ended: NOW - HOUR + 500, bytes: 12345, entries: 1001, outcome: 'ok', error: null, note: 'scheduled', holder: 'h-1' }],
  overrides: [
    { id: 1, key: '192.0.2.9', kind: 'ip4', action: 'deny', reason: 'spam run', author: 'root', created: NOW - 2 * HOUR, expires: null },
    { id: 2, key: 'example.org', kind: 'domain', action: 'allow', reason: 'customer', author: 'helpdesk', created: NOW - HOUR, expires: NOW + 24 * HOUR },
  ],
  reputation_events: [{ id: 1, key: '198.51.100.20', kind: 'spam', weight: 4, reporter: 'mx1', at: NOW - HOUR, note: 'trap hit' }],
  reputation_scores: [{
    key: '198.51.100.20', key_kind: 'ip4', score: 4, at: NOW - HOUR, events: 1, half_life: HALF_LIFE, cap: DEFAULT_REPUTATION.cap,
    rank: Math.log2(4) + (NOW - HOUR) / (HALF_LIFE * 1000),
  }],
  audit_log: [{ id: 1, at: NOW - 2 * HOUR, actor: 'root', action: 'override.add', target: '192.0.2.9', before: null, after: '{"action":"deny"}' }],
  api_tokens: [{ id: 1, name: 'root', hash: hashToken(TOKEN), scope: 'admin', created: NOW - 3 * HOUR, last_used: null, revoked: null }],
  sync_leases: [{ source: 'trap', holder: 'h-1', pid: 999999, host: 'elsewhere', command: 'quorumbl sync', acquired: NOW - HOUR, expires: NOW - HOUR + 30_000 }],
  users: [{ id: 1, name: 'admin', role: 'admin', password: PASSWORD_HASH, created: NOW - 3 * HOUR, disabled: null, last_login: NOW - HOUR }],
  sessions: [{ id_hash: 'ab'.repeat(32), user_id: 1, csrf: 'csrf-token', created: NOW - HOUR, last_seen: NOW - HOUR }],
  collision_history: [{ id: 1, source: 'trap', provider: 'microsoft', at: NOW - HOUR, keys: 3, ranges: 1, serial: 7 }],
  removal_requests: [{
    id: 1, key: '192.0.2.9', contact: 'postmaster@example.net', message: 'please', client: '203.0.113.5', created: NOW - HOUR,
    state: 'open', decided_by: null, decided_at: null, note: null, override_id: null,
  }],
};

const tablesOf = (db: Db) => (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT IN ('schema_version', 'sqlite_sequence')").pluck().all() as string[]);
const columnsOf = (db: Db, table: string) => (db.prepare(`SELECT name FROM pragma_table_info(?)`).pluck().all(table) as string[]);

/** Inserts the samples of every table present, with the columns present; returns what it wrote. */
function insertSamples(db: Db): Map<string, Row[]> {
  const present = new Set(tablesOf(db));
  const written = new Map<string, Row[]>();
  for (const [table, rows] of Object.entries(SAMPLES)) {
    if (!present.has(table)) continue;
    const cols = new Set(columnsOf(db, table));
    const out: Row[] = [];
    for (const row of rows) {
      const r = Object.fromEntries(Object.entries(row).filter(([c]) => cols.has(c)));
      const names = Object.keys(r);
      db.prepare(`INSERT INTO ${table} (${names.join(', ')}) VALUES (${names.map((n) => '@' + n).join(', ')})`).run(r);
      out.push(r);
    }
    written.set(table, out);
  }
  return written;
}

test('every table of the current schema has sample rows here (a new table needs them)', () => {
  const db = openDb(':memory:');
  try {
    for (const t of tablesOf(db)) assert.ok(SAMPLES[t], `table ${t} has no sample rows in test/core/migrations.test.ts SAMPLES: add them`);
    for (const [t, rows] of Object.entries(SAMPLES)) {
      const cols = columnsOf(db, t);
      assert.ok(cols.length, `SAMPLES.${t}: no such table in the current schema`);
      for (const c of cols) assert.ok(c in rows[0]!, `SAMPLES.${t} has no value for column ${c}: add one`);
    }
  } finally {
    db.close();
  }
});

for (let n = 0; n <= MIGRATIONS.length; n++) {
  const label = n === 0 ? 'an empty database (version 0)' : `schema version ${n} (${MIGRATIONS[n - 1]!.name})`;
  test(`${label} opens with the current code and keeps its data`, async () => {
    const path = join(tmp(), 'quorumbl.sqlite');
    let db = openDb(path, { migrations: MIGRATIONS.slice(0, n) });
    assert.equal(schemaVersion(db), n);
    const written = insertSamples(db);
    db.close();

    db = openDb(path);
    try {
      assert.equal(schemaVersion(db), MIGRATIONS.length);
      assert.equal(db.pragma('integrity_check', { simple: true }), 'ok');
      assert.deepEqual(db.pragma('foreign_key_check'), []);
      for (const [table, rows] of written) {
        for (const row of rows) {
          const cols = Object.keys(row);
          const got = db.prepare(`SELECT ${cols.join(', ')} FROM ${table} WHERE rowid = (SELECT rowid FROM ${table} WHERE ${cols[0]} = ?)`).get(row[cols[0]!]);
          assert.deepEqual(got, row, `${table} row after migrating from version ${n}`);
        }
      }
      // Read the way serve reads it.
      const local = new LocalStore(db, { reputation: DEFAULT_REPUTATION });
      try {
        if (written.has('overrides')) {
          assert.deepEqual(local.overrides.list().map((o) => [o.key, o.action]).sort(), [['192.0.2.9', 'deny'], ['example.org', 'allow']]);
          assert.equal(local.overlay.overrides.length, 2, 'both overrides in the overlay');
        }
        if (written.has('api_tokens')) assert.equal(local.tokens.verify(TOKEN)?.name, 'root', 'the token still verifies');
        if (written.has('reputation_scores')) {
          assert.ok(Math.abs(local.reputation.score('198.51.100.20') - 4 * 2 ** (-(Date.now() - (NOW - HOUR)) / (HALF_LIFE * 1000))) < 1e-6);
          assert.deepEqual(local.reputation.top(5).keys.map((k) => k.key), ['198.51.100.20'], 'the key is ranked (rank computed by the migration)');
        }
      } finally {
        local.close();
      }
      if (written.has('users')) assert.equal((await new Users(db).authenticate('admin', PASSWORD))?.name, 'admin', 'the user signs in');
    } finally {
      db.close();
    }
  });
}

test('a database from a newer schema is refused with both versions, read-only fallback too', () => {
  const path = join(tmp(), 'quorumbl.sqlite');
  const newer = [...MIGRATIONS, { name: 'from the future', sql: 'CREATE TABLE future (x INTEGER)' }];
  openDb(path, { migrations: newer }).close();
  for (const opts of [{}, { readOnlyFallback: true }]) {
    assert.throws(() => openDb(path, opts), (e: Error) => e instanceof DbError && e.message.includes(path) &&
      e.message.includes(`schema version ${MIGRATIONS.length + 1}`) && e.message.includes(`this quorumbl knows ${MIGRATIONS.length}`) &&
      /newer release/.test(e.message));
  }
  // Nothing was changed by the refusals: the newer release still opens it.
  const db = openDb(path, { migrations: newer });
  assert.equal(schemaVersion(db), MIGRATIONS.length + 1);
  db.close();
});
