// What to load: zones made of rbldnsd datasets, however they were declared (config or argv).

import type { TtlLimits } from '../rbldnsd/state.ts';
import type { NsSet, Soa } from '../datasets/types.ts';
import type { SourceAnswer } from '../datasets/source.ts';
import type { ParseOptions } from '../formats/index.ts';

export interface DatasetSpec {
  /** An rbldnsd dataset type, or 'source' for an upstream list in another format. */
  type: string;
  /** Absolute paths, read in order as if concatenated. */
  files: string[];
  /** type 'source': how the file is parsed and what a listed key answers. */
  source?: { parse: ParseOptions; answer: SourceAnswer };
  /** Data that may not exist yet (a mirror before its first sync): its absence is not a start-up
   *  error; the zone answers SERVFAIL until the data arrives. */
  optional?: boolean;
}

export interface ZoneSpec {
  name: string;
  datasets: DatasetSpec[];
  /** SOA/NS for zones quorumbl builds itself; they take precedence over the data's own. */
  soa?: Soa;
  ns?: NsSet;
}

export interface LoadSettings {
  ttl: TtlLimits;
  acceptHostBits: boolean;
  gunzip: boolean;
}

/** Datasets with the same type and file list are one shared instance (rbldnsd's rule). */
export function datasetKey(d: DatasetSpec): string {
  const base = `${d.type.toLowerCase()}:${d.files.join(',')}`;
  return d.source ? `${base}:${JSON.stringify(d.source)}` : base;
}

/** A short name for logs: the type and files, without the parse options. */
export function datasetLabel(d: DatasetSpec): string {
  return `${d.source ? `${d.source.parse.format} list` : d.type}:${d.files.join(',')}`;
}
