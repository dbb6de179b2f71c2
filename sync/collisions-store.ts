// Collisions after each merge (sync/merge/collisions.ts computes them): the latest result in
// <state_dir>/merge/collisions.json (the CLI and a restarted serve read it), the per source x
// provider count history in SQLite (collision_history, a row when a count changes, pruned after
// HISTORY_DAYS), the rise alerts derived from it, and one warning in the log per new rise.

import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync, openSync, fsyncSync, closeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Db } from '../core/db.ts';
import type { Logger } from '../core/log.ts';
import { setImmediate as turn } from 'node:timers/promises';
import {
  collidePair, riseOf, type CollisionProviderInput, type CollisionSourceInput, type HistoryPoint, type PairCollision, type RiseAlert, RISE_WINDOW_MS,
} from './merge/collisions.ts';

export const HISTORY_DAYS = 90;
/** Longest run of the computation between two yields to the event loop (DNS answers). */
const SLICE_MS = 4;
const FORMAT = 1;

/** What `GET /api/v1/collisions` and `quorumbl collisions --json` return. */
export interface CollisionReport {
  /** The serial of the evidence the counts were computed with. */
  serial: number;
  computedAt: string;
  /** Time the computation took (ms, on the main thread after the merge). */
  ms: number;
  pairs: PairCollision[];
  alerts: RiseAlert[];
}

export function collisionsPath(stateDir: string): string {
  return join(stateDir, 'merge', 'collisions.json');
}

/** Atomic write (temp file, fsync, rename): a crash leaves the old file or the new one. */
export function writeCollisionsFile(file: string, r: CollisionReport): void {
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  try {
    writeFileSync(tmp, JSON.stringify({ format: FORMAT, ...r }));
    const fd = openSync(tmp, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, file);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}

/** The stored report; null when there is none yet. Throws naming the file when it is unreadable. */
export function readCollisionsFile(file: string): CollisionReport | null {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new Error(`${file}: ${(e as Error).message}`);
  }
  let j: { format?: unknown } & Partial<CollisionReport>;
  try {
    j = JSON.parse(text);
  } catch {
    throw new Error(`${file}: not valid JSON (a torn or foreign file)`);
  }
  if (j.format !== FORMAT || typeof j.serial !== 'number' || typeof j.computedAt !== 'string' || !Array.isArray(j.pairs)) {
    throw new Error(`${file}: not a collisions file of format ${FORMAT}`);
  }
  return { serial: j.serial, computedAt: j.computedAt, ms: Number(j.ms ?? 0), pairs: j.pairs, alerts: Array.isArray(j.alerts) ? j.alerts : [] };
}

const pairKey = (source: string, provider: string) => `${source}\0${provider}`;

/** The collision_history table. */
export class CollisionHistory {
  constructor(private readonly db: Db) {}

  /** Appends a row for each pair whose keys or ranges differ from its last row; prunes rows
   *  older than HISTORY_DAYS (the last row of each pair stays: it is the value in force). */
  record(pairs: readonly PairCollision[], at: number, serial: number): number {
    const last = this.db.prepare('SELECT keys, ranges FROM collision_history WHERE source = ? AND provider = ? ORDER BY at DESC, id DESC LIMIT 1');
    const ins = this.db.prepare('INSERT INTO collision_history (source, provider, at, keys, ranges, serial) VALUES (?, ?, ?, ?, ?, ?)');
    let added = 0;
    this.db.transaction(() => {
      for (const p of pairs) {
        const row = last.get(p.source, p.provider) as { keys: number; ranges: number } | undefined;
        if (row && row.keys === p.keys && row.ranges === p.ranges) continue;
        ins.run(p.source, p.provider, at, p.keys, p.ranges, serial);
        added++;
      }
      this.db.prepare(`DELETE FROM collision_history WHERE at < ? AND id NOT IN
        (SELECT max(id) FROM collision_history GROUP BY source, provider)`).run(at - HISTORY_DAYS * 86400_000);
    }).immediate();
    return added;
  }

  /** Each pair's points since `from`, with the one in force at `from` first. */
  pointsSince(from: number): Map<string, HistoryPoint[]> {
    const out = new Map<string, HistoryPoint[]>();
    const before = this.db.prepare(`SELECT source, provider, keys, max(at) AS at FROM collision_history WHERE at <= ? GROUP BY source, provider`).all(from) as { source: string; provider: string; keys: number; at: number }[];
    for (const r of before) out.set(pairKey(r.source, r.provider), [{ at: r.at, keys: r.keys }]);
    const rows = this.db.prepare('SELECT source, provider, keys, at FROM collision_history WHERE at > ? ORDER BY at, id').all(from) as { source: string; provider: string; keys: number; at: number }[];
    for (const r of rows) {
      const k = pairKey(r.source, r.provider);
      const list = out.get(k) ?? [];
      list.push({ at: r.at, keys: r.keys });
      out.set(k, list);
    }
    return out;
  }

  /** Rows of one pair, newest first (tests, the console's chart later). */
  rows(source: string, provider: string): { at: number; keys: number; ranges: number; serial: number }[] {
    return this.db.prepare('SELECT at, keys, ranges, serial FROM collision_history WHERE source = ? AND provider = ? ORDER BY at DESC, id DESC').all(source, provider) as never;
  }
}

/** The rise alerts of the current pairs at `now`. */
export function alertsOf(pairs: readonly PairCollision[], history: CollisionHistory, now: number): RiseAlert[] {
  const points = history.pointsSince(now - RISE_WINDOW_MS);
  const out: RiseAlert[] = [];
  for (const p of pairs) {
    const a = riseOf(p.source, p.provider, points.get(pairKey(p.source, p.provider)) ?? [], p.keys, now);
    if (a) out.push(a);
  }
  return out;
}

export interface CollisionTrackerOptions {
  stateDir: string;
  log: Logger;
  now?: () => number;
}

/** Owned by MergeService: computes after each merge, records, alerts, persists, answers. */
export class CollisionTracker {
  private report: CollisionReport | null = null;
  private history: CollisionHistory | null = null;
  /** Pairs whose alert was open at the last update (or in the restored result): one warning
   *  per rise, until the alert closes. */
  private warned = new Set<string>();
  private readonly file: string;
  private readonly now: () => number;

  constructor(private readonly opts: CollisionTrackerOptions) {
    this.file = collisionsPath(opts.stateDir);
    this.now = opts.now ?? Date.now;
  }

  /** The state database (serve opens it after the merge service exists). */
  attachDb(db: Db): void {
    this.history = new CollisionHistory(db);
  }

  /** Loads the stored result; true when it was computed with the evidence of this serial. */
  restore(serial: number): boolean {
    let r: CollisionReport | null;
    try {
      r = readCollisionsFile(this.file);
    } catch (e) {
      this.opts.log.warn({ err: (e as Error).message }, 'stored collisions ignored: recomputed with the next merge');
      return false;
    }
    if (!r || r.serial !== serial) return false;
    this.report = r;
    for (const a of r.alerts) this.warned.add(pairKey(a.source, a.provider));
    return true;
  }

  /** A result for this serial is held. */
  has(serial: number): boolean {
    return this.report?.serial === serial;
  }

  /** Computes the pairs of a merge, records the history, logs new rises, stores the result.
   *  On the DNS thread: it yields between pairs once a slice has run SLICE_MS (one pair is
   *  well under a millisecond for real feeds; ~4 ms for 4M entries against 1/8 of the space). */
  async update(sources: readonly CollisionSourceInput[], providers: readonly CollisionProviderInput[], serial: number): Promise<CollisionReport> {
    const { log } = this.opts;
    const pairs: PairCollision[] = [];
    let ms = 0;
    let slice = performance.now();
    for (const src of sources) {
      for (const prov of providers) {
        const t = performance.now();
        pairs.push(collidePair(src, prov));
        const end = performance.now();
        ms += end - t;
        if (end - slice >= SLICE_MS) {
          await turn();
          slice = performance.now();
        }
      }
    }
    ms = Math.round(ms * 10) / 10;
    const now = this.now();
    let alerts: RiseAlert[] = [];
    if (this.history) {
      try {
        this.history.record(pairs, now, serial);
      } catch (e) {
        log.warn({ err: (e as Error).message }, 'collision history not recorded: rises since are measured against the last recorded counts');
      }
      try {
        alerts = alertsOf(pairs, this.history, now);
      } catch (e) {
        log.warn({ err: (e as Error).message }, 'collision history not read: no rise alerts this merge');
      }
    }
    const at = new Date(now).toISOString();
    const open = new Set(alerts.map((a) => pairKey(a.source, a.provider)));
    const warned = this.warned;
    this.warned = open;
    for (const a of alerts) {
      // a rise starts at the merge that writes its count (since = now): an alert still open from
      // before (a restart, a lost result file, a history that cannot be written) was warned then
      if (warned.has(pairKey(a.source, a.provider)) || a.since !== at) continue;
      log.warn({ source: a.source, provider: a.provider, before: a.before, now: a.now, since: a.since }, `collisions rose sharply: ${a.source} lists ${a.now} keys in ${a.provider} ranges (${a.before} before): exempted, check the source`);
    }
    const report: CollisionReport = { serial, computedAt: at, ms, pairs, alerts };
    this.report = report;
    const hits = pairs.filter((p) => p.keys > 0).map((p) => `${p.source}/${p.provider}: ${p.keys}`);
    log.info({ serial, ms, collisions: hits }, 'collisions computed');
    try {
      writeCollisionsFile(this.file, report);
    } catch (e) {
      log.warn({ file: this.file, err: (e as Error).message }, 'collisions not stored: `quorumbl collisions` shows the previous result');
    }
    return report;
  }

  /** The latest result with its alerts as of now (they age out without a merge); null before
   *  the first one. */
  current(): CollisionReport | null {
    const r = this.report;
    if (!r) return null;
    if (!this.history) return r;
    try {
      return { ...r, alerts: alertsOf(r.pairs, this.history, this.now()) };
    } catch {
      return r;
    }
  }

  /** The /metrics shape. */
  counts(): { source: string; provider: string; keys: number; ranges: number }[] {
    return (this.report?.pairs ?? []).map((p) => ({ source: p.source, provider: p.provider, keys: p.keys, ranges: p.ranges }));
  }
}
