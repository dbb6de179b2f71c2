// The hono app: the REST API under /api/v1 with bearer-token auth.
//   POST   /api/v1/reports            reports     a reputation event -> 201
//   GET    /api/v1/overrides          overrides   active overrides (?expired=1: all)
//   GET    /api/v1/overrides/:id      overrides
//   POST   /api/v1/overrides          overrides   -> 201 after the DNS overlay has it
//   PATCH  /api/v1/overrides/:id      overrides   { expires }
//   DELETE /api/v1/overrides/:id      overrides
//   GET    /api/v1/audit              admin       ?target, actor, action, since, until, before, limit
//   GET    /api/v1/reputation         reports, overrides   recent events and the top keys
//   GET    /api/v1/removals, GET /:id, POST /:id/approve, POST /:id/reject   overrides   (web/routes/removals.ts)
//   GET    /api/v1/explain/:key       any token   (when deps.explain is given)
//   GET    /api/v1/export/:zone       any token   ?format=rbldnsd|zonefile, conditional GET (when deps.export is given; web/routes/export.ts)
//   GET    /api/v1/providers          any token   provider feed state (when deps.providers is given)
//   GET    /api/v1/collisions         any token   listed keys inside provider ranges (when deps.collisionReport is given)
//   GET    /api/v1/status             any token   what the dashboard shows (when the console has dashboard data)
//   GET    /api/v1/sources[/:name], POST /:name/accept|drop|sync   overrides (viewer reads)  (web/routes/sources.ts)
//   GET    /api/v1/users, POST, PATCH /:name, DELETE /:name        admin   (web/routes/users.ts)
//   GET    /api/v1/tokens, POST, DELETE /:name                     admin   (web/routes/tokens.ts)
//   GET /, GET+POST /login, POST /logout, /console/*    the console (when deps.console is given):
//          then /api/v1 also accepts a session cookie (+ X-CSRF-Token on writes; web/auth.ts)

//   GET    <web.public.prefix>/lookup, POST …/request   no sign-in   the public page (when deps.public is given; web/public/)
//   GET    /api/openapi.json          no token    the OpenAPI 3.1 document (web/openapi.ts)
//   GET    /healthz, /readyz          no token    (when deps.health is given; web/routes/health.ts)
//   GET    /metrics                   no token, or web.metrics.token (when deps.metrics is given)
// Errors are JSON `{ error, field? }`: 400 bad input, 401 no/bad token, 403 scope, 404, 409,
// 413 body too large, 415 not JSON, 503 the state disk cannot take writes (with Retry-After;
// reads keep working). On console paths (not /api, /metrics or the probes) an error is an HTML
// page in the console's layout instead, same status and Retry-After (web/console/error-page.tsx).

import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { LocalStore } from '../sync/local/store.ts';
import { Users } from '../sync/local/users.ts';
import { authenticate } from './auth.ts';
import { consoleContext, type ConsoleOptions } from './console/context.ts';
import { consoleRoutes } from './console/routes.tsx';
import { consoleErrorPages, MACHINE_PATH } from './console/error-page.tsx';
import { isMutating, sessionOf } from './session.ts';
import { tokenRoutes } from './routes/tokens.ts';
import { userRoutes } from './routes/users.ts';
import type { DiskGuard } from '../core/disk.ts';
import { errorResponse, toResponse, type Env } from './http.ts';
import { healthRoutes, type HealthDeps } from './routes/health.ts';
import { auditRoutes } from './routes/audit.ts';
import { overrideRoutes } from './routes/overrides.ts';
import { providerRoutes } from './routes/providers.ts';
import { statusRoutes } from './routes/status.ts';
import { collisionRoutes } from './routes/collisions.ts';
import { reportRoutes } from './routes/reports.ts';
import { reputationRoutes } from './routes/reputation.ts';
import { explainRoutes } from './routes/explain.ts';
import { exportRoutes, type ExportDeps } from './routes/export.ts';
import { sourceRoutes, type SourcesDeps } from './routes/sources.ts';
import { apiRouter, documentConfig, jsonOnly, registerSecurity } from './openapi.ts';
import { metricsRoutes, type MetricsRouteOptions } from './routes/metrics.ts';
import { publicRoutes, type PublicOptions } from './public/routes.tsx';
import { removalRoutes } from './routes/removals.ts';

export interface AppDeps {
  store: LocalStore;
  /** The verdict trace of a key (the lead's explain); the route exists only when given. It may
   *  throw InputError for a bad key (400) and return null for "nothing to explain" (404). */
  explain?: (key: string) => unknown;
  /** The zones for GET /api/v1/export/{zone} (`quorumbl export` over HTTP); the route exists only when given. */
  export?: ExportDeps;
  /** Provider feed state (`quorumbl providers --json`); the route exists only when given. */
  providers?: () => unknown[];
  /** The latest collision report (null before the first merge); the route exists only when given. */
  collisionReport?: () => unknown | null;
  /** The product version shown in the OpenAPI document. */
  version?: string;
  /** Largest accepted request body in bytes (default 64 KiB). */
  maxBodyBytes?: number;
  /** Unexpected errors (500s) go here. */
  onError?: (e: unknown) => void;
  /** The state disk's watcher: while it is not writable, writes (POST, PATCH, DELETE) get a 503
   *  naming the cause; a write failing on the disk is reported to it. */
  disk?: DiskGuard;
  /** /healthz and /readyz (unauthenticated). */
  health?: HealthDeps;
  /** GET /metrics (Prometheus): the registry (web/metrics/collect.ts) and its optional token. */
  metrics?: MetricsRouteOptions;
  /** The browser console: sign-in pages, sessions (also accepted by /api/v1), login throttling. */
  console?: ConsoleOptions;
  /** The public lookup page under its prefix (web.public without its own listener). */
  public?: PublicOptions;
  /** /api/v1/sources and the console's Sources page (the routes exist only when given). */
  sources?: SourcesDeps;
}

export function createApp(deps: AppDeps): Hono<Env> {
  const app = new Hono<Env>();
  const max = deps.maxBodyBytes ?? 64 * 1024;
  app.onError((e, c) => toResponse(c, e, deps.onError, deps.disk));
  app.notFound((c) => errorResponse(c, 404, `no such endpoint: ${c.req.method} ${c.req.path.slice(0, 100)}`));

  const api = apiRouter();
  api.use('*', bodyLimit({ maxSize: max, onError: (c) => errorResponse(c, 413, `the body is larger than ${max} bytes`) }));
  const con = deps.console ? consoleContext(deps.store, { ...deps.console, sources: deps.console.sources ?? deps.sources }) : undefined;
  api.use('*', authenticate(deps.store.tokens, con));
  const disk = deps.disk;
  if (disk) {
    api.use('*', async (c, next) => {
      const refusal = c.req.method === 'GET' || c.req.method === 'HEAD' ? null : disk.refusal();
      if (refusal) throw refusal;
      await next();
    });
  }
  api.use('*', jsonOnly);
  api.route('/reports', reportRoutes(deps.store));
  api.route('/overrides', overrideRoutes(deps.store));
  api.route('/audit', auditRoutes(deps.store));
  api.route('/removals', removalRoutes(deps.store));
  api.route('/reputation', reputationRoutes(deps.store));
  api.route('/users', userRoutes(con?.users ?? new Users(deps.store.db)));
  api.route('/tokens', tokenRoutes(deps.store.tokens));
  if (deps.providers) api.route('/providers', providerRoutes(deps.providers));
  if (con?.dashboard) api.route('/status', statusRoutes(con.dashboard, con.rate));
  if (deps.collisionReport) api.route('/collisions', collisionRoutes(deps.collisionReport));
  if (deps.explain) api.route('/explain', explainRoutes(deps.explain));
  if (deps.export) api.route('/export', exportRoutes(deps.export));
  if (deps.sources) api.route('/sources', sourceRoutes(deps.sources));
  app.route('/api/v1', api);
  // The OpenAPI 3.1 document of every route declared through web/openapi.ts (no token needed:
  // it holds no data).
  registerSecurity(api);
  app.get('/api/openapi.json', (c) => c.json(api.getOpenAPI31Document(documentConfig(deps.version ?? '0'))));
  if (con) {
    // Errors on console paths are pages in the console's layout (web/console/error-page.tsx);
    // a signed-in user's change while the state disk cannot take writes is a 503 page at once.
    app.use('*', consoleErrorPages());
    if (disk) {
      app.use('*', async (c, next) => {
        const s = isMutating(c.req.method) && !MACHINE_PATH.test(c.req.path) ? sessionOf(c, con) : null;
        const refusal = s ? disk.refusal() : null;
        if (refusal) {
          c.set('session', s!); // the page shows who is signed in
          throw refusal;
        }
        await next();
      });
    }
    app.use('/login', bodyLimit({ maxSize: 16 * 1024, onError: (c) => errorResponse(c, 413, 'the form is too large') }));
    app.use('/logout', bodyLimit({ maxSize: 16 * 1024, onError: (c) => errorResponse(c, 413, 'the form is too large') }));
    app.route('/', consoleRoutes(con));
  }
  if (deps.public) app.route(deps.public.prefix, publicRoutes(deps.public));
  if (deps.health) app.route('/', healthRoutes(deps.health));
  if (deps.metrics) app.route('/', metricsRoutes(deps.metrics));
  return app;
}
