// The config file's shape, validated with zod. Durations accept rbldnsd units (10s, 35m, 1w).

import { z } from 'zod';
import { isIP } from 'node:net';
import { duration } from './types.ts';
import { parseCidr } from '../cidr.ts';
import { validate as validCron } from 'node-cron';
import { parseAValue } from '../rbldnsd/value.ts';
import { providersSchema } from './providers.ts';
import { replicaSchema } from './replica.ts';
import { transferSchema } from './transfer.ts';

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

/** Byte sizes: a number, or with a unit k/KB, M/MB, G/GB (powers of 1024). */
const size = z.union([z.number().int().positive(), z.string()]).transform((v, ctx) => {
  if (typeof v === 'number') return v;
  const m = /^(\d+)\s*([kmg]?)i?b?$/i.exec(v.trim());
  if (!m) {
    ctx.addIssue({ code: 'custom', message: `"${v}" is not a size (bytes, or with a unit k M G)` });
    return z.NEVER;
  }
  return Number(m[1]) * 1024 ** ' kmg'.indexOf((m[2] || ' ').toLowerCase());
});

const aCode = z.string().superRefine((v, ctx) => {
  const a = parseAValue(v);
  if (a === undefined || a >>> 24 !== 127 || a === 0x7f000001 || a >>> 8 === 0x7fffff) {
    ctx.addIssue({ code: 'custom', message: `"${v}" is not a usable return code (127.0.0.0/8, never 127.0.0.1 or 127.255.255.x)` });
  }
});

const FORMATS = ['rbldnsd', 'plain', 'spamhaus-drop', 'dshield', 'netset', 'csv', 'domains', 'hosts'] as const;
const RBLDNSD_TYPES = ['ip4set', 'ip4tset', 'ip4trie', 'ip6tset', 'ip6trie', 'dnset', 'generic', 'combined'] as const;

const source = z
  .strictObject({
    name: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'source names are lowercase letters, digits and dashes (they become a DNS label)'),
    kind: z.enum(['ip', 'domain']),
    fetch: z.string().min(1),
    tsig: z.strictObject({ name: z.string(), algorithm: z.string().default('hmac-sha256'), secret: z.string() }).optional(),
    format: z.enum(FORMATS),
    rbldnsd_type: z.enum(RBLDNSD_TYPES).optional(),
    column: z.union([z.number().int().nonnegative(), z.string()]).optional(),
    delimiter: z.string().length(1).optional(),
    schedule: z
      .string()
      .superRefine((v, ctx) => {
        if (!validCron(v)) ctx.addIssue({ code: 'custom', message: `"${v}" is not a cron expression (minute hour day month weekday)` });
      })
      .default('17 * * * *'),
    min_interval: duration.default(3600),
    jitter: duration.default(300),
    timeout: duration.default(120),
    connect_timeout: duration.default(15),
    retries: z.number().int().min(0).max(10).default(2),
    max_size: size.default(256 * 1024 * 1024),
    max_prefix: z.strictObject({ v4: z.number().int().min(0).max(32).default(8), v6: z.number().int().min(0).max(128).default(19) }).prefault({}),
    weight: z.number().min(0).default(1),
    answer: z.strictObject({ a: aCode.default('127.0.0.2'), txt: z.string().max(255).nullable().default(null) }).prefault({}),
    guards: z
      .strictObject({
        max_error_ratio: z.number().min(0).max(1).default(0.05),
        max_shrink: z.number().min(0).max(1).default(0.5),
        max_grow: z.number().min(1).default(4),
        world_share: z.number().min(1).default(10),
        test_point: z.boolean().default(false),
      })
      .prefault({}),
  })
  .superRefine((s, ctx) => {
    if (s.format === 'csv' && s.column === undefined) ctx.addIssue({ code: 'custom', path: ['column'], message: 'format csv needs a column (index or header name)' });
    if ((s.format === 'domains' || s.format === 'hosts') && s.kind !== 'domain') ctx.addIssue({ code: 'custom', path: ['kind'], message: `format ${s.format} lists domains: kind must be domain` });
    if ((s.format === 'spamhaus-drop' || s.format === 'dshield' || s.format === 'netset') && s.kind !== 'ip') ctx.addIssue({ code: 'custom', path: ['kind'], message: `format ${s.format} lists addresses: kind must be ip` });
  });

const dataset = z.strictObject({
  type: z.enum(RBLDNSD_TYPES),
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
          per_client: z.number().int().positive().default(16),
          message_timeout: duration.default(5),
          max_pending_bytes: z.number().int().min(16384).default(65536),
          drain_timeout: duration.default(10),
        })
        .prefault({}),
      max_udp_payload: z.number().int().min(512).max(4096).default(1232),
      rrl: z
        .strictObject({
          enabled: z.union([z.boolean(), z.literal('auto')]).default('auto'),
          responses_per_second: z.number().min(0).default(20),
          nxdomains_per_second: z.number().min(0).default(100),
          errors_per_second: z.number().min(0).default(10),
          slip: z.number().int().min(0).max(10).default(2),
          ipv4_prefix: z.number().int().min(1).max(32).default(24),
          ipv6_prefix: z.number().int().min(1).max(128).default(56),
          table_size: z.number().int().min(1024).max(1 << 24).default(65536),
          exempt: z.array(cidr).default([]),
        })
        .prefault({}),
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
  /** Re-parsing a changed list and re-merging run beside DNS: the share of one core they may
   *  use (1 = full speed). First loads and the first merge always run at full speed. */
  background: z.strictObject({ cpu_share: z.number().min(0.05).max(1).default(0.2) }).prefault({}),
  load: z.strictObject({ accept_host_bits: z.boolean().default(false), gunzip: z.boolean().default(true) }).prefault({}),
  state_dir: z.string().default('./state'),
  log: z.strictObject({ level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info') }).prefault({}),
  zones: z.array(z.strictObject({ name: zoneName, datasets: z.array(dataset).min(1) })).default([]),
  /** Base name: source mirrors are served as <source>.mirror.<base>. */
  base: zoneName.default('dnsbl.internal'),
  /** SOA/NS of the zones quorumbl builds itself (mirror zones). */
  soa: z
    .strictObject({
      mname: zoneName.default('localhost'),
      rname: zoneName.default('hostmaster.localhost'),
      refresh: duration.default(3600),
      retry: duration.default(600),
      expire: duration.default(604800),
      minimum: duration.default(300),
      ttl: duration.default(300),
    })
    .prefault({}),
  sync: z.strictObject({ enabled: z.boolean().default(true), user_agent: z.string().optional() }).prefault({}),
  /** How sources, provider ranges and local evidence combine into bl/wl/dbl (see README). */
  policy: z
    .strictObject({
      threshold: z.number().positive().default(1),
      consensus: z.number().int().min(2).default(2),
      provider_exempt: z.boolean().default(true),
      provider_bar: z.number().positive().default(5),
      reputation: z
        .strictObject({ half_life: duration.default(7 * 86400), cap: z.number().positive().default(10), bar: z.number().positive().default(3) })
        .prefault({}),
      protected_domains: z.array(zoneName).default(['google.com', 'linkedin.com', 'microsoft.com', 'outlook.com', 'azure.com']),
      /** Overrides on prefixes shorter than these (or on a public suffix) need force by an admin. */
      override_limits: z
        .strictObject({ v4: z.number().int().min(0).max(32).default(16), v6: z.number().int().min(0).max(128).default(32) })
        .prefault({}),
      ttl: duration.default(300),
      /** SOA minimum of bl/wl/dbl, and so the TTL resolvers cache "not listed" (NXDOMAIN/NODATA)
       *  for: how long a new deny can take to reach an MTA through a caching resolver. */
      negative_ttl: duration.default(60),
      /** Shown in TXT answers to outside senders; `$` = the listed key. */
      lookup_url: z.string().max(200).nullable().default(null),
    })
    .prefault({}),
  /** The REST API (and later the console). */
  web: z
    .strictObject({
      enabled: z.boolean().default(true),
      listen: listenAddr.prefault('127.0.0.1:8053'),
      /** Browsers reach the console over HTTPS (a TLS proxy in front): session cookies are Secure. */
      tls: z.boolean().default(false),
      /** A reverse proxy in front: X-Forwarded-Proto (https -> Secure cookies) and the last
       *  X-Forwarded-For address (login throttling, logs) are honoured. */
      trust_proxy: z.boolean().default(false),
      /** GET /metrics (Prometheus); with a token, only `Authorization: Bearer <token>` gets it. */
      metrics: z.strictObject({ enabled: z.boolean().default(true), token: z.string().min(16, 'at least 16 characters').nullable().default(null) }).prefault({}),
      /** The public lookup page and removal requests (web/public/): off by default; its own
       *  listener (only the public pages) or a path prefix on this one. */
      public: z
        .strictObject({
          enabled: z.boolean().default(false),
          listen: listenAddr.nullable().default(null),
          prefix: z.string().regex(/^(\/[a-z0-9_-]+)+$/i, 'a path such as /public').default('/public')
            .refine((p) => !/^\/(api|console|login|logout|lookup|overrides|exemptions|requests|metrics|livez|readyz|healthz)(\/|$)/i.test(p), { message: 'this prefix is a console or API path' }),
          /** null: as web.trust_proxy. */
          trust_proxy: z.boolean().nullable().default(null),
          lookups_per_minute: z.number().int().min(1).default(30),
          requests_per_hour: z.number().int().min(1).default(5),
          requests_per_hour_total: z.number().int().min(1).default(100),
          message_max: z.number().int().min(100).max(10000).default(2000),
          open_per_key: z.number().int().min(1).default(3),
        })
        .prefault({}),
    })
    .prefault({}),
  sources: z.array(source).default([]),
  /** Outbound ranges of big mail providers (exemptions); defaults: Microsoft 365, Google, Amazon SES. */
  providers: providersSchema,
  /** Replica mode: serve a primary's zones by zone transfer (core/config/replica.ts). */
  replica: replicaSchema,
  /** Outgoing zone transfers (AXFR/IXFR, TSIG, NOTIFY, catalog): core/config/transfer.ts; null = off. */
  transfer: transferSchema.nullable().default(null),
});

export type Config = z.output<typeof configSchema>;
