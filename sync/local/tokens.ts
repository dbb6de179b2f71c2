// API tokens: random bearer secrets shown once at creation; only their SHA-256 is stored.
// Scopes: `reports` (POST reports), `overrides` (read and change overrides), `admin` (everything,
// including the audit log). Creating and revoking a token is audited.

import { createHash, randomBytes } from 'node:crypto';
import type { Db } from '../../core/db.ts';
import { writeAudit } from './audit.ts';
import { InputError } from './keys.ts';

export type Scope = 'reports' | 'overrides' | 'admin';
export const SCOPES: readonly Scope[] = ['reports', 'overrides', 'admin'];

export interface TokenInfo {
  id: number;
  name: string;
  scope: Scope;
  created: number;
  lastUsed: number | null;
  revoked: number | null;
}

const PREFIX = 'qbl_';
/** last_used is written at most this often per token (a write per request would be wasteful). */
const TOUCH_MS = 60_000;

interface Row {
  id: number;
  name: string;
  hash: string;
  scope: string;
  created: number;
  last_used: number | null;
  revoked: number | null;
}

const infoOf = (r: Row): TokenInfo => ({ id: r.id, name: r.name, scope: r.scope as Scope, created: r.created, lastUsed: r.last_used, revoked: r.revoked });

export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** Whether a token of scope `have` may do what needs `need` (admin may do everything). */
export function allows(have: Scope, need: Scope): boolean {
  return have === 'admin' || have === need;
}

export function parseScope(v: unknown): Scope {
  if (typeof v === 'string' && (SCOPES as readonly string[]).includes(v)) return v as Scope;
  throw new InputError(`scope must be one of ${SCOPES.join(', ')}`, 'scope');
}

export class Tokens {
  /** `onTouchError`: recording last_used failed (a full or read-only disk); the request goes on.
   *  `canWrite` false: last_used is not even tried (the disk is known not to take writes). */
  constructor(
    private readonly db: Db,
    private readonly now: () => number = Date.now,
    private readonly onTouchError?: (e: unknown) => void,
    private readonly canWrite: () => boolean = () => true,
  ) {}

  /** Creates a token; returns the secret (shown once, never stored) and its record. */
  create(name: string, scope: unknown, actor: string): { token: string; info: TokenInfo } {
    if (!/^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/.test(name)) {
      throw new InputError('a token name is 1..64 letters, digits, ".", "_", "@", "-" (starting with a letter or digit)', 'name');
    }
    const s = parseScope(scope);
    const token = PREFIX + randomBytes(32).toString('base64url');
    const at = this.now();
    return this.db.transaction(() => {
      if (this.db.prepare('SELECT 1 FROM api_tokens WHERE name = ? AND revoked IS NULL').get(name)) {
        throw new InputError(`a token named '${name}' already exists (revoke it first)`, 'name');
      }
      const id = Number(this.db.prepare('INSERT INTO api_tokens (name, hash, scope, created) VALUES (?, ?, ?, ?)').run(name, hashToken(token), s, at).lastInsertRowid);
      const info: TokenInfo = { id, name, scope: s, created: at, lastUsed: null, revoked: null };
      writeAudit(this.db, { at, actor, action: 'token.create', target: `token:${name}`, before: null, after: info });
      return { token, info };
    }).immediate();
  }

  /** Newest first; revoked ones too with `all`. */
  list(opts: { all?: boolean } = {}): TokenInfo[] {
    const sql = `SELECT * FROM api_tokens ${opts.all ? '' : 'WHERE revoked IS NULL'} ORDER BY id DESC`;
    return (this.db.prepare(sql).all() as Row[]).map(infoOf);
  }

  /** Revokes the live token with this name (or numeric id); returns it, or null when none. */
  revoke(nameOrId: string, actor: string): TokenInfo | null {
    const at = this.now();
    return this.db.transaction(() => {
      const r = (/^\d+$/.test(nameOrId)
        ? this.db.prepare('SELECT * FROM api_tokens WHERE id = ? AND revoked IS NULL').get(Number(nameOrId))
        : this.db.prepare('SELECT * FROM api_tokens WHERE name = ? AND revoked IS NULL').get(nameOrId)) as Row | undefined;
      if (!r) return null;
      this.db.prepare('UPDATE api_tokens SET revoked = ? WHERE id = ?').run(at, r.id);
      const before = infoOf(r);
      const after = { ...before, revoked: at };
      writeAudit(this.db, { at, actor, action: 'token.revoke', target: `token:${r.name}`, before, after });
      return after;
    }).immediate();
  }

  /** The live token with this secret, or null. Records its use (at most once a minute); a use
   *  that cannot be recorded (full or read-only disk) does not fail the request: a read must
   *  keep working when the disk cannot be written. */
  verify(token: string): TokenInfo | null {
    if (!token.startsWith(PREFIX) || token.length > 100) return null;
    const r = this.db.prepare('SELECT * FROM api_tokens WHERE hash = ? AND revoked IS NULL').get(hashToken(token)) as Row | undefined;
    if (!r) return null;
    const at = this.now();
    if ((r.last_used === null || at - r.last_used >= TOUCH_MS) && this.canWrite()) {
      try {
        this.db.prepare('UPDATE api_tokens SET last_used = ? WHERE id = ?').run(at, r.id);
        r.last_used = at;
      } catch (e) {
        if (!this.onTouchError) throw e;
        this.onTouchError(e);
      }
    }
    return infoOf(r);
  }
}
