// Notices in a running `serve` what other processes did to the sources: `quorumbl sync` or
// `quorumbl sources accept` from a shell replace a source's last good copy and bump its
// generation (sync/state.ts). Every `intervalMs` this reads PRAGMA data_version - it moves only
// when another connection committed, and costs no query - and only then the generations.

import type { SyncState } from './state.ts';

export interface SyncWatchOptions {
  intervalMs?: number;
  /** Sources whose last good copy changed since the last look. */
  onChange(names: string[]): void;
  onError?(err: unknown): void;
}

export const SYNC_WATCH_INTERVAL_MS = 250;

export class SyncStateWatch {
  private timer: NodeJS.Timeout | undefined;
  private version = -1;
  private seen = new Map<string, number>();

  constructor(private readonly state: SyncState, private readonly opts: SyncWatchOptions) {}

  start(): void {
    this.version = this.dataVersion();
    this.seen = this.state.generations();
    clearInterval(this.timer);
    this.timer = setInterval(() => {
      try {
        this.poll();
      } catch (err) {
        this.opts.onError?.(err);
      }
    }, this.opts.intervalMs ?? SYNC_WATCH_INTERVAL_MS);
    this.timer.unref();
  }

  /** One look (exposed for tests); returns the changed sources it reported. */
  poll(): string[] {
    const v = this.dataVersion();
    if (v === this.version) return [];
    this.version = v;
    const now = this.state.generations();
    const changed = [...now].filter(([name, g]) => this.seen.get(name) !== g).map(([name]) => name);
    this.seen = now;
    if (changed.length) this.opts.onChange(changed);
    return changed;
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private dataVersion(): number {
    return this.state.db.pragma('data_version', { simple: true }) as number;
  }
}
