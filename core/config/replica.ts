// Config of replica mode (`replica:`; README *Replicas*): the primary whose zones this serve
// copies by zone transfer, the TSIG key, which zones (a list, or the primary's catalog), where
// the copies live. `quorumbl serve --replica-of HOST[:PORT] --tsig [ALG:]NAME:SECRET` sets the
// same keys from the command line; the parsers here serve both.

import { isIP } from 'node:net';
import { z } from 'zod';
import { duration } from './types.ts';

/** `host`, `host:port`, `[v6]:port` or a bare IPv6 address; port 53 when absent. */
export function parseHostPort(v: string): { host: string; port: number } | string {
  const s = v.trim();
  let host: string;
  let port = 53;
  const br = /^\[([^\]]+)\](?::(\d+))?$/.exec(s);
  if (br) {
    host = br[1]!;
    if (br[2] !== undefined) port = Number(br[2]);
  } else if (isIP(s) === 6) host = s;
  else {
    const m = /^([^:\s]+)(?::(\d+))?$/.exec(s);
    if (!m) return `"${v}" is not HOST[:PORT] (an IPv6 address with a port in brackets, e.g. [::1]:5300)`;
    host = m[1]!;
    if (m[2] !== undefined) port = Number(m[2]);
  }
  if (!(port >= 1 && port <= 65535)) return `"${v}": port must be 1-65535`;
  if (isIP(host) === 0 && !/^([a-z0-9_-]+\.)*[a-z0-9_-]+\.?$/i.test(host)) return `"${v}": "${host}" is not an address or host name`;
  return { host, port };
}

export interface TsigSpec {
  name: string;
  algorithm: string;
  secret: string;
}

/** `[ALGORITHM:]NAME:SECRET`, as dig/kdig -y take it; the algorithm defaults to hmac-sha256. */
export function parseTsigSpec(v: string): TsigSpec | string {
  const p = v.split(':');
  if (p.length < 2 || p.length > 3 || p.some((x) => x === '')) return 'expected [ALGORITHM:]NAME:SECRET, e.g. hmac-sha256:xfr-key:c2VjcmV0...';
  const [algorithm, name, secret] = p.length === 3 ? p : ['hmac-sha256', p[0]!, p[1]!];
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(secret!)) return 'the TSIG secret is not base64';
  return { name: name!, algorithm: algorithm!.toLowerCase(), secret: secret! };
}

const TSIG_ALGORITHMS = ['hmac-md5', 'hmac-sha1', 'hmac-sha224', 'hmac-sha256', 'hmac-sha384', 'hmac-sha512'] as const;

const zoneName = z
  .string()
  .regex(/^([a-z0-9_-]+\.)*[a-z0-9_-]+\.?$/i, 'not a valid zone name')
  .transform((v) => v.replace(/\.$/, '').toLowerCase());

export const replicaSchema = z
  .strictObject({
    /** HOST[:PORT] of the primary; null = not a replica. */
    primary: z.string().nullable().default(null).superRefine((v, ctx) => {
      if (v === null) return;
      const r = parseHostPort(v);
      if (typeof r === 'string') ctx.addIssue({ code: 'custom', message: r });
    }),
    tsig: z
      .strictObject({
        name: z.string().min(1),
        algorithm: z.enum(TSIG_ALGORITHMS).default('hmac-sha256'),
        secret: z.string().regex(/^[A-Za-z0-9+/]+={0,2}$/, 'not base64'),
      })
      .nullable()
      .default(null),
    /** The zones to copy; empty = the members of `catalog`. */
    zones: z.array(zoneName).default([]),
    /** The primary's RFC 9432 catalog zone; null = catalog.<base>. */
    catalog: zoneName.nullable().default(null),
    /** More addresses a NOTIFY is accepted from (the primary's own always are). */
    notify_from: z.array(z.string().refine((a) => isIP(a) !== 0, 'not an IP address')).default([]),
    /** Between attempts while a zone has no copy yet (after that, its SOA retry). */
    first_retry: duration.default(10),
    /** One exchange (an IXFR poll or a transfer) must finish within this. */
    timeout: duration.default(600),
    /** Folder of the zone copies and status.json, under state_dir. */
    dir: z.string().default('replica'),
  })
  .prefault({});
