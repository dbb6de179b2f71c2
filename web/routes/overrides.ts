// /api/v1/overrides: list, show, add (201 once the DNS overlay has the change), change the
// expiry, remove. A key wider than policy.override_limits (or a public suffix) needs
// `"force": true` and an admin token: 403 naming the limit otherwise.

import { Hono } from 'hono';
import { z } from 'zod';
import { OverrideConflict, OverrideGuard, type GuardOptions } from '../../sync/local/overrides.ts';
import type { LocalStore } from '../../sync/local/store.ts';
import { allows, type Scope } from '../../sync/local/tokens.ts';
import { actorOf, requireScope } from '../auth.ts';
import { ApiError, idParam, jsonBody, type Env } from '../http.ts';

const expires = z.union([z.string(), z.number(), z.null()]).optional();

const addBody = z.strictObject({
  action: z.enum(['allow', 'deny']),
  key: z.string(),
  reason: z.string(),
  author: z.string().optional(),
  expires,
  /** Replace an active override of the same key (else 409). */
  replace: z.boolean().optional(),
  /** Store a key wider than the limits (admin tokens only). */
  force: z.boolean().optional(),
});

const patchBody = z.strictObject({ expires: z.union([z.string(), z.number(), z.null()]), force: z.boolean().optional() });

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

export function overrideRoutes(store: LocalStore): Hono<Env> {
  const app = new Hono<Env>();
  app.use('*', requireScope('overrides'));

  app.get('/', (c) => {
    const expired = c.req.query('expired');
    return c.json({ overrides: store.overrides.list({ expired: expired === '1' || expired === 'true' }) });
  });

  app.get('/:id', (c) => {
    const o = store.overrides.get(idParam(c));
    if (!o) throw new ApiError(404, `there is no override #${c.req.param('id')}`);
    return c.json({ override: o });
  });

  app.post('/', async (c) => {
    const b = await jsonBody(c, addBody);
    const o = conflict(c, () => store.addOverride(
      { action: b.action, key: b.key, reason: b.reason, author: b.author ?? c.get('token').name, expires: b.expires },
      { actor: actorOf(c), replace: b.replace === true, ...guardOf(c, b.force) },
    ));
    return c.json({ override: o }, 201, { Location: `/api/v1/overrides/${o.id}` });
  });

  app.patch('/:id', async (c) => {
    const id = idParam(c);
    const b = await jsonBody(c, patchBody);
    return c.json({ override: conflict(c, () => store.setOverrideExpiry(id, b.expires, actorOf(c), guardOf(c, b.force))) });
  });

  app.delete('/:id', (c) => {
    const id = idParam(c);
    return c.json({ removed: conflict(c, () => store.removeOverride(id, actorOf(c))) });
  });
  return app;
}
