// Keeps a background loop (a re-merge, a re-parse) to a share of one core while DNS is being
// answered: after each slice of work the thread sleeps long enough that cpu / (cpu + sleep)
// is the share. The scheduler cannot do this for us: nice values only rank threads inside one
// process group, and a load generator or an MTA in another group loses the CPU the worker takes.

import { closeSync, openSync, readSync } from 'node:fs';

const SLICE_MS = 4;

/** This thread's CPU time in ms (Linux: /proc/thread-self/schedstat, ns), or null where there
 *  is no such file. Kept open per thread: a module is loaded once per thread. */
let schedstat: number | null | undefined;
const statBuf = Buffer.alloc(64);

function threadCpuMs(): number | null {
  if (schedstat === undefined) {
    try {
      schedstat = openSync('/proc/thread-self/schedstat', 'r');
    } catch {
      schedstat = null;
    }
  }
  if (schedstat === null) return null;
  try {
    const n = readSync(schedstat, statBuf, 0, statBuf.length, 0);
    let ns = 0;
    for (let i = 0; i < n; i++) {
      const d = statBuf[i]! - 48;
      if (d < 0 || d > 9) break;
      ns = ns * 10 + d;
    }
    return ns / 1e6;
  } catch {
    closeSync(schedstat);
    schedstat = null;
    return null;
  }
}

export class Pacer {
  private sliceStart = performance.now();
  private cpuStart: number | null = null;
  private readonly cell = new Int32Array(new SharedArrayBuffer(4));
  /** Time slept so far (ms), for the log. */
  slept = 0;

  /** share: fraction of one core, (0, 1]; 1 = no pacing. */
  constructor(readonly share = 1) {
    if (!(share > 0 && share <= 1)) throw new Error(`cpu share must be in (0, 1], got ${share}`);
    // made in the thread that runs the loop (a job handler), so this is that thread's clock
    if (share < 1) this.cpuStart = threadCpuMs();
  }

  /** Call every few thousand iterations of the loop; cheap when the slice is not over. */
  check(): void {
    if (this.share >= 1) return;
    const wall = performance.now() - this.sliceStart;
    if (wall < SLICE_MS) return;
    // The CPU this thread got, not the wall time: time spent waiting for a CPU while DNS runs
    // is not work, and counting it would stretch a merge on a busy box for nothing.
    const cpu = threadCpuMs();
    const busy = cpu !== null && this.cpuStart !== null ? cpu - this.cpuStart : wall;
    if (busy < SLICE_MS) return;
    const ms = (busy * (1 - this.share)) / this.share;
    Atomics.wait(this.cell, 0, 0, ms);
    this.slept += ms;
    this.sliceStart = performance.now();
    this.cpuStart = threadCpuMs();
  }
}

/** The pacer of loops that do not take one (full speed). */
export const UNPACED = new Pacer(1);
