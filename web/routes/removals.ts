// /api/v1/removals (scope overrides: operators act, viewers read): the removal requests senders
// filed on the public lookup page.
//   GET  /                ?state=open|approved|rejected&limit=N   open oldest first, then decided newest first
//   GET  /:id
//   POST /:id/approve     { note?, expires? }  an allow override "removal request #N: note" (replacing the key's override)
//   POST /:id/reject      { note }
// Both decisions are audited (removal.approve / removal.reject, target the key) with the change.

import { createRoute, z } from '@hono/zod-openapi';
import { OverrideConflict, OverrideGuard } from '../../sync/local/overrides.ts';
import { REMOVAL_STATES, RemovalRefused, Removals } from '../../sync/local/removals.ts';
import type { LocalStore } from '../../sync/local/store.ts';
import { allows } from '../../sync/local/tokens.ts';
import { actorOf, requireScope } from '../auth.ts';
import { ApiError } from '../http.ts';
import { apiRouter, errors, jsonRequest, ok } from '../openapi.ts';

const request = z.object({
  id: z.number().int(),
  key: z.string().meta({ description: 'the canonical IP address or domain', example: '192.0.2.7' }),
  contact: z.string().meta({ description: "the sender's e-mail address" }),
  message: z.string(),
  client: z.string().meta({ description: 'the address the request came from (an IPv6 client as its /64)' }),
  created: z.number().int().meta({ description: 'unix ms' }),
  state: z.enum(REMOVAL_STATES as [string, ...string[]]),
  decidedBy: z.string().nullable().meta({ description: 'the actor who approved or rejected it' }),
  decidedAt: z.number().int().nullable(),
  note: z.string().nullable().meta({ description: "the decision's note" }),
  overrideId: z.number().int().nullable().meta({ description: 'the allow override an approval made' }),
}).meta({ id: 'RemovalRequest' });

const idParams = z.object({ id: z.string().regex(/^[1-9]\d{0,14}$/, 'a positive integer').meta({ param: { name: 'id', in: 'path' }, example: '1' }) });

const list = createRoute({
  method: 'get', path: '/', tags: ['removals'], summary: 'List removal requests',
  middleware: [requireScope('overrides')] as const,
  request: {
    query: z.object({
      state: z.enum(['open', 'approved', 'rejected', 'all']).optional().meta({ description: 'default all: open ones first (oldest first), then decided ones (newest first)' }),
      limit: z.string().regex(/^\d{1,4}$/).optional().meta({ description: 'at most this many (default 100, at most 1000)' }),
    }),
  },
  responses: { 200: ok(z.object({ requests: z.array(request), open: z.number().int().meta({ description: 'how many are open' }) }), 'the requests'), ...errors(400, 401, 403) },
});

const show = createRoute({
  method: 'get', path: '/{id}', tags: ['removals'], summary: 'One removal request',
  middleware: [requireScope('overrides')] as const,
  request: { params: idParams },
  responses: { 200: ok(z.object({ request }), 'the request'), ...errors(400, 401, 403, 404) },
});

const approve = createRoute({
  method: 'post', path: '/{id}/approve', tags: ['removals'], summary: 'Approve: allow the key',
  description: 'Creates an allow override on the key (replacing any override of it) with the reason "removal request #N: note"; the request keeps its id.',
  middleware: [requireScope('overrides')] as const,
  request: {
    params: idParams,
    body: jsonRequest(z.strictObject({
      note: z.string().optional().meta({ description: 'added to the override reason and kept with the request' }),
      expires: z.union([z.string(), z.number(), z.null()]).optional().meta({ description: "the override's expiry: a duration (30d), an ISO 8601 time, unix ms, or null/'never' (default)", example: '30d' }),
    })),
  },
  responses: { 200: ok(z.object({ request, override: z.record(z.string(), z.unknown()).meta({ description: 'the allow override' }) }), 'approved; the DNS overlay has the allow'), ...errors(400, 401, 403, 404, 409, 415, 503) },
});

const reject = createRoute({
  method: 'post', path: '/{id}/reject', tags: ['removals'], summary: 'Reject: the listing stays',
  middleware: [requireScope('overrides')] as const,
  request: { params: idParams, body: jsonRequest(z.strictObject({ note: z.string().meta({ description: 'why (required)' }) })) },
  responses: { 200: ok(z.object({ request }), 'rejected'), ...errors(400, 401, 403, 404, 409, 415, 503) },
});

function refused<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof RemovalRefused) throw new ApiError(e.status, e.message);
    if (e instanceof OverrideConflict) throw new ApiError(e.status, e.message);
    if (e instanceof OverrideGuard) throw new ApiError(403, e.message);
    throw e;
  }
}

export function removalRoutes(store: LocalStore) {
  const app = apiRouter();
  const removals = new Removals(store);

  app.openapi(list, (c) => {
    const q = c.req.valid('query');
    const state = q.state === undefined || q.state === 'all' ? undefined : (q.state as 'open');
    return c.json({ requests: removals.list({ state, limit: q.limit === undefined ? undefined : Number(q.limit) }), open: removals.openCount() }, 200);
  });

  app.openapi(show, (c) => {
    const r = removals.get(Number(c.req.valid('param').id));
    if (!r) throw new ApiError(404, `there is no removal request #${c.req.valid('param').id}`);
    return c.json({ request: r }, 200);
  });

  app.openapi(approve, (c) => {
    const b = c.req.valid('json');
    const p = c.get('token');
    const r = refused(() => removals.approve(Number(c.req.valid('param').id), {
      note: b.note, expires: b.expires, actor: actorOf(c), author: p.name, admin: allows(p.scope, 'admin'),
    }));
    return c.json({ request: r.request, override: r.override as unknown as Record<string, unknown> }, 200);
  });

  app.openapi(reject, (c) => {
    const b = c.req.valid('json');
    return c.json({ request: refused(() => removals.reject(Number(c.req.valid('param').id), { note: b.note, actor: actorOf(c) })) }, 200);
  });
  return app;
}
