// Worker-thread entry of the merge: receives EvidenceInputs, sweeps them, sends the Evidence
// back with its arrays transferred (no copy). Started by buildEvidenceInWorker (build.ts).

import { parentPort } from 'node:worker_threads';
import { buildEvidence } from './evidence.ts';
import type { Evidence, EvidenceInputs } from './types.ts';

export type MergeReply = { ok: true; evidence: Evidence; ms: number } | { ok: false; error: string };

export function evidenceBuffers(e: Evidence): ArrayBuffer[] {
  return [e.starts4, e.cls4, e.starts6, e.cls6, e.domCls, e.classSources, e.classProviders].map((a) => a.buffer);
}

parentPort?.once('message', (inputs: EvidenceInputs) => {
  const t0 = performance.now();
  let reply: MergeReply;
  try {
    reply = { ok: true, evidence: buildEvidence(inputs), ms: performance.now() - t0 };
  } catch (err) {
    reply = { ok: false, error: err instanceof Error ? err.message : String(err) };
  }
  parentPort!.postMessage(reply, reply.ok ? evidenceBuffers(reply.evidence) : []);
});
