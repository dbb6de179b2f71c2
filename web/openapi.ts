// The API's routes are declared with @hono/zod-openapi: one zod schema both validates a request
// and describes it in the OpenAPI 3.1 document served at GET /api/openapi.json, so the document
// cannot drift from what the server accepts. A route module:
//
//   const add = createRoute({ method: 'post', path: '/', tags: ['overrides'],
//     middleware: [requireScope('overrides')], request: { body: jsonBody(addBody) },
//     responses: { 201: ok(overrideOut, 'created'), ...errors(400, 401, 403, 409) } });
//   export function overrideRoutes(store) { const app = apiRouter(); app.openapi(add, (c) => {
//     const b = c.req.valid('json'); ... }); return app; }
//
// and web/app.ts mounts it with `api.route('/overrides', overrideRoutes(store))`. A failed check
// is our usual `{ error, field }` 400 (zodFailure), a body that is not JSON a 415 (jsonOnly).

import { OpenAPIHono, z } from '@hono/zod-openapi';
import type { MiddlewareHandler } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { ApiError, zodFailure, type Env } from './http.ts';
import { SESSION_COOKIE } from './session.ts';
import type { Scope } from '../sync/local/tokens.ts';

/** A router whose request checks fail as `{ error, field }` 400s. Each operation's `x-scope` in
 *  the document (what it needs: a token scope, or `any` valid token or session) is taken from
 *  the route's `requireScope(...)` middleware unless the route gives it; test/web/security.test.ts
 *  reads it to try every write with the wrong scope. */
export function apiRouter(): OpenAPIHono<Env> {
  const app = new OpenAPIHono<Env>({
    defaultHook: (r) => {
      if (!r.success) throw zodFailure(r.error as z.ZodError);
    },
  });
  const openapi = app.openapi;
  app.openapi = ((route: Parameters<typeof openapi>[0], ...rest: unknown[]) => {
    const r = route as typeof route & { 'x-scope'?: string };
    if (r['x-scope'] === undefined) {
      const scope = [route.middleware ?? []].flat().map((m) => (m as { scope?: Scope }).scope).find((s) => s !== undefined);
      if (scope) route = { ...route, 'x-scope': scope } as typeof route;
    }
    return (openapi as (...a: unknown[]) => unknown)(route, ...rest);
  }) as typeof openapi;
  return app;
}

/** What an operation needs (`x-scope` in the document): a token scope, or any valid token or
 *  session (`any`). */
export type OperationScope = Scope | 'any';

/** A required JSON request body checked against `schema`. */
export function jsonRequest<T extends z.ZodType>(schema: T, description?: string) {
  return { required: true, description, content: { 'application/json': { schema } } } as const;
}

/** A JSON response described by `schema`. */
export function ok<T extends z.ZodType>(schema: T, description: string) {
  return { description, content: { 'application/json': { schema } } } as const;
}

export const ErrorBody = z.object({
  error: z.string().meta({ description: 'what is wrong, in words' }),
  field: z.string().optional().meta({ description: 'the request field at fault (400)' }),
}).meta({ id: 'Error' });

const ERROR_TEXT: Partial<Record<ContentfulStatusCode, string>> = {
  400: 'bad input (the field at fault is named)',
  401: 'no or bad token / session',
  403: 'the token scope or user role does not allow this, or a missing CSRF token',
  404: 'not found',
  409: 'conflicts with the current state',
  413: 'the body is too large',
  415: 'the body is not JSON',
  429: 'too many requests (Retry-After)',
  503: 'the state disk cannot take writes (Retry-After)',
};

/** The error responses a route documents, all `{ error, field? }`. */
export function errors(...codes: ContentfulStatusCode[]) {
  const out: Record<number, ReturnType<typeof ok>> = {};
  for (const code of codes) out[code] = ok(ErrorBody, ERROR_TEXT[code] ?? 'error');
  return out;
}

/** Writes with a body must send JSON: 415 otherwise (before the route's check says
 *  "required" about every field of a form post); 400 when it does not parse. */
export const jsonOnly: MiddlewareHandler<Env> = async (c, next) => {
  const m = c.req.method;
  if (m === 'POST' || m === 'PUT' || m === 'PATCH') {
    const type = c.req.header('content-type') ?? '';
    const len = c.req.header('content-length');
    const hasBody = type !== '' || (len !== undefined && len !== '0') || c.req.header('transfer-encoding') !== undefined;
    if (hasBody && !/^application\/json\s*(;|$)/i.test(type)) throw new ApiError(415, 'the body must be JSON (Content-Type: application/json)');
    // Parsed here for our own message (hono keeps the parsed body for the route's check).
    if (hasBody) {
      try {
        await c.req.json();
      } catch (e) {
        if (e instanceof SyntaxError) throw new ApiError(400, 'the body is not valid JSON');
        throw e;
      }
    }
  }
  await next();
};

/** The document's frame: title, version, the two ways to authenticate. */
export function documentConfig(version: string): Parameters<OpenAPIHono['getOpenAPI31Document']>[0] {
  return {
    openapi: '3.1.0',
    info: {
      title: 'quorumbl API',
      version,
      description: 'The REST API of quorumbl: overrides, reports, sources, providers, audit, users and tokens. ' +
        'Authenticate with a bearer token (`quorumbl token create`) or a console session cookie plus the X-CSRF-Token header on writes.',
    },
    servers: [{ url: '/api/v1' }],
    security: [{ bearer: [] as string[] }, { session: [] as string[] }] as Record<string, string[]>[],
  };
}

/** Registers the security schemes on the router serving the document. */
export function registerSecurity(app: OpenAPIHono<Env>): void {
  app.openAPIRegistry.registerComponent('securitySchemes', 'bearer', { type: 'http', scheme: 'bearer', description: 'an API token' });
  app.openAPIRegistry.registerComponent('securitySchemes', 'session', { type: 'apiKey', in: 'cookie', name: SESSION_COOKIE, description: 'a console session (writes also need X-CSRF-Token)' });
}
