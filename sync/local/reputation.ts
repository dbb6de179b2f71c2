// Local reputation: events reported by the site's own mail system and people (spam, trap hits,
// ham, false positives) and a time-decayed, capped score per key (a single IP or a domain).
//
// The score is a running sum kept in [-cap, cap]. Going through a key's events in time order:
//   s <- s * 0.5^(dt / half_life)           (decay since the previous event)
//   spam:  s <- s + weight
//   trap:  s <- s + 2 * weight              (a spam-trap hit is near-certain evidence: no person
//                                           asked for that mail)
//   ham:   s <- s - weight
//   false-positive: s <- min(s, 0) - weight (a person says "this was not spam": all positive
//                                           evidence so far is cancelled, then it counts as ham)
//   s <- clamp(s, -cap, cap)
// and at time t after the last event: score(t) = s * 0.5^((t - t_last) / half_life).
// Without the cap and without false positives this is exactly sum(sign * weight * 0.5^(age / half_life)).
// Clamping as we go (rather than at the end) bounds what a burst of reports can do: 1000 spam
// reports are worth `cap`, and start decaying from the last one.
//
// reputation_scores keeps s and t_last per key (updated in the event's transaction), so the
// overlay is built without reading the event history. A score computed with another
// half_life/cap is recomputed from the events when the store opens.

import type { Db } from '../../core/db.ts';
import { writeAudit } from './audit.ts';
import { checkText, InputError, parseKey, type KeyKind } from './keys.ts';

export type ReportKind = 'spam' | 'trap' | 'ham' | 'false-positive';
export const REPORT_KINDS: readonly ReportKind[] = ['spam', 'trap', 'ham', 'false-positive'];

export interface ReputationConfig {
  /** Seconds (the config's duration unit). */
  half_life: number;
  cap: number;
  /** policy.reputation.bar: a key whose score (at two decimals) reaches it is listed in bl/dbl
   *  (127.0.0.4), unless an allow or a provider range (provider_bar) says otherwise. Default 3. */
  bar?: number;
}

export const DEFAULT_REPUTATION: ReputationConfig = { half_life: 7 * 86400, cap: 10, bar: 3 };

export interface ReputationEvent {
  id: number;
  key: string;
  kind: ReportKind;
  weight: number;
  reporter: string;
  /** Unix ms. */
  at: number;
  note: string | null;
}

export interface ReportInput {
  key: unknown;
  kind: unknown;
  weight?: unknown;
  reporter: unknown;
  /** Unix ms or ISO 8601; default now. At most 5 minutes ahead of the clock. */
  at?: unknown;
  note?: unknown;
}

/** The stored running score of a key: s right after its last event at `at`. */
export interface ScoreState {
  key: string;
  keyKind: KeyKind;
  score: number;
  at: number;
  events: number;
}

/** A key among the top scores: its score now (decayed) and whether it reaches the bar. */
export interface TopKey {
  key: string;
  keyKind: KeyKind;
  /** The decayed score now. */
  score: number;
  /** Unix ms of its last event. */
  lastAt: number;
  events: number;
  /** The score at two decimals (as DNS compares it) reaches policy.reputation.bar. */
  overBar: boolean;
}

export interface EventQuery {
  /** Only this key (any spelling of one IP or domain). */
  key?: unknown;
  kind?: unknown;
  reporter?: unknown;
  /** Only events older (by time, then id) than the event with this id (keyset paging). */
  before?: number;
  /** At most this many (default 50, at most 500). */
  limit?: number;
}

export interface EventPage {
  events: ReputationEvent[];
  /** Pass as `before` for the next (older) page; null on the last page. */
  next: number | null;
}

export const MAX_WEIGHT = 100;
const MAX_REPORTER = 100;
const MAX_NOTE = 500;
const FUTURE_SLACK_MS = 5 * 60_000;

/** The score `s` (at `from`) decayed to `to`. Never grows: a `to` before `from` is no decay. */
export function decayed(s: number, from: number, to: number, halfLifeSec: number): number {
  if (to <= from || s === 0) return s;
  return s * 0.5 ** ((to - from) / (halfLifeSec * 1000));
}

/** One step of the running score: `s` (after an event at `from`) with the event `e` applied. */
export function applyEvent(s: number, from: number, e: { kind: ReportKind; weight: number; at: number }, cfg: ReputationConfig): number {
  let v = decayed(s, from, e.at, cfg.half_life);
  switch (e.kind) {
    case 'spam': v += e.weight; break;
    case 'trap': v += 2 * e.weight; break;
    case 'ham': v -= e.weight; break;
    case 'false-positive': v = Math.min(v, 0) - e.weight; break;
  }
  return Math.max(-cfg.cap, Math.min(cfg.cap, v));
}

/** Running score over events sorted by time; { score, at } after the last one. */
export function foldEvents(events: readonly { kind: ReportKind; weight: number; at: number }[], cfg: ReputationConfig): { score: number; at: number } {
  let s = 0;
  let at = 0;
  for (const e of events) {
    s = applyEvent(s, at, e, cfg);
    at = e.at;
  }
  return { score: s, at };
}

export function parseKind(v: unknown, field = 'kind'): ReportKind {
  if (typeof v === 'string' && (REPORT_KINDS as readonly string[]).includes(v)) return v as ReportKind;
  throw new InputError(`${field} must be one of ${REPORT_KINDS.join(', ')}`, field);
}

export function parseWeight(v: unknown, field = 'weight'): number {
  if (v === undefined || v === null) return 1;
  const n = typeof v === 'string' && /^\d+(\.\d+)?$/.test(v.trim()) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isFinite(n) || n <= 0 || n > MAX_WEIGHT) {
    throw new InputError(`${field} must be a number above 0 and at most ${MAX_WEIGHT}`, field);
  }
  return n;
}

function parseAt(v: unknown, now: number): number {
  if (v === undefined || v === null) return now;
  let at: number;
  if (typeof v === 'number' && Number.isSafeInteger(v)) at = v;
  else if (typeof v === 'string' && /^\d{4}-\d{2}-\d{2}/.test(v)) at = Date.parse(v);
  else throw new InputError('at must be an ISO 8601 time or unix milliseconds', 'at');
  if (Number.isNaN(at) || at < 0) throw new InputError('at is not a valid time', 'at');
  if (at > now + FUTURE_SLACK_MS) throw new InputError('at is in the future', 'at');
  return at;
}

interface EventRow {
  id: number;
  key: string;
  kind: string;
  weight: number;
  reporter: string;
  at: number;
  note: string | null;
}

interface ScoreRow {
  key: string;
  key_kind: string;
  score: number;
  at: number;
  events: number;
  half_life: number;
  cap: number;
  rank: number | null;
}

const eventOf = (r: EventRow): ReputationEvent => ({ ...r, kind: r.kind as ReportKind });
const stateOf = (r: ScoreRow): ScoreState => ({ key: r.key, keyKind: r.key_kind as KeyKind, score: r.score, at: r.at, events: r.events });

export class Reputation {
  constructor(private readonly db: Db, public cfg: ReputationConfig, private readonly now: () => number = Date.now) {
    if (!(cfg.half_life > 0) || !(cfg.cap > 0)) throw new Error('reputation: half_life and cap must be above 0');
  }

  /** Recomputes stored scores made with another half_life or cap (the config changed). */
  syncConfig(): number {
    const stale = this.db.prepare('SELECT key FROM reputation_scores WHERE half_life != ? OR cap != ?').pluck().all(this.cfg.half_life, this.cfg.cap) as string[];
    if (stale.length) this.db.transaction(() => stale.forEach((k) => this.recompute(k))).immediate();
    return stale.length;
  }

  /** Validates and stores an event, updates the key's score and writes the audit row (by
   *  `actor`, default the reporter), all in one transaction. */
  report(input: ReportInput, actor?: string): { event: ReputationEvent; score: number; before: number } {
    const now = this.now();
    const key = parseKey(input.key, { cidr: false, wildcard: false });
    const kind = parseKind(input.kind);
    const weight = parseWeight(input.weight);
    const reporter = checkText(input.reporter, 'reporter', MAX_REPORTER)!;
    const note = checkText(input.note, 'note', MAX_NOTE, { optional: true }) ?? null;
    const at = parseAt(input.at, now);
    return this.db.transaction(() => {
      const prev = this.state(key.key);
      const before = prev ? decayed(prev.score, prev.at, now, this.cfg.half_life) : 0;
      const id = Number(this.db.prepare('INSERT INTO reputation_events (key, kind, weight, reporter, at, note) VALUES (?, ?, ?, ?, ?, ?)')
        .run(key.key, kind, weight, reporter, at, note).lastInsertRowid);
      const event: ReputationEvent = { id, key: key.key, kind, weight, reporter, at, note };
      if (prev && at < prev.at) this.recompute(key.key); // late event: replay the key's history in order
      else this.store(key.key, key.kind, applyEvent(prev?.score ?? 0, prev?.at ?? at, event, this.cfg), at, (prev?.events ?? 0) + 1);
      const st = this.state(key.key)!;
      const score = decayed(st.score, st.at, now, this.cfg.half_life);
      // Every report is audited (who moved a key's score, from what to what); a false positive
      // keeps its own action, as it cancels all positive evidence.
      writeAudit(this.db, {
        at: now, actor: actor ?? reporter, action: kind === 'false-positive' ? 'reputation.false-positive' : 'reputation.report',
        target: key.key, before: { score: before }, after: { score, event },
      });
      return { event, score, before };
    }).immediate();
  }

  /** The stored running score of a key (null when it has no events). */
  state(key: string): ScoreState | null {
    const r = this.db.prepare('SELECT * FROM reputation_scores WHERE key = ?').get(key) as ScoreRow | undefined;
    return r ? stateOf(r) : null;
  }

  /** The decayed score of a canonical key at `at` (default now); 0 without events. */
  score(key: string, at = this.now()): number {
    const st = this.state(key);
    return st ? decayed(st.score, st.at, at, this.cfg.half_life) : 0;
  }

  /** Every stored running score (for the overlay). */
  allStates(): ScoreState[] {
    return (this.db.prepare('SELECT * FROM reputation_scores').all() as ScoreRow[]).map(stateOf);
  }

  /** policy.reputation.bar (default 3). */
  get bar(): number {
    return this.cfg.bar ?? DEFAULT_REPUTATION.bar!;
  }

  /** The keys with the highest scores now, highest first, read off the rank index (the first
   *  `limit` rows, whatever the number of keys or events); `overBar` counts every key at or over
   *  the bar. Keys whose score shows as 0.00 are left out. */
  top(limit = 20, at = this.now()): { keys: TopKey[]; overBar: number } {
    const hl = this.cfg.half_life * 1000;
    const bar = this.bar;
    // score(t) = 2^(rank - t / hl): a score of x or more at t is rank >= log2(x) + t / hl.
    const rankOf = (x: number) => Math.log2(x) + at / hl;
    const rows = this.db.prepare(`SELECT key, key_kind, score, at, events FROM reputation_scores
      WHERE rank IS NOT NULL AND rank >= ? ORDER BY rank DESC LIMIT ?`).all(rankOf(0.005), Math.max(1, Math.min(500, Math.floor(limit)))) as ScoreRow[];
    const overBar = this.db.prepare('SELECT count(*) FROM reputation_scores WHERE rank IS NOT NULL AND rank >= ?').pluck().get(rankOf(bar - 0.005)) as number;
    const keys = rows.map((r) => {
      const score = decayed(r.score, r.at, at, this.cfg.half_life);
      return { key: r.key, keyKind: r.key_kind as KeyKind, score, lastAt: r.at, events: r.events, overBar: Math.round(score * 100) / 100 >= bar };
    });
    return { keys, overBar };
  }

  /** Recent events, newest first (by time, then id), optionally of one key, kind or reporter;
   *  keyset paging with `before` (an event id). Bad filters are InputErrors naming the field. */
  recent(q: EventQuery = {}): EventPage {
    const where: string[] = [];
    const args: (string | number)[] = [];
    if (q.key !== undefined) {
      where.push('key = ?');
      args.push(parseKey(q.key, { cidr: false, wildcard: false }).key);
    }
    if (q.kind !== undefined) {
      where.push('kind = ?');
      args.push(parseKind(q.kind));
    }
    if (q.reporter !== undefined) {
      where.push('reporter = ?');
      args.push(checkText(q.reporter, 'reporter', MAX_REPORTER)!);
    }
    if (q.before !== undefined) {
      const c = this.db.prepare('SELECT at, id FROM reputation_events WHERE id = ?').get(q.before) as { at: number; id: number } | undefined;
      if (!c) throw new InputError(`before: there is no event #${q.before}`, 'before');
      where.push('(at, id) < (?, ?)');
      args.push(c.at, c.id);
    }
    const limit = Math.max(1, Math.min(500, Math.floor(q.limit ?? 50)));
    const rows = this.db.prepare(`SELECT * FROM reputation_events ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
      ORDER BY at DESC, id DESC LIMIT ${limit + 1}`).all(...args) as EventRow[];
    const more = rows.length > limit;
    const events = rows.slice(0, limit).map(eventOf);
    return { events, next: more ? events[events.length - 1]!.id : null };
  }

  /** One event by id (null when there is none). */
  event(id: number): ReputationEvent | null {
    const r = this.db.prepare('SELECT * FROM reputation_events WHERE id = ?').get(id) as EventRow | undefined;
    return r ? eventOf(r) : null;
  }

  /** A key's events, newest first. */
  events(key: string, limit = 50): ReputationEvent[] {
    return (this.db.prepare('SELECT * FROM reputation_events WHERE key = ? ORDER BY at DESC, id DESC LIMIT ?').all(key, limit) as EventRow[]).map(eventOf);
  }

  /** The score of a key with the arithmetic behind it (explain): each event in time order with
   *  the running score after it, and the decay to `at`. `key` is parsed (any spelling). */
  explain(keyText: string, at = this.now(), limit = 200): {
    key: string; score: number; halfLife: number; cap: number;
    events: (ReputationEvent & { after: number })[]; truncated: boolean;
  } {
    const key = parseKey(keyText, { cidr: false, wildcard: false }).key;
    const rows = (this.db.prepare('SELECT * FROM reputation_events WHERE key = ? ORDER BY at, id').all(key) as EventRow[]).map(eventOf);
    let s = 0;
    let t = 0;
    const steps = rows.map((e) => {
      s = applyEvent(s, t, e, this.cfg);
      t = e.at;
      return { ...e, after: s };
    });
    return {
      key, score: decayed(s, t, at, this.cfg.half_life), halfLife: this.cfg.half_life, cap: this.cfg.cap,
      events: steps.slice(-limit).reverse(), truncated: steps.length > limit,
    };
  }

  private recompute(key: string): void {
    const rows = (this.db.prepare('SELECT * FROM reputation_events WHERE key = ? ORDER BY at, id').all(key) as EventRow[]).map(eventOf);
    if (rows.length === 0) {
      this.db.prepare('DELETE FROM reputation_scores WHERE key = ?').run(key);
      return;
    }
    const f = foldEvents(rows, this.cfg);
    this.store(key, parseKey(key, { cidr: false, wildcard: false }).kind, f.score, f.at, rows.length);
  }

  private store(key: string, kind: KeyKind, score: number, at: number, events: number): void {
    // The rank orders keys by their decayed score at any time (see the migration in core/db.ts).
    const rank = score > 0 ? Math.log2(score) + at / (this.cfg.half_life * 1000) : null;
    this.db.prepare(`INSERT INTO reputation_scores (key, key_kind, score, at, events, half_life, cap, rank) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
      ON CONFLICT (key) DO UPDATE SET key_kind = excluded.key_kind, score = excluded.score, at = excluded.at, events = excluded.events,
      half_life = excluded.half_life, cap = excluded.cap, rank = excluded.rank`).run(key, kind, score, at, events, this.cfg.half_life, this.cfg.cap, rank);
  }
}
