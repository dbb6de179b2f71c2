// What to load: zones made of rbldnsd datasets, however they were declared (config or argv).

import type { TtlLimits } from '../rbldnsd/state.ts';

export interface DatasetSpec {
  type: string;
  /** Absolute paths, read in order as if concatenated. */
  files: string[];
}

export interface ZoneSpec {
  name: string;
  datasets: DatasetSpec[];
}

export interface LoadSettings {
  ttl: TtlLimits;
  acceptHostBits: boolean;
  gunzip: boolean;
}

/** Datasets with the same type and file list are one shared instance (rbldnsd's rule). */
export function datasetKey(d: DatasetSpec): string {
  return `${d.type.toLowerCase()}:${d.files.join(',')}`;
}
