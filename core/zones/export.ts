// One entry point for both export forms (the CLI's `quorumbl export` and the HTTP download).

import type { ExportFormat, ExportZone } from './export-zone.ts';
import type { MaterialiseOptions } from './records.ts';
import { rbldnsdChunks } from './rbldnsd-export.ts';
import { zonefileChunks } from './zonefile.ts';

/** The zone written in `format`, in text chunks (nothing is held but the current chunk, and for
 *  rbldnsd one small object per owner name). */
export function exportChunks(zone: ExportZone, format: ExportFormat, opts: MaterialiseOptions): Generator<string> {
  return format === 'zonefile' ? zonefileChunks(zone, opts) : rbldnsdChunks(zone, opts);
}
