// Parses a staged download in a worker thread and returns the numbers the guards judge it by.
// Only the small stats object crosses back; the mirror zone's loader parses the file again
// once it is promoted (a second parse, but the DNS thread never does either).

import { JobWorker, serveJobs } from '../core/worker.ts';
import { Pacer } from '../core/pace.ts';
import { datasetType } from '../core/datasets/index.ts';
import { loadDataset, readDataFile, stampOf } from '../core/rbldnsd/reader.ts';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { encodeSnapshot } from '../core/snapshot.ts';
import { SourceDataset } from '../core/datasets/source.ts';
import type { DatasetSpec } from '../core/zones/spec.ts';
import { makeQuery } from '../core/query.ts';
import type { Dataset, RecordSink, SnapshotPart } from '../core/datasets/types.ts';
import type { LoadSettings } from '../core/zones/spec.ts';
import { parseSource, type ParseOptions } from '../core/formats/index.ts';
import { statsOf, FORBIDDEN_V4, type SourceStats } from './guards.ts';
import type { SourceConfig } from './engine.ts';

/** Where to stage a snapshot of the parsed data, for the mirror zone's loader: written next to
 *  the snapshot path (`.staged`) with stamps naming `current`, promoted with the copy. */
export interface SnapshotTarget {
  path: string;
  key: string;
  /** The last good copy's path: a rename keeps mtime, size and inode, so the stamps match it. */
  current: string;
  spec: DatasetSpec;
}

interface MeasureRequest {
  file: string;
  source: SourceConfig;
  settings: LoadSettings;
  snapshot?: SnapshotTarget;
  /** Share of one core the parse may use (1 = full speed; inside `serve`, background.cpu_share). */
  cpuShare?: number;
}

type MeasureReply = { ok: true; stats: SourceStats; samples: string[]; staged?: string } | { ok: false; error: string };

function stageSnapshot(t: SnapshotTarget, file: string, part: SnapshotPart): string {
  const staged = `${t.path}.staged`;
  mkdirSync(dirname(staged), { recursive: true });
  writeFileSync(staged, Buffer.concat(encodeSnapshot({ key: t.key, stamps: [{ ...stampOf(file), file: t.current }], part })));
  return staged;
}

function countLines(b: Buffer): number {
  let n = 0;
  for (let i = b.indexOf(10); i >= 0; i = b.indexOf(10, i + 1)) n++;
  return n;
}

const MAX_SAMPLES = 20;

export function parseOptionsOf(s: SourceConfig): ParseOptions {
  return {
    format: s.format as ParseOptions['format'],
    kind: s.kind,
    column: s.column,
    delimiter: s.delimiter,
    maxPrefix4: s.max_prefix.v4,
    maxPrefix6: s.max_prefix.v6,
  };
}

export function rbldnsdTypeOf(s: SourceConfig): string {
  return s.rbldnsd_type ?? (s.kind === 'ip' ? 'ip4set' : 'dnset');
}

const NULL_SINK: RecordSink = { wantA: false, wantTxt: false, qtype: 1, a() {}, txt() {}, mx() {} };

function listed4(d: Dataset, ip: number): boolean {
  return d.query(makeQuery([ip & 255, (ip >>> 8) & 255, (ip >>> 16) & 255, ip >>> 24].map(String), 1), NULL_SINK);
}

/** rbldnsd files keep rbldnsd's semantics (exclusions, octet levels), so their coverage is
 *  measured by probing: a seeded sample of the IPv4 space estimates the share listed, and
 *  the first, middle and last address of each forbidden range are asked directly. */
export function probeStats(d: Dataset, lines: number, errors: number, isDomain: boolean): SourceStats {
  const SAMPLES = 1 << 16;
  let seed = 0x9e3779b9;
  let hits = 0;
  if (!isDomain) {
    for (let i = 0; i < SAMPLES; i++) {
      seed = (Math.imul(seed ^ (seed >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0;
      if (listed4(d, seed)) hits++;
    }
  }
  const forbidden: string[] = [];
  if (!isDomain) {
    for (const f of FORBIDDEN_V4) {
      for (const ip of [f.start, f.start + Math.floor((f.end - f.start) / 2), f.end]) {
        if (f.except.includes(ip)) continue;
        if (listed4(d, ip)) {
          forbidden.push(`${f.cidr} ${f.why} (${[ip >>> 24, (ip >>> 16) & 255, (ip >>> 8) & 255, ip & 255].join('.')})`);
          break;
        }
      }
    }
  }
  const testPoint = isDomain ? d.query(makeQuery(['test'], 1), NULL_SINK) : listed4(d, 0x7f000002);
  return {
    entries: d.size,
    lines,
    errors,
    addresses4: Math.round((hits / SAMPLES) * 2 ** 32),
    forbidden,
    widest4: 32,
    widest6: 128,
    testPoint,
  } as SourceStats;
}

function measure(req: MeasureRequest): MeasureReply {
  const { file, source, settings } = req;
  if (source.format === 'rbldnsd') {
    const type = datasetType(rbldnsdTypeOf(source))!;
    const samples: string[] = [];
    let errors = 0;
    const r = loadDataset(type, [file], {
      ...settings,
      warn(at, msg) {
        errors++;
        if (samples.length < MAX_SAMPLES) samples.push(`${at.file}:${at.line}: ${msg}`);
      },
    });
    const lines = countLines(readDataFile(file, settings.gunzip));
    const staged = req.snapshot ? stageSnapshot(req.snapshot, file, r.dataset.snapshot()) : undefined;
    return { ok: true, stats: probeStats(r.dataset, lines, errors, source.kind === 'domain'), samples, staged };
  }
  const parsed = parseSource(readDataFile(file, settings.gunzip), parseOptionsOf(source), new Pacer(req.cpuShare ?? 1));
  const samples = parsed.sampleErrors.slice(0, MAX_SAMPLES).map((e) => `line ${e.line}: ${e.message}`);
  const stats = statsOf(parsed, { kind: source.kind });
  const answer = req.snapshot?.spec.source?.answer;
  const staged = req.snapshot && answer ? stageSnapshot(req.snapshot, file, new SourceDataset(parsed.v4, parsed.v6, parsed.domains, answer).snapshot()) : undefined;
  return { ok: true, stats, samples, staged };
}

const thread = new JobWorker<MeasureRequest, MeasureReply>(new URL('./measure.ts', import.meta.url));

export async function measureInWorker(
  file: string,
  source: SourceConfig,
  settings: LoadSettings,
  snapshot?: SnapshotTarget,
  cpuShare = 1,
): Promise<{ stats: SourceStats; samples: string[]; staged?: string }> {
  const r = await thread.run({ file, source, settings, snapshot, cpuShare });
  if (!r.ok) throw new Error(r.error);
  return r;
}

serveJobs(import.meta.url, (req: MeasureRequest) => {
  try {
    return { reply: measure(req) };
  } catch (e) {
    return { reply: { ok: false, error: (e as Error).message } satisfies MeasureReply };
  }
});
