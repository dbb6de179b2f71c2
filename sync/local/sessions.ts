// Console sessions, stored server-side: the cookie carries a random 256-bit id; the table keeps
// only its SHA-256, the user, a per-session CSRF token and two times. A session ends after
// `idleMs` without a request, `absoluteMs` after login, at logout, and when its user is disabled,
// removed, demoted or given a new password (sync/local/users.ts ends them).

import { createHash, randomBytes } from 'node:crypto';
import type { Db } from '../../core/db.ts';
import type { UserInfo } from './users.ts';

export interface SessionOptions {
  /** Ends after this long without a request (default 2 h). */
  idleMs?: number;
  /** Ends this long after login whatever happens (default 12 h). */
  absoluteMs?: number;
  now?: () => number;
  /** Recording a session's last use failed (full or read-only disk): the request goes on. */
  onTouchError?: (e: unknown) => void;
  /** False: last use is not even tried (the disk is known not to take writes). */
  canWrite?: () => boolean;
}

export interface Session {
  idHash: string;
  user: UserInfo;
  csrf: string;
  created: number;
  lastSeen: number;
}

/** last_seen is written at most this often (a write per request would be wasteful). */
const TOUCH_MS = 60_000;

const hashId = (id: string) => createHash('sha256').update(id, 'utf8').digest('hex');

interface Row {
  id_hash: string;
  csrf: string;
  created: number;
  last_seen: number;
  id: number;
  name: string;
  role: string;
  u_created: number;
  disabled: number | null;
  last_login: number | null;
}

export class Sessions {
  readonly idleMs: number;
  readonly absoluteMs: number;
  private readonly now: () => number;

  constructor(private readonly db: Db, private readonly opts: SessionOptions = {}) {
    this.idleMs = opts.idleMs ?? 2 * 3_600_000;
    this.absoluteMs = opts.absoluteMs ?? 12 * 3_600_000;
    this.now = opts.now ?? Date.now;
  }

  /** A new session for the user (and `also`, in the same transaction); returns the id for the
   *  cookie (never stored) and its CSRF token.
   *  Expired sessions are swept here (logins are rare; requests are not). */
  create(userId: number, also?: () => void): { id: string; csrf: string } {
    const id = randomBytes(32).toString('base64url');
    const csrf = randomBytes(32).toString('base64url');
    const at = this.now();
    this.db.transaction(() => {
      this.db.prepare('DELETE FROM sessions WHERE last_seen <= ? OR created <= ?').run(at - this.idleMs, at - this.absoluteMs);
      this.db.prepare('INSERT INTO sessions (id_hash, user_id, csrf, created, last_seen) VALUES (?, ?, ?, ?, ?)').run(hashId(id), userId, csrf, at, at);
      also?.(); // e.g. the login's audit row: both or neither
    }).immediate();
    return { id, csrf };
  }

  /** The live session with this id (its user enabled), or null. Records its use. */
  resolve(id: string): Session | null {
    if (!/^[\w-]{43}$/.test(id)) return null;
    const r = this.db.prepare(`SELECT s.id_hash, s.csrf, s.created, s.last_seen, u.id, u.name, u.role, u.created AS u_created, u.disabled, u.last_login
      FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id_hash = ?`).get(hashId(id)) as Row | undefined;
    if (!r || r.disabled !== null) return null;
    const at = this.now();
    if (at - r.last_seen >= this.idleMs || at - r.created >= this.absoluteMs) return null;
    if (at - r.last_seen >= TOUCH_MS && (this.opts.canWrite?.() ?? true)) {
      try {
        this.db.prepare('UPDATE sessions SET last_seen = ? WHERE id_hash = ?').run(at, r.id_hash);
        r.last_seen = at;
      } catch (e) {
        if (!this.opts.onTouchError) throw e;
        this.opts.onTouchError(e);
      }
    }
    return {
      idHash: r.id_hash, csrf: r.csrf, created: r.created, lastSeen: r.last_seen,
      user: { id: r.id, name: r.name, role: r.role as UserInfo['role'], created: r.u_created, disabled: r.disabled, lastLogin: r.last_login },
    };
  }

  /** Ends a session (logout). */
  remove(idHash: string): boolean {
    return this.db.prepare('DELETE FROM sessions WHERE id_hash = ?').run(idHash).changes > 0;
  }
}
