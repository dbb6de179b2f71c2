// Last good copy of each provider feed: <stateDir>/providers/last-good/<provider>/<feed>.json,
// written atomically (temp file + rename). The merged range sets are not stored: they are rebuilt
// from the ranges on load (feeds hold hundreds of prefixes, not millions).

import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { diskErrorOf } from '../../core/disk.ts';
import { dirname, join } from 'node:path';
import { rangeSets, type ProviderFeedResult } from './types.ts';

const FORMAT = 1;

/** <stateDir>/providers/<kind>/<provider>/<feed>.json, names made safe for a path. */
export function feedFile(stateDir: string, kind: 'last-good' | 'status', provider: string, feed: string): string {
  const safe = (s: string) => encodeURIComponent(s).replace(/^\.+/, (m) => '%2E'.repeat(m.length));
  return join(stateDir, 'providers', kind, safe(provider), `${safe(feed)}.json`);
}

function fileOf(stateDir: string, provider: string, feed: string): string {
  return feedFile(stateDir, 'last-good', provider, feed);
}

/** Stores the copy; false when the state disk cannot take it (full, read-only): the ranges are
 *  still used from memory, and the previous copy on disk stays intact. */
export function saveLastGood(stateDir: string, result: ProviderFeedResult): boolean {
  const file = fileOf(stateDir, result.provider, result.feed);
  const { v4: _v4, v6: _v6, notModified: _nm, ...rest } = result;
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(tmp, JSON.stringify({ format: FORMAT, ...rest }));
    renameSync(tmp, file);
    return true;
  } catch (e) {
    try {
      rmSync(tmp, { force: true });
    } catch {
      /* removed at the next start (sync/cleanup.ts) */
    }
    if (diskErrorOf(e)) return false;
    throw e;
  }
}

/** The stored last good copy, or null when there is none (or it is unreadable). */
export function loadLastGood(stateDir: string, provider: string, feed: string): ProviderFeedResult | null {
  let data: unknown;
  try {
    data = JSON.parse(readFileSync(fileOf(stateDir, provider, feed), 'utf8'));
  } catch {
    return null;
  }
  const d = data as Partial<ProviderFeedResult> & { format?: number };
  if (d?.format !== FORMAT || !Array.isArray(d.ranges) || d.provider !== provider || d.feed !== feed) return null;
  const { format: _f, ...rest } = d;
  const ranges = d.ranges;
  const { v4, v6 } = rangeSets(ranges);
  return { ...(rest as ProviderFeedResult), ranges, v4, v6, warnings: d.warnings ?? [] };
}
