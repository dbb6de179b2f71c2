// Shared plumbing for the integration tests: real processes (bin/quorumbl, unbound) on random
// loopback ports, queried with the real `dig`. Every process is started in its own process
// group and is killed when the test file ends, even when an assertion or a hook throws.

import { spawn, execFile, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, chmodSync, writeFileSync, renameSync, utimesSync, copyFileSync } from 'node:fs';
import { createServer as createTcpServer, Socket } from 'node:net';
import { createSocket } from 'node:dgram';
import { tmpdir } from 'node:os';
import { join, dirname, basename } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const BIN = join(ROOT, 'bin', 'quorumbl');
export const FIXTURES = join(ROOT, 'test', 'fixtures', 'integration');

// ---------------------------------------------------------------------------------------------
// Tools

function haveTool(name: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * `skip` option for describe(): false when every tool is installed. A missing tool is a skip
 * with a message outside CI, and a hard failure of the test file when CI=true.
 */
export function toolsOrSkip(names: string[]): false | string {
  const missing = names.filter((n) => !haveTool(n));
  if (missing.length === 0) return false;
  const msg = `required tool(s) not installed: ${missing.join(', ')} (apt-get install bind9-dnsutils unbound)`;
  if (process.env.CI === 'true') throw new Error(msg);
  return msg;
}

// ---------------------------------------------------------------------------------------------
// Temporary directories and ports

const tmpDirs: string[] = [];

/** A fresh world-readable directory, removed at exit unless KEEP_TMP is set. */
export function makeTmpDir(prefix = 'quorumbl-it-'): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  chmodSync(d, 0o755);
  tmpDirs.push(d);
  return d;
}

const usedPorts = new Set<number>();

function canBindTcp(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createTcpServer();
    s.once('error', () => resolve(false));
    s.listen({ host, port, exclusive: true }, () => s.close(() => resolve(true)));
  });
}

function canBindUdp(type: 'udp4' | 'udp6', host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createSocket({ type, reuseAddr: false });
    s.once('error', () => {
      s.close();
      resolve(false);
    });
    s.bind({ address: host, port, exclusive: true }, () => s.close(() => resolve(true)));
  });
}

/**
 * A port that is free for UDP and TCP on 127.0.0.1 and ::1. Picked at random below the Linux
 * ephemeral range so that client source ports (dig, unbound) do not collide with it.
 */
export async function freePort(): Promise<number> {
  for (let i = 0; i < 200; i++) {
    const port = 20000 + Math.floor(Math.random() * 12000);
    if (usedPorts.has(port)) continue;
    if (
      (await canBindTcp('127.0.0.1', port)) &&
      (await canBindTcp('::1', port)) &&
      (await canBindUdp('udp4', '127.0.0.1', port)) &&
      (await canBindUdp('udp6', '::1', port))
    ) {
      usedPorts.add(port);
      return port;
    }
  }
  throw new Error('no free loopback port found');
}

// ---------------------------------------------------------------------------------------------
// Processes

export interface LogLine {
  level?: number;
  msg?: string;
  [k: string]: unknown;
}

export class Proc {
  readonly child: ChildProcess;
  readonly name: string;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  exitStatus: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  private out = '';
  private waiters: Array<() => void> = [];

  constructor(name: string, cmd: string, args: string[], opts: { env?: Record<string, string>; cwd?: string }) {
    this.name = name;
    // Inherit a clean environment: no stray QUORUMBL_* overrides from the developer's shell.
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('QUORUMBL_')) env[k] = v;
    delete env.NODE_TEST_CONTEXT; // the child is not a test file
    // No upstream fetches from tests (sources, provider feeds): traffic stays on loopback. A test
    // that wants the scheduler passes QUORUMBL_SYNC__ENABLED=true itself.
    env.QUORUMBL_SYNC__ENABLED = 'false';
    Object.assign(env, opts.env ?? {});
    this.child = spawn(cmd, args, {
      cwd: opts.cwd ?? ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true, // own process group: stop() reaches the launcher and node behind it
    });
    live.add(this);
    const onData = (b: Buffer) => {
      this.out += b.toString('utf8');
      for (const w of this.waiters.splice(0)) w();
    };
    this.child.stdout!.on('data', onData);
    this.child.stderr!.on('data', onData);
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        this.exitStatus = { code, signal };
        live.delete(this);
        for (const w of this.waiters.splice(0)) w();
        resolve({ code, signal });
      });
      this.child.once('error', (err) => {
        this.out += `\n[spawn error] ${err.message}\n`;
        this.exitStatus = { code: -1, signal: null };
        live.delete(this);
        for (const w of this.waiters.splice(0)) w();
        resolve({ code: -1, signal: null });
      });
    });
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  /** Everything the process wrote to stdout and stderr so far. */
  output(): string {
    return this.out;
  }

  /** The output lines that parse as JSON log records (pino). */
  logs(): LogLine[] {
    const res: LogLine[] = [];
    for (const line of this.out.split('\n')) {
      const t = line.trim();
      if (!t.startsWith('{')) continue;
      try {
        res.push(JSON.parse(t) as LogLine);
      } catch {
        /* not a log record */
      }
    }
    return res;
  }

  /** Last bytes of output, for failure messages. */
  tail(n = 4000): string {
    return this.out.length > n ? '...' + this.out.slice(-n) : this.out;
  }

  /** Waits until pred(output) holds; throws (with the output) at the deadline. */
  async waitForOutput(pred: (out: string) => boolean, what: string, timeoutMs = 20000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!pred(this.out)) {
      if (this.exitStatus && !pred(this.out)) {
        throw new Error(`${this.name} exited (${JSON.stringify(this.exitStatus)}) before ${what}; output:\n${this.tail()}`);
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what} from ${this.name}; output:\n${this.tail()}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, Math.min(left, 250));
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  /** Sends a signal to the main process only (SIGHUP for reload). */
  signal(sig: NodeJS.Signals): void {
    if (this.exitStatus) throw new Error(`${this.name} already exited: ${JSON.stringify(this.exitStatus)}`);
    process.kill(this.pid, sig);
  }

  /** SIGTERM to the process group, SIGKILL after a grace period. Resolves when it is gone. */
  async stop(graceMs = 5000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.exitStatus) return this.exitStatus;
    killGroup(this.pid, 'SIGTERM');
    const t = setTimeout(() => killGroup(this.pid, 'SIGKILL'), graceMs);
    const st = await this.exited;
    clearTimeout(t);
    killGroup(this.pid, 'SIGKILL'); // anything left in the group (a detached worker)
    return st;
  }
}

function killGroup(pid: number, sig: NodeJS.Signals): void {
  if (pid <= 0) return;
  try {
    process.kill(-pid, sig);
  } catch {
    /* already gone */
  }
}

const live = new Set<Proc>();

process.on('exit', () => {
  for (const p of live) killGroup(p.pid, 'SIGKILL');
  if (!process.env.KEEP_TMP) for (const d of tmpDirs) rmSync(d, { recursive: true, force: true });
});
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    for (const p of live) killGroup(p.pid, 'SIGKILL');
    process.exit(130);
  });
}

/** Runs `bin/quorumbl ARGS` as a long-running process. */
export function spawnQuorumbl(args: string[], opts: { env?: Record<string, string>; cwd?: string } = {}): Proc {
  return new Proc(`quorumbl ${args.join(' ')}`, BIN, args, opts);
}

/** Runs `bin/quorumbl ARGS` to completion (check-config, --help). */
export function runQuorumbl(
  args: string[],
  opts: { env?: Record<string, string>; cwd?: string; timeoutMs?: number } = {},
): Promise<{ code: number | null; stdout: string; stderr: string; output: string }> {
  const p = new Proc(`quorumbl ${args.join(' ')}`, BIN, args, opts);
  let stdout = '';
  let stderr = '';
  p.child.stdout!.on('data', (b: Buffer) => (stdout += b.toString('utf8')));
  p.child.stderr!.on('data', (b: Buffer) => (stderr += b.toString('utf8')));
  const timer = setTimeout(() => void p.stop(), opts.timeoutMs ?? 30000);
  return p.exited.then((st) => {
    clearTimeout(timer);
    return { code: st.code, stdout, stderr, output: stdout + stderr };
  });
}

/** Stops every given process; never throws (for after() hooks). */
export async function stopAll(...procs: Array<Proc | undefined | null>): Promise<void> {
  await Promise.all(procs.map((p) => (p ? p.stop().catch(() => undefined) : undefined)));
}

// ---------------------------------------------------------------------------------------------
// dig

export interface Rr {
  name: string;
  ttl: number;
  class: string;
  type: string;
  data: string;
}

export interface DigReply {
  status: string;
  flags: string[];
  answer: Rr[];
  authority: Rr[];
  additional: Rr[];
  /** UDP size of the OPT record in the reply, or null when the reply has no OPT. */
  ednsUdp: number | null;
  raw: string;
}

function parseRr(line: string): Rr | null {
  const m = /^(\S+)\s+(\d+)\s+(\S+)\s+(\S+)\s*(.*)$/.exec(line);
  if (!m) return null;
  return { name: m[1]!.toLowerCase(), ttl: Number(m[2]), class: m[3]!, type: m[4]!, data: m[5]! };
}

/** Splits dig's text output into one record per reply message. */
export function parseDig(text: string): DigReply[] {
  const replies: DigReply[] = [];
  const chunks = text.split(/^;; ->>HEADER<<-/m).slice(1);
  for (const chunk of chunks) {
    const status = /status: ([A-Z]+)/.exec(chunk)?.[1] ?? '?';
    const flagLine = /^;; flags:([^;]*);/m.exec(chunk)?.[1] ?? '';
    const opt = /^; EDNS: version: \d+, flags:[^;]*; udp: (\d+)/m.exec(chunk);
    const r: DigReply = {
      status,
      flags: flagLine.trim().split(/\s+/).filter(Boolean),
      answer: [],
      authority: [],
      additional: [],
      ednsUdp: opt ? Number(opt[1]) : null,
      raw: ';; ->>HEADER<<-' + chunk,
    };
    let section: Rr[] | null = null;
    for (const line of chunk.split('\n')) {
      if (line.startsWith(';; ANSWER SECTION:')) section = r.answer;
      else if (line.startsWith(';; AUTHORITY SECTION:')) section = r.authority;
      else if (line.startsWith(';; ADDITIONAL SECTION:')) section = r.additional;
      else if (line.trim() === '' || line.startsWith(';')) section = line.trim() === '' ? null : section;
      else if (section) {
        const rr = parseRr(line);
        if (rr) section.push(rr);
      }
    }
    replies.push(r);
  }
  return replies;
}

/** The strings of a TXT record's rdata in dig's presentation format, decoded. */
export function txtStrings(data: string): string[] {
  const out: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(data))) {
    out.push(m[1]!.replace(/\\(\d{3}|.)/g, (_, e: string) => (e.length === 3 ? String.fromCharCode(Number(e)) : e)));
  }
  return out;
}

export interface DigResult {
  code: number | null;
  stdout: string;
  stderr: string;
  replies: DigReply[];
}

/**
 * Runs dig against a server. `args` are extra dig arguments (names, types, +options).
 * Authoritative defaults: +nocookie +norec, 2 s timeout, one try.
 */
export function digRaw(server: string, port: number, args: string[], opts: { recurse?: boolean } = {}): Promise<DigResult> {
  const base = [`@${server}`, '-p', String(port), '+nocookie', '+time=2', '+tries=1', '+retry=0'];
  if (!opts.recurse) base.push('+norec');
  return new Promise((resolve) => {
    execFile('dig', [...base, ...args], { timeout: 15000 }, (err, stdout, stderr) => {
      const c = err ? (err as { code?: unknown }).code : 0;
      resolve({ code: typeof c === 'number' ? c : 1, stdout, stderr, replies: parseDig(stdout) });
    });
  });
}

/** One query, one reply (throws with dig's output when there is no reply). */
export async function dig(server: string, port: number, args: string[], opts: { recurse?: boolean } = {}): Promise<DigReply> {
  const r = await digRaw(server, port, args, opts);
  if (r.replies.length !== 1) {
    throw new Error(`dig @${server} -p ${port} ${args.join(' ')}: expected one reply, got ${r.replies.length}\n${r.stdout}${r.stderr}`);
  }
  return r.replies[0]!;
}

/** Short description of a reply for assertion messages. */
export function show(r: DigReply): string {
  return r.raw.trim();
}

// ---------------------------------------------------------------------------------------------
// Waiting

/** Polls fn until it returns a non-undefined value; throws with the last observation on timeout. */
export async function poll<T>(
  fn: () => Promise<T | undefined>,
  what: string,
  opts: { timeoutMs?: number; intervalMs?: number; describe?: () => string } = {},
): Promise<T> {
  const deadline = Date.now() + (opts.timeoutMs ?? 20000);
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) {
      const extra = opts.describe ? '\n' + opts.describe() : '';
      throw new Error(`timed out waiting for ${what}${last ? `; last error: ${String((last as Error).message ?? last)}` : ''}${extra}`);
    }
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 200));
  }
}

/** Waits until a DNS server answers (any rcode) over UDP at server:port. */
export async function waitReady(proc: Proc, server: string, port: number, name: string, timeoutMs = 30000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (proc.exitStatus) {
      throw new Error(`${proc.name} exited (${JSON.stringify(proc.exitStatus)}) before answering on ${server}:${port}; output:\n${proc.tail()}`);
    }
    const r = await digRaw(server, port, ['+time=1', name, 'SOA']);
    if (r.replies.length > 0) return;
    if (Date.now() > deadline) {
      throw new Error(`${proc.name} did not answer DNS on ${server}:${port} within ${timeoutMs} ms; output:\n${proc.tail()}`);
    }
    await new Promise((res) => setTimeout(res, 200));
  }
}

// ---------------------------------------------------------------------------------------------
// Data files

/** Copies a fixture into dir (world-readable) and returns its path. */
export function copyFixture(name: string, dir: string, as = name): string {
  const dst = join(dir, as);
  copyFileSync(join(FIXTURES, name), dst);
  chmodSync(dst, 0o644);
  return dst;
}

let bump = 0;
/**
 * Replaces a data file the way the docs ask for (write a temp file, rename over), and moves its
 * mtime forward so the change is visible even within the same second as the previous write.
 */
export function replaceFile(path: string, content: string): void {
  const tmp = join(dirname(path), `.${basename(path)}.tmp${process.pid}`);
  writeFileSync(tmp, content, { mode: 0o644 });
  const t = Date.now() / 1000 + 2 + ++bump * 2;
  utimesSync(tmp, t, t);
  renameSync(tmp, path);
}

// ---------------------------------------------------------------------------------------------
// Names

/** The 32-nibble query label string for an IPv6 address given as 32 hex digits. */
export function ip6Labels(hex32: string): string {
  if (!/^[0-9a-f]{32}$/i.test(hex32)) throw new Error(`bad hex32 ${hex32}`);
  return hex32.toLowerCase().split('').reverse().join('.');
}

/** The reversed-octet labels for an IPv4 address. */
export function ip4Labels(ip: string): string {
  return ip.split('.').reverse().join('.');
}

// ---------------------------------------------------------------------------------------------
// Raw TCP (several queries pipelined on one connection, as resolvers do)

/** Builds a minimal DNS query (RD clear, no EDNS). */
export function buildQuery(id: number, name: string, qtype: number): Buffer {
  const labels = name.replace(/\.$/, '').split('.');
  const parts: Buffer[] = [Buffer.from([id >> 8, id & 0xff, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0])];
  for (const l of labels) parts.push(Buffer.from([l.length]), Buffer.from(l, 'ascii'));
  parts.push(Buffer.from([0, qtype >> 8, qtype & 0xff, 0, 1]));
  return Buffer.concat(parts);
}

/**
 * Writes all queries at once on one TCP connection (2-byte length framing) and collects
 * `count` replies: returns [id, rcode, ancount] per reply in arrival order.
 */
export function tcpPipelined(host: string, port: number, queries: Buffer[], timeoutMs = 10000): Promise<Array<[number, number, number]>> {
  return new Promise((resolve, reject) => {
    const sock = new Socket();
    let buf = Buffer.alloc(0);
    const got: Array<[number, number, number]> = [];
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`TCP ${host}:${port}: got ${got.length} of ${queries.length} replies before the deadline`));
    }, timeoutMs);
    sock.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    sock.on('close', () => {
      if (got.length < queries.length) {
        clearTimeout(timer);
        reject(new Error(`TCP ${host}:${port}: server closed the connection after ${got.length} of ${queries.length} replies`));
      }
    });
    sock.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        const len = buf.readUInt16BE(0);
        const msg = buf.subarray(2, 2 + len);
        buf = buf.subarray(2 + len);
        got.push([msg.readUInt16BE(0), msg[3]! & 0x0f, msg.readUInt16BE(6)]);
      }
      if (got.length >= queries.length) {
        clearTimeout(timer);
        sock.end();
        resolve(got);
      }
    });
    sock.connect(port, host, () => {
      const framed = queries.map((q) => {
        const l = Buffer.alloc(2);
        l.writeUInt16BE(q.length);
        return Buffer.concat([l, q]);
      });
      sock.write(Buffer.concat(framed));
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Config

/** Writes a YAML config file and returns its path. */
export function writeConfig(dir: string, yaml: string, name = 'quorumbl.yaml'): string {
  const p = join(dir, name);
  writeFileSync(p, yaml, { mode: 0o644 });
  return p;
}

// ---------------------------------------------------------------------------------------------
// Logs

/** Pino level numbers: 40 warn, 50 error, 60 fatal. */
export const LEVEL = { debug: 20, info: 30, warn: 40, error: 50, fatal: 60 } as const;

/**
 * Waits for a JSON log line written after output offset `from` that satisfies pred; returns it.
 * pred gets the parsed record and the raw line (so a file name anywhere in it can be matched).
 */
export async function waitForLog(
  proc: Proc,
  from: number,
  pred: (rec: LogLine, line: string) => boolean,
  what: string,
  timeoutMs = 20000,
): Promise<LogLine> {
  let found: LogLine | undefined;
  const check = (out: string): boolean => {
    for (const line of out.slice(from).split('\n')) {
      const t = line.trim();
      if (!t.startsWith('{')) continue;
      try {
        const rec = JSON.parse(t) as LogLine;
        if (pred(rec, t)) {
          found = rec;
          return true;
        }
      } catch {
        /* partial line */
      }
    }
    return false;
  };
  await proc.waitForOutput(check, what, timeoutMs);
  return found!;
}
