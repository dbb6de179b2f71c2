// GET /api/v1/collisions: for each source x provider feed, how many of the source's listed keys
// (IPv4 addresses + IPv6 ranges) and ranges fall inside the feed's ranges (exempted by the
// provider exemption), the first colliding pieces with the feed range they hit, the sharp-rise
// alerts, when it was computed and with which evidence serial. Any valid token. The same object
// as `quorumbl collisions --json`; 503 before the first merge has computed one.

import { Hono } from 'hono';
import { ApiError, type Env } from '../http.ts';

export function collisionRoutes(report: () => unknown | null): Hono<Env> {
  const app = new Hono<Env>();
  app.get('/', (c) => {
    const r = report();
    if (!r) throw new ApiError(503, 'no collisions yet: they are computed after the first merge', undefined, { 'Retry-After': '5' });
    return c.json(r as object);
  });
  return app;
}
