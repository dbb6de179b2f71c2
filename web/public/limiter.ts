// Requests per client address per minute for the public pages (lookups and posts), in memory.
// A fixed one-minute window per client; the table holds at most `maxClients` entries (a flood
// from many addresses evicts the oldest windows first instead of growing without bound).

export class RateLimiter {
  private readonly hits = new Map<string, { start: number; n: number }>();

  constructor(private readonly perMinute: number, private readonly now: () => number = Date.now, private readonly maxClients = 10_000) {}

  /** Counts one request; returns 0 when it may go on, else the seconds until the client's window ends. */
  take(client: string): number {
    const now = this.now();
    let w = this.hits.get(client);
    if (!w || now - w.start >= 60_000) {
      if (w) this.hits.delete(client);
      w = { start: now, n: 0 };
      this.hits.set(client, w); // (re)inserted last: the Map's order is the windows' age
      this.trim();
    }
    if (w.n >= this.perMinute) return Math.max(1, Math.ceil((w.start + 60_000 - now) / 1000));
    w.n++;
    return 0;
  }

  get size(): number {
    return this.hits.size;
  }

  private trim(): void {
    // the Map iterates oldest window first
    for (const k of this.hits.keys()) {
      if (this.hits.size <= this.maxClients) break;
      this.hits.delete(k);
    }
  }
}
