// Health endpoints on the web listener, without a token (for load balancers and probes):
//   GET /healthz  liveness: 200 while the process answers HTTP at all.
//   GET /readyz   readiness: 200 while DNS is listening (DNS is what matters), 503 when not.
//                 `status` is "ready", or "degraded" (a zone failed to load, the state disk is
//                 full/read-only/failing), or "unready" (DNS not listening); the body says why.

import { Hono } from 'hono';
import type { DiskStatus } from '../../core/disk-health.ts';
import type { Env } from '../http.ts';

export interface HealthDeps {
  /** The DNS listeners. */
  dns: () => { listening: boolean; addresses: string[] };
  /** Zones served; `failed` names those answering SERVFAIL (never loaded, expired). */
  zones: () => { served: number; failed: string[] };
  /** The state directory's condition (core/disk-health.ts). */
  disk?: () => DiskStatus;
  /** Background job counters (runs, failures, last error per job), shown as they are. */
  jobs?: () => unknown;
  /** Process start (ms), for the uptime. */
  startedAt?: number;
}

export function healthRoutes(h: HealthDeps): Hono<Env> {
  const app = new Hono<Env>();
  const started = h.startedAt ?? Date.now();
  const noStore = { 'Cache-Control': 'no-store' };
  app.get('/healthz', (c) => c.json({ status: 'alive', uptime_s: Math.round((Date.now() - started) / 1000), pid: process.pid }, 200, noStore));
  app.get('/readyz', (c) => {
    const dns = h.dns();
    const zones = h.zones();
    const disk = h.disk?.();
    const reasons: string[] = [];
    if (!dns.listening) reasons.push('DNS is not listening');
    if (zones.failed.length) reasons.push(`zones not answering: ${zones.failed.join(', ')}`);
    if (disk && !disk.writable) reasons.push(disk.cause ?? `state directory ${disk.state}`);
    const status = !dns.listening ? 'unready' : reasons.length ? 'degraded' : 'ready';
    const body: Record<string, unknown> = { status, reasons, dns, zones };
    if (disk) body.state_dir = disk;
    if (h.jobs) body.jobs = h.jobs();
    return c.json(body, dns.listening ? 200 : 503, noStore);
  });
  return app;
}
