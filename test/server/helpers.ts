// Shared plumbing for the server tests: zones loaded from inline rbldnsd data through the real
// dataset types, a DnsServer on random loopback ports, and `dig` / raw-socket clients.

import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { createSocket } from 'node:dgram';
import { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import dnsPacket from 'dns-packet';
import { datasetType } from '../../core/datasets/index.ts';
import { loadDataset } from '../../core/rbldnsd/reader.ts';
import type { Dataset } from '../../core/datasets/types.ts';
import { DnsServer, type ServerOptions } from '../../server/index.ts';
import { ZoneTable, type ZoneSource } from '../../server/zones.ts';

const dirs: string[] = [];
process.on('exit', () => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** Loads one dataset of `type` from inline file text. */
export function dataset(type: string, text: string): Dataset {
  const t = datasetType(type);
  if (!t) throw new Error(`unknown dataset type ${type}`);
  const dir = mkdtempSync(join(tmpdir(), 'qbl-srv-'));
  dirs.push(dir);
  const file = join(dir, `${type}.txt`);
  writeFileSync(file, text);
  return loadDataset(t, [file], {
    ttl: { def: 2100, min: 0, max: 2 ** 31 - 1 },
    acceptHostBits: false,
    gunzip: false,
    warn: () => {},
  }).dataset;
}

export function table(zones: ZoneSource[], warn?: (m: string) => void): ZoneTable {
  return new ZoneTable(zones, warn);
}

export const silent = pino({ level: 'silent' });

export function options(over: Partial<ServerOptions> = {}): ServerOptions {
  return {
    listen: [{ address: '127.0.0.1', port: 0 }],
    tcp: { enabled: true, idleTimeoutMs: 10_000, maxConnections: 64 },
    maxUdpPayload: 4096,
    allowQuery: null,
    lazy: false,
    version: 'version',
    versionText: 'quorumbl 0.1.0',
    logger: silent,
    ...over,
  };
}

export async function startServer(zones: ZoneTable, over: Partial<ServerOptions> = {}): Promise<DnsServer> {
  const s = new DnsServer(options(over), zones);
  await s.start();
  return s;
}

export function portOf(s: DnsServer, proto: 'udp' | 'tcp' = 'udp', family: 4 | 6 = 4): number {
  const a = s.addresses.find((x) => x.proto === proto && x.address.includes(':') === (family === 6));
  if (!a) throw new Error(`no ${proto}/v${family} listener`);
  return a.port;
}

// ---------------------------------------------------------------------------------------------
// dig

export function haveTool(name: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** describe() skip option: a missing tool fails under CI=true, skips with a message otherwise. */
export function toolsOrSkip(names: string[]): false | string {
  const missing = names.filter((n) => !haveTool(n));
  if (missing.length === 0) return false;
  const msg = `required tool(s) not installed: ${missing.join(', ')}`;
  if (process.env.CI === 'true') throw new Error(msg);
  return msg;
}

export interface DigRR {
  name: string;
  ttl: number;
  class: string;
  type: string;
  data: string;
}

export interface DigReply {
  status: string;
  flags: string[];
  answer: DigRR[];
  authority: DigRR[];
  additional: DigRR[];
  /** EDNS udp size when the reply had an OPT. */
  udp?: number;
  size?: number;
  raw: string;
}

function parseRR(line: string): DigRR {
  const m = /^(\S+)\s+(\d+)\s+(\S+)\s+(\S+)\s*(.*)$/.exec(line);
  if (!m) throw new Error(`cannot parse dig line: ${line}`);
  return { name: m[1]!, ttl: Number(m[2]), class: m[3]!, type: m[4]!, data: m[5]! };
}

/** Parses one dig reply (the first one in the text). */
export function parseDig(raw: string): DigReply {
  const status = /status: (\w+)/.exec(raw)?.[1];
  if (!status) throw new Error(`no reply in dig output:\n${raw}`);
  const flags = (/;; flags: ([^;]*);/.exec(raw)?.[1] ?? '').trim().split(/\s+/).filter(Boolean);
  const out: DigReply = { status, flags, answer: [], authority: [], additional: [], raw };
  let section: DigRR[] | null = null;
  for (const line of raw.split('\n')) {
    if (line.startsWith(';; ANSWER SECTION')) section = out.answer;
    else if (line.startsWith(';; AUTHORITY SECTION')) section = out.authority;
    else if (line.startsWith(';; ADDITIONAL SECTION')) section = out.additional;
    else if (line.startsWith(';; MSG SIZE')) {
      out.size = Number(/rcvd: (\d+)/.exec(line)?.[1]);
      break;
    } else if (line.startsWith(';')) {
      const udp = /; EDNS: version: \d+, flags:[^;]*; udp: (\d+)/.exec(line);
      if (udp) out.udp = Number(udp[1]);
      if (line.trim() === '' || line.startsWith(';;')) section = line.startsWith(';; ') && section ? section : null;
    } else if (line.trim() === '') section = null;
    else if (section) section.push(parseRR(line));
  }
  return out;
}

/** Runs dig against 127.0.0.1 (or `server`) and returns its raw output. */
export function digRaw(port: number, args: string[], server = '127.0.0.1'): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      'dig',
      [`@${server}`, '-p', String(port), '+nocookie', '+norec', '+tries=1', '+timeout=2', ...args],
      { timeout: 15_000 },
      (err, stdout) => {
        if (err && !stdout) reject(err);
        else resolve(stdout);
      },
    );
  });
}

export async function dig(port: number, args: string[], server = '127.0.0.1'): Promise<DigReply> {
  return parseDig(await digRaw(port, args, server));
}

// ---------------------------------------------------------------------------------------------
// Raw clients

export function query(name: string, type: string, over: Partial<dnsPacket.Packet> = {}): Buffer {
  return dnsPacket.encode({
    type: 'query',
    id: 4242,
    flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ type: type as 'A', name, class: 'IN' }],
    ...over,
  });
}

/** Sends one UDP datagram and waits for one reply (null on timeout). */
export function udpExchange(port: number, msg: Buffer, timeoutMs = 1000, host = '127.0.0.1'): Promise<Buffer | null> {
  return new Promise((resolve) => {
    const s = createSocket(host.includes(':') ? 'udp6' : 'udp4');
    const timer = setTimeout(() => {
      s.close();
      resolve(null);
    }, timeoutMs);
    s.on('message', (m) => {
      clearTimeout(timer);
      s.close();
      resolve(m);
    });
    s.send(msg, port, host);
  });
}

/** Opens a TCP connection and collects length-prefixed replies. */
export class TcpClient {
  readonly socket: Socket;
  private buf = Buffer.alloc(0);
  private readonly replies: Buffer[] = [];
  private waiters: (() => void)[] = [];
  closed = false;

  constructor(port: number, host = '127.0.0.1') {
    this.socket = new Socket();
    this.socket.connect(port, host);
    this.socket.on('data', (d) => {
      this.buf = Buffer.concat([this.buf, d]);
      while (this.buf.length >= 2 && this.buf.length >= 2 + this.buf.readUInt16BE(0)) {
        const n = this.buf.readUInt16BE(0);
        this.replies.push(this.buf.subarray(2, 2 + n));
        this.buf = this.buf.subarray(2 + n);
      }
      this.wake();
    });
    this.socket.on('error', () => {});
    this.socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  ready(): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.socket.readyState === 'open') return resolve();
      this.socket.once('connect', () => resolve());
      this.socket.once('error', reject);
    });
  }

  send(msg: Buffer): void {
    const len = Buffer.alloc(2);
    len.writeUInt16BE(msg.length);
    this.socket.write(Buffer.concat([len, msg]));
  }

  /** Waits until `n` replies arrived (or the connection closed / timeout). */
  async take(n: number, timeoutMs = 2000): Promise<Buffer[]> {
    const end = Date.now() + timeoutMs;
    while (this.replies.length < n && !this.closed && Date.now() < end) {
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 50);
      });
    }
    return this.replies.splice(0, n);
  }

  /** Resolves when the server closes the connection (false on timeout). */
  async waitClosed(timeoutMs: number): Promise<boolean> {
    const end = Date.now() + timeoutMs;
    while (!this.closed && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    return this.closed;
  }

  close(): void {
    this.socket.destroy();
  }
}
