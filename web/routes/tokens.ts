// /api/v1/tokens (admin): API tokens, the same service as `quorumbl token` (sync/local/tokens.ts).
// The secret is in the creation's answer only; the database keeps its SHA-256.
//   GET    /          list (?all=1: revoked ones too)
//   POST   /          { name, scope } -> 201 { token, info }
//   DELETE /:name     revoke (a name or an id)

import { Hono } from 'hono';
import { z } from 'zod';
import { SCOPES, type Tokens } from '../../sync/local/tokens.ts';
import { actorOf, requireScope } from '../auth.ts';
import { ApiError, jsonBody, type Env } from '../http.ts';

const createBody = z.strictObject({ name: z.string(), scope: z.enum(SCOPES as [string, ...string[]]) });

export function tokenRoutes(tokens: Tokens): Hono<Env> {
  const app = new Hono<Env>();
  app.use('*', requireScope('admin'));

  app.get('/', (c) => {
    const all = c.req.query('all');
    return c.json({ tokens: tokens.list({ all: all === '1' || all === 'true' }) });
  });

  app.post('/', async (c) => {
    const b = await jsonBody(c, createBody);
    const { token, info } = tokens.create(b.name, b.scope, actorOf(c));
    return c.json({ token, info }, 201);
  });

  app.delete('/:name', (c) => {
    const r = tokens.revoke(c.req.param('name'), actorOf(c));
    if (!r) throw new ApiError(404, `there is no live token '${c.req.param('name').slice(0, 64)}'`);
    return c.json({ token: r });
  });
  return app;
}
