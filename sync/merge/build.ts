// Runs the evidence sweep in a worker thread so DNS answers keep flowing during a merge.

import { tsWorker } from '../../core/worker.ts';
import type { Evidence, EvidenceInputs } from './types.ts';
import type { MergeReply, MergeRequest } from './worker.ts';

const WORKER = new URL('./worker.ts', import.meta.url);

export interface BuildOptions {
  /** Transfer the input arrays to the worker instead of copying them. They are detached in this
   *  thread afterwards: only for inputs nobody else holds (mirror zones and explain do). */
  transferInputs?: boolean;
  /** Share of one core the sweep may use (1 = full speed; see core/pace.ts). */
  cpuShare?: number;
}

export function inputBuffers(inputs: EvidenceInputs): ArrayBuffer[] {
  const set = new Set<ArrayBuffer>();
  for (const x of [...inputs.sources, ...inputs.providers]) {
    for (const a of [x.v4.start, x.v4.end, x.v6.start, x.v6.end]) if (a.byteLength) set.add(a.buffer);
  }
  return [...set];
}

/** Builds the evidence snapshot in a fresh worker; resolves with it (arrays transferred back). */
export function buildEvidenceInWorker(inputs: EvidenceInputs, opts: BuildOptions = {}): Promise<{ evidence: Evidence; ms: number; sleptMs: number }> {
  return new Promise((resolve, reject) => {
    const w = tsWorker(WORKER);
    let done = false;
    w.once('message', (r: MergeReply) => {
      done = true;
      void w.terminate();
      if (r.ok) resolve({ evidence: r.evidence, ms: r.ms, sleptMs: r.sleptMs });
      else reject(new Error(`merge failed: ${r.error}`));
    });
    w.on('error', (err) => {
      done = true;
      reject(err);
    });
    w.on('exit', (code) => {
      if (!done) reject(new Error(`merge worker exited (code ${code})`));
    });
    const req: MergeRequest = { inputs, cpuShare: opts.cpuShare ?? 1 };
    w.postMessage(req, opts.transferInputs ? inputBuffers(inputs) : []);
  });
}
