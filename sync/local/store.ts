// LocalStore ties the state database to the overlay: every change (override add/remove/expiry,
// reputation report) commits, rebuilds the overlay and hands it to onChange synchronously, all
// before the method returns. So when an API call returns, the DNS server already answers from
// the new overlay.
//
// Changes made by another process (the CLI writing the same SQLite file) are noticed by
// watch(): it polls PRAGMA data_version, which moves only when another connection commits.
// The overlay is also rebuilt when its earliest override expires.

import type { Db } from '../../core/db.ts';
import type { DiskGuard } from '../../core/disk.ts';
import { Overlay, OverrideIndex, ScoreIndex } from './overlay.ts';
import { Overrides, type BatchRow, type GuardOptions, type Override, type OverrideInput } from './overrides.ts';
import { Reputation, type ReportInput, type ReputationConfig, type ReputationEvent } from './reputation.ts';
import { Tokens } from './tokens.ts';
import type { OverrideLimits } from './width.ts';

export interface LocalStoreOptions {
  reputation: ReputationConfig;
  /** policy.override_limits: wider keys need force by an admin (default /16, /32). */
  overrideLimits?: OverrideLimits;
  now?: () => number;
  /** Called synchronously with every new overlay (swap it into the DNS server here). */
  onChange?: (overlay: Overlay) => void;
  /** Called when a background rebuild fails (watch, expiry timer). */
  onError?: (e: unknown) => void;
  /** The state disk's watcher: a token's last use that cannot be recorded is handed to it (and
   *  is not recorded while the disk is not writable); a read never fails for it. */
  disk?: DiskGuard;
}

/** setTimeout's limit; longer waits are re-armed. */
const MAX_TIMER = 2 ** 31 - 1;

export class LocalStore {
  readonly overrides: Overrides;
  readonly reputation: Reputation;
  readonly tokens: Tokens;
  private current: Overlay;
  private serial = 0;
  private readonly now: () => number;
  private expiryTimer: NodeJS.Timeout | undefined;
  private pollTimer: NodeJS.Timeout | undefined;
  private dataVersion = 0;

  constructor(readonly db: Db, private readonly opts: LocalStoreOptions) {
    this.now = opts.now ?? Date.now;
    this.overrides = new Overrides(db, this.now, opts.overrideLimits);
    this.reputation = new Reputation(db, opts.reputation, this.now);
    this.tokens = new Tokens(db, this.now, (e) => {
      if (!opts.disk?.report(e)) opts.onError?.(e);
    }, () => opts.disk?.writable ?? true);
    try {
      this.reputation.syncConfig();
    } catch (e) {
      // A read-only or full state disk: scores keep their stored parameters until it can write.
      if (!opts.disk?.report(e)) throw e;
    }
    this.current = this.make(null, null);
  }

  /** A config reload: new reputation parameters (stored scores made with another half_life or
   *  cap are recomputed) and override limits; the overlay is rebuilt with them. */
  configure(reputation: ReputationConfig, overrideLimits: OverrideLimits | undefined): void {
    this.opts.reputation = reputation;
    this.opts.overrideLimits = overrideLimits;
    this.reputation.cfg = reputation;
    if (overrideLimits) this.overrides.limits = overrideLimits;
    try {
      this.reputation.syncConfig();
    } catch (e) {
      if (!this.opts.disk?.report(e)) throw e;
    }
    this.rebuild();
  }

  get overlay(): Overlay {
    return this.current;
  }

  /** `within` runs in the override's transaction (a removal request marked approved with it):
   *  when it throws, neither is stored and the overlay is not touched. */
  addOverride(input: OverrideInput, opts: { actor?: string; replace?: boolean } & GuardOptions = {}, within?: (o: Override) => void): Override {
    const o = within
      ? this.db.transaction(() => {
        const o = this.overrides.add(input, opts);
        within(o);
        return o;
      }).immediate()
      : this.overrides.add(input, opts);
    this.withRows((rows) => [...rows.filter((r) => r.id !== o.id), o]);
    return o;
  }

  removeOverride(id: number, actor: string): Override {
    const o = this.overrides.remove(id, actor);
    this.withRows((rows) => rows.filter((r) => r.id !== o.id));
    return o;
  }

  setOverrideExpiry(id: number, expires: unknown, actor: string, g: GuardOptions = {}): Override {
    const o = this.overrides.setExpiry(id, expires, actor, g);
    this.withRows((rows) => rows.map((r) => (r.id === o.id ? o : r)));
    return o;
  }

  /** Reason and/or expiry of an override (the console's edit and "expire now"). */
  updateOverride(id: number, change: { reason?: unknown; expires?: unknown }, actor: string, g: GuardOptions = {}): Override {
    const o = this.overrides.update(id, change, actor, g);
    this.withRows((rows) => [...rows.filter((r) => r.id !== o.id), o]);
    return o;
  }

  /** A previewed CSV import, in one transaction; then one overlay rebuild. */
  applyOverrides(rows: readonly BatchRow[], opts: { actor: string; author: string; admin?: boolean }): Override[] {
    const done = this.overrides.applyBatch(rows, opts);
    const ids = new Set(done.map((o) => o.id));
    this.withRows((cur) => [...cur.filter((r) => !ids.has(r.id)), ...done]);
    return done;
  }

  report(input: ReportInput, actor?: string): { event: ReputationEvent; score: number; before: number } {
    const r = this.reputation.report(input, actor);
    // Only this key's score changed: no rebuild of the other scores nor of the overrides.
    const st = this.reputation.state(r.event.key)!;
    this.publish(this.current.index, this.current.scores.with(st));
    return r;
  }

  /** Rebuilds the whole overlay from the database and publishes it (onChange). */
  rebuild(): Overlay {
    const now = this.now();
    return this.publish(new OverrideIndex(this.overrides.list({ now }), now), ScoreIndex.build(this.reputation.allStates(), now, this.opts.reputation.half_life));
  }

  /** Rebuilds the override part only (an override expired). */
  rebuildOverrides(): Overlay {
    const now = this.now();
    return this.publish(new OverrideIndex(this.current.overrides, now), this.current.scores);
  }

  /** Our own change to the overrides, applied to the active list we hold (no re-read: another
   *  process's changes come through watch() and a full rebuild). */
  private withRows(f: (rows: readonly Override[]) => Override[]): void {
    const now = this.now();
    this.publish(new OverrideIndex(f(this.current.overrides), now), this.current.scores);
  }

  private publish(index: OverrideIndex, scores: ScoreIndex): Overlay {
    this.current = this.make(index, scores);
    this.opts.onChange?.(this.current);
    this.armExpiry();
    return this.current;
  }

  private make(index: OverrideIndex | null, scores: ScoreIndex | null): Overlay {
    const now = this.now();
    return new Overlay(index ?? this.overrides.list({ now }), scores ?? this.reputation.allStates(), {
      now: this.now, halfLife: this.opts.reputation.half_life, builtAt: now, serial: ++this.serial,
    });
  }

  /** Picks up changes committed by other processes every `intervalMs`, and rebuilds when an
   *  override expires. Timers are unref'd: they never keep the process alive. */
  watch(intervalMs = 1000): void {
    this.dataVersion = this.version();
    clearInterval(this.pollTimer);
    this.pollTimer = setInterval(() => {
      try {
        const v = this.version();
        if (v !== this.dataVersion) {
          this.dataVersion = v;
          this.rebuild();
        }
      } catch (e) {
        this.opts.onError?.(e);
      }
    }, intervalMs);
    this.pollTimer.unref();
    this.armExpiry();
  }

  /** Stops the timers (the database stays open: it belongs to the caller). */
  close(): void {
    clearInterval(this.pollTimer);
    clearTimeout(this.expiryTimer);
    this.pollTimer = this.expiryTimer = undefined;
  }

  private armExpiry(): void {
    clearTimeout(this.expiryTimer);
    this.expiryTimer = undefined;
    const next = this.current.nextExpiry;
    if (next === null) return;
    const wait = Math.max(0, next - this.now() + 1);
    this.expiryTimer = setTimeout(() => {
      try {
        if (wait > MAX_TIMER) this.armExpiry();
        else this.rebuildOverrides();
      } catch (e) {
        this.opts.onError?.(e);
      }
    }, Math.min(wait, MAX_TIMER));
    this.expiryTimer.unref();
  }

  private version(): number {
    return this.db.pragma('data_version', { simple: true }) as number;
  }
}
