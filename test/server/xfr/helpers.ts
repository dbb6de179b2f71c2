// Plumbing for the transfer tests: a DnsServer with a TransferService over RecordsDataset zones,
// kdig runs parsed into records, a pino logger whose records the test can read.

import { execFile } from 'node:child_process';
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';
import { RecordsDataset } from '../../../core/datasets/records.ts';
import type { DatasetMeta } from '../../../core/datasets/types.ts';
import { transferSchema } from '../../../core/config/transfer.ts';
import type { ZoneRecord } from '../../../core/zones/records.ts';
import { DnsServer } from '../../../server/index.ts';
import { ZoneTable, type ZoneSource } from '../../../server/zones.ts';
import { TransferService } from '../../../server/xfr/index.ts';
import { options } from '../helpers.ts';

export const SECRET = 'c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0';
export const OTHER_SECRET = 'b3RoZXJvdGhlcm90aGVyb3RoZXI=';

export function meta(serial: number, over: Partial<DatasetMeta> = {}): DatasetMeta {
  return {
    soa: { ttl: 300, mname: 'ns1.example', rname: 'hostmaster.example', serial, refresh: 3600, retry: 600, expire: 86400, minimum: 60 },
    ns: { ttl: 300, names: ['ns1.example.'] },
    ...over,
  };
}

export function aRecords(n: number, from = 0): ZoneRecord[] {
  const out: ZoneRecord[] = [];
  for (let i = from; i < from + n; i++) out.push({ name: `${i & 255}.${(i >> 8) & 255}.${(i >> 16) & 255}.10`, type: 1, ttl: 300, data: '127.0.0.2' });
  return out;
}

export function zone(name: string, records: ZoneRecord[], serial: number, over: Partial<DatasetMeta> = {}): ZoneSource {
  return { name, datasets: [new RecordsDataset(records, meta(serial, over))], newestMtime: 0 };
}

/** Log records kept in memory (the transfer log lines are behaviour: who, what, why). */
export class LogSink {
  readonly lines: Record<string, unknown>[] = [];
  readonly logger: Logger;
  constructor() {
    const stream = new Writable({
      write: (chunk: Buffer, _enc, cb) => {
        for (const l of chunk.toString().split('\n')) if (l.trim()) this.lines.push(JSON.parse(l));
        cb();
      },
    });
    this.logger = pino({ level: 'info' }, stream);
  }
  find(msg: string): Record<string, unknown>[] {
    return this.lines.filter((l) => l.msg === msg);
  }
}

export interface Primary {
  server: DnsServer;
  svc: TransferService;
  port: number;
  log: LogSink;
  stop(): Promise<void>;
}

export async function startPrimary(zones: ZoneSource[], transfer: unknown, tcp: Record<string, number> = {}): Promise<Primary> {
  const log = new LogSink();
  const server = new DnsServer(options({ logger: log.logger, tcp: { enabled: true, idleTimeoutMs: 10_000, maxConnections: 64, ...tcp } }), new ZoneTable(zones));
  await server.start();
  const svc = new TransferService(transferSchema.parse(transfer), 'test', () => server.zones, log.logger, server.counters);
  server.setTransferHandler(svc.handler);
  svc.start();
  await svc.versions.settle();
  const port = server.addresses.find((a) => a.proto === 'tcp')!.port;
  return {
    server, svc, port, log,
    async stop() {
      await svc.stop();
      await server.stop();
    },
  };
}

export const defaultTransfer = {
  keys: [
    { name: 'xfr-key', algorithm: 'hmac-sha256', secret: SECRET },
    { name: 'other-key', algorithm: 'hmac-sha512', secret: OTHER_SECRET },
  ],
  acl: {
    '*': { allow: ['127.0.0.1/32'], keys: ['xfr-key', 'other-key'] },
    'closed.test': { allow: ['10.0.0.0/8'], keys: ['xfr-key'] },
    'bl': { allow: ['127.0.0.0/8'], keys: ['xfr-key'] },
  },
  delay: 0,
};

export interface KdigRr {
  name: string;
  ttl: number;
  type: string;
  data: string;
}

export interface KdigResult {
  records: KdigRr[];
  /** `;; ERROR: ...` lines and the like. */
  errors: string[];
  out: string;
}

/** kdig with `key` as `alg:name:secret` (or null); extra args such as `AXFR` or `IXFR=10`. */
export function kdig(port: number, zoneName: string, key: string | null, args: string[]): Promise<KdigResult> {
  const a = ['@127.0.0.1', '-p', String(port), ...(key ? ['-y', key] : []), zoneName, ...args, '+timeout=5', '+retry=0'];
  return new Promise((resolve) => {
    execFile('kdig', a, { maxBuffer: 512 * 1024 * 1024 }, (_err, stdout, stderr) => {
      const records: KdigRr[] = [];
      for (const line of stdout.split('\n')) {
        if (!line.trim() || line.startsWith(';')) continue;
        const m = /^(\S+)\s+(\d+)\s+(\S+)\s+(\S+)\s*(.*)$/.exec(line);
        if (m && m[4] !== 'TSIG') records.push({ name: m[1]!, ttl: Number(m[2]), type: m[4]!, data: m[5]!.trim() });
      }
      resolve({ records, errors: (stdout + stderr).split('\n').filter((l) => /^;; (ERROR|WARNING)/.test(l)), out: stdout + stderr });
    });
  });
}

export const keyArg = (name = 'xfr-key', secret = SECRET, alg = 'hmac-sha256') => `${alg}:${name}:${secret}`;

export const recText = (r: KdigRr) => `${r.name} ${r.ttl} ${r.type} ${r.data}`;
