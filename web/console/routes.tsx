// The console's pages: GET /login (form with its CSRF token), POST /login (throttled per user and
// per client; 429 with Retry-After before any password check), POST /logout, GET / (home; to
// /login without a session) and the stylesheet. Pages are no-store, framed by nobody, and run no
// script from anywhere (CSP).

import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Hono, type Context } from 'hono';
import { getCookie } from 'hono/cookie';
import type { JSX } from 'hono/jsx/jsx-runtime';
import { requireSession } from '../auth.ts';
import { ApiError, type Env } from '../http.ts';
import {
  CSRF_FIELD, LOGIN_COOKIE, SESSION_COOKIE, clearSessionCookie, clientAddress, crossSite, sameToken, sessionOf, setLoginCookie,
  setSessionCookie, type ConsoleCtx,
} from '../session.ts';
import { HomePage, LoginPage } from './pages.tsx';
import type { ConsolePages } from './context.ts';
import { lookupRoutes } from './lookup.tsx';
import { DashboardPage } from './dashboard.tsx';
import { exemptionsRoutes } from './exemptions.tsx';
import { overridesPage } from './overrides.tsx';
import { usersPage } from './users.tsx';
import { requestsPage } from './requests.tsx';
import { reputationPage } from './reputation.tsx';
import { auditPage } from './audit.tsx';
import { sourcesPage } from './sources.tsx';

const CSS = readFileSync(new URL('./console.css', import.meta.url), 'utf8');

export const PAGE_HEADERS = {
  'Content-Security-Policy': "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'same-origin',
  'Cache-Control': 'no-store',
};

function page(c: Context, body: JSX.Element, status: 200 | 401 | 403 | 429 = 200, headers: Record<string, string> = {}) {
  return c.html(body, status, { ...PAGE_HEADERS, ...headers });
}

function loginForm(c: Context, ctx: ConsoleCtx, status: 200 | 401 | 403 | 429, opts: { name?: string; error?: string; headers?: Record<string, string> } = {}) {
  // Reuse the login token while it is there: several tabs keep working.
  let token = getCookie(c, LOGIN_COOKIE);
  if (!token || !/^[\w-]{43}$/.test(token)) token = randomBytes(32).toString('base64url');
  setLoginCookie(c, ctx, token);
  return page(c, <LoginPage csrf={token} name={opts.name} error={opts.error} />, status, opts.headers);
}

export function consoleRoutes(ctx: ConsolePages): Hono<Env> {
  const app = new Hono<Env>();
  const rate = ctx.rate;

  app.get('/console/console.css', (c) => c.body(CSS, 200, { 'Content-Type': 'text/css; charset=utf-8', 'Cache-Control': 'public, max-age=3600', 'X-Content-Type-Options': 'nosniff' }));

  app.get('/', requireSession(ctx), (c) => {
    const s = c.get('session')!;
    const user = { name: s.user.name, role: s.user.role, csrf: s.csrf };
    return page(c, ctx.dashboard ? <DashboardPage user={user} deps={ctx.dashboard} rate={rate} /> : <HomePage user={user} />);
  });
  app.route('/', exemptionsRoutes(ctx, page));

  app.post('/logout', async (c, next) => {
    if (sessionOf(c, ctx)) return next();
    clearSessionCookie(c, ctx); // nothing to end: just back to the sign-in page
    return c.redirect('/login', 303);
  }, requireSession(ctx), (c) => {
    const s = c.get('session')!;
    ctx.sessions.remove(s.idHash);
    ctx.users.loggedOut(s.user);
    clearSessionCookie(c, ctx);
    return c.redirect('/login', 303);
  });

  app.get('/login', (c) => {
    if (sessionOf(c, ctx)) return c.redirect('/', 302);
    return loginForm(c, ctx, 200);
  });

  app.post('/login', async (c) => {
    const cross = crossSite(c, ctx);
    if (cross) throw new ApiError(403, cross);
    const form = await c.req.parseBody();
    const name = typeof form.name === 'string' ? form.name.slice(0, 200) : '';
    const password = typeof form.password === 'string' ? form.password : '';
    if (!sameToken(typeof form[CSRF_FIELD] === 'string' ? form[CSRF_FIELD] : undefined, getCookie(c, LOGIN_COOKIE))) {
      return loginForm(c, ctx, 403, { name, error: 'The sign-in form had expired. Please try again.' });
    }
    const client = clientAddress(c, ctx);
    const wait = ctx.throttle.retryAfter(name, client);
    if (wait > 0) {
      ctx.failures.note(name, client, true);
      return loginForm(c, ctx, 429, { name, error: `Too many failed sign-ins. Try again in ${wait} s.`, headers: { 'Retry-After': String(wait) } });
    }
    // Counted before the (slow) password check, so parallel guesses cannot slip past the limit.
    ctx.throttle.failed(name, client);
    const user = name && password ? await ctx.users.authenticate(name, password) : null;
    if (!user) {
      ctx.failures.note(name, client, false);
      return loginForm(c, ctx, 401, { name, error: 'Wrong user name or password, or the account is disabled.' });
    }
    ctx.throttle.succeeded(user.name, client);
    const old = getCookie(c, SESSION_COOKIE);
    const prev = old ? ctx.sessions.resolve(old) : null;
    // A new id at every login (no fixation); the session, last_login and the audit row commit together.
    const { id } = ctx.sessions.create(user.id, () => {
      if (prev) ctx.sessions.remove(prev.idHash);
      ctx.users.loggedIn(user);
    });
    setSessionCookie(c, ctx, id);
    return c.redirect('/', 303);
  });

  app.route('/', lookupRoutes(ctx));
  app.route('/', overridesPage(ctx));
  app.route('/', usersPage(ctx));
  app.route('/', requestsPage(ctx));
  app.route('/', reputationPage(ctx));
  app.route('/', auditPage(ctx));
  app.route('/', sourcesPage(ctx));
  return app;
}
