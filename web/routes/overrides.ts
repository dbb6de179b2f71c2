// /api/v1/overrides: list, show, add (201 once the DNS overlay has the change), change the
// expiry, remove. A key wider than policy.override_limits (or a public suffix) needs
// `"force": true` and an admin token: 403 naming the limit otherwise.

import { createRoute, z } from '@hono/zod-openapi';
import { OverrideConflict, OverrideGuard, type GuardOptions } from '../../sync/local/overrides.ts';
import type { LocalStore } from '../../sync/local/store.ts';
import { allows, type Scope } from '../../sync/local/tokens.ts';
import { actorOf, requireScope } from '../auth.ts';
import { ApiError } from '../http.ts';
import { apiRouter, errors, jsonRequest, ok } from '../openapi.ts';

const expires = z.union([z.string(), z.number(), z.null()]).meta({
  description: 'when it expires: Unix ms, an ISO 8601 time, a duration from now (`2d`, `12h`), or null / "never"',
  example: '7d',
});

const addBody = z.strictObject({
  action: z.enum(['allow', 'deny']).meta({ description: 'allow: never listed (and in wl); deny: always listed' }),
  key: z.string().meta({ description: 'an IP, CIDR, domain or *.domain', example: '192.0.2.7' }),
  reason: z.string().meta({ description: 'why (shown in the audit log; at most 500 characters)', example: 'ticket 4711: our customer\'s MTA' }),
  author: z.string().optional().meta({ description: 'who asked for it (default: the token or user name)' }),
  expires: expires.optional(),
  replace: z.boolean().optional().meta({ description: 'replace an active override of the same key (else 409)' }),
  force: z.boolean().optional().meta({ description: 'store a key wider than policy.override_limits or a public suffix (admin only)' }),
});

const patchBody = z.strictObject({
  expires,
  force: z.boolean().optional().meta({ description: 'make a wide override last longer (admin only)' }),
});

const Override = z.object({
  id: z.number().int(),
  key: z.string().meta({ description: 'the canonical key', example: '192.0.2.7' }),
  kind: z.enum(['ip4', 'ip6', 'domain', 'wildcard']).or(z.string()),
  action: z.enum(['allow', 'deny']),
  reason: z.string(),
  author: z.string(),
  created: z.number().meta({ description: 'Unix ms' }),
  expires: z.number().nullable().meta({ description: 'Unix ms; null: never' }),
}).meta({ id: 'Override' });

const idParams = z.object({
  id: z.string().regex(/^[1-9]\d{0,14}$/, 'must be a positive integer').meta({ param: { name: 'id', in: 'path' }, description: 'the override id', example: '42' }),
});

const listQuery = z.object({
  expired: z.string().optional().meta({ description: '1 or true: expired ones too (anything else: active ones only)', example: '1' }),
});

const tags = ['overrides'];

const list = createRoute({
  method: 'get', path: '/', tags, summary: 'List overrides', operationId: 'listOverrides', middleware: [requireScope('overrides')] as const,
  request: { query: listQuery },
  responses: { 200: ok(z.object({ overrides: z.array(Override) }), 'the active overrides (all with ?expired=1), newest first'), ...errors(400, 401, 403) },
});

const show = createRoute({
  method: 'get', path: '/{id}', tags, summary: 'Show one override', operationId: 'getOverride', middleware: [requireScope('overrides')] as const,
  request: { params: idParams },
  responses: { 200: ok(z.object({ override: Override }), 'the override'), ...errors(400, 401, 403, 404) },
});

const add = createRoute({
  method: 'post', path: '/', tags, summary: 'Add an override', operationId: 'addOverride', middleware: [requireScope('overrides')] as const,
  request: { body: jsonRequest(addBody) },
  responses: {
    201: { ...ok(z.object({ override: Override }), 'stored; the DNS answers have it when this returns'), headers: z.object({ Location: z.string().meta({ description: 'the new override' }) }) },
    ...errors(400, 401, 403, 409, 413, 415, 503),
  },
});

const patch = createRoute({
  method: 'patch', path: '/{id}', tags, summary: 'Change an override\'s expiry', operationId: 'setOverrideExpiry', middleware: [requireScope('overrides')] as const,
  request: { params: idParams, body: jsonRequest(patchBody) },
  responses: { 200: ok(z.object({ override: Override }), 'the changed override'), ...errors(400, 401, 403, 404, 413, 415, 503) },
});

const remove = createRoute({
  method: 'delete', path: '/{id}', tags, summary: 'Remove an override', operationId: 'removeOverride', middleware: [requireScope('overrides')] as const,
  request: { params: idParams },
  responses: { 200: ok(z.object({ removed: Override }), 'the removed override'), ...errors(400, 401, 403, 404, 503) },
});

type Ctx = { get(k: 'token'): { name: string; scope: Scope } };

function guardOf(c: Ctx, force: boolean | undefined): GuardOptions {
  return { force: force === true, admin: allows(c.get('token').scope, 'admin') };
}

function conflict<T>(c: Ctx, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof OverrideConflict) throw new ApiError(e.status, e.message);
    if (e instanceof OverrideGuard) {
      const t = c.get('token');
      throw new ApiError(403, e.needs === 'admin' || t.scope !== 'admin' ? `${e.message}; token '${t.name}' has scope '${t.scope}'` : e.message, 'force');
    }
    throw e;
  }
}

export function overrideRoutes(store: LocalStore) {
  const app = apiRouter();

  app.openapi(list, (c) => {
    const expired = c.req.valid('query').expired;
    return c.json({ overrides: store.overrides.list({ expired: expired === '1' || expired === 'true' }) }, 200);
  });

  app.openapi(show, (c) => {
    const id = c.req.valid('param').id;
    const o = store.overrides.get(Number(id));
    if (!o) throw new ApiError(404, `there is no override #${id}`);
    return c.json({ override: o }, 200);
  });

  app.openapi(add, (c) => {
    const b = c.req.valid('json');
    const o = conflict(c, () => store.addOverride(
      { action: b.action, key: b.key, reason: b.reason, author: b.author ?? c.get('token').name, expires: b.expires },
      { actor: actorOf(c), replace: b.replace === true, ...guardOf(c, b.force) },
    ));
    return c.json({ override: o }, 201, { Location: `/api/v1/overrides/${o.id}` });
  });

  app.openapi(patch, (c) => {
    const id = Number(c.req.valid('param').id);
    const b = c.req.valid('json');
    return c.json({ override: conflict(c, () => store.setOverrideExpiry(id, b.expires, actorOf(c), guardOf(c, b.force))) }, 200);
  });

  app.openapi(remove, (c) => {
    const id = Number(c.req.valid('param').id);
    return c.json({ removed: conflict(c, () => store.removeOverride(id, actorOf(c))) }, 200);
  });
  return app;
}
