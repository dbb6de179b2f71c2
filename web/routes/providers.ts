// GET /api/v1/providers: the state of every provider range feed as the running server sees it
// (origin fetched|baseline|static|none, ranges, age, last check and error, stale); any valid
// token. The same objects as `quorumbl providers --json`.

import { Hono } from 'hono';
import type { Env } from '../http.ts';

export function providerRoutes(states: () => unknown[]): Hono<Env> {
  const app = new Hono<Env>();
  app.get('/', (c) => {
    const providers = states();
    return c.json({ stale: providers.some((p) => (p as { stale?: boolean }).stale === true), providers });
  });
  return app;
}
