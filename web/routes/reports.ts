// POST /api/v1/reports: one reputation event from the mail system or a person.

import { Hono } from 'hono';
import { z } from 'zod';
import type { LocalStore } from '../../sync/local/store.ts';
import { REPORT_KINDS } from '../../sync/local/reputation.ts';
import { actorOf, requireScope } from '../auth.ts';
import { jsonBody, type Env } from '../http.ts';

const body = z.strictObject({
  key: z.string(),
  kind: z.enum(REPORT_KINDS as [string, ...string[]]),
  weight: z.number().optional(),
  reporter: z.string().optional(),
  at: z.union([z.string(), z.number()]).optional(),
  note: z.string().optional(),
});

export function reportRoutes(store: LocalStore): Hono<Env> {
  const app = new Hono<Env>();
  app.post('/', requireScope('reports'), async (c) => {
    const b = await jsonBody(c, body);
    // The reporter defaults to the token's name; the overlay is swapped before we answer.
    const r = store.report({ ...b, reporter: b.reporter ?? c.get('token').name }, actorOf(c));
    return c.json({ event: r.event, score: r.score }, 201);
  });
  return app;
}
