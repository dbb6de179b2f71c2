// One sync per source at a time, across processes (`serve`'s scheduler, `quorumbl sync` from a
// shell, `sources accept`): a lease row per source in the state database (table sync_leases,
// core/db.ts). It is taken in an IMMEDIATE transaction (SQLite serialises the writers, so two
// processes cannot both see it free), renewed while the sync runs, and released at the end.
//
// A holder that died without releasing it (kill -9, power loss) does not block for long: on the
// same host its pid no longer exists and the lease is free at once; elsewhere (a state dir shared
// between containers with their own hostnames) it expires ttlMs after the last renewal.

import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Db } from '../core/db.ts';

export interface LeaseHolder {
  source: string;
  /** Random token of this acquisition. */
  holder: string;
  pid: number;
  host: string;
  /** What holds it, for messages: "quorumbl serve", "quorumbl sync trap". */
  command: string;
  acquired: number;
  expires: number;
}

export interface Lease {
  source: string;
  holder: string;
}

export interface LeaseOptions {
  /** A lease not renewed for this long is free (ms). */
  ttlMs?: number;
  command?: string;
  now?: () => number;
  host?: string;
  pid?: number;
  /** Whether a pid of this host exists (tests fake it). */
  pidAlive?: (pid: number) => boolean;
}

export const DEFAULT_LEASE_TTL_MS = 30_000;

function pidExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'; // exists, owned by another user
  }
}

/** "pid 1234 on host mx1 (quorumbl serve), since 12 s" */
export function describeHolder(h: LeaseHolder, now = Date.now()): string {
  return `pid ${h.pid} on ${h.host} (${h.command}), since ${Math.max(0, Math.round((now - h.acquired) / 1000))} s`;
}

/** The leases this process holds now (their tokens), whatever SyncLeases object took them. A row
 *  naming this process with a token not in here was left by an earlier holder in this process
 *  whose release failed (a full disk), or by an earlier process with the same pid (pid 1 in a
 *  container): it is dead, not "us". */
const HELD = new Set<string>();

export class SyncLeases {
  readonly ttlMs: number;
  readonly command: string;
  private readonly now: () => number;
  private readonly host: string;
  private readonly pid: number;
  private readonly pidAlive: (pid: number) => boolean;

  constructor(private readonly db: Db, opts: LeaseOptions = {}) {
    this.ttlMs = opts.ttlMs ?? DEFAULT_LEASE_TTL_MS;
    this.command = opts.command ?? `quorumbl ${process.argv[2] ?? ''}`.trim();
    this.now = opts.now ?? Date.now;
    this.host = opts.host ?? hostname();
    this.pid = opts.pid ?? process.pid;
    this.pidAlive = opts.pidAlive ?? pidExists;
  }

  /** A holder is live while its lease has not expired and, on this host, its process exists. */
  isLive(h: LeaseHolder): boolean {
    if (h.expires <= this.now()) return false;
    if (h.host === this.host && h.pid === this.pid) return HELD.has(h.holder);
    if (h.host === this.host && !this.pidAlive(h.pid)) return false;
    return true;
  }

  /** The live holder of a source's lease, or null. */
  holderOf(source: string): LeaseHolder | null {
    const h = this.row(source);
    return h && this.isLive(h) ? h : null;
  }

  /** Takes the lease when it is free (or its holder is gone); else returns who holds it. */
  tryAcquire(source: string): { lease: Lease } | { heldBy: LeaseHolder } {
    return this.db.transaction(() => {
      const h = this.row(source);
      if (h && this.isLive(h)) return { heldBy: h };
      const at = this.now();
      const lease = { source, holder: randomUUID() };
      this.db.prepare(`INSERT INTO sync_leases (source, holder, pid, host, command, acquired, expires) VALUES (?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT (source) DO UPDATE SET holder = excluded.holder, pid = excluded.pid, host = excluded.host,
          command = excluded.command, acquired = excluded.acquired, expires = excluded.expires`)
        .run(source, lease.holder, this.pid, this.host, this.command, at, at + this.ttlMs);
      HELD.add(lease.holder);
      return { lease };
    }).immediate();
  }

  /** Pushes the expiry forward; false when the lease was lost (taken over as dead). */
  renew(lease: Lease): boolean {
    return this.db.prepare('UPDATE sync_leases SET expires = ? WHERE source = ? AND holder = ?')
      .run(this.now() + this.ttlMs, lease.source, lease.holder).changes === 1;
  }

  /** Whether `lease` is still ours: not taken over (an expired lease nobody took is still ours;
   *  renew() it). */
  holds(lease: Lease): boolean {
    const h = this.row(lease.source);
    return h !== null && h.holder === lease.holder;
  }

  /** Whether the acquisition `holder` (a token) still holds a live lease on `source`. */
  holderLive(source: string, holder: string | null): boolean {
    if (holder === null) return false;
    const h = this.row(source);
    return h !== null && h.holder === holder && this.isLive(h);
  }

  release(lease: Lease): void {
    HELD.delete(lease.holder); // first: a row the DELETE cannot remove (full disk) is dead to us
    this.db.prepare('DELETE FROM sync_leases WHERE source = ? AND holder = ?').run(lease.source, lease.holder);
  }

  private row(source: string): LeaseHolder | null {
    return (this.db.prepare('SELECT * FROM sync_leases WHERE source = ?').get(source) as LeaseHolder | undefined) ?? null;
  }
}
