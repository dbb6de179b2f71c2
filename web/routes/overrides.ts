// /api/v1/overrides: list, show, add (201 once the DNS overlay has the change), change the
// expiry, remove.

import { Hono } from 'hono';
import { z } from 'zod';
import { OverrideConflict } from '../../sync/local/overrides.ts';
import type { LocalStore } from '../../sync/local/store.ts';
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
});

const patchBody = z.strictObject({ expires: z.union([z.string(), z.number(), z.null()]) });

function conflict<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof OverrideConflict) throw new ApiError(e.status, e.message);
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
    const o = conflict(() => store.addOverride(
      { action: b.action, key: b.key, reason: b.reason, author: b.author ?? c.get('token').name, expires: b.expires },
      { actor: actorOf(c), replace: b.replace === true },
    ));
    return c.json({ override: o }, 201, { Location: `/api/v1/overrides/${o.id}` });
  });

  app.patch('/:id', async (c) => {
    const id = idParam(c);
    const b = await jsonBody(c, patchBody);
    return c.json({ override: conflict(() => store.setOverrideExpiry(id, b.expires, actorOf(c))) });
  });

  app.delete('/:id', (c) => {
    const id = idParam(c);
    return c.json({ removed: conflict(() => store.removeOverride(id, actorOf(c))) });
  });
  return app;
}
