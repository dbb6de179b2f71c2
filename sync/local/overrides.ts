// Manual overrides: allow or deny an IP, CIDR, domain or wildcard domain, with reason, author,
// creation time and optional expiry. One row per canonical key. Every change writes its audit
// row in the same transaction. The DNS side never reads this table directly: it reads the
// overlay (overlay.ts) built from it.
//
// Guard: a key wider than the limits (width.ts: /16 IPv4, /32 IPv6, a public suffix by default),
// allow or deny alike, is only stored with `force` by an admin, and its audit row says so
// (`forced: true`, the width and the limit). Lengthening the life of such an override is guarded
// the same way; shortening it or removing it is not.

import type { Db } from '../../core/db.ts';
import { parseTime } from '../../core/rbldnsd/state.ts';
import { writeAudit } from './audit.ts';
import { checkText, InputError, parseKey, shown, type KeyKind, type ParsedKey } from './keys.ts';
import { DEFAULT_OVERRIDE_LIMITS, wideness, type OverrideLimits, type Wide } from './width.ts';

export type OverrideAction = 'allow' | 'deny';

export interface Override {
  id: number;
  /** Canonical key (keys.ts). */
  key: string;
  kind: KeyKind;
  action: OverrideAction;
  reason: string;
  author: string;
  /** Unix ms. */
  created: number;
  /** Unix ms; null = never. */
  expires: number | null;
}

export interface OverrideInput {
  action: unknown;
  key: unknown;
  reason: unknown;
  author: unknown;
  /** Unix ms, an ISO 8601 time, a duration from now (`2d`, `12h`), or null/'never'. */
  expires?: unknown;
}

export const MAX_REASON = 500;
export const MAX_AUTHOR = 100;

/** A change that cannot be made as asked (unknown id, key already overridden). */
export class OverrideConflict extends Error {
  constructor(message: string, readonly status: 404 | 409, readonly existing?: Override) {
    super(message);
    this.name = 'OverrideConflict';
  }
}

/** A key wider than the limits without force by an admin (HTTP 403). `needs`: what was missing. */
export class OverrideGuard extends Error {
  readonly status = 403;
  constructor(message: string, readonly needs: 'force' | 'admin', readonly wide: Wide) {
    super(message);
    this.name = 'OverrideGuard';
  }
}

/** How a change was asked for: `force` (CLI --force, API "force": true) and whether the actor
 *  holds the admin scope (the CLI runs as the local admin). */
export interface GuardOptions {
  force?: boolean;
  admin?: boolean;
}

interface Row {
  id: number;
  key: string;
  kind: string;
  action: string;
  reason: string;
  author: string;
  created: number;
  expires: number | null;
}

function fromRow(r: Row): Override {
  return { id: r.id, key: r.key, kind: r.kind as KeyKind, action: r.action as OverrideAction, reason: r.reason, author: r.author, created: r.created, expires: r.expires };
}

const LATEST = Date.parse('9999-12-31T23:59:59Z');
const ISO = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,3})?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/i;

/** Parses an expiry: null/undefined/'never' -> null, a duration from `now` (`90m`, `2d`, `1w`),
 *  an ISO 8601 date or time, or unix ms. It must lie in the future. */
export function parseExpires(v: unknown, now: number, field = 'expires'): number | null {
  if (v === undefined || v === null || v === 'never') return null;
  let at: number;
  if (typeof v === 'number') {
    if (!Number.isSafeInteger(v)) throw new InputError(`${field} must be an integer number of unix milliseconds`, field);
    at = v;
  } else if (typeof v === 'string') {
    const s = v.trim();
    const d = parseTime(s);
    if (d !== undefined) {
      if (d === 0) throw new InputError(`${field} ${shown(s)} is a zero duration`, field);
      at = now + d * 1000;
    } else if (ISO.test(s)) {
      at = Date.parse(s);
      // Date.parse rolls 2025-02-30 over to March: check the day against the month.
      const [y, mo, d] = s.slice(0, 10).split('-').map(Number) as [number, number, number];
      if (mo < 1 || mo > 12 || d < 1 || d > new Date(Date.UTC(y, mo, 0)).getUTCDate()) at = NaN;
      if (Number.isNaN(at)) throw new InputError(`${field} ${shown(s)} is not a valid date`, field);
    } else {
      throw new InputError(`${field} ${shown(s)} is neither a duration (90m, 12h, 2d, 1w) nor an ISO 8601 time (2025-07-01T12:00Z) nor 'never'`, field);
    }
  } else {
    throw new InputError(`${field} must be a string (duration or ISO 8601 time), unix ms, or null`, field);
  }
  if (at <= now) throw new InputError(`${field} ${new Date(at).toISOString()} is not in the future`, field);
  if (at > LATEST) throw new InputError(`${field} is too far in the future`, field);
  return at;
}

export function parseAction(v: unknown, field = 'action'): OverrideAction {
  if (v === 'allow' || v === 'deny') return v;
  throw new InputError(`${field} must be 'allow' or 'deny'`, field);
}

export class Overrides {
  constructor(private readonly db: Db, private readonly now: () => number = Date.now, public limits: OverrideLimits = DEFAULT_OVERRIDE_LIMITS) {}

  /** Throws OverrideGuard when `key` is wider than the limits and the change is not forced by an
   *  admin; returns the width when it is (forced), null for a key within the limits. */
  private guard(what: string, key: ParsedKey, g: GuardOptions): Wide | null {
    const wide = wideness(key, this.limits);
    if (!wide) return null;
    const head = `${what} covers ${wide.width}, wider than ${wide.limit.startsWith('/') ? 'the limit ' : ''}${wide.limit}`;
    if (!g.force) throw new OverrideGuard(`${head}: it needs force (CLI --force, API "force": true) by an admin`, 'force', wide);
    if (!g.admin) throw new OverrideGuard(`${head}: force needs the admin scope`, 'admin', wide);
    return wide;
  }

  /** Validates and stores a new override; `actor` (default: the author) is recorded in the audit
   *  log. When the key already has an override: an expired one is replaced, an active one is
   *  replaced only with `replace` (else OverrideConflict 409). Throws InputError on bad input. */
  add(input: OverrideInput, opts: { actor?: string; replace?: boolean } & GuardOptions = {}): Override {
    const now = this.now();
    const action = parseAction(input.action);
    const key = parseKey(input.key, { cidr: true, wildcard: true });
    const reason = checkText(input.reason, 'reason', MAX_REASON)!;
    const author = checkText(input.author, 'author', MAX_AUTHOR)!;
    const expires = parseExpires(input.expires, now);
    const actor = opts.actor ?? author;
    const wide = this.guard(`${action} ${key.key}`, key, opts);
    const forced = wide ? { forced: true, width: wide.width, limit: wide.limit } : {};
    return this.db.transaction(() => {
      const old = this.byKey(key.key);
      if (old && !opts.replace && (old.expires === null || old.expires > now)) {
        throw new OverrideConflict(`${key.key} already has an override (#${old.id}, ${old.action}: ${old.reason}); remove it first or replace it`, 409, old);
      }
      let o: Override;
      if (old) {
        // Same row, new content: the id stays, the audit row shows both versions.
        this.db.prepare('UPDATE overrides SET action = ?, reason = ?, author = ?, created = ?, expires = ? WHERE id = ?')
          .run(action, reason, author, now, expires, old.id);
        o = { ...old, action, reason, author, created: now, expires };
        writeAudit(this.db, { at: now, actor, action: 'override.replace', target: o.key, before: old, after: { ...o, ...forced } });
      } else {
        const id = Number(this.db.prepare('INSERT INTO overrides (key, kind, action, reason, author, created, expires) VALUES (?, ?, ?, ?, ?, ?, ?)')
          .run(key.key, key.kind, action, reason, author, now, expires).lastInsertRowid);
        o = { id, key: key.key, kind: key.kind, action, reason, author, created: now, expires };
        writeAudit(this.db, { at: now, actor, action: 'override.add', target: o.key, before: null, after: { ...o, ...forced } });
      }
      return o;
    }).immediate();
  }

  /** Deletes an override (expired or not); returns it. OverrideConflict 404 when unknown. */
  remove(id: number, actor: string): Override {
    const now = this.now();
    return this.db.transaction(() => {
      const old = this.get(id);
      if (!old) throw new OverrideConflict(`there is no override #${id}`, 404);
      this.db.prepare('DELETE FROM overrides WHERE id = ?').run(id);
      writeAudit(this.db, { at: now, actor, action: 'override.remove', target: old.key, before: old, after: null });
      return old;
    }).immediate();
  }

  /** Sets or clears (null) the expiry of an override; `expires` as in parseExpires. */
  setExpiry(id: number, expires: unknown, actor: string, g: GuardOptions = {}): Override {
    const now = this.now();
    // 'now' ends it at once (the console's "expire now"); any other time must lie ahead.
    const at = expires === 'now' ? now : parseExpires(expires, now);
    return this.db.transaction(() => {
      const old = this.get(id);
      if (!old) throw new OverrideConflict(`there is no override #${id}`, 404);
      // A wide override living longer is a new decision about it; ending it sooner is not.
      const longer = at === null ? old.expires !== null : old.expires !== null && at > old.expires;
      const wide = longer ? this.guard(`extending ${old.action} ${old.key}`, parseKey(old.key, { cidr: true, wildcard: true }), g) : null;
      this.db.prepare('UPDATE overrides SET expires = ? WHERE id = ?').run(at, id);
      const o = { ...old, expires: at };
      const forced = wide ? { forced: true, width: wide.width, limit: wide.limit } : {};
      writeAudit(this.db, { at: now, actor, action: 'override.expiry', target: o.key, before: old, after: { ...o, ...forced } });
      return o;
    }).immediate();
  }

  /** Changes the reason and/or the expiry ('now' ends it at once) of an override in one audited
   *  step ('override.update', before and after); the author and creation time stay. */
  update(id: number, change: { reason?: unknown; expires?: unknown }, actor: string, g: GuardOptions = {}): Override {
    const now = this.now();
    const reason = change.reason === undefined ? undefined : checkText(change.reason, 'reason', MAX_REASON)!;
    const at = change.expires === undefined ? undefined : change.expires === 'now' ? now : parseExpires(change.expires, now);
    return this.db.transaction(() => {
      const old = this.get(id);
      if (!old) throw new OverrideConflict(`there is no override #${id}`, 404);
      const o = { ...old, reason: reason ?? old.reason, expires: at === undefined ? old.expires : at };
      const longer = at !== undefined && (at === null ? old.expires !== null : old.expires !== null && at > old.expires);
      const wide = longer ? this.guard(`extending ${old.action} ${old.key}`, parseKey(old.key, { cidr: true, wildcard: true }), g) : null;
      this.db.prepare('UPDATE overrides SET reason = ?, expires = ? WHERE id = ?').run(o.reason, o.expires, id);
      const forced = wide ? { forced: true, width: wide.width, limit: wide.limit } : {};
      writeAudit(this.db, { at: now, actor, action: 'override.update', target: o.key, before: old, after: { ...o, ...forced } });
      return o;
    }).immediate();
  }

  /** Adds or replaces a previewed set of overrides in one transaction (all or none). Each row
   *  carries the override its key had at preview time (`before`); when that changed since, the
   *  whole set is refused (OverrideConflict 409) rather than overwriting a change unseen. */
  applyBatch(rows: readonly BatchRow[], opts: { actor: string; author: string; admin?: boolean }): Override[] {
    return this.db.transaction(() => rows.map((r) => {
      const cur = this.byKey(r.key);
      if (!sameOverride(cur, r.before)) {
        throw new OverrideConflict(`the override of ${r.key} (line ${r.line}) changed since the preview; upload the file again`, 409, cur ?? undefined);
      }
      return this.add({ action: r.action, key: r.key, reason: r.reason, author: opts.author, expires: r.expires },
        { actor: opts.actor, replace: true, force: r.force, admin: opts.admin });
    })).immediate();
  }

  /** A page of overrides matching `f`, newest first (keyset on id: `before` = older than that id,
   *  `after` = newer), the number matching, and whether there are older/newer ones. */
  page(f: OverrideFilter, at: { before?: number; after?: number; limit?: number } = {}): OverridePage {
    const limit = Math.max(1, Math.min(at.limit ?? 50, 500));
    const { where, args } = filterSql(f, this.now());
    const w = where.length ? where.join(' AND ') : '1';
    let rows: Row[];
    if (at.after !== undefined) {
      rows = (this.db.prepare(`SELECT * FROM overrides WHERE ${w} AND id > ? ORDER BY id ASC LIMIT ?`).all(...args, at.after, limit + 1) as Row[]);
      const more = rows.length > limit;
      rows = rows.slice(0, limit).reverse();
      return this.paged(rows, w, args, more ? true : false, undefined);
    }
    rows = this.db.prepare(`SELECT * FROM overrides WHERE ${w}${at.before !== undefined ? ' AND id < ?' : ''} ORDER BY id DESC LIMIT ?`)
      .all(...args, ...(at.before !== undefined ? [at.before] : []), limit + 1) as Row[];
    const more = rows.length > limit;
    return this.paged(rows.slice(0, limit), w, args, undefined, more);
  }

  private paged(rows: Row[], w: string, args: unknown[], newer: boolean | undefined, older: boolean | undefined): OverridePage {
    const exists = (cmp: string, id: number) => this.db.prepare(`SELECT 1 FROM overrides WHERE ${w} AND id ${cmp} ? LIMIT 1`).get(...args, id) !== undefined;
    const total = (this.db.prepare(`SELECT count(*) AS n FROM overrides WHERE ${w}`).get(...args) as { n: number }).n;
    const first = rows[0]?.id;
    const last = rows[rows.length - 1]?.id;
    return {
      rows: rows.map(fromRow),
      total,
      newer: newer ?? (first !== undefined && exists('>', first)),
      older: older ?? (last !== undefined && exists('<', last)),
    };
  }

  /** Up to `max` distinct authors (for the filter's suggestions). */
  authors(max = 200): string[] {
    return (this.db.prepare('SELECT DISTINCT author FROM overrides ORDER BY author LIMIT ?').all(max) as { author: string }[]).map((r) => r.author);
  }

  /** Every override matching `f`, newest first (the CSV export), row by row. */
  *each(f: OverrideFilter): Generator<Override> {
    const { where, args } = filterSql(f, this.now());
    const stmt = this.db.prepare(`SELECT * FROM overrides WHERE ${where.length ? where.join(' AND ') : '1'} ORDER BY id DESC`);
    for (const r of stmt.iterate(...args) as Iterable<Row>) yield fromRow(r);
  }

  get(id: number): Override | null {
    const r = this.db.prepare('SELECT * FROM overrides WHERE id = ?').get(id) as Row | undefined;
    return r ? fromRow(r) : null;
  }

  byKey(key: string): Override | null {
    const r = this.db.prepare('SELECT * FROM overrides WHERE key = ?').get(key) as Row | undefined;
    return r ? fromRow(r) : null;
  }

  /** Active overrides (not expired at `now`), or all with `expired`; oldest first. */
  list(opts: { expired?: boolean; now?: number } = {}): Override[] {
    const rows = opts.expired
      ? (this.db.prepare('SELECT * FROM overrides ORDER BY id').all() as Row[])
      : (this.db.prepare('SELECT * FROM overrides WHERE expires IS NULL OR expires > ? ORDER BY id').all(opts.now ?? this.now()) as Row[]);
    return rows.map(fromRow);
  }
}

/** The list's search and filters: `q` a substring of the key or the reason (case-insensitive for
 *  ASCII), `action`, `author` (exact), `status` active (default), expired or all. */
export interface OverrideFilter {
  q?: string;
  action?: OverrideAction;
  author?: string;
  status?: 'active' | 'expired' | 'all';
}

export interface OverridePage {
  rows: Override[];
  /** How many overrides match the filter in all. */
  total: number;
  newer: boolean;
  older: boolean;
}

/** One previewed import row (web/console/overrides-import.ts). */
export interface BatchRow {
  line: number;
  action: OverrideAction;
  key: string;
  reason: string;
  /** Unix ms or null (never). */
  expires: number | null;
  force: boolean;
  /** The key's override when the preview was made (null: none). */
  before: Override | null;
}

function sameOverride(a: Override | null, b: Override | null): boolean {
  if (!a || !b) return a === b;
  return a.id === b.id && a.action === b.action && a.reason === b.reason && a.author === b.author && a.created === b.created && a.expires === b.expires;
}

function filterSql(f: OverrideFilter, now: number): { where: string[]; args: unknown[] } {
  const where: string[] = [];
  const args: unknown[] = [];
  if (f.q) {
    const like = `%${f.q.replace(/[\\%_]/g, (m) => `\\${m}`)}%`;
    where.push("(key LIKE ? ESCAPE '\\' OR reason LIKE ? ESCAPE '\\')");
    args.push(like, like);
  }
  if (f.action) {
    where.push('action = ?');
    args.push(f.action);
  }
  if (f.author) {
    where.push('author = ?');
    args.push(f.author);
  }
  const status = f.status ?? 'active';
  if (status === 'active') {
    where.push('(expires IS NULL OR expires > ?)');
    args.push(now);
  } else if (status === 'expired') {
    where.push('expires <= ?');
    args.push(now);
  }
  return { where, args };
}
