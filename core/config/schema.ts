// The config file's shape, validated with zod. Durations accept rbldnsd units (10s, 35m, 1w).

import { z } from 'zod';
import { isIP } from 'node:net';
import { parseTime } from '../rbldnsd/state.ts';
import { parseCidr } from '../cidr.ts';

const duration = z.union([z.number().int().nonnegative(), z.string()]).transform((v, ctx) => {
  if (typeof v === 'number') return v;
  const t = parseTime(v.trim());
  if (t === undefined) {
    ctx.addIssue({ code: 'custom', message: `"${v}" is not a duration (a number of seconds, or with a unit s m h d w)` });
    return z.NEVER;
  }
  return t;
});

/** `host:port` or `[v6]:port`. */
const listenAddr = z.string().transform((v, ctx) => {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(v) ?? /^([^:]+):(\d+)$/.exec(v);
  const port = m ? Number(m[2]) : NaN;
  if (!m || isIP(m[1]!) === 0 || !(port >= 0 && port <= 65535)) {
    ctx.addIssue({ code: 'custom', message: `"${v}" is not an address:port (IPv6 in brackets, e.g. [::1]:5353)` });
    return z.NEVER;
  }
  return { address: m[1]!, port };
});

const cidr = z.string().superRefine((v, ctx) => {
  if (parseCidr(v) === undefined) ctx.addIssue({ code: 'custom', message: `"${v}" is not an IPv4 or IPv6 CIDR` });
});

const zoneName = z
  .string()
  .regex(/^([a-z0-9_-]+\.)*[a-z0-9_-]+\.?$/i, 'not a valid zone name')
  .transform((v) => v.replace(/\.$/, '').toLowerCase());

const DATASET_TYPES = ['ip4set', 'ip4tset', 'ip4trie', 'ip6tset', 'ip6trie', 'dnset', 'generic', 'combined'] as const;

const dataset = z.strictObject({
  type: z.enum(DATASET_TYPES),
  files: z.array(z.string().min(1)).min(1),
});

export const configSchema = z.strictObject({
  server: z
    .strictObject({
      listen: z.array(listenAddr).min(1).prefault(['127.0.0.1:5353', '[::1]:5353']),
      tcp: z
        .strictObject({
          enabled: z.boolean().default(true),
          idle_timeout: duration.default(10),
          max_connections: z.number().int().positive().default(256),
        })
        .prefault({}),
      max_udp_payload: z.number().int().min(512).max(4096).default(4096),
      allow_query: z.array(cidr).nullable().default(['127.0.0.0/8', '::1/128', '10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', 'fc00::/7']),
      lazy_ns: z.boolean().default(false),
      version: z.enum(['version', 'hide', 'refuse']).default('version'),
      query_log: z.string().nullable().default(null),
    })
    .prefault({}),
  ttl: z
    .strictObject({ default: duration.default(2100), min: duration.default(0), max: duration.default(0xffffffff) })
    .prefault({})
    .refine((t) => t.default > 0, { message: 'ttl.default must be above 0' })
    .refine((t) => t.min <= t.default && t.default <= t.max, { message: 'ttl.default must lie between ttl.min and ttl.max' }),
  reload: z.strictObject({ check_interval: duration.default(60) }).prefault({}),
  load: z.strictObject({ accept_host_bits: z.boolean().default(false), gunzip: z.boolean().default(true) }).prefault({}),
  state_dir: z.string().default('./state'),
  log: z.strictObject({ level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info') }).prefault({}),
  zones: z.array(z.strictObject({ name: zoneName, datasets: z.array(dataset).min(1) })).default([]),
});

export type Config = z.output<typeof configSchema>;
