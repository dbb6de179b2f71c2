// Watches the state directory: a full, read-only or failing disk is noticed (from a failed
// write someone reports, or from the periodic probe), logged once when it starts and once when
// it clears, shown in /readyz, and while it lasts every write is refused with a message naming
// the cause. DNS never waits on any of this: it answers from memory and snapshots.
//
// Leaving a fault needs proof: a probe at least one interval after the last failed write, with
// enough free space (full), a real file write + fsync in the directory and a real write to the
// state database. A state database opened read-only at start pins the read-only state until a
// restart (its connection cannot become writable).

import { accessSync, closeSync, constants, fsyncSync, mkdirSync, openSync, statfsSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from './log.ts';
import { diskCodeOf, diskErrorOf, diskPathOf, DiskUnavailableError, type DiskFault, type DiskGuard } from './disk.ts';

export interface DiskHealthOptions {
  /** The state directory. */
  dir: string;
  /** The state database (named in messages about SQLite errors, which carry no path). */
  dbPath?: string;
  log: Logger;
  /** Probe period in ms (default 5000). */
  intervalMs?: number;
  /** Free space needed before a full disk counts as usable again (default 1 MiB). */
  minFreeBytes?: number;
  /** A real write to the state database (the probe of a degraded disk runs it). */
  sqliteProbe?: () => void;
  now?: () => number;
}

export interface DiskErrorRecord {
  at: string;
  fault: DiskFault;
  code: string;
  path: string;
  /** How many times in a row this same error was reported. */
  count: number;
}

export interface DiskStatus {
  path: string;
  state: 'writable' | 'full' | 'read-only' | 'io-error';
  writable: boolean;
  /** When the current fault started (ISO), null while writable. */
  since: string | null;
  /** The message writes are refused with, null while writable. */
  cause: string | null;
  /** Read-only until restart (the state database was opened read-only). */
  pinned: boolean;
  free_bytes: number | null;
  last_probe: string | null;
  last_errors: DiskErrorRecord[];
}

const STATE_NAME: Record<DiskFault, DiskStatus['state']> = { full: 'full', readonly: 'read-only', io: 'io-error' };
const MAX_ERRORS = 10;

export class DiskHealth implements DiskGuard {
  private fault: DiskFault | null = null;
  private code = '';
  private path = '';
  private since = 0;
  private lastReportAt = 0;
  private pinned: string | null = null;
  private pinnedNoted = false;
  private freeBytes: number | null = null;
  private lastProbe = 0;
  private readonly errors: DiskErrorRecord[] = [];
  private timer: NodeJS.Timeout | undefined;
  private readonly now: () => number;
  readonly intervalMs: number;
  private readonly minFree: number;
  /** A real write to the state database (settable: the database opens after the first probe). */
  sqliteProbe: (() => void) | undefined;

  constructor(private readonly opts: DiskHealthOptions) {
    this.now = opts.now ?? Date.now;
    this.intervalMs = opts.intervalMs ?? 5000;
    this.minFree = opts.minFreeBytes ?? 1 << 20;
    this.sqliteProbe = opts.sqliteProbe;
  }

  get writable(): boolean {
    return this.fault === null;
  }

  get state(): DiskStatus['state'] {
    return this.fault ? STATE_NAME[this.fault] : 'writable';
  }

  /** The current fault's message (null while writable). */
  get cause(): string | null {
    if (!this.fault) return null;
    if (this.pinned) return this.pinned;
    const what = `${this.code} writing ${this.path}`;
    switch (this.fault) {
      case 'full': return `the state disk is full (${what}): writes are refused until space returns`;
      case 'readonly': return `the state directory is read-only (${what}): writes are refused until it is writable again`;
      case 'io': return `the state disk reports I/O errors (${what}): writes are refused until a test write succeeds`;
    }
  }

  refusal(): DiskUnavailableError | null {
    if (!this.fault) return null;
    return new DiskUnavailableError(this.fault, this.cause!, this.pinned ? 300 : Math.max(1, Math.ceil((this.intervalMs * 2) / 1000)));
  }

  report(err: unknown, path?: string): boolean {
    const fault = diskErrorOf(err);
    if (!fault) return false;
    const code = diskCodeOf(err)!;
    const where = diskPathOf(err) ?? path ?? (code.startsWith('SQLITE_') ? this.opts.dbPath : undefined) ?? this.opts.dir;
    this.lastReportAt = this.now();
    this.record(fault, code, where);
    if (this.fault !== fault) this.enter(fault, code, where);
    return true;
  }

  /** The state database could only be opened read-only: read-only until restart. Logged as a
   *  warning: quorumbl starts in read-only mode (DNS from what is on disk, API reads). */
  pinReadOnly(code: string, why: string): void {
    this.pinned = `the state directory ${this.opts.dir} was read-only at start (${code}: ${why}): quorumbl runs read-only; writes are refused until it is restarted with a writable directory`;
    const where = this.opts.dbPath ?? this.opts.dir;
    this.record('readonly', code, where);
    if (!this.fault) this.since = this.now();
    this.fault = 'readonly';
    this.code = code;
    this.path = where;
    this.opts.log.warn({ state_dir: this.opts.dir, fault: 'read-only', code, path: where },
      `starting in read-only mode: ${this.pinned}; DNS answers from the data on disk, API reads keep working, syncs are skipped`);
  }

  /** Checks the directory now (never throws). While writable: a cheap look (writable at all,
   *  any free block). While degraded: real writes, and the fault clears when they succeed. */
  probe(): DiskStatus['state'] {
    try {
      this.runProbe();
    } catch (e) {
      this.opts.log.debug({ err: (e as Error).message }, 'state disk probe failed');
    }
    return this.state;
  }

  private runProbe(): void {
    const dir = this.opts.dir;
    this.lastProbe = this.now();
    try {
      mkdirSync(dir, { recursive: true });
      accessSync(dir, constants.W_OK);
    } catch (e) {
      if (!this.pinned) this.reportProbe(e, dir);
      return;
    }
    try {
      const s = statfsSync(dir);
      this.freeBytes = s.bavail * s.bsize;
    } catch {
      this.freeBytes = null;
    }
    if (this.pinned) {
      if (!this.pinnedNoted) {
        this.pinnedNoted = true;
        this.opts.log.warn({ state_dir: dir }, 'the state directory is writable now, but the state database was opened read-only at start: restart quorumbl to write again');
      }
      return;
    }
    if (!this.fault) {
      if (this.freeBytes === 0) {
        this.record('full', 'ENOSPC', dir);
        this.enter('full', 'ENOSPC', dir);
      }
      return;
    }
    // Degraded: clear only on proof, and not right after a failed write.
    if (this.now() - this.lastReportAt < this.intervalMs) return;
    if (this.fault === 'full' && this.freeBytes !== null && this.freeBytes < this.minFree) return;
    const file = join(dir, `.quorumbl-probe-${process.pid}`);
    try {
      const fd = openSync(file, 'w');
      try {
        writeSync(fd, Buffer.alloc(4096, 0x2e));
        fsyncSync(fd);
      } finally {
        closeSync(fd);
        try {
          unlinkSync(file);
        } catch {
          /* removed below or at the next start */
        }
      }
    } catch (e) {
      this.reportProbe(e, file);
      return;
    }
    try {
      this.sqliteProbe?.();
    } catch (e) {
      this.reportProbe(e, this.opts.dbPath ?? dir);
      return;
    }
    this.clear();
  }

  /** A probe's own failure: recorded like a write's, but it does not delay the next probe. */
  private reportProbe(e: unknown, path: string): void {
    const fault = diskErrorOf(e);
    if (!fault) {
      this.opts.log.debug({ err: (e as Error).message, path }, 'state disk probe: unexpected error');
      return;
    }
    const code = diskCodeOf(e)!;
    const where = diskPathOf(e) ?? path;
    this.record(fault, code, where);
    if (this.fault !== fault) this.enter(fault, code, where);
  }

  private record(fault: DiskFault, code: string, path: string): void {
    const at = new Date(this.now()).toISOString();
    const last = this.errors[this.errors.length - 1];
    if (last && last.fault === fault && last.code === code && last.path === path) {
      last.count++;
      last.at = at;
      return;
    }
    this.errors.push({ at, fault, code, path, count: 1 });
    if (this.errors.length > MAX_ERRORS) this.errors.shift();
  }

  private enter(fault: DiskFault, code: string, path: string): void {
    const was = this.fault;
    this.fault = fault;
    this.code = code;
    this.path = path;
    if (!was) this.since = this.now();
    this.opts.log.error({ state_dir: this.opts.dir, fault: STATE_NAME[fault], code, path, ...(was ? { was: STATE_NAME[was] } : {}) },
      `${this.cause}; DNS keeps answering from memory, API reads keep working`);
  }

  private clear(): void {
    const was = this.fault!;
    const ms = this.now() - this.since;
    this.fault = null;
    this.code = this.path = '';
    this.opts.log.info({ state_dir: this.opts.dir, was: STATE_NAME[was], ms, free_bytes: this.freeBytes }, 'state disk writable again: writes resumed');
  }

  /** Probes every intervalMs (the timer never keeps the process alive). */
  start(): void {
    clearInterval(this.timer);
    this.timer = setInterval(() => this.probe(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  status(): DiskStatus {
    return {
      path: this.opts.dir,
      state: this.state,
      writable: this.writable,
      since: this.fault ? new Date(this.since).toISOString() : null,
      cause: this.cause,
      pinned: this.pinned !== null,
      free_bytes: this.freeBytes,
      last_probe: this.lastProbe ? new Date(this.lastProbe).toISOString() : null,
      last_errors: this.errors.map((e) => ({ ...e })),
    };
  }
}
