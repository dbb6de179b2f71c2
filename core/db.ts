// The state database (SQLite through better-sqlite3): opening it and bringing its schema up to date.
//
// The schema is an ordered list of migrations, each one SQL string. A migration's version is its
// position in MIGRATIONS (1-based); `schema_version` records which ones ran. To add tables (overrides,
// reputation, audit...) append an entry to MIGRATIONS; never edit or reorder one that has shipped.

import Database from 'better-sqlite3';
import { accessSync, constants, existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { diskCodeOf } from './disk.ts';
import { dirname, resolve } from 'node:path';

export type Db = Database.Database;

export interface Migration {
  /** Short name, recorded in schema_version to make `sqlite3 state.db` readable. */
  name: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    name: 'sync state',
    // Times are unix milliseconds. Stats columns are JSON (SourceStats of sync/guards.ts).
    sql: `
      CREATE TABLE source_state (
        name           TEXT PRIMARY KEY,
        last_attempt   INTEGER,
        last_outcome   TEXT,
        last_success   INTEGER,
        last_error     TEXT,
        etag           TEXT,
        last_modified  TEXT,
        entries        INTEGER,
        addresses4     INTEGER,
        lines          INTEGER,
        errors         INTEGER,
        stats          TEXT,
        q_reasons      TEXT,
        q_path         TEXT,
        q_at           INTEGER,
        q_stats        TEXT,
        q_bytes        INTEGER,
        q_etag         TEXT,
        q_last_modified TEXT
      ) STRICT;
      CREATE TABLE sync_runs (
        id       INTEGER PRIMARY KEY AUTOINCREMENT,
        source   TEXT NOT NULL REFERENCES source_state(name) ON DELETE CASCADE,
        started  INTEGER NOT NULL,
        ended    INTEGER,
        bytes    INTEGER,
        entries  INTEGER,
        outcome  TEXT CHECK (outcome IN ('ok', 'not-modified', 'failed', 'quarantined')),
        error    TEXT,
        note     TEXT
      ) STRICT;
      CREATE INDEX sync_runs_by_source ON sync_runs (source, id DESC);
    `,
  },
  {
    name: 'local state: overrides, reputation, audit, api tokens',
    // sync/local/*. Keys are stored in canonical form (sync/local/keys.ts). Times are unix ms.
    // One override row per key: replacing one is an audited update, never a second row.
    sql: `
      CREATE TABLE overrides (
        id       INTEGER PRIMARY KEY AUTOINCREMENT,
        key      TEXT NOT NULL UNIQUE,
        kind     TEXT NOT NULL CHECK (kind IN ('ip4', 'ip6', 'domain', 'wildcard')),
        action   TEXT NOT NULL CHECK (action IN ('allow', 'deny')),
        reason   TEXT NOT NULL,
        author   TEXT NOT NULL,
        created  INTEGER NOT NULL,
        expires  INTEGER
      ) STRICT;
      CREATE TABLE reputation_events (
        id        INTEGER PRIMARY KEY AUTOINCREMENT,
        key       TEXT NOT NULL,
        kind      TEXT NOT NULL CHECK (kind IN ('spam', 'trap', 'ham', 'false-positive')),
        weight    REAL NOT NULL,
        reporter  TEXT NOT NULL,
        at        INTEGER NOT NULL,
        note      TEXT
      ) STRICT;
      CREATE INDEX reputation_events_by_key ON reputation_events (key, at, id);
      -- The decayed running score of each key after its last event (half_life/cap it was computed with).
      CREATE TABLE reputation_scores (
        key        TEXT PRIMARY KEY,
        key_kind   TEXT NOT NULL,
        score      REAL NOT NULL,
        at         INTEGER NOT NULL,
        events     INTEGER NOT NULL,
        half_life  INTEGER NOT NULL,
        cap        REAL NOT NULL
      ) STRICT;
      CREATE TABLE audit_log (
        id        INTEGER PRIMARY KEY AUTOINCREMENT,
        at        INTEGER NOT NULL,
        actor     TEXT NOT NULL,
        action    TEXT NOT NULL,
        target    TEXT NOT NULL,
        before    TEXT,
        after     TEXT
      ) STRICT;
      CREATE INDEX audit_log_by_target ON audit_log (target, id);
      CREATE TABLE api_tokens (
        id         INTEGER PRIMARY KEY AUTOINCREMENT,
        name       TEXT NOT NULL,
        hash       TEXT NOT NULL UNIQUE,
        scope      TEXT NOT NULL CHECK (scope IN ('reports', 'overrides', 'admin')),
        created    INTEGER NOT NULL,
        last_used  INTEGER,
        revoked    INTEGER
      ) STRICT;
      -- A revoked token's name may be reused.
      CREATE UNIQUE INDEX api_tokens_live_name ON api_tokens (name) WHERE revoked IS NULL;
    `,
  },
  {
    name: 'sync leases: one sync per source across processes',
    // sync/lease.ts. A lease is live while `expires` (unix ms) is ahead and, on the same host,
    // its pid exists. sync_runs.holder: the lease token of the run's process (an open run whose
    // holder is gone was interrupted). source_state.generation: bumped whenever the last good
    // copy is replaced, so a running server notices another process's sync (sync/watch.ts).
    sql: `
      CREATE TABLE sync_leases (
        source    TEXT PRIMARY KEY,
        holder    TEXT NOT NULL,
        pid       INTEGER NOT NULL,
        host      TEXT NOT NULL,
        command   TEXT NOT NULL,
        acquired  INTEGER NOT NULL,
        expires   INTEGER NOT NULL
      ) STRICT;
      ALTER TABLE sync_runs ADD COLUMN holder TEXT;
      ALTER TABLE source_state ADD COLUMN generation INTEGER NOT NULL DEFAULT 0;
    `,
  },
  {
    name: 'console users and sessions',
    // sync/local/users.ts, sync/local/sessions.ts. password: `scrypt$N$r$p$salt$hash` (base64url),
    // the parameters kept per user. A session row holds only the SHA-256 of its id; its csrf is
    // the synchronizer token of the forms. Times are unix ms.
    sql: `
      CREATE TABLE users (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        name        TEXT NOT NULL UNIQUE,
        role        TEXT NOT NULL CHECK (role IN ('admin', 'operator', 'viewer')),
        password    TEXT NOT NULL,
        created     INTEGER NOT NULL,
        disabled    INTEGER,
        last_login  INTEGER
      ) STRICT;
      CREATE TABLE sessions (
        id_hash    TEXT PRIMARY KEY,
        user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        csrf       TEXT NOT NULL,
        created    INTEGER NOT NULL,
        last_seen  INTEGER NOT NULL
      ) STRICT;
      CREATE INDEX sessions_by_user ON sessions (user_id);
    `,
  },
  {
    name: 'collision history: listed keys inside provider ranges per source and feed',
    // sync/collisions-store.ts. A row when a pair's count changes (keys = IPv4 addresses + IPv6
    // ranges, ranges = overlapping source ranges), at = unix ms, serial = the evidence's; pruned
    // after 90 days except each pair's last row (the value in force).
    sql: `
      CREATE TABLE collision_history (
        id        INTEGER PRIMARY KEY AUTOINCREMENT,
        source    TEXT NOT NULL,
        provider  TEXT NOT NULL,
        at        INTEGER NOT NULL,
        keys      INTEGER NOT NULL,
        ranges    INTEGER NOT NULL,
        serial    INTEGER NOT NULL
      ) STRICT;
      CREATE INDEX collision_history_by_pair ON collision_history (source, provider, at);
      CREATE INDEX collision_history_by_time ON collision_history (at);
    `,
  },
  {
    name: 'overrides: indexes for the console list (author filter and suggestions, expired filter)',
    // web/console/overrides.tsx pages through overrides newest first (keyset on id); these keep
    // the author filter, its distinct-author suggestions and the active/expired split off a full scan.
    sql: `
      CREATE INDEX overrides_by_author ON overrides (author, id);
      CREATE INDEX overrides_by_expires ON overrides (expires);
    `,
  },
  {
    name: 'removal requests from the public lookup page',
    // sync/local/removals.ts. A sender asks for a listed key to be removed; an operator approves
    // (override_id: the allow override made) or rejects it. The rate limits count rows per client
    // address and in all over the last hour (the two indexes on created).
    sql: `
      CREATE TABLE removal_requests (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        key         TEXT NOT NULL,
        contact     TEXT NOT NULL,
        message     TEXT NOT NULL,
        client      TEXT NOT NULL,
        created     INTEGER NOT NULL,
        state       TEXT NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'approved', 'rejected')),
        decided_by  TEXT,
        decided_at  INTEGER,
        note        TEXT,
        override_id INTEGER
      ) STRICT;
      CREATE INDEX removal_requests_by_state ON removal_requests (state, id);
      CREATE INDEX removal_requests_by_key ON removal_requests (key, state);
      CREATE INDEX removal_requests_by_client ON removal_requests (client, created);
      CREATE INDEX removal_requests_by_created ON removal_requests (created);
    `,
  },
  {
    name: 'reputation and audit: indexes for the console pages (top keys, recent events, audit filters)',
    // sync/local/reputation.ts, sync/local/audit.ts. reputation_scores.rank = log2(score) +
    // at / half_life (ms) for a positive score, NULL otherwise: the current score is
    // 2^(rank - now / half_life), so ordering by rank is ordering by the decayed score, and the
    // top keys are the first rows of an index however many keys and events there are.
    // Recent events and the audit log page newest first by (at, id), keyset, with each filter
    // (key / kind / reporter; target / actor / action) an equality prefix of an (x, at, id) index,
    // so a page, with or without a time range, reads about a page of index entries.
    sql: `
      ALTER TABLE reputation_scores ADD COLUMN rank REAL;
      UPDATE reputation_scores SET rank = log2(score) + at / (half_life * 1000.0) WHERE score > 0;
      CREATE INDEX reputation_scores_by_rank ON reputation_scores (rank) WHERE rank IS NOT NULL;
      CREATE INDEX reputation_events_by_time ON reputation_events (at, id);
      CREATE INDEX reputation_events_by_kind ON reputation_events (kind, at, id);
      CREATE INDEX reputation_events_by_reporter ON reputation_events (reporter, at, id);
      DROP INDEX audit_log_by_target;
      CREATE INDEX audit_log_by_target_time ON audit_log (target, at, id);
      CREATE INDEX audit_log_by_actor_time ON audit_log (actor, at, id);
      CREATE INDEX audit_log_by_action_time ON audit_log (action, at, id);
      CREATE INDEX audit_log_by_time ON audit_log (at, id);
    `,
  },
];

export class DbError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DbError';
  }
}

export interface OpenDbOptions {
  /** Migrations to apply (tests); defaults to MIGRATIONS. */
  migrations?: readonly Migration[];
  /** How long a writer waits for another process's lock before failing (ms). */
  busyTimeoutMs?: number;
  /** When the directory cannot be written (a read-only mount, a full disk at start): open the
   *  database read-only instead of failing (see openDb). `serve` sets it. */
  readOnlyFallback?: boolean;
}

/** Why a database was opened read-only by the fallback (null: opened normally). */
const readOnlyWhy = new WeakMap<Db, { code: string; why: string }>();

export function readOnlyReason(db: Db): { code: string; why: string } | null {
  return readOnlyWhy.get(db) ?? null;
}

/** Opens (creating it and its directory when needed) the state database at `path` and migrates it.
 *  `:memory:` gives a private in-memory database. Errors name the path and the cause. */
export function openDb(path: string, opts: OpenDbOptions = {}): Db {
  try {
    return openWritable(path, opts);
  } catch (e) {
    if (path === ':memory:') throw e;
    const code = dirFault(resolve(path)) ?? diskCodeOf(e);
    if (!code) throw e;
    if (!opts.readOnlyFallback) {
      throw new DbError(`${(e as Error).message} (its directory ${dirname(resolve(path))} cannot be written: ${code})`, { cause: e });
    }
    return openReadOnly(resolve(path), opts, code, e);
  }
}

/** The errno code when the database's directory cannot be written (null when it can). */
function dirFault(file: string): string | null {
  try {
    accessSync(dirname(file), constants.W_OK);
    return null;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return code === 'ENOENT' ? null : (code ?? 'EACCES');
  }
}

/** A read-only view of the state, in the best way the directory allows:
 *  1. SQLite read-only (works when the -wal/-shm files of the WAL database exist);
 *  2. a private in-memory copy of the file (a WAL database needs its -shm file, which a
 *     read-only directory cannot get; the copy misses commits still in a -wal file);
 *  3. no file at all: an empty in-memory database with the schema.
 *  Writes to it fail with SQLITE_READONLY (query_only), never silently into memory. */
function openReadOnly(shown: string, opts: OpenDbOptions, code: string, first: unknown): Db {
  const busy = opts.busyTimeoutMs ?? 5000;
  let db: Db | undefined;
  let why: string;
  try {
    db = new Database(shown, { readonly: true, fileMustExist: true, timeout: busy });
    db.prepare('SELECT count(*) FROM sqlite_master').get();
    why = 'opened read-only';
  } catch {
    db?.close();
    db = undefined;
    if (existsSync(shown)) {
      try {
        const bytes = readFileSync(shown);
        // A WAL-mode header (file format 2) makes the in-memory copy refuse to read: mark it legacy.
        if (bytes.length >= 20) bytes[18] = bytes[19] = 1;
        db = new Database(bytes);
        db.prepare('SELECT count(*) FROM sqlite_master').get();
        why = 'read from an in-memory copy';
      } catch (e) {
        db?.close();
        throw new DbError(`cannot open the state database ${shown}: ${errText(first)}; a read-only copy failed too: ${errText(e)}`, { cause: first });
      }
    } else {
      db = new Database(':memory:');
      why = 'no state database yet: an empty one in memory';
    }
  }
  try {
    if (!db.readonly) {
      // The copy gets the current schema so the code that reads it finds its tables.
      migrate(db, opts.migrations ?? MIGRATIONS);
      db.pragma('query_only = ON');
    } else if (schemaVersion(db) > (opts.migrations ?? MIGRATIONS).length) {
      throw new DbError(newerSchema(schemaVersion(db), (opts.migrations ?? MIGRATIONS).length));
    } else if (schemaVersion(db) < (opts.migrations ?? MIGRATIONS).length) {
      throw new DbError('its schema is older than this quorumbl and cannot be updated read-only');
    }
  } catch (e) {
    db.close();
    throw new DbError(`cannot open the state database ${shown} read-only: ${errText(e)}`, { cause: e });
  }
  readOnlyWhy.set(db, { code, why });
  return db;
}

function openWritable(path: string, opts: OpenDbOptions): Db {
  const migrations = opts.migrations ?? MIGRATIONS;
  const busy = opts.busyTimeoutMs ?? 5000;
  const memory = path === ':memory:';
  const shown = memory ? path : resolve(path);
  let db: Db | undefined;
  try {
    if (!memory) {
      mkdirSync(dirname(shown), { recursive: true });
      if (existsSync(shown) && statSync(shown).isDirectory()) throw new Error('it is a directory');
    }
    db = new Database(path, { timeout: busy });
    // A file that is not a database only fails on first read, so read now to fail here.
    db.pragma(`busy_timeout = ${busy | 0}`);
    if (!memory) db.pragma('journal_mode = WAL');
    db.pragma('foreign_keys = ON');
    // WAL makes NORMAL safe against corruption; a crash loses at most the last commits.
    db.pragma('synchronous = NORMAL');
  } catch (e) {
    db?.close();
    throw new DbError(`cannot open the state database ${shown}: ${errText(e)}`, { cause: e });
  }
  try {
    migrate(db, migrations);
  } catch (e) {
    db.close();
    if (e instanceof DbError) throw new DbError(`state database ${shown}: ${e.message}`, { cause: e.cause });
    throw new DbError(`cannot update the schema of the state database ${shown}: ${errText(e)}`, { cause: e });
  }
  return db;
}

/** The schema version of an open database (0 when empty). */
export function schemaVersion(db: Db): number {
  const row = db.prepare('SELECT max(version) AS v FROM schema_version').get() as { v: number | null };
  return row.v ?? 0;
}

/** A database from a newer release is never opened: its tables may mean something else. */
function newerSchema(found: number, known: number): string {
  return `schema version ${found}, but this quorumbl knows ${known}: it was written by a newer release ` +
    '(run that release, or restore a backup made with this one)';
}

function migrate(db: Db, migrations: readonly Migration[]): void {
  db.exec(`CREATE TABLE IF NOT EXISTS schema_version (
    version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied INTEGER NOT NULL)`);
  const current = schemaVersion(db);
  if (current > migrations.length) {
    throw new DbError(newerSchema(current, migrations.length));
  }
  const record = db.prepare('INSERT INTO schema_version (version, name, applied) VALUES (?, ?, ?)');
  for (let v = current + 1; v <= migrations.length; v++) {
    const m = migrations[v - 1]!;
    // One transaction per migration: a failing one leaves the previous version intact.
    db.transaction(() => {
      try {
        db.exec(m.sql);
      } catch (e) {
        throw new DbError(`migration ${v} (${m.name}) failed: ${errText(e)}`, { cause: e });
      }
      record.run(v, m.name, Date.now());
    }).immediate();
  }
}

function errText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
