// Removal requests: a sender on the public lookup page asks for a listed key to be removed
// (contact address, message); an operator approves it (an allow override through
// LocalStore.addOverride, its reason naming the request) or rejects it with a note. Both
// decisions are audited (`removal.approve`, `removal.reject`, target the key) in the transaction
// that changes the request, and an approval's override commits in that same transaction.
//
// Limits against a hostile internet client, counted from the table itself (so they hold across
// restarts and processes): requests per client address and in all over the last hour (429 with
// the seconds until one is free), open requests per key (409), the message's length.

import type { Db } from '../../core/db.ts';
import { writeAudit } from './audit.ts';
import { checkText, hasControl, InputError, parseKey } from './keys.ts';
import type { Override } from './overrides.ts';
import type { LocalStore } from './store.ts';

export type RemovalState = 'open' | 'approved' | 'rejected';
export const REMOVAL_STATES: readonly RemovalState[] = ['open', 'approved', 'rejected'];

export interface RemovalRequest {
  id: number;
  /** Canonical key (keys.ts): one address or one domain. */
  key: string;
  contact: string;
  message: string;
  /** The sender's address as the web layer saw it (web/session.ts clientAddress). */
  client: string;
  /** Unix ms. */
  created: number;
  state: RemovalState;
  decidedBy: string | null;
  decidedAt: number | null;
  note: string | null;
  /** The allow override an approval made. */
  overrideId: number | null;
}

export interface RemovalLimits {
  /** Requests one client address may file per hour. */
  perClientHour: number;
  /** Requests all clients together may file per hour. */
  globalHour: number;
  /** Longest message, in characters. */
  maxMessage: number;
  /** Open requests one key may have at a time. */
  openPerKey: number;
}

export const DEFAULT_REMOVAL_LIMITS: RemovalLimits = { perClientHour: 5, globalHour: 100, maxMessage: 2000, openPerKey: 3 };

export const MAX_CONTACT = 254;
export const MAX_NOTE = 400;
const HOUR = 3_600_000;

/** A request that cannot be filed now (429, `retryAfter` seconds) or a decision on a request
 *  that is unknown (404) or already decided (409). */
export class RemovalRefused extends Error {
  constructor(message: string, readonly status: 404 | 409 | 429, readonly retryAfter?: number) {
    super(message);
    this.name = 'RemovalRefused';
  }
}

interface Row {
  id: number;
  key: string;
  contact: string;
  message: string;
  client: string;
  created: number;
  state: string;
  decided_by: string | null;
  decided_at: number | null;
  note: string | null;
  override_id: number | null;
}

function fromRow(r: Row): RemovalRequest {
  return {
    id: r.id, key: r.key, contact: r.contact, message: r.message, client: r.client, created: r.created, state: r.state as RemovalState,
    decidedBy: r.decided_by, decidedAt: r.decided_at, note: r.note, overrideId: r.override_id,
  };
}

/** An e-mail address a person can be answered at: local@domain, the domain a real host name
 *  (keys.ts rules, at least two labels), no quotes, blanks or controls. Lowercases the domain. */
export function parseContact(v: unknown, field = 'contact'): string {
  if (typeof v !== 'string') throw new InputError(`${field} must be a string`, field);
  const s = v.trim();
  if (s === '') throw new InputError(`${field} is required: an e-mail address to answer you at`, field);
  if (s.length > MAX_CONTACT) throw new InputError(`${field} is too long (${s.length} characters, at most ${MAX_CONTACT})`, field);
  const at = s.lastIndexOf('@');
  const local = s.slice(0, at);
  const domain = s.slice(at + 1);
  const bad = () => new InputError(`${field} is not an e-mail address (name@example.com)`, field);
  if (at < 1 || local.length > 64 || !/^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+$/.test(local) || local.startsWith('.') || local.endsWith('.') || local.includes('..')) throw bad();
  let host: string;
  try {
    const k = parseKey(domain, { cidr: false, wildcard: false }, field);
    if (k.kind !== 'domain' || !k.key.includes('.')) throw bad();
    host = k.key;
  } catch (e) {
    if (e instanceof InputError) throw bad();
    throw e;
  }
  return `${local}@${host}`;
}

/** The sender's message: 1..max characters; line breaks and tabs kept, other controls refused. */
export function parseMessage(v: unknown, max: number, field = 'message'): string {
  if (typeof v !== 'string') throw new InputError(`${field} must be a string`, field);
  const s = v.replace(/\r\n?/g, '\n').trim();
  if (s === '') throw new InputError(`${field} is required: say why the listing is wrong or what you fixed`, field);
  if (s.length > max) throw new InputError(`${field} is too long (${s.length} characters, at most ${max})`, field);
  if (hasControl(s.replace(/[\n\t]/g, ' '))) throw new InputError(`${field} contains control characters`, field);
  return s;
}

export class Removals {
  private readonly db: Db;

  constructor(private readonly store: LocalStore, readonly limits: RemovalLimits = DEFAULT_REMOVAL_LIMITS, private readonly now: () => number = Date.now) {
    this.db = store.db;
  }

  /** Seconds until this client may file a request (0 = now): its own hourly limit, then the
   *  global one. */
  retryAfter(client: string): number {
    const now = this.now();
    // the created time of the limit-th newest request of the hour: when it leaves the window, one is free
    const nth = (sql: string, limit: number, ...args: (string | number)[]): number => {
      if (limit <= 0) return 3600;
      const r = this.db.prepare(`${sql} ORDER BY created DESC LIMIT 1 OFFSET ?`).get(...args, now - HOUR, limit - 1) as { created: number } | undefined;
      return r ? Math.max(1, Math.ceil((r.created + HOUR - now) / 1000)) : 0;
    };
    return nth('SELECT created FROM removal_requests WHERE client = ? AND created > ?', this.limits.perClientHour, client)
      || nth('SELECT created FROM removal_requests WHERE created > ?', this.limits.globalHour);
  }

  /** Validates and stores a request. InputError (400) names the field at fault; RemovalRefused
   *  429 (too many this hour, with retryAfter) or 409 (enough open requests for this key). */
  file(input: { key: unknown; contact: unknown; message: unknown; client: string }): RemovalRequest {
    const key = parseKey(input.key, { cidr: false, wildcard: false }, 'key').key;
    const contact = parseContact(input.contact);
    const message = parseMessage(input.message, this.limits.maxMessage);
    const client = input.client.slice(0, 64);
    return this.db.transaction(() => {
      const wait = this.retryAfter(client);
      if (wait > 0) throw new RemovalRefused(`too many removal requests; try again in ${wait} s`, 429, wait);
      const open = (this.db.prepare("SELECT count(*) AS n FROM removal_requests WHERE key = ? AND state = 'open'").get(key) as { n: number }).n;
      if (open >= this.limits.openPerKey) {
        throw new RemovalRefused(`${key} already has ${open} open removal request${open === 1 ? '' : 's'}; the operators will answer ${open === 1 ? 'it' : 'them'} first`, 409);
      }
      const created = this.now();
      const id = Number(this.db.prepare('INSERT INTO removal_requests (key, contact, message, client, created) VALUES (?, ?, ?, ?, ?)')
        .run(key, contact, message, client, created).lastInsertRowid);
      return this.get(id)!;
    }).immediate();
  }

  get(id: number): RemovalRequest | null {
    const r = this.db.prepare('SELECT * FROM removal_requests WHERE id = ?').get(id) as Row | undefined;
    return r ? fromRow(r) : null;
  }

  /** Open requests oldest first (the queue), decided ones newest first; `state` picks one kind.
   *  At most `limit` rows (default 100, at most 1000). */
  list(q: { state?: RemovalState; limit?: number } = {}): RemovalRequest[] {
    const limit = Math.max(1, Math.min(1000, Math.floor(q.limit ?? 100)));
    // each on an index (state, id) or the rowid: no sort of the whole table
    const rows = (state: RemovalState, n: number) =>
      this.db.prepare(`SELECT * FROM removal_requests WHERE state = ? ORDER BY id ${state === 'open' ? 'ASC' : 'DESC'} LIMIT ?`).all(state, n) as Row[];
    if (q.state !== undefined) return rows(q.state, limit).map(fromRow);
    const open = rows('open', limit);
    const decided = open.length < limit
      ? this.db.prepare("SELECT * FROM removal_requests WHERE state <> 'open' ORDER BY id DESC LIMIT ?").all(limit - open.length) as Row[]
      : [];
    return [...open, ...decided].map(fromRow);
  }

  openCount(): number {
    return (this.db.prepare("SELECT count(*) AS n FROM removal_requests WHERE state = 'open'").get() as { n: number }).n;
  }

  /** Open requests of one key (the public page says one is pending). */
  openFor(key: string): number {
    return (this.db.prepare("SELECT count(*) AS n FROM removal_requests WHERE key = ? AND state = 'open'").get(key) as { n: number }).n;
  }

  private mustBeOpen(id: number): RemovalRequest {
    const r = this.get(id);
    if (!r) throw new RemovalRefused(`there is no removal request #${id}`, 404);
    if (r.state !== 'open') throw new RemovalRefused(`removal request #${id} was already ${r.state}${r.decidedBy ? ` by ${r.decidedBy}` : ''}`, 409);
    return r;
  }

  /** Allows the key (an allow override replacing any override of it, reason "removal request
   *  #N[: note]", `expires` as parseExpires reads it) and marks the request approved, with the
   *  override id, in one transaction with both audit rows; the overlay has it on return. */
  approve(id: number, d: { note?: unknown; expires?: unknown; actor: string; author: string; admin?: boolean }): { request: RemovalRequest; override: Override } {
    const note = checkText(d.note, 'note', MAX_NOTE, { optional: true }) ?? null;
    const r = this.mustBeOpen(id);
    let request!: RemovalRequest;
    const override = this.store.addOverride(
      { action: 'allow', key: r.key, reason: `removal request #${id}${note ? `: ${note}` : ''}`, author: d.author, expires: d.expires },
      { actor: d.actor, replace: true, admin: d.admin },
      (o) => {
        const before = this.mustBeOpen(id); // decided meanwhile by another process: nothing is stored
        request = this.decide(before, 'approved', d.actor, note, o.id);
      },
    );
    return { request, override };
  }

  /** Marks the request rejected; the note (required) says why. The DNS answer does not change. */
  reject(id: number, d: { note: unknown; actor: string }): RemovalRequest {
    const note = checkText(d.note, 'note', MAX_NOTE)!;
    return this.db.transaction(() => this.decide(this.mustBeOpen(id), 'rejected', d.actor, note, null)).immediate();
  }

  private decide(before: RemovalRequest, state: 'approved' | 'rejected', actor: string, note: string | null, overrideId: number | null): RemovalRequest {
    const at = this.now();
    this.db.prepare('UPDATE removal_requests SET state = ?, decided_by = ?, decided_at = ?, note = ?, override_id = ? WHERE id = ?')
      .run(state, actor, at, note, overrideId, before.id);
    const after = this.get(before.id)!;
    writeAudit(this.db, { at, actor, action: state === 'approved' ? 'removal.approve' : 'removal.reject', target: before.key, before, after });
    return after;
  }
}
