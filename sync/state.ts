// Per-source sync state and run history in the state database (tables from core/db.ts).
//
// One row per source (last attempt/success/error, HTTP validators, stats of the last good copy,
// the quarantined update if any) and one row per sync run. Every method that changes both a run
// and its source does so in one transaction, so the two never disagree.

import { mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { Db } from '../core/db.ts';
import type { SourceStats } from './guards.ts';

export type RunOutcome = 'ok' | 'not-modified' | 'failed' | 'quarantined';

export interface Validators { etag?: string; lastModified?: string }

export interface Quarantine {
  reasons: string[];
  /** The quarantined file, as the engine recorded it. */
  path: string;
  at: number;
  stats: SourceStats | null;
  bytes: number | null;
  /** Validators of the quarantined copy (it is the newest copy of the upstream we have seen). */
  validators: Validators;
}

export interface SourceState {
  name: string;
  lastAttempt: number | null;
  lastOutcome: RunOutcome | null;
  lastSuccess: number | null;
  lastError: string | null;
  /** Validators of the last good copy. */
  validators: Validators;
  entries: number | null;
  /** Stats of the last good copy. */
  stats: SourceStats | null;
  quarantine: Quarantine | null;
}

export interface SyncRun {
  id: number;
  source: string;
  started: number;
  ended: number | null;
  bytes: number | null;
  entries: number | null;
  /** null while the run is in progress (or was interrupted before abandonRunning()). */
  outcome: RunOutcome | null;
  error: string | null;
  note: string | null;
  /** Lease token of the process that ran it (null for runs older than leases). */
  holder?: string | null;
}

export interface OkResult {
  bytes?: number;
  stats: SourceStats;
  /** Validators of the new good copy (omit to keep the current ones). */
  validators?: Validators;
  note?: string;
}

export interface QuarantineResult {
  reasons: string[];
  path: string;
  stats: SourceStats | null;
  bytes?: number;
  validators?: Validators;
}

/** Where a source's files live under the state directory. */
export function sourcePaths(stateDir: string, name: string): { dir: string; current: string; staging: string; quarantine: string } {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name)) throw new Error(`invalid source name '${name}' (letters, digits, '.', '_', '-')`);
  const dir = join(stateDir, 'sources', name);
  return { dir, current: join(dir, 'current'), staging: join(dir, 'staging'), quarantine: join(dir, 'quarantine') };
}

/** Where the parsed snapshot of a quarantined copy waits beside it: its name carries the
 *  snapshot's own file name, so `sources accept` can put it in place without the config. */
export function quarantineSnapshotPath(qfile: string, snapshotPath: string): string {
  return `${qfile}.${basename(snapshotPath)}`;
}

function quarantineSnapshots(qfile: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dirname(qfile));
  } catch {
    return [];
  }
  const prefix = `${basename(qfile)}.`;
  return names.filter((n) => n.startsWith(prefix) && n.endsWith('.qsnap')).map((n) => join(dirname(qfile), n));
}

/** Deletes a quarantined copy and its snapshot. */
export function removeQuarantined(qfile: string): void {
  rmSync(qfile, { force: true });
  for (const f of quarantineSnapshots(qfile)) rmSync(f, { force: true });
}

/** Accepting a quarantined copy: moves its snapshot (if one was kept) to `<state_dir>/snapshots/`
 *  before the copy becomes `current`, so the server loads it at once instead of parsing the
 *  file again. Returns whether one was moved. */
export function promoteQuarantineSnapshot(stateDir: string, qfile: string): boolean {
  let moved = false;
  for (const f of quarantineSnapshots(qfile)) {
    mkdirSync(join(stateDir, 'snapshots'), { recursive: true });
    const name = basename(f).slice(basename(qfile).length + 1);
    renameSync(f, join(stateDir, 'snapshots', name));
    moved = true;
  }
  return moved;
}

interface Row {
  name: string;
  last_attempt: number | null;
  last_outcome: string | null;
  last_success: number | null;
  last_error: string | null;
  etag: string | null;
  last_modified: string | null;
  entries: number | null;
  stats: string | null;
  q_reasons: string | null;
  q_path: string | null;
  q_at: number | null;
  q_stats: string | null;
  q_bytes: number | null;
  q_etag: string | null;
  q_last_modified: string | null;
}

interface RunRow {
  id: number;
  source: string;
  started: number;
  ended: number | null;
  bytes: number | null;
  entries: number | null;
  outcome: string | null;
  error: string | null;
  note: string | null;
  holder?: string | null;
}

export class SyncState {
  private readonly now: () => number;

  constructor(readonly db: Db, now: () => number = Date.now) {
    this.now = now;
  }

  /** Starts a run: records the attempt and returns the run id. `holder`: the lease token of
   *  the process running it (sync/lease.ts), so that only a run whose holder is gone is ever
   *  marked interrupted. */
  beginRun(source: string, holder: string | null = null): number {
    const at = this.now();
    return this.db.transaction(() => {
      this.ensure(source);
      this.db.prepare('UPDATE source_state SET last_attempt = ? WHERE name = ?').run(at, source);
      return Number(this.db.prepare('INSERT INTO sync_runs (source, started, holder) VALUES (?, ?, ?)').run(source, at, holder).lastInsertRowid);
    }).immediate();
  }

  /** The update passed the guards and is now the last good copy. An older quarantined update is
   *  superseded (accepting it later would roll the data back): it is forgotten and its path is
   *  returned for the caller to delete (null when there was none). */
  finishOk(runId: number, r: OkResult): string | null {
    const at = this.now();
    return this.db.transaction(() => {
      const source = this.endRun(runId, at, 'ok', r.bytes ?? null, r.stats.entries, null, r.note ?? null);
      this.setGood(source, at, r.stats, r.validators);
      this.bumpGeneration(source);
      const q = this.getQuarantine(source);
      if (q) this.writeQuarantine(source, null);
      return q?.path ?? null;
    }).immediate();
  }

  /** The upstream has not changed since the validators we sent: the last good copy is still current. */
  finishNotModified(runId: number): void {
    const at = this.now();
    this.db.transaction(() => {
      const source = this.endRun(runId, at, 'not-modified', 0, null, null, null);
      this.db.prepare(`UPDATE source_state SET last_outcome = 'not-modified', last_success = ?, last_error = NULL
        WHERE name = ?`).run(at, source);
    }).immediate();
  }

  finishFailed(runId: number, error: string, bytes?: number): void {
    const at = this.now();
    this.db.transaction(() => {
      const source = this.endRun(runId, at, 'failed', bytes ?? null, null, error, null);
      this.db.prepare(`UPDATE source_state SET last_outcome = 'failed', last_error = ? WHERE name = ?`).run(error, source);
    }).immediate();
  }

  /** The update failed the guards and was moved to `q.path`. Returns the path of the quarantined
   *  copy it replaces (the caller deletes that file), or null. */
  finishQuarantined(runId: number, q: QuarantineResult): string | null {
    const at = this.now();
    return this.db.transaction(() => {
      const error = `quarantined: ${q.reasons.join('; ')}`;
      const source = this.endRun(runId, at, 'quarantined', q.bytes ?? null, q.stats?.entries ?? null, error, null);
      const previous = this.getQuarantine(source)?.path ?? null;
      this.db.prepare(`UPDATE source_state SET last_outcome = 'quarantined', last_error = ? WHERE name = ?`).run(error, source);
      this.writeQuarantine(source, { reasons: q.reasons, path: q.path, at, stats: q.stats, bytes: q.bytes ?? null, validators: q.validators ?? {} });
      return previous !== null && previous !== q.path ? previous : null;
    }).immediate();
  }

  /** Marks runs left in progress by a stopped process as failed. `live(source, holder)` says
   *  whether a run's lease holder is still running it (sync/lease.ts): those are left alone, so
   *  a second process never closes the live run of another. Without it every open run counts
   *  as interrupted. `source`: only that source's runs. */
  abandonRunning(live: (source: string, holder: string | null) => boolean = () => false, source?: string): number {
    const at = this.now();
    return this.db.transaction(() => {
      const open = (source === undefined
        ? this.db.prepare('SELECT id, source, holder FROM sync_runs WHERE outcome IS NULL').all()
        : this.db.prepare('SELECT id, source, holder FROM sync_runs WHERE outcome IS NULL AND source = ?').all(source)) as { id: number; source: string; holder: string | null }[];
      const close = this.db.prepare(`UPDATE sync_runs SET ended = ?, outcome = 'failed', error = 'interrupted: quorumbl stopped during the sync'
        WHERE id = ? AND outcome IS NULL`);
      let n = 0;
      for (const r of open) if (!live(r.source, r.holder)) n += close.run(at, r.id).changes;
      return n;
    }).immediate();
  }

  /** Each source's generation: it moves whenever the last good copy is replaced (a sync, an
   *  accepted quarantine), by this process or another. */
  generations(): Map<string, number> {
    const rows = this.db.prepare('SELECT name, generation FROM source_state').all() as { name: string; generation: number }[];
    return new Map(rows.map((r) => [r.name, r.generation]));
  }

  /** The newest run of `source` that finished at or after `since`, or null. */
  finishedSince(source: string, since: number): SyncRun | null {
    const r = this.db.prepare('SELECT * FROM sync_runs WHERE source = ? AND ended >= ? ORDER BY id DESC LIMIT 1').get(source, since) as RunRow | undefined;
    return r ? runOf(r) : null;
  }

  /** Validators to send with the next fetch: the quarantined copy's when there is one (so an
   *  unchanged upstream costs a 304 and is not quarantined again), else the last good copy's. */
  getValidators(source: string): Validators {
    const row = this.row(source);
    if (!row) return {};
    if (row.q_path !== null) return validators(row.q_etag, row.q_last_modified);
    return validators(row.etag, row.last_modified);
  }

  setValidators(source: string, v: Validators): void {
    this.db.transaction(() => {
      this.ensure(source);
      this.db.prepare('UPDATE source_state SET etag = ?, last_modified = ? WHERE name = ?').run(v.etag ?? null, v.lastModified ?? null, source);
    }).immediate();
  }

  lastGoodStats(source: string): SourceStats | null {
    return parseJson<SourceStats>(this.row(source)?.stats ?? null);
  }

  getQuarantine(source: string): Quarantine | null {
    const row = this.row(source);
    return row ? quarantineOf(row) : null;
  }

  setQuarantine(source: string, q: Quarantine): void {
    this.db.transaction(() => {
      this.ensure(source);
      this.writeQuarantine(source, q);
    }).immediate();
  }

  /** Forgets the quarantined update; returns it (null when there was none). */
  clearQuarantine(source: string): Quarantine | null {
    return this.db.transaction(() => {
      const q = this.getQuarantine(source);
      if (q) this.writeQuarantine(source, null);
      return q;
    }).immediate();
  }

  /** The operator accepted the quarantined copy (the caller has moved the file to `current`):
   *  its stats and validators become the last good copy's, and an 'ok' run records the decision. */
  acceptQuarantine(source: string, note = 'accepted by operator'): { run: SyncRun; quarantine: Quarantine } | null {
    const at = this.now();
    return this.db.transaction(() => {
      const q = this.getQuarantine(source);
      if (!q) return null;
      const id = Number(this.db.prepare(`INSERT INTO sync_runs (source, started, ended, bytes, entries, outcome, note)
        VALUES (?, ?, ?, ?, ?, 'ok', ?)`).run(source, at, at, q.bytes, q.stats?.entries ?? null, note).lastInsertRowid);
      this.writeQuarantine(source, null);
      this.bumpGeneration(source);
      if (q.stats) this.setGood(source, at, q.stats, q.validators);
      else {
        this.db.prepare(`UPDATE source_state SET last_outcome = 'ok', last_success = ?, last_error = NULL, etag = ?, last_modified = ?
          WHERE name = ?`).run(at, q.validators.etag ?? null, q.validators.lastModified ?? null, source);
      }
      return { run: this.run(id)!, quarantine: q };
    }).immediate();
  }

  getSource(source: string): SourceState | null {
    const row = this.row(source);
    return row ? stateOf(row) : null;
  }

  listSources(): SourceState[] {
    return (this.db.prepare('SELECT * FROM source_state ORDER BY name').all() as Row[]).map(stateOf);
  }

  /** Failed runs per source below `failCursor` (all of them finished): failureCounts() only
   *  reads the runs from there on, so a scrape stays cheap however long sync_runs grows. */
  private failBase = new Map<string, number>();
  private failCursor = 0;

  /** Per source: failed runs in all (`total`) and since its last successful one
   *  (`consecutive`, counted over the last 1000 runs), for /metrics. */
  failureCounts(): Map<string, { total: number; consecutive: number }> {
    const rows = this.db.prepare('SELECT id, source, outcome FROM sync_runs WHERE id >= ? ORDER BY id').iterate(this.failCursor) as Iterable<{ id: number; source: string; outcome: string | null }>;
    let any = false;
    const totals = new Map(this.failBase);
    let open = -1;
    let lastId = this.failCursor - 1;
    for (const r of rows) {
      lastId = r.id;
      any = true;
      if (r.outcome === null && open < 0) open = r.id;
      if (r.outcome === 'failed') totals.set(r.source, (totals.get(r.source) ?? 0) + 1);
      // Rows before the first open run are final: fold them into the base.
      if (open < 0) this.failBase.set(r.source, totals.get(r.source) ?? 0);
    }
    if (any) this.failCursor = open >= 0 ? open : lastId + 1;
    const recent = this.db.prepare('SELECT outcome FROM sync_runs WHERE source = ? AND outcome IS NOT NULL ORDER BY id DESC LIMIT 1000');
    const out = new Map<string, { total: number; consecutive: number }>();
    for (const source of new Set([...totals.keys(), ...this.listSources().map((x) => x.name)])) {
      let consecutive = 0;
      for (const r of recent.iterate(source) as Iterable<{ outcome: string }>) {
        if (r.outcome !== 'failed') break;
        consecutive++;
      }
      out.set(source, { total: totals.get(source) ?? 0, consecutive });
    }
    return out;
  }

  /** Newest first. */
  recentRuns(source: string, limit = 20): SyncRun[] {
    return (this.db.prepare('SELECT * FROM sync_runs WHERE source = ? ORDER BY id DESC LIMIT ?').all(source, limit) as RunRow[]).map(runOf);
  }

  run(id: number): SyncRun | null {
    const r = this.db.prepare('SELECT * FROM sync_runs WHERE id = ?').get(id) as RunRow | undefined;
    return r ? runOf(r) : null;
  }

  /** Removes a source's state and history (e.g. a source deleted from the config). */
  forget(source: string): void {
    this.db.prepare('DELETE FROM source_state WHERE name = ?').run(source);
  }

  private ensure(source: string): void {
    this.db.prepare('INSERT INTO source_state (name) VALUES (?) ON CONFLICT (name) DO NOTHING').run(source);
  }

  private bumpGeneration(source: string): void {
    this.db.prepare('UPDATE source_state SET generation = generation + 1 WHERE name = ?').run(source);
  }

  private row(source: string): Row | undefined {
    return this.db.prepare('SELECT * FROM source_state WHERE name = ?').get(source) as Row | undefined;
  }

  private endRun(id: number, at: number, outcome: RunOutcome, bytes: number | null, entries: number | null,
    error: string | null, note: string | null): string {
    const r = this.db.prepare('SELECT source, outcome FROM sync_runs WHERE id = ?').get(id) as { source: string; outcome: string | null } | undefined;
    if (!r) throw new Error(`sync run ${id} does not exist`);
    if (r.outcome !== null) throw new Error(`sync run ${id} of ${r.source} already finished (${r.outcome})`);
    this.db.prepare('UPDATE sync_runs SET ended = ?, outcome = ?, bytes = ?, entries = ?, error = ?, note = ? WHERE id = ?')
      .run(at, outcome, bytes, entries, error, note, id);
    return r.source;
  }

  private setGood(source: string, at: number, stats: SourceStats, v: Validators | undefined): void {
    this.db.prepare(`UPDATE source_state SET last_outcome = 'ok', last_success = ?, last_error = NULL,
      entries = ?, addresses4 = ?, lines = ?, errors = ?, stats = ? WHERE name = ?`)
      .run(at, stats.entries, stats.addresses4, stats.lines, stats.errors, JSON.stringify(stats), source);
    if (v) {
      this.db.prepare('UPDATE source_state SET etag = ?, last_modified = ? WHERE name = ?').run(v.etag ?? null, v.lastModified ?? null, source);
    }
  }

  private writeQuarantine(source: string, q: Quarantine | null): void {
    this.db.prepare(`UPDATE source_state SET q_reasons = ?, q_path = ?, q_at = ?, q_stats = ?, q_bytes = ?, q_etag = ?, q_last_modified = ?
      WHERE name = ?`).run(
      q ? JSON.stringify(q.reasons) : null, q?.path ?? null, q?.at ?? null, q?.stats ? JSON.stringify(q.stats) : null,
      q?.bytes ?? null, q?.validators.etag ?? null, q?.validators.lastModified ?? null, source);
  }
}

function validators(etag: string | null, lastModified: string | null): Validators {
  const v: Validators = {};
  if (etag !== null) v.etag = etag;
  if (lastModified !== null) v.lastModified = lastModified;
  return v;
}

function parseJson<T>(s: string | null): T | null {
  return s === null ? null : (JSON.parse(s) as T);
}

function quarantineOf(row: Row): Quarantine | null {
  if (row.q_path === null) return null;
  return {
    reasons: parseJson<string[]>(row.q_reasons) ?? [],
    path: row.q_path,
    at: row.q_at ?? 0,
    stats: parseJson<SourceStats>(row.q_stats),
    bytes: row.q_bytes,
    validators: validators(row.q_etag, row.q_last_modified),
  };
}

function stateOf(row: Row): SourceState {
  return {
    name: row.name,
    lastAttempt: row.last_attempt,
    lastOutcome: row.last_outcome as RunOutcome | null,
    lastSuccess: row.last_success,
    lastError: row.last_error,
    validators: validators(row.etag, row.last_modified),
    entries: row.entries,
    stats: parseJson<SourceStats>(row.stats),
    quarantine: quarantineOf(row),
  };
}

function runOf(r: RunRow): SyncRun {
  return { ...r, outcome: r.outcome as RunOutcome | null };
}
