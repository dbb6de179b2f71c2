// GET /api/v1/explain/{key}: why an IP or domain is, or is not, in bl/wl/dbl: the verdict of the
// DNS answer with its full trace (sync/merge/explain.ts; `quorumbl explain KEY --json`). Any
// valid token. A bad key is a 400 naming it, "nothing to explain" a 404.

import { createRoute, z } from '@hono/zod-openapi';
import { ApiError } from '../http.ts';
import { apiRouter, errors, ok } from '../openapi.ts';

const Explanation = z.looseObject({
  key: z.string().meta({ description: 'the canonical key', example: '192.0.2.7' }),
  kind: z.enum(['ip4', 'ip6', 'domain']),
  serial: z.number().int().meta({ description: 'the merge serial of the data explained' }),
  builtAt: z.string().meta({ description: 'when that merge was built (ISO 8601)' }),
  block: z.boolean().meta({ description: 'listed in bl (addresses) or dbl (domains)' }),
  reasons: z.array(z.number().int()).meta({ description: 'the reason codes of the A answer' }),
  allow: z.number().int(),
  answer: z.looseObject({
    zone: z.enum(['bl', 'dbl']),
    a: z.array(z.string()).meta({ description: 'the A records the zone answers', example: ['127.0.0.2'] }),
    txt: z.string().nullable(),
    wl: z.string().nullable(),
    wlTxt: z.string().nullable(),
  }).meta({ description: 'what the DNS answers' }),
  sources: z.array(z.looseObject({ name: z.string(), weight: z.number(), entry: z.string().nullable(), lastSuccess: z.string().nullable(), ageSeconds: z.number().nullable() }))
    .meta({ description: 'the sources listing the key, with their covering entry and data age' }),
  providers: z.array(z.looseObject({ name: z.string(), feed: z.string().nullable(), fetchedAt: z.string().nullable(), range: z.string().nullable() }))
    .meta({ description: 'provider ranges holding the key, with provenance' }),
  protectedBy: z.string().nullable(),
  reputation: z.looseObject({ score: z.number(), events: z.array(z.record(z.string(), z.unknown())) }),
  override: z.record(z.string(), z.unknown()).nullable().meta({ description: 'the active override of the key' }),
  arithmetic: z.array(z.string()).meta({ description: 'the policy arithmetic, in words' }),
}).meta({ id: 'Explanation' });

const params = z.object({
  key: z.string().meta({ param: { name: 'key', in: 'path' }, description: 'an IPv4 or IPv6 address or a domain', example: '192.0.2.7' }),
});

const get = createRoute({
  method: 'get', path: '/{key}', tags: ['explain'], summary: 'Why a key is, or is not, listed', operationId: 'explainKey', 'x-scope': 'any',
  request: { params },
  responses: { 200: ok(Explanation, 'the verdict and its trace'), ...errors(400, 401, 404) },
});

export function explainRoutes(explain: (key: string) => unknown) {
  const app = apiRouter();
  app.openapi(get, async (c) => {
    const r = await explain(c.req.valid('param').key);
    if (r === null || r === undefined) throw new ApiError(404, 'nothing to explain for this key');
    return c.json(r as z.infer<typeof Explanation>, 200);
  });
  return app;
}
