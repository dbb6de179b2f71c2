// /api/v1/users (admin): console users. Passwords are never returned; changing one or disabling
// a user ends their sessions; the last enabled admin cannot be removed, demoted or disabled (409).
//   GET    /                      list
//   POST   /                      { name, role, password } -> 201
//   PATCH  /:name                 { role?, password?, disabled? }
//   DELETE /:name

import { Hono } from 'hono';
import { z } from 'zod';
import { ROLES, UserConflict, type Users } from '../../sync/local/users.ts';
import { actorOf, requireScope } from '../auth.ts';
import { ApiError, jsonBody, type Env } from '../http.ts';

const createBody = z.strictObject({ name: z.string(), role: z.enum(ROLES as [string, ...string[]]), password: z.string() });
const patchBody = z.strictObject({ role: z.enum(ROLES as [string, ...string[]]).optional(), password: z.string().optional(), disabled: z.boolean().optional() })
  .refine((b) => b.role !== undefined || b.password !== undefined || b.disabled !== undefined, { message: 'give at least one of role, password, disabled' });

async function conflict<T>(f: () => Promise<T> | T): Promise<T> {
  try {
    return await f();
  } catch (e) {
    if (e instanceof UserConflict) throw new ApiError(409, e.message);
    throw e;
  }
}

export function userRoutes(users: Users): Hono<Env> {
  const app = new Hono<Env>();
  app.use('*', requireScope('admin'));

  app.get('/', (c) => c.json({ users: users.list() }));

  app.post('/', async (c) => {
    const b = await jsonBody(c, createBody);
    return c.json({ user: await conflict(() => users.create(b.name, b.role, b.password, actorOf(c))) }, 201);
  });

  app.patch('/:name', async (c) => {
    const b = await jsonBody(c, patchBody);
    const u = await conflict(() => users.update(c.req.param('name'), b, actorOf(c)));
    if (!u) throw new ApiError(404, `there is no user '${c.req.param('name').slice(0, 64)}'`);
    return c.json({ user: u });
  });

  app.delete('/:name', async (c) => {
    const u = await conflict(() => users.remove(c.req.param('name'), actorOf(c)));
    if (!u) throw new ApiError(404, `there is no user '${c.req.param('name').slice(0, 64)}'`);
    return c.json({ user: u });
  });
  return app;
}
