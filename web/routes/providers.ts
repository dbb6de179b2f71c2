// GET /api/v1/providers: the state of every provider range feed as the running server sees it
// (origin fetched|baseline|static|none, ranges, age, last check and error, stale); any valid
// token. The same objects as `quorumbl providers --json`.

import { createRoute, z } from '@hono/zod-openapi';
import { apiRouter, errors, ok } from '../openapi.ts';

const iso = (description: string) => z.string().nullable().meta({ description: `${description} (ISO 8601)` });

const FeedState = z.looseObject({
  provider: z.string().meta({ example: 'microsoft365' }),
  feed: z.string().meta({ example: 'm365-worldwide' }),
  type: z.string().meta({ description: 'the feed type (m365, google, static, ...)' }),
  active: z.boolean().meta({ description: 'the merge uses it (enabled and exempt)' }),
  origin: z.enum(['fetched', 'baseline', 'static', 'none']).meta({ description: 'where the ranges in use come from' }),
  ranges: z.number().int(),
  ranges4: z.number().int(),
  ranges6: z.number().int(),
  version: z.string().nullable(),
  dataAt: iso('when the data in use was fetched (the baseline\'s date for a baseline)'),
  lastAttempt: iso('the last check'),
  lastStatus: z.enum(['updated', 'unchanged', 'rejected', 'failed']).nullable(),
  lastSuccess: iso('the last check that confirmed the data'),
  lastError: z.string().nullable(),
  lastErrorAt: iso('the last failure'),
  ageSeconds: z.number().nullable().meta({ description: 'seconds since the data was last confirmed; null without data' }),
  maxAgeSeconds: z.number(),
  stale: z.boolean().meta({ description: 'an active non-static feed with no data or data older than max_age' }),
  baseline: z.object({ file: z.string(), date: z.string(), source: z.string(), title: z.string() }).nullable().meta({ description: 'the shipped baseline for this feed' }),
  warnings: z.array(z.string()),
}).meta({ id: 'ProviderFeed' });

const get = createRoute({
  method: 'get', path: '/', tags: ['providers'], summary: 'Provider feed state', operationId: 'listProviders', 'x-scope': 'any',
  responses: {
    200: ok(z.object({ stale: z.boolean().meta({ description: 'some feed is stale' }), providers: z.array(FeedState) }), 'every configured feed'),
    ...errors(401),
  },
});

export function providerRoutes(states: () => unknown[]) {
  const app = apiRouter();
  app.openapi(get, (c) => {
    const providers = states() as z.infer<typeof FeedState>[];
    return c.json({ stale: providers.some((p) => p.stale === true), providers }, 200);
  });
  return app;
}
