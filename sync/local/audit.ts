// The audit log: who changed what, with the state before and after (JSON), and when.
// Writers call writeAudit inside the transaction of the change itself, so a change without its
// audit row (or the reverse) cannot be committed.

import type { Db } from '../../core/db.ts';
import { checkText, InputError, parseKey, shown } from './keys.ts';

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
  | 'user.logout'
  | 'removal.approve'
  | 'removal.reject';

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
  /** Only rows about this target (a canonical key, `token:<name>`, `user:<name>`, `source:<name>`). */
  target?: string;
  /** Only rows by this actor (exact: `user:alice`, `token:rspamd`, `cli:root`). */
  actor?: string;
  /** Only this action, or every action starting with `actionPrefix`. */
  action?: string;
  actionPrefix?: string;
  /** Unix ms: rows at or after `since`, before `until`. */
  since?: number;
  until?: number;
  /** Only rows older (by time, then id) than the row with this id (paging backwards). */
  before?: number;
  /** At most this many rows (default 100, at most 1000). */
  limit?: number;
}

/** Newest first. */
export function readAudit(db: Db, q: AuditQuery = {}): AuditEntry[] {
  return pageAudit(db, q).entries;
}

/** Newest first (by time, then id), with `next`: the `before` of the next (older) page, null on
 *  the last one. Each filter is the prefix of an (x, at, id) index (core/db.ts), so a page reads
 *  about `limit` index entries whatever the size of the log; an action prefix is one such read
 *  per action it covers, merged here. A `before` naming no row is an InputError. */
export function pageAudit(db: Db, q: AuditQuery = {}): { entries: AuditEntry[]; next: number | null } {
  const limit = Math.max(1, Math.min(1000, Math.floor(q.limit ?? 100)));
  const where: string[] = [];
  const args: (string | number)[] = [];
  const add = (sql: string, ...v: (string | number)[]) => {
    where.push(sql);
    args.push(...v);
  };
  if (q.target !== undefined) add('target = ?', q.target);
  if (q.actor !== undefined) add('actor = ?', q.actor);
  if (q.since !== undefined) add('at >= ?', q.since);
  if (q.until !== undefined) add('at < ?', q.until);
  if (q.before !== undefined) {
    const at = db.prepare('SELECT at FROM audit_log WHERE id = ?').pluck().get(q.before) as number | undefined;
    if (at === undefined) throw new InputError(`before: there is no audit entry #${q.before}`, 'before');
    add('(at, id) < (?, ?)', at, q.before);
  }
  const read = (action: string | undefined) => {
    const w = action === undefined ? where : [...where, 'action = ?'];
    const a = action === undefined ? args : [...args, action];
    return db.prepare(`SELECT * FROM audit_log ${w.length ? `WHERE ${w.join(' AND ')}` : ''} ORDER BY at DESC, id DESC LIMIT ${limit + 1}`).all(...a) as Row[];
  };
  let rows: Row[];
  if (q.actionPrefix) {
    const newer = (x: Row, y: Row) => y.at - x.at || y.id - x.id;
    rows = actionsWithPrefix(db, q.actionPrefix).flatMap((a) => read(a)).sort(newer).slice(0, limit + 1);
  } else rows = read(q.action);
  const entries = rows.slice(0, limit).map((r) => ({
    id: r.id,
    at: r.at,
    actor: r.actor,
    action: r.action as AuditAction,
    target: r.target,
    before: r.before === null ? null : (JSON.parse(r.before) as unknown),
    after: r.after === null ? null : (JSON.parse(r.after) as unknown),
  }));
  return { entries, next: rows.length > limit ? entries[entries.length - 1]!.id : null };
}

/** The distinct actions in the log starting with `prefix`, one index seek each. */
function actionsWithPrefix(db: Db, prefix: string): string[] {
  const next = db.prepare('SELECT action FROM audit_log WHERE action > ? AND action < ? ORDER BY action LIMIT 1').pluck();
  const end = prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1);
  const out: string[] = [];
  const first = db.prepare('SELECT action FROM audit_log WHERE action >= ? AND action < ? ORDER BY action LIMIT 1').pluck().get(prefix, end) as string | undefined;
  for (let a = first; a !== undefined && out.length < 1000; a = next.get(a, end) as string | undefined) out.push(a);
  return out;
}

/** The filters as typed (query string, console form): strings, empty = no filter. */
export interface AuditFilterText {
  target?: string;
  actor?: string;
  action?: string;
  since?: string;
  until?: string;
  before?: string;
  limit?: string;
}

const TARGET_PREFIX = /^(token|source|user):/;

/** Checks the typed filters; InputError naming the field. A key in any spelling finds its rows
 *  (`2001:DB8:0::25` = `2001:db8::25`); `token:`, `user:`, `source:` targets pass as they are.
 *  An action ending in `.` or `*` is a prefix (`override.` = every override change). Times:
 *  Unix ms or ISO 8601 (UTC without a zone); a date alone as `until` means through that day. */
export function parseAuditFilter(t: AuditFilterText): AuditQuery {
  const q: AuditQuery = {};
  const val = (v: string | undefined) => (v === undefined || v.trim() === '' ? undefined : v.trim());
  const target = val(t.target);
  if (target !== undefined) {
    if (TARGET_PREFIX.test(target)) q.target = checkText(target, 'target', 200);
    else q.target = parseKey(target, { cidr: true, wildcard: true }, 'target').key;
  }
  const actor = val(t.actor);
  if (actor !== undefined) q.actor = checkText(actor, 'actor', 200);
  const action = val(t.action);
  if (action !== undefined) {
    if (!/^[a-z][a-z.-]{0,49}\*?$/.test(action)) throw new InputError(`action ${shown(action)}: an action such as override.add, or a prefix such as override. or override*`, 'action');
    if (action.endsWith('*')) q.actionPrefix = action.slice(0, -1);
    else if (action.endsWith('.')) q.actionPrefix = action;
    else q.action = action;
  }
  const since = val(t.since);
  if (since !== undefined) q.since = parseTime(since, 'since', false);
  const until = val(t.until);
  if (until !== undefined) q.until = parseTime(until, 'until', true);
  if (q.since !== undefined && q.until !== undefined && q.until <= q.since) throw new InputError('until must be after since', 'until');
  const int = (v: string | undefined, name: string, max: number) => {
    if (v === undefined) return undefined;
    if (!/^\d{1,16}$/.test(v) || Number(v) < 1 || Number(v) > max) throw new InputError(`${name} must be an integer from 1 to ${max}`, name);
    return Number(v);
  };
  q.before = int(val(t.before), 'before', Number.MAX_SAFE_INTEGER);
  q.limit = int(val(t.limit), 'limit', 1000);
  return q;
}

/** Unix ms or ISO 8601 (a time without a zone is UTC, as the console shows times). A date alone
 *  is its first instant, or with `endOfDay` the first instant of the next day. */
export function parseTime(v: string, field: string, endOfDay: boolean): number {
  let ms: number;
  if (/^\d{1,15}$/.test(v)) ms = Number(v);
  else if (/^\d{4}-\d{2}-\d{2}$/.test(v)) ms = Date.parse(`${v}T00:00:00Z`) + (endOfDay ? 86_400_000 : 0);
  else if (/^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:?\d{2})?$/i.test(v)) {
    const iso = v.replace(' ', 'T').replace(/([+-]\d{2})(\d{2})$/, '$1:$2');
    ms = Date.parse(/(Z|[+-]\d{2}:?\d{2})$/i.test(iso) ? iso : `${iso}Z`);
  } else ms = NaN;
  if (!Number.isFinite(ms)) throw new InputError(`${field} ${shown(v)}: a time such as 2026-12-06, 2026-12-06T18:00Z or Unix milliseconds`, field);
  return ms;
}
