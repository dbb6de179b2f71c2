// Query counters like rbldnsd's -s statistics: per zone and in total, queries by rcode and
// bytes in/out. Each zone's counters are a small Float64Array the hot path bumps directly;
// they are kept by zone name, so a reload (swap) continues the same counts. /metrics reads
// them at scrape time (web/metrics/), the hot path never does more than bump a slot.

import { LatencyHistogram } from './latency.ts';

/** Slots of one counter array: rcodes 0..23 (BADVERS = 16), then totals and bytes. */
const RCODES = 24;
export const C_TOTAL = RCODES;
export const C_IN = RCODES + 1;
export const C_OUT = RCODES + 2;
const SLOTS = RCODES + 3;

const RCODE_LABELS: Record<number, string> = {
  0: 'noerror', 1: 'formerr', 2: 'servfail', 3: 'nxdomain', 4: 'notimp', 5: 'refused', 16: 'badvers',
};

/** Slots 0..RCODE_SLOTS-1 of a counter array are rcodes; rcodeName(r) is its label. */
export const RCODE_SLOTS = RCODES;
export function rcodeName(r: number): string {
  return RCODE_LABELS[r] ?? `rcode${r}`;
}

export interface CounterSnapshot {
  queries: number;
  ok: number;
  nxdomain: number;
  errors: number;
  bytesIn: number;
  bytesOut: number;
  rcodes: Record<string, number>;
}

function snap(a: Float64Array): CounterSnapshot {
  const rcodes: Record<string, number> = {};
  for (let r = 0; r < RCODES; r++) if (a[r]) rcodes[RCODE_LABELS[r] ?? `rcode${r}`] = a[r]!;
  return {
    queries: a[C_TOTAL]!,
    ok: a[0]!,
    nxdomain: a[3]!,
    errors: a[C_TOTAL]! - a[0]! - a[3]!,
    bytesIn: a[C_IN]!,
    bytesOut: a[C_OUT]!,
    rcodes,
  };
}

export class Counters {
  /** All answered queries, zone or not. */
  readonly total = new Float64Array(SLOTS);
  /** Packets dropped without an answer (malformed, responses, ...). */
  dropped = 0;
  /** Packets whose handling threw (a bug; they are dropped and logged). */
  failures = 0;
  /** UDP replies response rate limiting dropped / sent truncated instead (server/rrl.ts);
   *  bytesOut above counts them at their full size. */
  rrlDropped = 0;
  rrlSlipped = 0;
  /** Zone transfers (server/xfr): served (AXFR, IXFR), refused (acl, unsigned, TSIG error),
   *  failed (cut off or broken halfway), and materialisations that threw (previous version kept). */
  xfrAxfr = 0;
  xfrIxfr = 0;
  xfrRefused = 0;
  xfrFailed = 0;
  xfrMaterialiseFailed = 0;
  /** TCP connections the server closed: over the per-client limit or evicted to keep slots
   *  free, a message not complete by its deadline, replies never read (server/tcp.ts). */
  tcpRefused = 0;
  tcpEvicted = 0;
  tcpTimedOut = 0;
  tcpStalled = 0;
  /** NOTIFYs to secondaries answered, and given up after the last try or refused
   *  (server/xfr/notify.ts). */
  notifyAnswered = 0;
  notifyFailed = 0;
  /** Answer latency per transport (server/latency.ts), recorded once per batch. */
  readonly latencyUdp = new LatencyHistogram();
  readonly latencyTcp = new LatencyHistogram();
  private readonly zones = new Map<string, Float64Array>();

  /** The counter array of a zone (created on first use, kept across reloads). */
  forZone(name: string): Float64Array {
    let a = this.zones.get(name);
    if (!a) {
      a = new Float64Array(SLOTS);
      this.zones.set(name, a);
    }
    return a;
  }

  /** Records one answered query; `zone` is null for names outside every zone. */
  count(zone: Float64Array | null, rcode: number, bytesIn: number, bytesOut: number): void {
    const t = this.total;
    t[rcode]!++;
    t[C_TOTAL]!++;
    t[C_IN]! += bytesIn;
    t[C_OUT]! += bytesOut;
    if (zone) {
      zone[rcode]!++;
      zone[C_TOTAL]!++;
      zone[C_IN]! += bytesIn;
      zone[C_OUT]! += bytesOut;
    }
  }

  reset(): void {
    this.total.fill(0);
    for (const a of this.zones.values()) a.fill(0);
    this.dropped = 0;
    this.failures = 0;
    this.rrlDropped = this.rrlSlipped = 0;
    this.tcpRefused = this.tcpEvicted = this.tcpTimedOut = this.tcpStalled = 0;
    this.latencyUdp.reset();
    this.latencyTcp.reset();
  }

  /** Every zone's counter array by zone name ("" = the root zone), for /metrics. */
  zoneCounters(): IterableIterator<[string, Float64Array]> {
    return this.zones.entries();
  }

  /** rbldnsd -s line: `time zone:qtot:qok:qnxd:bytesin:bytesout ... *:totals`. */
  statsLine(now: number = Math.floor(Date.now() / 1000)): string {
    const part = (name: string, a: Float64Array) =>
      `${name}:${a[C_TOTAL]}:${a[0]}:${a[3]}:${a[C_IN]}:${a[C_OUT]}`;
    const parts = [String(now)];
    for (const [name, a] of this.zones) parts.push(part(name || '.', a));
    parts.push(part('*', this.total));
    return parts.join(' ');
  }

  toJSON(): {
    total: CounterSnapshot;
    dropped: number;
    failures: number;
    rrl: { dropped: number; slipped: number };
    tcp: { refused: number; evicted: number; timedOut: number; stalled: number };
    zones: Record<string, CounterSnapshot>;
  } {
    const zones: Record<string, CounterSnapshot> = {};
    for (const [name, a] of this.zones) zones[name || '.'] = snap(a);
    return {
      total: snap(this.total),
      dropped: this.dropped,
      failures: this.failures,
      rrl: { dropped: this.rrlDropped, slipped: this.rrlSlipped },
      tcp: { refused: this.tcpRefused, evicted: this.tcpEvicted, timedOut: this.tcpTimedOut, stalled: this.tcpStalled },
      zones,
    };
  }
}
