// Worker-thread entry: loads datasets off the main thread and hands back snapshot parts, whose
// typed arrays are transferred (not copied) to the thread that answers DNS. The thread is kept
// between reloads (core/worker.ts JobWorker).

import { serveJobs } from '../worker.ts';
import { datasetType } from '../datasets/index.ts';
import { loadDataset, readDataFile, stampOf, type FileStamp } from '../rbldnsd/reader.ts';
import { parseSource } from '../formats/index.ts';
import { SourceDataset } from '../datasets/source.ts';
import type { SnapshotPart } from '../datasets/types.ts';
import type { DatasetSpec, LoadSettings } from './spec.ts';
import { Pacer, UNPACED } from '../pace.ts';
import { sharedPart } from '../snapshot.ts';

export interface LoadRequest {
  specs: DatasetSpec[];
  settings: LoadSettings;
  /** How many warning lines to send back per dataset (all are counted). */
  maxWarnings: number;
  /** Share of one core the parse of an upstream list may use (1 = full speed). */
  cpuShare?: number;
}

export type LoadReply =
  | { ok: true; part: SnapshotPart; stamps: FileStamp[]; warnings: number; samples: string[] }
  | { ok: false; error: string; warnings: number; samples: string[] };

export function loadOne(spec: DatasetSpec, settings: LoadSettings, maxWarnings: number, pacer: Pacer = UNPACED): LoadReply {
  const samples: string[] = [];
  let warnings = 0;
  try {
    if (spec.source) return loadSourceFile(spec, settings, maxWarnings, pacer);
    const type = datasetType(spec.type);
    if (!type) throw new Error(`unknown dataset type "${spec.type}"`);
    const r = loadDataset(type, spec.files, {
      ...settings,
      warn(at, msg) {
        warnings++;
        if (samples.length < maxWarnings) samples.push(`${at.file}:${at.line}: ${msg}`);
      },
    });
    return { ok: true, part: r.dataset.snapshot(), stamps: r.stamps, warnings, samples };
  } catch (e) {
    return { ok: false, error: (e as Error).message, warnings, samples };
  }
}

/** An upstream list in a non-rbldnsd format (mirror zones): parsed into merged ranges. */
function loadSourceFile(spec: DatasetSpec, settings: LoadSettings, maxWarnings: number, pacer: Pacer): LoadReply {
  const file = spec.files[0]!;
  const before = stampOf(file);
  const parsed = parseSource(readDataFile(file, settings.gunzip), spec.source!.parse, pacer);
  const after = stampOf(file);
  if (after.mtime !== before.mtime || after.size !== before.size) throw new Error(`${file} changed while it was read`);
  const samples = parsed.sampleErrors.slice(0, maxWarnings).map((e) => `${file}:${e.line}: ${e.message}`);
  const ds = new SourceDataset(parsed.v4, parsed.v6, parsed.domains, spec.source!.answer);
  // Shared memory: the merge worker reads these ranges at every merge without a copy.
  return { ok: true, part: sharedPart(ds.snapshot()), stamps: [after], warnings: parsed.errors, samples };
}

export function transferList(part: SnapshotPart, out: ArrayBuffer[] = []): ArrayBuffer[] {
  for (const a of part.arrays) if (a.buffer instanceof ArrayBuffer && !out.includes(a.buffer)) out.push(a.buffer);
  for (const c of part.children ?? []) transferList(c, out);
  return out;
}

serveJobs(import.meta.url, (req: LoadRequest) => {
  const pacer = new Pacer(req.cpuShare ?? 1);
  const replies = req.specs.map((spec) => loadOne(spec, req.settings, req.maxWarnings, pacer));
  // Typed arrays that are views into a shared pool (e.g. a Buffer slice) cannot be moved:
  // serveJobs then copies them.
  const transfer: ArrayBuffer[] = [];
  for (const r of replies) if (r.ok) transferList(r.part, transfer);
  return { reply: replies, transfer: transfer.filter((b) => b.byteLength > 0) };
});
