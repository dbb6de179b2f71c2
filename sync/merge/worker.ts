// Worker-thread entry of the merge: receives EvidenceInputs, sweeps them, sends the Evidence
// back with its arrays transferred (no copy). Kept between merges by buildEvidenceInWorker
// (build.ts).

import { existsSync } from 'node:fs';
import { serveJobs } from '../../core/worker.ts';
import { Pacer } from '../../core/pace.ts';
import { buildEvidence } from './evidence.ts';
import type { Evidence, EvidenceInputs } from './types.ts';

export interface MergeRequest {
  inputs: EvidenceInputs;
  /** Share of one core the sweep may use (1 = full speed). */
  cpuShare: number;
}

/** ms: the whole sweep; sleptMs: the part of it spent yielding the CPU (pacing). */
export type MergeReply = { ok: true; evidence: Evidence; ms: number; sleptMs: number } | { ok: false; error: string };

export function evidenceBuffers(e: Evidence): ArrayBuffer[] {
  return [e.starts4, e.cls4, e.index4?.at, e.starts6, e.cls6, e.domCls, e.classSources, e.classProviders].flatMap((a) => (a ? [a.buffer] : []));
}

/** QBL_TEST_MERGE_PAUSE_MS: never set in production. */
const PAUSE_MS = Number(process.env.QBL_TEST_MERGE_PAUSE_MS ?? 0);
/** QBL_TEST_MERGE_FAIL_FILE: never set in production; while that file exists, a sweep fails
 *  (the config reload test: a reload whose merge fails keeps the evidence in force). */
const FAIL_FILE = process.env.QBL_TEST_MERGE_FAIL_FILE;

serveJobs(import.meta.url, (req: MergeRequest) => {
  const t0 = performance.now();
  let reply: MergeReply;
  try {
    if (FAIL_FILE && existsSync(FAIL_FILE)) throw new Error(`test hook: ${FAIL_FILE} exists`);
    const pacer = new Pacer(req.cpuShare);
    const evidence = buildEvidence(req.inputs, Date.now(), pacer);
    // test hook (kill -9 tests): hold the built evidence as if the sweep took this much longer
    if (PAUSE_MS > 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, PAUSE_MS);
    reply = { ok: true, evidence, ms: performance.now() - t0, sleptMs: pacer.slept };
  } catch (err) {
    reply = { ok: false, error: err instanceof Error ? err.message : String(err) };
  }
  return { reply, transfer: reply.ok ? evidenceBuffers(reply.evidence) : [] };
});
