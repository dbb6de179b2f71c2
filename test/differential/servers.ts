// Starts rbldnsd (the oracle) and `bin/quorumbl rbldnsd` on the same data directory with the
// same arguments, and waits until each one answers a DNS query.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdtempSync, readdirSync, renameSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UdpClient } from './client.ts';
import { buildQuery } from './wire.ts';

export const REPO = fileURLToPath(new URL('../../', import.meta.url));
export const FIXTURES = join(REPO, 'test/fixtures/rbldnsd');
export const QUORUMBL = join(REPO, 'bin/quorumbl');
export const RBLDNSD = '/usr/sbin/rbldnsd';

/** Fixed mtimes so `$SOA` serial 0 (= newest file mtime of the zone) is predictable. */
export const BASE_MTIME = 1700000000;
const MTIME_OVERRIDES: Record<string, number> = { 'multi-trie.txt': 1700000200, 'subst.txt': 1700000100 };

/** Copies the corpus into a world-readable temp dir (rbldnsd runs as nobody). */
export function prepareDataDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'qbl-diff-'));
  chmodSync(dir, 0o755);
  for (const f of readdirSync(FIXTURES)) {
    if (f.endsWith('.md')) continue;
    const dst = join(dir, f);
    copyFileSync(join(FIXTURES, f), dst);
    chmodSync(dst, 0o644);
    const t = MTIME_OVERRIDES[f] ?? BASE_MTIME;
    utimesSync(dst, t, t);
  }
  return dir;
}

export function removeDataDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

export function haveRbldnsd(): boolean {
  return existsSync(RBLDNSD);
}

export function haveQuorumbl(): boolean {
  return existsSync(QUORUMBL);
}

export function haveDig(): boolean {
  return spawnSync('dig', ['-v'], { stdio: 'ignore' }).status === 0;
}

export type Impl = 'rbldnsd' | 'quorumbl';

export interface Server {
  impl: Impl;
  port: number;
  argv: string[];
  output: () => string;
  signal: (sig: NodeJS.Signals) => void;
  stop: () => Promise<void>;
}

function randomPort(): number {
  return 20000 + Math.floor(Math.random() * 40000);
}

/**
 * `opts` are the rbldnsd options shared by both implementations (e.g. `-v`, `-t 5m:1m:10m`),
 * `zones` the zone specs. rbldnsd additionally gets `-u nobody` since we may run as root.
 */
export async function startServer(impl: Impl, dir: string, opts: string[], zones: string[]): Promise<Server> {
  let lastErr = '';
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = randomPort();
    const common = ['-n', '-b', `127.0.0.1/${port}`, '-w', dir, ...opts, ...zones];
    const [cmd, argv] = impl === 'rbldnsd'
      ? [RBLDNSD, ['-u', 'nobody', ...common]]
      : [QUORUMBL, ['rbldnsd', ...common]];
    const proc = spawn(cmd, argv, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    proc.stdout!.on('data', (d) => (out += d));
    proc.stderr!.on('data', (d) => (out += d));
    let exited = false;
    const exitP = new Promise<void>((res) => proc.on('exit', () => { exited = true; res(); }));
    const ok = await waitReady(port, () => exited, 60_000);
    if (ok) {
      return {
        impl, port, argv: [cmd, ...argv], output: () => out,
        signal: (sig) => { proc.kill(sig); },
        stop: () => stopProc(proc, exitP),
      };
    }
    await stopProc(proc, exitP);
    // errors first (a JSON log may bury them), then the end of the output
    const errs = out.split('\n').filter((l) => /"level":(50|60)|error|fatal|abort/i.test(l)).slice(0, 20).join('\n');
    lastErr = `${impl} on port ${port} did not answer (${exited ? 'exited' : 'timeout'}):\n${cmd} ${argv.join(' ')}\n` +
      `--- error lines:\n${errs}\n--- last output:\n${out.slice(-1500)}`;
    if (!/address already in use|EADDRINUSE/i.test(out)) break;
  }
  throw new Error(lastErr);
}

async function stopProc(proc: ChildProcess, exitP: Promise<void>): Promise<void> {
  if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
  const t = setTimeout(() => proc.kill('SIGKILL'), 5000);
  await exitP;
  clearTimeout(t);
}

async function waitReady(port: number, exited: () => boolean, limitMs: number): Promise<boolean> {
  const c = new UdpClient(port);
  try {
    const until = Date.now() + limitMs;
    while (Date.now() < until && !exited()) {
      const r = await c.exchange((id) => buildQuery(id, 'version.bind', 16, 3), 200, 1);
      if (r) return true;
    }
    return false;
  } finally {
    c.close();
  }
}

/** A world-readable temp dir holding just `files` (name -> content), all with mtime `mtime`. */
export function makeDataDir(files: Record<string, string>, mtime = BASE_MTIME): string {
  const dir = mkdtempSync(join(tmpdir(), 'qbl-diff-'));
  chmodSync(dir, 0o755);
  for (const [name, text] of Object.entries(files)) writeDataFile(dir, name, text, mtime);
  return dir;
}

/** Replaces a data file the way rbldnsd wants it: temp file + rename, then a fixed mtime. */
export function writeDataFile(dir: string, name: string, text: string, mtime: number): void {
  const tmp = join(dir, `.${name}.tmp`);
  writeFileSync(tmp, text);
  chmodSync(tmp, 0o644);
  utimesSync(tmp, mtime, mtime);
  renameSync(tmp, join(dir, name));
}
