// GET /api/v1/collisions: for each source x provider feed, how many of the source's listed keys
// (IPv4 addresses + IPv6 ranges) and ranges fall inside the feed's ranges (exempted by the
// provider exemption), the first colliding pieces with the feed range they hit, the sharp-rise
// alerts, when it was computed and with which evidence serial. Any valid token. The same object
// as `quorumbl collisions --json`; 503 before the first merge has computed one.

import { createRoute, z } from '@hono/zod-openapi';
import { ApiError } from '../http.ts';
import { apiRouter, ErrorBody, errors, ok } from '../openapi.ts';

const Pair = z.object({
  source: z.string().meta({ example: 'spamcop' }),
  provider: z.string().meta({ description: 'provider/feed', example: 'microsoft365/m365-worldwide' }),
  keys: z.number().int().meta({ description: 'IPv4 addresses + IPv6 ranges of the source inside the feed\'s ranges' }),
  ranges: z.number().int().meta({ description: 'the source\'s ranges overlapping the feed' }),
  addresses4: z.number().int(),
  ranges4: z.number().int(),
  ranges6: z.number().int(),
  samples: z.array(z.object({
    listed: z.string().meta({ description: 'an address, a CIDR or a-b' }),
    providerRange: z.string(),
    detail: z.string().optional().meta({ description: 'the feed\'s provenance of that range' }),
  })).meta({ description: 'the first colliding pieces in address order' }),
  truncated: z.boolean().meta({ description: 'more pieces collide than the samples show' }),
});

const Rise = z.object({
  source: z.string(),
  provider: z.string(),
  before: z.number().meta({ description: 'the lowest count of the last 24 h' }),
  now: z.number(),
  since: z.string().meta({ description: 'when the count first stood that far above before (ISO 8601)' }),
  beforeAt: z.string().meta({ description: 'when before was in force (ISO 8601)' }),
});

const Report = z.object({
  serial: z.number().int().meta({ description: 'the evidence serial the counts were computed with' }),
  computedAt: z.string().meta({ description: 'ISO 8601' }),
  ms: z.number().meta({ description: 'time the computation took' }),
  pairs: z.array(Pair),
  alerts: z.array(Rise).meta({ description: 'sharp rises' }),
}).meta({ id: 'CollisionReport' });

const get = createRoute({
  method: 'get', path: '/', tags: ['providers'], summary: 'Listed keys inside provider ranges', operationId: 'getCollisions', 'x-scope': 'any',
  responses: { 200: ok(Report, 'the latest collision report'), ...errors(401), 503: ok(ErrorBody, 'no collisions yet: they are computed after the first merge (Retry-After)') },
});

export function collisionRoutes(report: () => unknown | null) {
  const app = apiRouter();
  app.openapi(get, (c) => {
    const r = report();
    if (!r) throw new ApiError(503, 'no collisions yet: they are computed after the first merge', undefined, { 'Retry-After': '5' });
    return c.json(r as z.infer<typeof Report>, 200);
  });
  return app;
}
