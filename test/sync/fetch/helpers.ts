// Shared bits of the fetch tests: temp dirs, free loopback ports, tool checks, child processes
// stopped by their own process group id.

import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import type { FetchOptions } from '../../../sync/fetch/index.ts';

export const FIXTURES = new URL('../../fixtures/fetch/', import.meta.url).pathname;

const dirs: string[] = [];
after(() => {
  if (process.env.KEEP_TMP) return;
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A fresh world-readable temp dir, removed after the test file. */
export function tmpDir(prefix = 'qbl-fetch-'): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  chmodSync(d, 0o755);
  dirs.push(d);
  return d;
}

export function listDir(d: string): string[] {
  try {
    return readdirSync(d).sort();
  } catch {
    return [];
  }
}

export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen({ host, port: 0, exclusive: true }, () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

function haveTool(name: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** describe() skip option: a missing tool fails under CI=true, skips with a message otherwise. */
export function toolsOrSkip(names: string[], pkg: string): false | string {
  const missing = names.filter((n) => !haveTool(n));
  if (missing.length === 0) return false;
  const msg = `required tool(s) not installed: ${missing.join(', ')} (apt-get install ${pkg})`;
  if (process.env.CI === 'true') throw new Error(msg);
  return msg;
}

/** Base options with short, bounded timeouts; tests override what they exercise. */
export function baseOptions(url: string, dest: string, over: Partial<FetchOptions> = {}): FetchOptions {
  return {
    url,
    dest,
    connectTimeoutMs: 2000,
    timeoutMs: 10_000,
    maxBytes: 50 * 1024 * 1024,
    maxRedirects: 5,
    retries: 0,
    retryBaseMs: 20,
    userAgent: 'quorumbl-test/0.1 (+https://example.invalid/quorumbl)',
    ...over,
  };
}

/** A long-running tool in its own process group (stopped with the group, by id). */
export class Daemon {
  readonly proc: ChildProcess;
  output = '';

  constructor(cmd: string, args: string[], cwd?: string) {
    this.proc = spawn(cmd, args, { cwd, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc.stdout!.on('data', (d) => (this.output += d));
    this.proc.stderr!.on('data', (d) => (this.output += d));
    this.proc.on('error', (e) => (this.output += `spawn error: ${e.message}\n`));
  }

  get running(): boolean {
    return this.proc.exitCode === null && this.proc.signalCode === null;
  }

  kill(sig: NodeJS.Signals = 'SIGTERM'): void {
    if (!this.running || !this.proc.pid) return;
    try {
      process.kill(-this.proc.pid, sig);
    } catch {
      /* gone */
    }
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    const exited = new Promise<void>((r) => this.proc.once('exit', () => r()));
    this.kill('SIGTERM');
    const t = setTimeout(() => this.kill('SIGKILL'), 3000);
    await exited;
    clearTimeout(t);
  }
}

/** Polls until `fn` is true (bounded). */
export async function waitFor(fn: () => boolean | Promise<boolean>, what: string, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await fn()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** True once something accepts TCP connections at host:port. */
export function canConnect(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const c = connect({ host, port });
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });
}
