// GET /metrics: the Prometheus text exposition of the registry (web/metrics/collect.ts).
// Without a token it is open (the web listener is on loopback by default); with
// `web.metrics.token` set, only `Authorization: Bearer <token>` gets it (401 otherwise,
// compared in constant time). The API's tokens are not accepted here: a scraper needs no scope.

import { timingSafeEqual, createHash } from 'node:crypto';
import { Hono } from 'hono';
import type { Registry } from 'prom-client';
import { errorResponse, type Env } from '../http.ts';

export interface MetricsRouteOptions {
  registry: Registry;
  /** null/undefined: no token needed. */
  token?: string | null;
}

const digest = (s: string) => createHash('sha256').update(s).digest();

export function metricsRoutes(o: MetricsRouteOptions): Hono<Env> {
  const app = new Hono<Env>();
  const want = o.token ? digest(o.token) : null;
  app.get('/metrics', async (c) => {
    if (want) {
      const m = /^Bearer\s+(\S+)\s*$/i.exec(c.req.header('authorization') ?? '');
      if (!m || !timingSafeEqual(digest(m[1]!), want)) {
        const h = { 'WWW-Authenticate': 'Bearer realm="metrics"' };
        return errorResponse(c, 401, m ? 'wrong metrics token' : 'a metrics token is required: Authorization: Bearer <web.metrics.token>', undefined, h);
      }
    }
    const text = await o.registry.metrics();
    return c.body(text, 200, { 'Content-Type': o.registry.contentType, 'Cache-Control': 'no-store' });
  });
  return app;
}
