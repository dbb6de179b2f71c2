// /api/v1/users (admin): console users. Passwords are never returned; changing one, demoting or
// disabling a user ends their sessions; the last enabled admin cannot be removed, demoted or
// disabled (409). The same service (sync/local/users.ts) as the console's Users page.
//   GET    /                      list
//   POST   /                      { name, role, password } -> 201
//   PATCH  /:name                 { role?, password?, disabled? }
//   DELETE /:name

import { createRoute, z } from '@hono/zod-openapi';
import { ROLES, UserConflict, type Users } from '../../sync/local/users.ts';
import { actorOf, requireScope } from '../auth.ts';
import { ApiError } from '../http.ts';
import { apiRouter, errors, jsonRequest, ok } from '../openapi.ts';

const role = z.enum(ROLES as [string, ...string[]]).meta({ description: 'admin: everything; operator: overrides, reports, sources; viewer: read only' });
const password = z.string().meta({ description: 'at least 12 characters (checked by the service)', example: 'correct horse battery' });

export const UserOut = z.object({
  id: z.number().int(),
  name: z.string().meta({ example: 'olga' }),
  role,
  created: z.number().meta({ description: 'Unix ms' }),
  disabled: z.number().nullable().meta({ description: 'when it was disabled (Unix ms), or null' }),
  lastLogin: z.number().nullable().meta({ description: 'the last sign-in (Unix ms), or null' }),
}).meta({ id: 'User' });

const one = z.object({ user: UserOut });
const nameParam = z.object({ name: z.string().meta({ param: { name: 'name', in: 'path' }, example: 'olga' }) });

const createBody = z.strictObject({
  name: z.string().meta({ description: '1..64 letters, digits, ".", "_", "@", "-" (starting with a letter or digit)', example: 'olga' }),
  role,
  password,
});
const patchBody = z.strictObject({ role: role.optional(), password: password.optional(), disabled: z.boolean().optional() })
  .refine((b) => b.role !== undefined || b.password !== undefined || b.disabled !== undefined, { message: 'give at least one of role, password, disabled' });


const list = createRoute({
  method: 'get', path: '/', tags: ['users'], summary: 'List console users', middleware: [requireScope('admin')] as const,
  responses: { 200: ok(z.object({ users: z.array(UserOut) }), 'the users, by name'), ...errors(401, 403) },
});
const create = createRoute({
  method: 'post', path: '/', tags: ['users'], summary: 'Create a console user', middleware: [requireScope('admin')] as const,
  request: { body: jsonRequest(createBody) },
  responses: { 201: ok(one, 'created'), ...errors(400, 401, 403, 409, 413, 415, 503) },
});
const patch = createRoute({
  method: 'patch', path: '/{name}', tags: ['users'], summary: 'Change a user\'s role, password or disabled state',
  description: 'A new password, a demotion or disabling ends the user\'s sessions. The last enabled admin cannot be demoted or disabled (409).',
  middleware: [requireScope('admin')] as const,
  request: { params: nameParam, body: jsonRequest(patchBody) },
  responses: { 200: ok(one, 'changed'), ...errors(400, 401, 403, 404, 409, 413, 415, 503) },
});
const remove = createRoute({
  method: 'delete', path: '/{name}', tags: ['users'], summary: 'Delete a user (and end their sessions)',
  description: 'The last enabled admin cannot be deleted (409).', middleware: [requireScope('admin')] as const,
  request: { params: nameParam },
  responses: { 200: ok(one, 'deleted: the user as it was'), ...errors(401, 403, 404, 409, 503) },
});

async function conflict<T>(f: () => Promise<T> | T): Promise<T> {
  try {
    return await f();
  } catch (e) {
    if (e instanceof UserConflict) throw new ApiError(409, e.message);
    throw e;
  }
}

const missing = (name: string) => new ApiError(404, `there is no user '${name.slice(0, 64)}'`);

export function userRoutes(users: Users) {
  const app = apiRouter();
  app.openapi(list, (c) => c.json({ users: users.list() }, 200));

  app.openapi(create, async (c) => {
    const b = c.req.valid('json');
    return c.json({ user: await conflict(() => users.create(b.name, b.role, b.password, actorOf(c))) }, 201);
  });

  app.openapi(patch, async (c) => {
    const { name } = c.req.valid('param');
    const u = await conflict(() => users.update(name, c.req.valid('json'), actorOf(c)));
    if (!u) throw missing(name);
    return c.json({ user: u }, 200);
  });

  app.openapi(remove, async (c) => {
    const { name } = c.req.valid('param');
    const u = await conflict(() => users.remove(name, actorOf(c)));
    if (!u) throw missing(name);
    return c.json({ user: u }, 200);
  });
  return app;
}
