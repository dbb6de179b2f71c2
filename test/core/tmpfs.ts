// A small tmpfs for tests of disk trouble (full, read-only): real ENOSPC and EROFS, no chmod
// tricks (root ignores modes). Needs mount rights: otherwise a skip message (a failure with CI=true).

import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const mounted: string[] = [];

export function tmpfsOrSkip(): false | string {
  const d = mkdtempSync(join(tmpdir(), 'qbl-mnt-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', d], { stdio: 'pipe' });
    execFileSync('umount', [d], { stdio: 'pipe' });
    return false;
  } catch (e) {
    const msg = `cannot mount a tmpfs (needs root / CAP_SYS_ADMIN): ${String((e as { stderr?: Buffer }).stderr ?? (e as Error).message).trim()}`;
    if (process.env.CI === 'true') throw new Error(msg);
    return msg;
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
}

/** A fresh tmpfs of `size` (e.g. '4m'); unmounted by unmountAll() or at exit. */
export function tmpfs(size = '4m'): string {
  const d = mkdtempSync(join(tmpdir(), 'qbl-tmpfs-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', d], { stdio: 'pipe' });
  mounted.push(d);
  return d;
}

export function remount(dir: string, mode: 'ro' | 'rw'): void {
  execFileSync('mount', ['-o', `remount,${mode}`, dir], { stdio: 'pipe' });
}

/** Writes `file` until the file system is full to the last block. */
export function fill(file: string): void {
  const fd = openSync(file, 'w');
  const chunk = Buffer.alloc(64 * 1024, 0x55);
  try {
    for (;;) writeSync(fd, chunk);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e;
  }
  try {
    for (;;) writeSync(fd, chunk, 0, 512);
  } catch {
    /* full */
  } finally {
    closeSync(fd);
  }
}

export function unmountAll(): void {
  for (const d of mounted.splice(0).reverse()) {
    try {
      execFileSync('umount', ['-l', d], { stdio: 'pipe' });
      rmSync(d, { recursive: true, force: true });
    } catch {
      /* gone */
    }
  }
}
process.on('exit', unmountAll);
