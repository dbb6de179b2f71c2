// Runs the evidence sweep in a worker thread (kept between merges) so DNS answers keep flowing
// during a merge.

import { JobWorker } from '../../core/worker.ts';
import type { Evidence, EvidenceInputs, EvidenceSpare } from './types.ts';
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

/** The IPv4 buffers of the last retired evidence, sent to the next merge to write into. */
let spare: EvidenceSpare | null = null;

/** Hands the buffers of an evidence that was swapped out, and that nothing reads any more, to
 *  the next merge (they are detached by it: only for an evidence no view or answer still holds). */
export function retireEvidence(e: Evidence): void {
  const starts = e.starts4.buffer;
  const cls = e.cls4.buffer;
  const index = e.index4?.at.buffer;
  // shared or tiny (the empty evidence before the first merge): not worth a transfer
  if (!(starts instanceof ArrayBuffer) || !(cls instanceof ArrayBuffer) || starts.byteLength < 1 << 20) return;
  spare = { starts, cls, ...(index instanceof ArrayBuffer ? { index } : {}) };
}

/** Builds the evidence snapshot in the merge thread; resolves with it (arrays transferred back). */
export async function buildEvidenceInWorker(inputs: EvidenceInputs, opts: BuildOptions = {}): Promise<{ evidence: Evidence; ms: number; sleptMs: number }> {
  const give = spare;
  spare = null;
  const req: MergeRequest = { inputs: give ? { ...inputs, spare: give } : inputs, cpuShare: opts.cpuShare ?? 1 };
  const transfer = opts.transferInputs ? inputBuffers(inputs) : [];
  if (give) transfer.push(give.starts, give.cls, ...(give.index ? [give.index] : []));
  const r = await thread.run(req, transfer);
  if (!r.ok) throw new Error(`merge failed: ${r.error}`);
  return { evidence: r.evidence, ms: r.ms, sleptMs: r.sleptMs };
}
