// Microsoft 365 IP address and URL web service (endpoints.office.com): the Exchange Online
// outbound mail ranges. The version method is cheap and never rate-limited; the endpoints method
// may answer 429 when called too often, so it is called only when `latest` differs from the
// version of our last good copy. Every request carries a ClientRequestId GUID generated once per
// installation and kept in <stateDir>/providers/m365-client-id (Microsoft may block example GUIDs).
//
// Selection: endpoint sets with serviceArea "Exchange" whose tcpPorts include 25 (today id 10:
// *.mail.protection.outlook.com). Id 2 (TCP 587, client submission) and id 9 (TCP 443) are not
// server-to-server mail and are left out.

import { randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { getJson, type GetOptions } from './http.ts';
import { loadLastGood } from './store.ts';
import { finishResult, type ProviderContext, type ProviderFeedResult, type RawRange } from './types.ts';

export interface M365FeedConfig {
  provider: string;
  feed: string;
  /** Worldwide, China, USGovDoD, USGovGCCHigh */
  instance: string;
  /** default https://endpoints.office.com */
  base_url?: string;
  /** TCP port an endpoint set must list to be taken (default 25) */
  port?: number;
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The installation's ClientRequestId: read, or created once (atomically) and kept. */
export function m365ClientId(stateDir: string): string {
  const dir = join(stateDir, 'providers');
  const file = join(dir, 'm365-client-id');
  try {
    const id = readFileSync(file, 'utf8').trim();
    if (GUID.test(id)) return id;
  } catch {
    /* first run */
  }
  mkdirSync(dir, { recursive: true });
  const id = randomUUID();
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${id}\n`);
  renameSync(tmp, file);
  return id;
}

interface EndpointSet {
  id: number;
  serviceArea?: string;
  tcpPorts?: string;
  ips?: string[];
  urls?: string[];
}

function portsOf(spec: string | undefined): (p: number) => boolean {
  // "25", "80,443", "1024-65535"
  const parts = (spec ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  return (p) =>
    parts.some((s) => {
      const m = /^(\d+)(?:-(\d+))?$/.exec(s);
      if (!m) return false;
      const lo = Number(m[1]);
      const hi = m[2] === undefined ? lo : Number(m[2]);
      return p >= lo && p <= hi;
    });
}

/** Checks the version; downloads and selects the endpoint sets only when it changed. Errors (HTTP
 *  429, timeouts, bad JSON) throw: the caller keeps the previous ranges. */
export async function fetchM365(cfg: M365FeedConfig, ctx: ProviderContext): Promise<ProviderFeedResult> {
  const base = (cfg.base_url ?? 'https://endpoints.office.com').replace(/\/+$/, '');
  const instance = encodeURIComponent(cfg.instance);
  const port = cfg.port ?? 25;
  const client = m365ClientId(ctx.stateDir);
  const http: GetOptions = { timeoutMs: ctx.timeoutMs ?? 30_000, userAgent: ctx.userAgent ?? 'quorumbl' };
  if (ctx.signal) http.signal = ctx.signal;
  const previous = ctx.previous !== undefined ? ctx.previous : loadLastGood(ctx.stateDir, cfg.provider, cfg.feed);

  const ver = (await getJson(`${base}/version/${instance}?ClientRequestId=${client}`, http)) as { latest?: unknown; instance?: unknown };
  const latest = typeof ver?.latest === 'string' ? ver.latest : undefined;
  if (!latest) throw new Error(`M365 ${cfg.instance}: the version answer has no "latest"`);
  if (previous && previous.version === latest && previous.ranges.length > 0) {
    return { ...previous, notModified: true };
  }

  const fetchedAt = (ctx.now ?? Date.now)();
  const sets = await getJson(`${base}/endpoints/${instance}?ServiceAreas=Exchange&ClientRequestId=${client}`, http);
  if (!Array.isArray(sets)) throw new Error(`M365 ${cfg.instance}: the endpoints answer is not a JSON array`);
  const raw: RawRange[] = [];
  const ids: number[] = [];
  for (const s of sets as EndpointSet[]) {
    if (s?.serviceArea !== 'Exchange' || !portsOf(s.tcpPorts)(port) || !Array.isArray(s.ips)) continue;
    ids.push(s.id);
    for (const ip of s.ips) raw.push({ cidr: String(ip), detail: `M365 endpoint set ${s.id} (TCP ${port}), version ${latest}` });
  }
  const warnings: string[] = [];
  if (ids.length === 0) warnings.push(`no Exchange endpoint set lists TCP ${port} (the service changed its layout?)`);
  return finishResult(cfg.provider, cfg.feed, fetchedAt, raw, { version: latest, warnings });
}
