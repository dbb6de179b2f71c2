// Leftovers of interrupted or failed jobs in the state directory: partial downloads, staged
// snapshots, temp files of atomic writes. They are never loaded (every loader reads exact final
// names: sources/<name>/current, snapshots/<id>.qsnap, providers/last-good/.../<feed>.json), but
// they hold disk space, and on a full disk that space is what recovery needs. Removed when serve
// starts and after each failed sync.
//
// What counts as a leftover (the writers, for whoever adds a new one):
//   sources/<name>/staging/*            the download and fetch temps (sync/fetch/staging.ts
//                                       `.download.<hex>.part`, file.ts `.part`, rsync.ts `.seed`
//                                       and rsync's own `.download.XXXXXX`)
//   sources/<name>/.*.part              temps beside the last good copy
//   snapshots/*.qsnap.staged            snapshots staged by a sync before its guards passed
//                                       (sync/measure.ts; promoted by a rename)
//   snapshots/*.qsnap.tmp-<pid>         core/snapshot.ts writeSnapshot temps
//   providers/**/*.<pid>.tmp            sync/providers/store.ts and m365.ts temps
//   .quorumbl-probe-<pid>               core/disk-health.ts probe file
// Temps named with a pid are kept while that process is alive (another quorumbl writing).

import { existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../core/log.ts';

export interface CleanupOptions {
  /** True when another process is syncing this source now (its staging files are live). */
  isBusy?: (source: string) => boolean;
  log?: Logger;
}

function list(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

function alive(pid: number): boolean {
  if (pid === process.pid) return false; // our own leftovers from before: we just started
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The pid in a temp name (`x.tmp-123`, `x.123.tmp`, `.quorumbl-probe-123`), if any. */
function pidOf(name: string): number | null {
  const m = /\.tmp-(\d+)$/.exec(name) ?? /\.(\d+)\.tmp$/.exec(name) ?? /^\.quorumbl-probe-(\d+)$/.exec(name);
  return m ? Number(m[1]) : null;
}

function remove(path: string, removed: string[], failed: string[]): void {
  try {
    rmSync(path, { recursive: true, force: true });
    removed.push(path);
  } catch {
    failed.push(path);
  }
}

/** Removes one source's staging files (after its sync failed) and, when given, its staged
 *  snapshot. Never throws; returns what was removed. */
export function cleanSource(stateDir: string, source: string, stagedSnapshot?: string): string[] {
  const removed: string[] = [];
  const failed: string[] = [];
  const dir = join(stateDir, 'sources', source);
  for (const n of list(join(dir, 'staging'))) remove(join(dir, 'staging', n), removed, failed);
  for (const n of list(dir)) if (n.startsWith('.') && n.endsWith('.part')) remove(join(dir, n), removed, failed);
  if (stagedSnapshot && existsSync(stagedSnapshot)) remove(stagedSnapshot, removed, failed);
  return removed;
}

/** Removes every leftover in the state directory (at start). Never throws. */
export function cleanPartials(stateDir: string, opts: CleanupOptions = {}): { removed: string[]; failed: string[] } {
  const removed: string[] = [];
  const failed: string[] = [];
  const sources = join(stateDir, 'sources');
  for (const name of list(sources)) {
    if (opts.isBusy?.(name)) continue;
    const dir = join(sources, name);
    for (const n of list(join(dir, 'staging'))) remove(join(dir, 'staging', n), removed, failed);
    for (const n of list(dir)) if (n.startsWith('.') && n.endsWith('.part')) remove(join(dir, n), removed, failed);
  }
  const snaps = join(stateDir, 'snapshots');
  for (const n of list(snaps)) {
    const pid = pidOf(n);
    if (n.endsWith('.qsnap.staged') || (pid !== null && /\.qsnap\.tmp-\d+$/.test(n) && !alive(pid))) remove(join(snaps, n), removed, failed);
  }
  const walk = (dir: string, depth: number): void => {
    for (const n of list(dir)) {
      const p = join(dir, n);
      const pid = pidOf(n);
      if (pid !== null && n.endsWith('.tmp')) {
        if (!alive(pid)) remove(p, removed, failed);
        continue;
      }
      try {
        if (depth < 4 && statSync(p).isDirectory()) walk(p, depth + 1);
      } catch {
        /* gone meanwhile */
      }
    }
  };
  walk(join(stateDir, 'providers'), 0);
  for (const n of list(stateDir)) {
    const pid = pidOf(n);
    if (pid !== null && n.startsWith('.quorumbl-probe-') && !alive(pid)) remove(join(stateDir, n), removed, failed);
  }
  if (opts.log) {
    if (removed.length) opts.log.info({ state_dir: stateDir, removed }, `removed ${removed.length} leftover partial file(s) of interrupted jobs`);
    if (failed.length) opts.log.warn({ state_dir: stateDir, kept: failed }, 'leftover partial files could not be removed (never loaded; removed at a later start)');
  }
  return { removed, failed };
}
