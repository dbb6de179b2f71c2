// The `transfer:` config key (issue 12): outgoing zone transfers (AXFR/IXFR) with TSIG keys and
// a per-zone address + key ACL, NOTIFY targets, the IXFR journal and the catalog zone. Absent
// (null) = no transfer at all: AXFR/IXFR REFUSED, nothing materialised.

import { z } from 'zod';
import { duration } from './types.ts';
import { parseCidr } from '../cidr.ts';
import { prepareKey, TsigError } from '../dns/tsig.ts';

const name = z
  .string()
  .regex(/^([a-z0-9_*-]+\.)*[a-z0-9_*-]+\.?$/i, 'not a valid DNS name')
  .transform((v) => v.replace(/\.$/, '').toLowerCase());

const tsigKey = z
  .strictObject({
    name,
    algorithm: z.string().default('hmac-sha256'),
    secret: z.string().min(1),
  })
  .superRefine((k, ctx) => {
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(k.secret) || k.secret.length % 4 !== 0) {
      ctx.addIssue({ code: 'custom', path: ['secret'], message: `TSIG key ${k.name}: the secret is not valid base64` });
      return;
    }
    try {
      prepareKey(k);
    } catch (e) {
      if (e instanceof TsigError) ctx.addIssue({ code: 'custom', path: ['algorithm'], message: `TSIG key ${k.name}: ${e.message}` });
      else throw e;
    }
  });

const cidr = z.string().superRefine((v, ctx) => {
  if (parseCidr(v) === undefined) ctx.addIssue({ code: 'custom', message: `"${v}" is not an IPv4 or IPv6 CIDR` });
});

/** `host:port` or `[v6]:port` (port 53 when left out). */
const target = z.string().transform((v, ctx) => {
  const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(v) ?? /^([^:]+)(?::(\d+))?$/.exec(v) ?? (v.includes(':') ? [v, v, undefined] : null);
  const port = m?.[2] === undefined ? 53 : Number(m[2]);
  if (!m || parseCidr(m[1]!) === undefined || !(port > 0 && port <= 65535)) {
    ctx.addIssue({ code: 'custom', message: `"${v}" is not an address[:port] (IPv6 in brackets, e.g. [::1]:53)` });
    return z.NEVER;
  }
  return { address: m[1]!, port };
});

const aclEntry = z.strictObject({
  /** Client addresses (CIDR) allowed to transfer; BOTH an address and a key must match. */
  allow: z.array(cidr).min(1),
  /** Names of `transfer.keys` a request may be signed with. */
  keys: z.array(name).min(1),
});

export const transferSchema = z
  .strictObject({
    keys: z.array(tsigKey).default([]),
    /** Zone (full name, or bl / wl / dbl / <source>.mirror) -> who may transfer it; '*' = any zone not named. */
    acl: z.record(z.string(), aclEntry).default({}),
    /** Secondaries told (NOTIFY, RFC 1996) when a zone's serial rises. */
    notify: z
      .array(z.strictObject({ address: target, key: name.nullable().default(null), zones: z.array(z.string()).min(1).default(['*']) }))
      .default([]),
    /** Versions of differences kept per zone for IXFR (0 = AXFR only). */
    journal: z.number().int().min(0).max(100_000).default(100),
    /** Most owner names one listed range may expand to (core/zones/records.ts). */
    max_expansion: z.number().int().positive().default(65_536),
    /** Changes within this are materialised as one new version (seconds). */
    delay: duration.default(1),
    /** Zone name of the RFC 9432 catalog zone (e.g. catalog.<base>); null = none. */
    catalog: name.nullable().default(null),
  })
  .superRefine((t, ctx) => {
    const keys = new Set<string>();
    t.keys.forEach((k, i) => {
      if (keys.has(k.name)) ctx.addIssue({ code: 'custom', path: ['keys', i, 'name'], message: `TSIG key ${k.name} is defined twice` });
      keys.add(k.name);
    });
    for (const [zone, e] of Object.entries(t.acl)) {
      if (zone !== '*' && !name.safeParse(zone).success) ctx.addIssue({ code: 'custom', path: ['acl', zone], message: `"${zone}" is not a zone name (or '*')` });
      e.keys.forEach((k, i) => {
        if (!keys.has(k)) ctx.addIssue({ code: 'custom', path: ['acl', zone, 'keys', i], message: `unknown TSIG key "${k}" (transfer.keys defines: ${[...keys].join(', ') || 'none'})` });
      });
    }
    t.notify.forEach((n, i) => {
      if (n.key !== null && !keys.has(n.key)) ctx.addIssue({ code: 'custom', path: ['notify', i, 'key'], message: `unknown TSIG key "${n.key}" (transfer.keys defines: ${[...keys].join(', ') || 'none'})` });
    });
  });

export type TransferConfig = z.output<typeof transferSchema>;

/** A zone as written in `transfer.acl` / `transfer.notify` -> its full name: `bl`, `wl`, `dbl`
 *  and `<source>.mirror` are below the base; '*' stays '*'; anything else is a full name. */
export function resolveTransferZone(zone: string, base: string): string {
  const z = zone.replace(/\.$/, '').toLowerCase();
  if (z === '*') return z;
  if (z === 'bl' || z === 'wl' || z === 'dbl' || /^[a-z0-9-]+\.mirror$/.test(z)) return `${z}.${base}`;
  return z;
}

/** The acl entry for a full zone name: its own entry, else '*', else none. */
export function aclFor(t: TransferConfig, base: string, zone: string): TransferConfig['acl'][string] | undefined {
  let star: TransferConfig['acl'][string] | undefined;
  for (const [k, e] of Object.entries(t.acl)) {
    const full = resolveTransferZone(k, base);
    if (full === zone) return e;
    if (full === '*') star = e;
  }
  return star;
}
