// Answer latency as a fixed-bucket histogram in preallocated typed arrays, recorded by the
// listeners once per unit of work (a UDP batch, a TCP read), never once per query: one
// performance.now() at each end of the batch and one bucket search per batch, no allocation.
//
// What a sample means: the time from the listener starting on the batch a query arrived in
// until that batch's replies are handed to the kernel (sendmmsg right after the batch; for
// TCP, the socket write). Every reply of a batch waited for the whole batch, so the batch's
// duration is counted once per reply: an exact figure for that span, not an estimate.
// Not included: time in the kernel's socket buffer and in the event loop before the batch is
// picked up (nodejs_eventloop_lag_seconds shows the latter).

/** Upper bounds of the buckets in seconds (Prometheus `le`); the last bucket is +Inf. */
export const LATENCY_BOUNDS = Object.freeze([
  0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1,
]);
const BOUNDS_MS = new Float64Array(LATENCY_BOUNDS.map((s) => s * 1000));

export class LatencyHistogram {
  /** Replies per bucket (not cumulative); the last slot is +Inf. */
  readonly buckets = new Float64Array(BOUNDS_MS.length + 1);
  /** Sum of the samples in seconds, and their number (replies). */
  sum = 0;
  count = 0;

  /** `replies` replies that each took `ms` milliseconds (the batch's duration). */
  record(ms: number, replies: number): void {
    if (replies <= 0) return;
    const b = BOUNDS_MS;
    let i = 0;
    while (i < b.length && ms > b[i]!) i++;
    this.buckets[i]! += replies;
    this.sum += (ms / 1000) * replies;
    this.count += replies;
  }

  reset(): void {
    this.buckets.fill(0);
    this.sum = 0;
    this.count = 0;
  }
}
