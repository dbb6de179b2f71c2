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
  constructor(private readonly db: Db, private readonly now: () => number = Date.now, readonly limits: OverrideLimits = DEFAULT_OVERRIDE_LIMITS) {}

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
    })();
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
    })();
  }

  /** Sets or clears (null) the expiry of an override; `expires` as in parseExpires. */
  setExpiry(id: number, expires: unknown, actor: string, g: GuardOptions = {}): Override {
    const now = this.now();
    const at = parseExpires(expires, now);
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
    })();
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
