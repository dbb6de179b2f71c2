// Health endpoints on the web listener, without a token (for load balancers and probes):
//   GET /healthz, /livez  liveness: 200 while the process answers HTTP at all.
//   GET /readyz   readiness: ready once DNS listens and every zone answers from data.
//                 200 `ready`; 200 `degraded` while DNS answers every zone but the state disk
//                 is full/read-only/failing; 503 `unready` while DNS is not listening or a zone
//                 answers SERVFAIL (never loaded, a mirror never synced, expired data, bl/wl/dbl
//                 before their first evidence): `not_ready` names those zones, `reasons` says why.
//                 `config_reload`: the last config reload (ok, or refused with its errors);
//                 a refused one makes a ready server `degraded`.

import { Hono } from 'hono';
import type { DiskStatus } from '../../core/disk-health.ts';
import type { Env } from '../http.ts';

/** The last config reload of a running serve (cli/serve/reload.ts); null: none since start. */
export interface ReloadOutcome {
  ok: boolean;
  at: string;
  errors: string[];
  restart: string[];
  merge: 'pending' | 'ok' | 'failed' | null;
}

export interface HealthDeps {
  /** The last config reload (a refused one leaves /readyz `degraded`: the file is not what runs). */
  reload?: () => ReloadOutcome | null;
  /** The DNS listeners. */
  dns: () => { listening: boolean; addresses: string[] };
  /** Zones served; `failed` names those answering SERVFAIL (never loaded, never synced,
   *  expired, merged zones without evidence yet). */
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
  app.get('/livez', (c) => c.json({ status: 'alive', uptime_s: Math.round((Date.now() - started) / 1000), pid: process.pid }, 200, noStore));
  app.get('/readyz', (c) => {
    const dns = h.dns();
    const zones = h.zones();
    const disk = h.disk?.();
    const reasons: string[] = [];
    if (!dns.listening) reasons.push('DNS is not listening');
    if (zones.failed.length) reasons.push(`zones answering SERVFAIL (no data yet, or expired): ${zones.failed.join(', ')}`);
    const ready = dns.listening && zones.failed.length === 0;
    if (disk && !disk.writable) reasons.push(disk.cause ?? `state directory ${disk.state}`);
    const reload = h.reload?.() ?? null;
    if (reload && !reload.ok) reasons.push(`config reload refused at ${reload.at}: the running config stays (${reload.errors.length} error${reload.errors.length === 1 ? '' : 's'})`);
    const status = !ready ? 'unready' : reasons.length ? 'degraded' : 'ready';
    const body: Record<string, unknown> = { status, reasons, not_ready: zones.failed, dns, zones };
    if (disk) body.state_dir = disk;
    if (h.jobs) body.jobs = h.jobs();
    if (h.reload) body.config_reload = reload;
    return c.json(body, ready ? 200 : 503, noStore);
  });
  return app;
}
