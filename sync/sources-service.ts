// The operator's view of the sources and decisions on them, shared by `quorumbl sources`, the
// REST API (/api/v1/sources) and the console's Sources page: each source's state as data
// (sourceView) and the decision on a quarantined update (decide): accept = the quarantined copy
// becomes the last good copy, drop = it is deleted and the last good copy keeps serving.
//
// A decision takes the source's sync lease (sync/lease.ts) so that a sync cannot replace or
// re-quarantine the copy under its feet, re-reads the quarantine under the lease, moves the
// files, and records the state change and its audit row (actor `cli:<user>`, `token:<name>` or
// `user:<name>`; target `source:<name>`; the quarantine before) in one transaction. A running
// server sees the change through the state database (sync/watch.ts) and reloads the source.

import { existsSync, linkSync, mkdirSync, renameSync, rmSync, statSync, unlinkSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import type { Db } from '../core/db.ts';
import { SyncLeases, describeHolder, type LeaseHolder } from './lease.ts';
import { writeAudit } from './local/audit.ts';
import type { SourceStats } from './guards.ts';
import { SyncState, promoteQuarantineSnapshot, removeQuarantined, sourcePaths, type Quarantine, type SourceState, type SyncRun } from './state.ts';

/** What the service knows of a configured source (a subset of the config's `sources` entry). */
export interface SourceInfo {
  name: string;
  kind?: 'ip' | 'domain';
  fetch?: string;
  schedule?: string;
  /** Seconds. */
  min_interval?: number;
  guards?: { max_error_ratio: number; max_shrink: number; max_grow: number; world_share: number; test_point: boolean };
}

/** Base of the service's refusals; `status` is the HTTP status the API answers with. */
export class SourceError extends Error {
  constructor(readonly status: 400 | 404 | 409 | 429 | 500, message: string) {
    super(message);
  }
}

export class UnknownSource extends SourceError {
  constructor(readonly source: string, readonly configured: string[]) {
    super(404, `unknown source '${source}'; ${configured.length > 0 ? `configured sources: ${configured.join(', ')}` : 'no sources are configured'}`);
  }
}

/** Another process or this one is syncing the source (or deciding on it): try again later. */
export class SourceBusy extends SourceError {
  constructor(readonly source: string, readonly holder: LeaseHolder, now = Date.now()) {
    super(409, `a sync of '${source}' is running in ${describeHolder(holder, now)}; try again when it has ended`);
  }
}

export class NoQuarantine extends SourceError {
  constructor(readonly source: string, readonly decision: Decision) {
    super(409, `source '${source}' has no quarantined update: nothing to ${decision}`);
  }
}

/** The quarantined file is recorded but gone (deleted by hand): accept is impossible, drop forgets it. */
export class QuarantineFileMissing extends SourceError {
  constructor(readonly source: string, readonly file: string) {
    super(409, `the quarantined update of '${source}' is recorded at ${file}, but that file is missing; dropping it forgets it`);
  }
}

/** The quarantine was replaced by a newer one since the operator looked at it. */
export class QuarantineChanged extends SourceError {
  constructor(readonly source: string, readonly at: number) {
    super(409, `the quarantined update of '${source}' changed since you looked (a newer one was quarantined at ${iso(at)}): review it again`);
  }
}

/** A file move or the database write failed; nothing was decided (`cause` says why). */
export class DecisionFailed extends SourceError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(500, message);
    if (options?.cause !== undefined) (this as { cause?: unknown }).cause = options.cause;
  }
}

export type Decision = 'accept' | 'drop';

export interface DecisionResult {
  source: string;
  decision: Decision;
  /** The quarantine decided on (its reasons, stats, file). */
  quarantine: Quarantine;
  /** accept: the file now serving and its size. */
  current?: string;
  bytes?: number;
  /** accept: the 'ok' run recording the decision. */
  run?: SyncRun;
  /** drop: the deleted file, or null when it was already gone. */
  deleted?: string | null;
  auditId: number;
}

/** A source's state in plain data: `quorumbl sources --json`, GET /api/v1/sources. Times ISO 8601. */
export interface SourceView {
  name: string;
  /** In the configuration (false: state left from a source since removed). */
  configured: boolean;
  /** In words: ok, failing (the last attempt failed), quarantined, never synced. */
  status: 'ok' | 'failing' | 'quarantined' | 'never-synced';
  lastAttempt: string | null;
  lastOutcome: string | null;
  lastSuccess: string | null;
  lastError: string | null;
  entries: number | null;
  validators: { etag?: string; lastModified?: string };
  stats: SourceStats | null;
  quarantine: QuarantineView | null;
  /** The configured guards and intervals (null when not configured). */
  config: { kind: string | null; schedule: string | null; minInterval: number | null; guards: SourceInfo['guards'] | null } | null;
}

export interface QuarantineView {
  at: string;
  /** The same in unix ms: what a decision passes back as `quarantinedAt` (sure to be this one). */
  atMs: number;
  reasons: string[];
  path: string;
  bytes: number | null;
  stats: SourceStats | null;
  /** What accepting it would change, from the stats the guard recorded. */
  change: QuarantineChange | null;
}

/** The rejected update against the last good copy. `entriesShare`: the change as a share of the
 *  last good copy's entries (-0.92 = 92 % fewer). */
export interface QuarantineChange {
  entriesBefore: number | null;
  entriesAfter: number;
  entriesDelta: number | null;
  entriesShare: number | null;
  addresses4Before: number | null;
  addresses4After: number;
  addresses4Share: number | null;
  errorsAfter: number;
  linesAfter: number;
}

export interface ServiceOptions {
  stateDir: string;
  sources: SourceInfo[];
  now?: () => number;
  /** Names the lease holder in messages to others: "quorumbl serve", "quorumbl sources accept x". */
  command?: (decision: Decision, name: string) => string;
  /** Names the database in messages (default: "the state database"). */
  dbPath?: string;
}

export function iso(t: number): string {
  return new Date(t).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function isoOrNull(t: number | null | undefined): string | null {
  return t == null ? null : iso(t);
}

/** What accepting the quarantined copy would change (null without its stats). */
export function quarantineChange(q: Quarantine, good: SourceStats | null, goodEntries: number | null): QuarantineChange | null {
  if (!q.stats) return null;
  const before = good?.entries ?? goodEntries;
  const share = (after: number, b: number | null | undefined) => (b == null || b === 0 ? null : (after - b) / b);
  return {
    entriesBefore: before ?? null,
    entriesAfter: q.stats.entries,
    entriesDelta: before == null ? null : q.stats.entries - before,
    entriesShare: share(q.stats.entries, before),
    addresses4Before: good?.addresses4 ?? null,
    addresses4After: q.stats.addresses4,
    addresses4Share: share(q.stats.addresses4, good?.addresses4),
    errorsAfter: q.stats.errors,
    linesAfter: q.stats.lines,
  };
}

export function sourceView(name: string, info: SourceInfo | undefined, s: SourceState | null): SourceView {
  const q = s?.quarantine ?? null;
  const status: SourceView['status'] = q ? 'quarantined'
    : s?.lastOutcome === 'failed' ? 'failing'
    : s?.lastSuccess != null ? 'ok' : 'never-synced';
  return {
    name,
    configured: info !== undefined,
    status,
    lastAttempt: isoOrNull(s?.lastAttempt),
    lastOutcome: s?.lastOutcome ?? null,
    lastSuccess: isoOrNull(s?.lastSuccess),
    lastError: s?.lastError ?? null,
    entries: s?.entries ?? null,
    validators: s?.validators ?? {},
    stats: s?.stats ?? null,
    quarantine: q
      ? { at: iso(q.at), atMs: q.at, reasons: q.reasons, path: q.path, bytes: q.bytes, stats: q.stats, change: quarantineChange(q, s?.stats ?? null, s?.entries ?? null) }
      : null,
    config: info
      ? { kind: info.kind ?? null, schedule: info.schedule ?? null, minInterval: info.min_interval ?? null, guards: info.guards ?? null }
      : null,
  };
}

export class SourcesService {
  readonly state: SyncState;
  private readonly now: () => number;

  constructor(readonly db: Db, private readonly opts: ServiceOptions) {
    this.now = opts.now ?? Date.now;
    this.state = new SyncState(db, this.now);
  }

  get configured(): string[] {
    return this.opts.sources.map((s) => s.name);
  }

  info(name: string): SourceInfo | undefined {
    return this.opts.sources.find((s) => s.name === name);
  }

  /** The configured sources in config order, then those with state but no longer configured
   *  (their quarantine may still need a decision). */
  list(): SourceView[] {
    const rows = new Map(this.state.listSources().map((s) => [s.name, s]));
    const out = this.opts.sources.map((s) => sourceView(s.name, s, rows.get(s.name) ?? null));
    for (const [name, s] of rows) if (!this.info(name)) out.push(sourceView(name, undefined, s));
    return out;
  }

  /** One source (configured, or with state); UnknownSource otherwise. */
  get(name: string): { view: SourceView; state: SourceState | null } {
    const s = this.state.getSource(name);
    const info = this.info(name);
    if (!s && !info) throw new UnknownSource(name, this.configured);
    return { view: sourceView(name, info, s), state: s };
  }

  runs(name: string, limit = 20): SyncRun[] {
    return this.state.recentRuns(name, limit);
  }

  /** Accepts or drops the quarantined update of `name`, audited as `actor`. Throws a
   *  SourceError (UnknownSource, SourceBusy, NoQuarantine, QuarantineFileMissing, DecisionFailed). */
  decide(name: string, decision: Decision, actor: string, expect: { quarantinedAt?: number } = {}): DecisionResult {
    this.get(name); // UnknownSource
    const command = this.opts.command?.(decision, name) ?? `quorumbl serve (${decision} ${name} by ${actor})`;
    const leases = new SyncLeases(this.db, { command, now: this.now });
    const got = leases.tryAcquire(name);
    if ('heldBy' in got) throw new SourceBusy(name, got.heldBy, this.now());
    try {
      const q = this.state.getQuarantine(name); // read under the lease: a sync may just have changed it
      if (!q) throw new NoQuarantine(name, decision);
      // The console sends the quarantine it showed: a newer one must be looked at before a decision.
      if (expect.quarantinedAt !== undefined && expect.quarantinedAt !== q.at) throw new QuarantineChanged(name, q.at);
      return decision === 'accept' ? this.accept(name, q, actor) : this.drop(name, q, actor);
    } finally {
      leases.release(got.lease);
    }
  }

  private file(q: Quarantine): string {
    return isAbsolute(q.path) ? q.path : join(this.opts.stateDir, q.path);
  }

  /** The decision and its audit row commit together; when they cannot, DecisionFailed. */
  private audited(name: string, decision: Decision, actor: string, q: Quarantine, change: () => void, after: unknown): number {
    try {
      return this.db.transaction(() => {
        change();
        return writeAudit(this.db, { at: this.now(), actor, action: `source.${decision}`, target: `source:${name}`, before: q, after });
      }).immediate();
    } catch (e) {
      throw new DecisionFailed(`cannot record the ${decision} of '${name}' in ${this.opts.dbPath ?? 'the state database'}: ${(e as Error).message}`, { cause: e });
    }
  }

  private accept(name: string, q: Quarantine, actor: string): DecisionResult {
    const from = this.file(q);
    if (!existsSync(from)) throw new QuarantineFileMissing(name, from);
    const { dir, current } = sourcePaths(this.opts.stateDir, name);
    const bytes = statSync(from).size;
    // The last good copy is kept under another name until the decision is recorded: when the
    // database write fails, both files go back where they were and nothing was decided.
    const keep = `${current}.before-accept`;
    let kept = false;
    try {
      mkdirSync(dir, { recursive: true });
      rmSync(keep, { force: true });
      if (existsSync(current)) {
        linkSync(current, keep);
        kept = true;
      }
      promoteQuarantineSnapshot(this.opts.stateDir, from); // the snapshot first, as a sync does
      // Same directory tree, so the rename is atomic: the server sees the old or the new file, never half.
      renameSync(from, current);
    } catch (e) {
      if (kept) rmSync(keep, { force: true });
      throw new DecisionFailed(`cannot move ${from} to ${current}: ${(e as Error).message}`, { cause: e });
    }
    let run: SyncRun | undefined;
    let auditId: number;
    try {
      auditId = this.audited(name, 'accept', actor, q, () => {
        run = this.state.acceptQuarantine(name, 'accepted by operator')?.run;
      }, { current, bytes });
    } catch (e) {
      // Undo: the quarantined copy back in quarantine, the old good copy back in place.
      try {
        renameSync(current, from);
        if (kept) renameSync(keep, current);
      } catch {
        // the message below still says nothing was recorded; the files are where rename left them
      }
      throw e;
    }
    if (kept) rmSync(keep, { force: true });
    return { source: name, decision: 'accept', quarantine: q, current, bytes, run, auditId };
  }

  private drop(name: string, q: Quarantine, actor: string): DecisionResult {
    const file = this.file(q);
    // Recorded first, deleted after: a failed write leaves the quarantine as it was (file and all).
    const existed = existsSync(file);
    const auditId = this.audited(name, 'drop', actor, q, () => void this.state.clearQuarantine(name), { deleted: existed ? file : null });
    let deleted: string | null = existed ? file : null;
    try {
      unlinkSync(file);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new DecisionFailed(`dropped, but cannot delete ${file}: ${(e as Error).message}`, { cause: e });
      deleted = null;
    }
    removeQuarantined(file); // its parsed snapshot
    return { source: name, decision: 'drop', quarantine: q, deleted, auditId };
  }
}
