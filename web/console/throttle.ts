// Login throttling, in memory: failures are counted per user name and per client address. After
// `free` failures of a key, each further failure locks it for base * 2^(n - free), at most `max`.
// A locked key's attempts get 429 with Retry-After and no password check. Each attempt counts
// as a failure until its password proves good (parallel guesses get no head start). A key's count is
// forgotten `forgetMs` after its last failure; a successful login clears the user's count (not
// the client's: one good account must not reset an address that is guessing others).

export interface ThrottleOptions {
  /** Failures per user name before delays start (default 5). */
  perUser?: number;
  /** Failures per client address before delays start (default 20). */
  perClient?: number;
  /** First delay (default 1 s); doubles with every further failure... */
  baseMs?: number;
  /** ...up to this (default 15 min). */
  maxMs?: number;
  /** A key's failures are forgotten this long after its last one (default 1 h). */
  forgetMs?: number;
  now?: () => number;
}

interface Entry {
  failures: number;
  last: number;
  lockedUntil: number;
}

/** Keys held at most: beyond it the oldest are dropped (an address spray cannot eat memory). */
const MAX_KEYS = 50_000;

export class LoginThrottle {
  private readonly keys = new Map<string, Entry>();
  private readonly o: Required<Omit<ThrottleOptions, 'now'>>;
  private readonly now: () => number;

  constructor(opts: ThrottleOptions = {}) {
    this.o = { perUser: opts.perUser ?? 5, perClient: opts.perClient ?? 20, baseMs: opts.baseMs ?? 1000, maxMs: opts.maxMs ?? 15 * 60_000, forgetMs: opts.forgetMs ?? 3_600_000 };
    this.now = opts.now ?? Date.now;
  }

  /** Seconds to wait before this user / client may try again, or 0. */
  retryAfter(user: string, client: string): number {
    const t = this.now();
    const until = Math.max(this.entry(`u:${user.toLowerCase()}`, t)?.lockedUntil ?? 0, this.entry(`c:${client}`, t)?.lockedUntil ?? 0);
    return until > t ? Math.ceil((until - t) / 1000) : 0;
  }

  failed(user: string, client: string): void {
    const t = this.now();
    this.bump(`u:${user.toLowerCase()}`, this.o.perUser, t);
    this.bump(`c:${client}`, this.o.perClient, t);
  }

  /** A good password: the user's count goes; the attempt, counted as a failure beforehand, is
   *  taken back from the client's count. */
  succeeded(user: string, client: string): void {
    this.keys.delete(`u:${user.toLowerCase()}`);
    const e = this.keys.get(`c:${client}`);
    if (e && e.failures > 0 && --e.failures < this.o.perClient) e.lockedUntil = 0;
  }

  private entry(key: string, t: number): Entry | undefined {
    const e = this.keys.get(key);
    if (e && t - e.last >= this.o.forgetMs && t >= e.lockedUntil) {
      this.keys.delete(key);
      return undefined;
    }
    return e;
  }

  private bump(key: string, free: number, t: number): void {
    const e = this.entry(key, t) ?? { failures: 0, last: t, lockedUntil: 0 };
    e.failures++;
    e.last = t;
    if (e.failures >= free) e.lockedUntil = t + Math.min(this.o.maxMs, this.o.baseMs * 2 ** Math.min(30, e.failures - free));
    this.keys.delete(key); // re-insert: the Map's order is the age order
    this.keys.set(key, e);
    if (this.keys.size > MAX_KEYS) this.keys.delete(this.keys.keys().next().value!);
  }
}

/** At most one log line per `everyMs` for login failures, with how many it stands for. */
export class FailureLog {
  private last = -Infinity;
  private suppressed = 0;
  constructor(private readonly write: (msg: { user: string; client: string; throttled: boolean; suppressed: number }) => void, private readonly everyMs = 10_000, private readonly now: () => number = Date.now) {}

  note(user: string, client: string, throttled: boolean): void {
    const t = this.now();
    if (t - this.last < this.everyMs) {
      this.suppressed++;
      return;
    }
    this.last = t;
    this.write({ user: user.slice(0, 64), client, throttled, suppressed: this.suppressed });
    this.suppressed = 0;
  }
}
