// Keeps a background loop (a re-merge, a re-parse) to a share of one core while DNS is being
// answered: after each slice of work the thread sleeps long enough that busy / (busy + sleep)
// is the share. The scheduler cannot do this for us: nice values only rank threads inside one
// process group, and a load generator or an MTA in another group loses the CPU the worker takes.

const SLICE_MS = 4;

export class Pacer {
  private sliceStart = performance.now();
  private readonly cell = new Int32Array(new SharedArrayBuffer(4));
  /** Time slept so far (ms), for the log. */
  slept = 0;

  /** share: fraction of one core, (0, 1]; 1 = no pacing. */
  constructor(readonly share = 1) {
    if (!(share > 0 && share <= 1)) throw new Error(`cpu share must be in (0, 1], got ${share}`);
  }

  /** Call every few thousand iterations of the loop; cheap when the slice is not over. */
  check(): void {
    if (this.share >= 1) return;
    const now = performance.now();
    const busy = now - this.sliceStart;
    if (busy < SLICE_MS) return;
    const ms = (busy * (1 - this.share)) / this.share;
    Atomics.wait(this.cell, 0, 0, ms);
    this.slept += ms;
    this.sliceStart = performance.now();
  }
}

/** The pacer of loops that do not take one (full speed). */
export const UNPACED = new Pacer(1);
