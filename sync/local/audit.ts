// The audit log: who changed what, with the state before and after (JSON), and when.
// Writers call writeAudit inside the transaction of the change itself, so a change without its
// audit row (or the reverse) cannot be committed.

import type { Db } from '../../core/db.ts';

export type AuditAction =
  | 'override.add'
  | 'override.replace'
  | 'override.remove'
  | 'override.expiry'
  | 'override.update'
  | 'reputation.report'
  | 'reputation.false-positive'
  | 'source.accept'
  | 'source.drop'
  | 'source.sync'
  | 'token.create'
  | 'token.revoke'
  | 'user.create'
  | 'user.update'
  | 'user.remove'
  | 'user.login'
  | 'user.logout';

export interface AuditEntry {
  id: number;
  at: number;
  /** Who: `cli:<OS user>` (CLI), `token:<name>` (API) or `user:<name>` (console session). */
  actor: string;
  action: AuditAction;
  /** What: the canonical key (overrides, reputation), `token:<name>` or `source:<name>`. */
  target: string;
  before: unknown;
  after: unknown;
}

export interface NewAuditEntry {
  at: number;
  actor: string;
  action: AuditAction;
  target: string;
  before?: unknown;
  after?: unknown;
}

interface Row {
  id: number;
  at: number;
  actor: string;
  action: string;
  target: string;
  before: string | null;
  after: string | null;
}

/** Appends one row; call it inside the transaction that makes the change. Returns its id. */
export function writeAudit(db: Db, e: NewAuditEntry): number {
  const json = (v: unknown) => (v === undefined || v === null ? null : JSON.stringify(v));
  return Number(db.prepare('INSERT INTO audit_log (at, actor, action, target, before, after) VALUES (?, ?, ?, ?, ?, ?)')
    .run(e.at, e.actor, e.action, e.target, json(e.before), json(e.after)).lastInsertRowid);
}

export interface AuditQuery {
  /** Only rows about this target (a canonical key or `token:<name>`). */
  target?: string;
  /** Only rows with an id below this (paging backwards). */
  before?: number;
  /** At most this many rows (default 100, at most 1000). */
  limit?: number;
}

/** Newest first. */
export function readAudit(db: Db, q: AuditQuery = {}): AuditEntry[] {
  const where: string[] = [];
  const args: (string | number)[] = [];
  if (q.target !== undefined) {
    where.push('target = ?');
    args.push(q.target);
  }
  if (q.before !== undefined) {
    where.push('id < ?');
    args.push(q.before);
  }
  const limit = Math.max(1, Math.min(1000, Math.floor(q.limit ?? 100)));
  const sql = `SELECT * FROM audit_log ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ${limit}`;
  return (db.prepare(sql).all(...args) as Row[]).map((r) => ({
    id: r.id,
    at: r.at,
    actor: r.actor,
    action: r.action as AuditAction,
    target: r.target,
    before: r.before === null ? null : (JSON.parse(r.before) as unknown),
    after: r.after === null ? null : (JSON.parse(r.after) as unknown),
  }));
}
