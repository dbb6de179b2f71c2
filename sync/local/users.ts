// Console users: name, role (admin, operator, viewer), an scrypt password hash with its own salt
// and parameters, created, disabled, last login. Every change is audited (never the hash). The
// last enabled admin can be neither removed, demoted nor disabled. A user's sessions end when
// they are removed, disabled, demoted or given a new password (the console may keep the session
// making the change: `keepSession`). The console also refuses a user removing, disabling or
// demoting themselves (`refuseSelf`): another admin does that, on purpose.

import { createHash, randomBytes, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import type { Db } from '../../core/db.ts';
import { writeAudit } from './audit.ts';
import { InputError } from './keys.ts';

export type Role = 'admin' | 'operator' | 'viewer';
export const ROLES: readonly Role[] = ['admin', 'operator', 'viewer'];

export interface UserInfo {
  id: number;
  name: string;
  role: Role;
  created: number;
  disabled: number | null;
  lastLogin: number | null;
}

export interface UserPatch {
  role?: unknown;
  password?: unknown;
  disabled?: boolean;
}

/** A change that would leave no enabled admin, or a refused change to oneself (409). */
export class UserConflict extends Error {
  readonly status = 409;
}

export interface ChangeOptions {
  /** Refuse when the actor (`user:<name>`) removes, disables or demotes themselves. */
  refuseSelf?: boolean;
  /** The id hash of a session of the changed user to keep (the one making the change). */
  keepSession?: string;
  /** A password change applies only while the password is still the one with this stamp
   *  (`passwordStamp`): a form posted twice (a reload) changes it once. */
  ifPassword?: string;
}

/** A short fingerprint of a stored hash: tells "changed since" without revealing anything. */
const stampOf = (hash: string) => createHash('sha256').update(hash, 'utf8').digest('base64url').slice(0, 16);

/** admin > operator > viewer: a change to a lower rank is a demotion. */
const RANK: Record<Role, number> = { admin: 2, operator: 1, viewer: 0 };

/** A generated password: 144 random bits, 24 characters (base64url). */
export function generatePassword(): string {
  return randomBytes(18).toString('base64url');
}

interface Row {
  id: number;
  name: string;
  role: string;
  password: string;
  created: number;
  disabled: number | null;
  last_login: number | null;
}

const infoOf = (r: Row): UserInfo => ({ id: r.id, name: r.name, role: r.role as Role, created: r.created, disabled: r.disabled, lastLogin: r.last_login });

// ~64 MiB and ~100 ms per hash on a small server: slow for guessing, fine for logins.
const PARAMS = { N: 2 ** 16, r: 8, p: 1 };
const KEYLEN = 32;
export const MIN_PASSWORD = 12;
const MAX_PASSWORD = 1024;

function scrypt(password: string, salt: Buffer, keylen: number, opts: ScryptOptions): Promise<Buffer> {
  return new Promise((res, rej) => scryptCb(password.normalize('NFC'), salt, keylen, opts, (e, k) => (e ? rej(e) : res(k))));
}

const maxmem = (N: number, r: number) => 128 * N * r * 2;

/** `scrypt$N$r$p$salt$hash`; async so a login never blocks the event loop. */
export async function hashPassword(password: string, params = PARAMS): Promise<string> {
  const salt = randomBytes(16);
  const key = await scrypt(password, salt, KEYLEN, { ...params, maxmem: maxmem(params.N, params.r) });
  return `scrypt$${params.N}$${params.r}$${params.p}$${salt.toString('base64url')}$${key.toString('base64url')}`;
}

/** Constant-time check of a password against a stored hash (its own parameters). */
export async function checkPassword(password: string, stored: string): Promise<boolean> {
  const m = /^scrypt\$(\d+)\$(\d+)\$(\d+)\$([\w-]+)\$([\w-]+)$/.exec(stored);
  if (!m) return false;
  const [N, r, p] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const want = Buffer.from(m[5]!, 'base64url');
  const got = await scrypt(password, Buffer.from(m[4]!, 'base64url'), want.length, { N, r, p, maxmem: maxmem(N, r) });
  return got.length === want.length && timingSafeEqual(got, want);
}

export function parseRole(v: unknown): Role {
  if (typeof v === 'string' && (ROLES as readonly string[]).includes(v)) return v as Role;
  throw new InputError(`role must be one of ${ROLES.join(', ')}`, 'role');
}

export function parsePassword(v: unknown): string {
  if (typeof v !== 'string') throw new InputError('password must be a string', 'password');
  if (v.length < MIN_PASSWORD) throw new InputError(`password must be at least ${MIN_PASSWORD} characters`, 'password');
  if (v.length > MAX_PASSWORD) throw new InputError(`password must be at most ${MAX_PASSWORD} characters`, 'password');
  return v;
}

export function parseUserName(v: unknown): string {
  if (typeof v !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/.test(v)) {
    throw new InputError('a user name is 1..64 letters, digits, ".", "_", "@", "-" (starting with a letter or digit)', 'name');
  }
  return v;
}

/** Compared against when the user does not exist, so an unknown name costs the same time. */
let dummyHash: Promise<string> | undefined;

export class Users {
  constructor(private readonly db: Db, private readonly now: () => number = Date.now) {}

  count(): number {
    return (this.db.prepare('SELECT count(*) AS n FROM users').get() as { n: number }).n;
  }

  list(): UserInfo[] {
    return (this.db.prepare('SELECT * FROM users ORDER BY name').all() as Row[]).map(infoOf);
  }

  get(name: string): UserInfo | null {
    const r = this.row(name);
    return r ? infoOf(r) : null;
  }

  /** The stamp of the user's current password (for `ChangeOptions.ifPassword`), or null. */
  passwordStamp(name: string): string | null {
    const r = this.row(name);
    return r ? stampOf(r.password) : null;
  }

  byId(id: number): UserInfo | null {
    const r = this.db.prepare('SELECT * FROM users WHERE id = ?').get(id) as Row | undefined;
    return r ? infoOf(r) : null;
  }

  async create(name: unknown, role: unknown, password: unknown, actor: string): Promise<UserInfo> {
    const n = parseUserName(name);
    const r = parseRole(role);
    const hash = await hashPassword(parsePassword(password));
    const at = this.now();
    return this.db.transaction(() => {
      if (this.row(n)) throw new UserConflict(`a user named '${n}' already exists`);
      const id = Number(this.db.prepare('INSERT INTO users (name, role, password, created) VALUES (?, ?, ?, ?)').run(n, r, hash, at).lastInsertRowid);
      const info: UserInfo = { id, name: n, role: r, created: at, disabled: null, lastLogin: null };
      writeAudit(this.db, { at, actor, action: 'user.create', target: `user:${n}`, before: null, after: info });
      return info;
    }).immediate();
  }

  /** Changes role, password and/or disabled; a new password, disabling or a demotion ends the
   *  user's sessions (but `opts.keepSession`). Null when there is no such user. */
  async update(name: string, patch: UserPatch, actor: string, opts: ChangeOptions = {}): Promise<UserInfo | null> {
    const role = patch.role === undefined ? undefined : parseRole(patch.role);
    const hash = patch.password === undefined ? undefined : await hashPassword(parsePassword(patch.password));
    const at = this.now();
    return this.db.transaction(() => {
      const r = this.row(name);
      if (!r) return null;
      if (opts.ifPassword !== undefined && hash !== undefined && stampOf(r.password) !== opts.ifPassword) {
        throw new UserConflict(`the password of '${r.name}' was changed since this form was shown (sent twice?): nothing changed`);
      }
      const before = infoOf(r);
      const after: UserInfo = { ...before };
      if (role !== undefined) after.role = role;
      if (patch.disabled !== undefined) after.disabled = patch.disabled ? (before.disabled ?? at) : null;
      const demoted = RANK[after.role] < RANK[before.role];
      if (opts.refuseSelf && actor === `user:${r.name}` && (demoted || (after.disabled !== null && before.disabled === null))) {
        throw new UserConflict(`you cannot ${demoted ? 'demote' : 'disable'} yourself: another admin can`);
      }
      if (before.role === 'admin' && before.disabled === null && (after.role !== 'admin' || after.disabled !== null)) this.keepAnAdmin(r.id, 'demote or disable');
      this.db.prepare('UPDATE users SET role = ?, disabled = ?, password = coalesce(?, password) WHERE id = ?').run(after.role, after.disabled, hash ?? null, r.id);
      if (hash !== undefined || after.disabled !== null || demoted) this.endSessions(r.id, opts.keepSession);
      writeAudit(this.db, { at, actor, action: 'user.update', target: `user:${r.name}`, before, after: hash === undefined ? after : { ...after, password: 'changed' } });
      return after;
    }).immediate();
  }

  /** Removes a user and their sessions; null when there is no such user. */
  remove(name: string, actor: string, opts: Pick<ChangeOptions, 'refuseSelf'> = {}): UserInfo | null {
    const at = this.now();
    return this.db.transaction(() => {
      const r = this.row(name);
      if (!r) return null;
      if (opts.refuseSelf && actor === `user:${r.name}`) throw new UserConflict('you cannot delete yourself: another admin can');
      if (r.role === 'admin' && r.disabled === null) this.keepAnAdmin(r.id, 'remove');
      this.endSessions(r.id);
      this.db.prepare('DELETE FROM users WHERE id = ?').run(r.id);
      const before = infoOf(r);
      writeAudit(this.db, { at, actor, action: 'user.remove', target: `user:${r.name}`, before, after: null });
      return before;
    }).immediate();
  }

  /** The enabled user with this name and password, or null. An unknown name is checked against
   *  a dummy hash: the answer takes as long either way. */
  async authenticate(name: string, password: string): Promise<UserInfo | null> {
    const r = name.length <= 64 ? this.row(name) : undefined;
    if (!r) {
      await checkPassword(password, await (dummyHash ??= hashPassword('not a password')));
      return null;
    }
    if (!(await checkPassword(password, r.password)) || r.disabled !== null) return null;
    return infoOf(r);
  }

  /** Records a successful login (audited with the user as actor). */
  loggedIn(u: UserInfo): void {
    const at = this.now();
    this.db.transaction(() => {
      this.db.prepare('UPDATE users SET last_login = ? WHERE id = ?').run(at, u.id);
      writeAudit(this.db, { at, actor: `user:${u.name}`, action: 'user.login', target: `user:${u.name}` });
    }).immediate();
  }

  loggedOut(u: { name: string }): void {
    writeAudit(this.db, { at: this.now(), actor: `user:${u.name}`, action: 'user.logout', target: `user:${u.name}` });
  }

  /** Ends the user's sessions, all of them or all but `keep` (an id hash). */
  private endSessions(userId: number, keep?: string): void {
    if (keep === undefined) this.db.prepare('DELETE FROM sessions WHERE user_id = ?').run(userId);
    else this.db.prepare('DELETE FROM sessions WHERE user_id = ? AND id_hash != ?').run(userId, keep);
  }

  private keepAnAdmin(id: number, what: string): void {
    const n = (this.db.prepare("SELECT count(*) AS n FROM users WHERE role = 'admin' AND disabled IS NULL AND id != ?").get(id) as { n: number }).n;
    if (n === 0) throw new UserConflict(`cannot ${what} the last enabled admin: make another user admin first`);
  }

  private row(name: string): Row | undefined {
    return this.db.prepare('SELECT * FROM users WHERE name = ?').get(name) as Row | undefined;
  }
}
