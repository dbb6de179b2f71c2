// Runs the evidence sweep in a worker thread (kept between merges) so DNS answers keep flowing
// during a merge.

import { JobWorker } from '../../core/worker.ts';
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
    // shared memory (loaded sources, core/snapshot.ts) is shared, never transferred
    for (const a of [x.v4.start, x.v4.end, x.v6.start, x.v6.end]) if (a.byteLength && a.buffer instanceof ArrayBuffer) set.add(a.buffer);
  }
  return [...set];
}

const thread = new JobWorker<MergeRequest, MergeReply>(WORKER);

/** Builds the evidence snapshot in the merge thread; resolves with it (arrays transferred back). */
export async function buildEvidenceInWorker(inputs: EvidenceInputs, opts: BuildOptions = {}): Promise<{ evidence: Evidence; ms: number; sleptMs: number }> {
  const req: MergeRequest = { inputs, cpuShare: opts.cpuShare ?? 1 };
  const r = await thread.run(req, opts.transferInputs ? inputBuffers(inputs) : []);
  if (!r.ok) throw new Error(`merge failed: ${r.error}`);
  return { evidence: r.evidence, ms: r.ms, sleptMs: r.sleptMs };
}
