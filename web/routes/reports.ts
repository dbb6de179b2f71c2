// POST /api/v1/reports: one reputation event from the mail system or a person.

import { createRoute, z } from '@hono/zod-openapi';
import type { LocalStore } from '../../sync/local/store.ts';
import { REPORT_KINDS } from '../../sync/local/reputation.ts';
import { actorOf, requireScope } from '../auth.ts';
import { apiRouter, errors, jsonRequest, ok } from '../openapi.ts';

const body = z.strictObject({
  key: z.string().meta({ description: 'an IP, CIDR or domain', example: '192.0.2.7' }),
  kind: z.enum(REPORT_KINDS as [string, ...string[]]),
  weight: z.number().optional().meta({ description: 'the event weight (default: the kind\'s weight in policy.reputation)' }),
  reporter: z.string().optional().meta({ description: 'who reports (default: the token or user name)' }),
  at: z.union([z.string(), z.number()]).optional().meta({ description: 'when it happened: ISO 8601 or Unix ms (default: now)' }),
  note: z.string().optional(),
});

const reported = z.object({
  event: z.record(z.string(), z.unknown()).meta({ description: 'the stored event' }),
  score: z.number().meta({ description: 'the key\'s score after this event' }),
});

const post = createRoute({
  method: 'post', path: '/', tags: ['reputation'], summary: 'Report a reputation event',
  middleware: [requireScope('reports')] as const,
  request: { body: jsonRequest(body) },
  responses: { 201: ok(reported, 'recorded; the DNS overlay has it'), ...errors(400, 401, 403, 413, 415, 503) },
});

export function reportRoutes(store: LocalStore) {
  const app = apiRouter();
  app.openapi(post, (c) => {
    const b = c.req.valid('json');
    // The reporter defaults to the token's name; the overlay is swapped before we answer.
    const r = store.report({ ...b, reporter: b.reporter ?? c.get('token').name }, actorOf(c));
    return c.json({ event: r.event as unknown as Record<string, unknown>, score: r.score }, 201);
  });
  return app;
}
