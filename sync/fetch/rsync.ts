// rsync fetcher: runs the system `rsync` binary against a daemon (rsync://host[:port]/mod/path or
// host::mod/path) into the staging path. rsync itself writes a temp file beside the destination
// and renames it when complete; we add a total timeout (kills the rsync process group), remove
// any temp file a killed rsync leaves, and read --itemize-changes to tell 'fetched' from
// 'not-modified' (quick-check: same size and mtime -> nothing transferred).
//
// The staging copy is what rsync compares against. When it is missing (the engine renamed it to
// the last good copy) and opts.basis names that copy, it is seeded with a copy of it (mtime kept),
// so an unchanged upstream costs a file list exchange and a changed one a delta transfer. A seeded
// copy is removed again when the result is 'not-modified' or an error: the staging path then holds
// only what this fetch brought.

import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, readdir, rename, stat, unlink, utimes } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { asFetchError, startAttempt, type Attempt } from './attempt.ts';
import { withRetries } from './retry.ts';
import { FetchError, type FetchOptions, type FetchResult } from './types.ts';

// exit codes worth another try: protocol start (daemon busy), socket I/O, stream errors,
// signals, timeouts, vanished source files
const RETRYABLE_EXIT = new Set([5, 10, 12, 14, 20, 24, 30, 35]);

export function fetchRsync(opts: FetchOptions): Promise<FetchResult> {
  return withRetries(opts.url, opts.retries, opts.retryBaseMs ?? 1000, opts.signal, () => attempt(opts));
}

export function rsyncArgs(opts: FetchOptions): string[] {
  const secs = (ms: number) => String(Math.max(1, Math.ceil(ms / 1000)));
  return [
    '--times',
    `--timeout=${secs(opts.timeoutMs)}`,
    `--contimeout=${secs(opts.connectTimeoutMs)}`,
    `--max-size=${opts.maxBytes}`,
    '--itemize-changes',
    '--info=progress2,skip1',
    '--outbuf=N',
    '--no-motd',
    '--copy-links',
    '--',
    opts.url,
    opts.dest,
  ];
}

async function attempt(opts: FetchOptions): Promise<FetchResult> {
  if (opts.url.startsWith('-')) throw new FetchError(opts.url, 'invalid rsync source', false);
  await mkdir(dirname(opts.dest), { recursive: true });
  await removeRsyncTemps(opts.dest);
  const att = startAttempt(opts.url, opts.timeoutMs, opts.signal);
  let seeded = false;
  try {
    seeded = await seedFromBasis(opts);
    const run = await runRsync(rsyncArgs(opts), att, opts.onProgress);
    att.check();
    if (run.code !== 0) {
      const why = run.code === null ? `rsync killed by ${run.signal}` : `rsync exit ${run.code}`;
      const retryable = run.code === null || RETRYABLE_EXIT.has(run.code);
      throw new FetchError(opts.url, `${why}: ${stderrSummary(run.stderr) || 'no message'}`, retryable);
    }
    if (/over max-size/.test(run.stdout)) {
      throw new FetchError(opts.url, `remote file exceeds the size cap of ${opts.maxBytes} bytes (rsync skipped it)`, false);
    }
    const st = await stat(opts.dest).catch(() => null);
    if (!st) throw new FetchError(opts.url, `rsync wrote no file (${stderrSummary(run.stderr + run.stdout) || 'is the remote path a directory?'})`, false);
    if (!st.isFile()) throw new FetchError(opts.url, 'rsync produced a directory, not a file (remote path is a directory?)', false);
    const changed = run.stdout.split(/[\r\n]+/).some((l) => /^[>c]f/.test(l));
    if (!changed) {
      if (seeded) await unlink(opts.dest).catch(() => {});
      return { status: 'not-modified' };
    }
    return { status: 'fetched', bytes: st.size, validators: { lastModified: st.mtime.toUTCString() }, finalUrl: opts.url };
  } catch (err) {
    await removeRsyncTemps(opts.dest);
    if (seeded) await unlink(opts.dest).catch(() => {});
    throw asFetchError(opts.url, err, att.signal);
  } finally {
    att.done();
  }
}

async function seedFromBasis(opts: FetchOptions): Promise<boolean> {
  if (!opts.basis) return false;
  if (await stat(opts.dest).catch(() => null)) return false;
  const b = await stat(opts.basis).catch(() => null);
  if (!b?.isFile()) return false;
  const tmp = join(dirname(opts.dest), `.${basename(opts.dest)}.${randomBytes(6).toString('hex')}.seed`);
  try {
    await copyFile(opts.basis, tmp);
    await utimes(tmp, b.atime, b.mtime);
    await rename(tmp, opts.dest);
    return true;
  } catch {
    await unlink(tmp).catch(() => {});
    return false; // no seed: rsync simply transfers everything
  }
}

/** rsync's own temp files are ".<name>.XXXXXX" beside the destination. */
async function removeRsyncTemps(dest: string): Promise<void> {
  const dir = dirname(dest);
  const base = basename(dest).replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const re = new RegExp(`^\\.${base}\\.([A-Za-z0-9]{6}|[0-9a-f]{12}\\.seed)$`);
  const names = await readdir(dir).catch(() => [] as string[]);
  await Promise.all(names.filter((n) => re.test(n)).map((n) => unlink(join(dir, n)).catch(() => {})));
}

function stderrSummary(text: string): string {
  const lines = text
    .split(/[\r\n]+/)
    .map((l) => l.trim().replace(/\s+at \S+\(\d+\) \[\w+=[^\]]*\]$/, ''))
    .filter((l) => l !== '');
  const important = lines.filter((l) => /^(rsync|@ERROR)/.test(l));
  return (important.length ? important : lines).slice(0, 4).join('; ').slice(0, 1000);
}

interface RsyncRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function runRsync(args: string[], att: Attempt, onProgress?: (bytes: number) => void): Promise<RsyncRun> {
  return new Promise((resolve, reject) => {
    att.check();
    // own process group: rsync forks (generator/receiver) and the whole group must stop on abort;
    // no controlling terminal, so a password prompt fails instead of hanging
    const child = spawn('rsync', args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LC_ALL: 'C' } });
    let stdout = '';
    let stderr = '';
    let killTimer: NodeJS.Timeout | undefined;
    const killGroup = (sig: NodeJS.Signals) => {
      try {
        if (child.pid) process.kill(-child.pid, sig);
      } catch {
        /* already gone */
      }
    };
    const onAbort = () => {
      killGroup('SIGTERM');
      killTimer = setTimeout(() => killGroup('SIGKILL'), 2000);
    };
    att.signal.addEventListener('abort', onAbort, { once: true });
    child.stdout.setEncoding('latin1');
    child.stderr.setEncoding('latin1');
    child.stdout.on('data', (s: string) => {
      if (stdout.length < 65536) stdout += s;
      if (onProgress) {
        let last: string | undefined;
        for (const m of s.matchAll(/([\d,]+)\s+\d+%/g)) last = m[1];
        if (last !== undefined) onProgress(Number(last.replace(/,/g, '')));
      }
    });
    child.stderr.on('data', (s: string) => {
      if (stderr.length < 65536) stderr += s;
    });
    child.on('error', (err: NodeJS.ErrnoException) => {
      att.signal.removeEventListener('abort', onAbort);
      reject(
        err.code === 'ENOENT'
          ? new FetchError(args[args.length - 2]!, 'the rsync binary is not installed (apt-get install rsync)', false)
          : err,
      );
    });
    child.on('close', (code, signal) => {
      att.signal.removeEventListener('abort', onAbort);
      clearTimeout(killTimer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}
