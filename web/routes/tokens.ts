// /api/v1/tokens (admin): API tokens, the same service as `quorumbl token` and the console's Users
// page (sync/local/tokens.ts). The secret is in the creation's answer only; the database keeps
// its SHA-256.
//   GET    /          list (?all=1: revoked ones too)
//   POST   /          { name, scope } -> 201 { token, info }
//   DELETE /:name     revoke (a name or an id)

import { createRoute, z } from '@hono/zod-openapi';
import { SCOPES, type Tokens } from '../../sync/local/tokens.ts';
import { actorOf, requireScope } from '../auth.ts';
import { ApiError } from '../http.ts';
import { apiRouter, errors, jsonRequest, ok } from '../openapi.ts';

const scope = z.enum(SCOPES as [string, ...string[]]).meta({ description: 'reports: POST reports; overrides: read and change overrides; admin: everything' });

export const TokenOut = z.object({
  id: z.number().int(),
  name: z.string().meta({ example: 'rspamd' }),
  scope,
  created: z.number().meta({ description: 'Unix ms' }),
  lastUsed: z.number().nullable().meta({ description: 'the last use (Unix ms, recorded at most once a minute), or null' }),
  revoked: z.number().nullable().meta({ description: 'when it was revoked (Unix ms), or null' }),
}).meta({ id: 'Token' });

const createBody = z.strictObject({
  name: z.string().meta({ description: '1..64 letters, digits, ".", "_", "@", "-" (starting with a letter or digit); unique among live tokens', example: 'rspamd' }),
  scope,
});


const list = createRoute({
  method: 'get', path: '/', tags: ['tokens'], summary: 'List API tokens (never their secrets)', middleware: [requireScope('admin')] as const,
  request: { query: z.object({ all: z.string().optional().meta({ description: '1 or true: revoked tokens too' }) }) },
  responses: { 200: ok(z.object({ tokens: z.array(TokenOut) }), 'newest first'), ...errors(401, 403) },
});
const create = createRoute({
  method: 'post', path: '/', tags: ['tokens'], summary: 'Create an API token', middleware: [requireScope('admin')] as const,
  request: { body: jsonRequest(createBody) },
  responses: {
    201: ok(z.object({ token: z.string().meta({ description: 'the secret: shown only in this answer', example: 'qbl_…' }), info: TokenOut }), 'created'),
    ...errors(400, 401, 403, 413, 415, 503),
  },
});
const revoke = createRoute({
  method: 'delete', path: '/{name}', tags: ['tokens'], summary: 'Revoke a live token', middleware: [requireScope('admin')] as const,
  request: { params: z.object({ name: z.string().meta({ param: { name: 'name', in: 'path' }, description: 'a token name or numeric id', example: 'rspamd' }) }) },
  responses: { 200: ok(z.object({ token: TokenOut }), 'revoked'), ...errors(401, 403, 404, 503) },
});

export function tokenRoutes(tokens: Tokens) {
  const app = apiRouter();
  app.openapi(list, (c) => {
    const all = c.req.valid('query').all;
    return c.json({ tokens: tokens.list({ all: all === '1' || all === 'true' }) }, 200);
  });

  app.openapi(create, (c) => {
    const b = c.req.valid('json');
    const { token, info } = tokens.create(b.name, b.scope, actorOf(c));
    return c.json({ token, info }, 201);
  });

  app.openapi(revoke, (c) => {
    const { name } = c.req.valid('param');
    const r = tokens.revoke(name, actorOf(c));
    if (!r) throw new ApiError(404, `there is no live token '${name.slice(0, 64)}'`);
    return c.json({ token: r }, 200);
  });
  return app;
}
