// Who is asking, and what they may do. `authenticate` resolves the principal of an API request:
// a bearer token (`token:<name>`, its scope) or, without an Authorization header, a console
// session cookie (`user:<name>`, its role); 401 when neither. A cookie-authenticated mutation
// must also be same-origin and carry the session's CSRF token (X-CSRF-Token) or it gets 403;
// bearer calls need neither (a browser never sends one on its own). `requireScope` then checks
// the principal's rights (403).
//
// Roles onto scopes: admin = the admin scope (everything, users and tokens included); operator =
// the overrides and reports scopes (within policy.override_limits: `force` needs admin); viewer =
// reads of what the operator may change (GET/HEAD), nothing else.

import type { MiddlewareHandler } from 'hono';
import { allows, type Scope, type Tokens } from '../sync/local/tokens.ts';
import type { Role } from '../sync/local/users.ts';
import { ApiError, type Env } from './http.ts';
import { CSRF_FIELD, CSRF_HEADER, crossSite, isMutating, sameToken, sessionOf, type ConsoleCtx } from './session.ts';

const CHALLENGE = { 'WWW-Authenticate': 'Bearer realm="quorumbl"' };

export interface Principal {
  kind: 'token' | 'user';
  name: string;
  /** A token's scope; for a user, the scope their role maps to (admin, or overrides). */
  scope: Scope;
  /** Users only. */
  role?: Role;
}

export function userPrincipal(name: string, role: Role): Principal {
  return { kind: 'user', name, role, scope: role === 'admin' ? 'admin' : 'overrides' };
}

/** Whether the principal may do what needs `need` with this HTTP method. */
export function may(p: Principal, need: Scope, method: string): boolean {
  if (p.kind === 'token') return allows(p.scope, need);
  if (p.role === 'admin') return true;
  if (need === 'admin') return false;
  return p.role === 'operator' || !isMutating(method);
}

export function authenticate(tokens: Tokens, ctx?: ConsoleCtx): MiddlewareHandler<Env> {
  return async (c, next) => {
    const h = c.req.header('authorization');
    if (h || !ctx) {
      if (!h) throw new ApiError(401, 'missing bearer token (Authorization: Bearer <token>)', undefined, CHALLENGE);
      const m = /^Bearer[ ]+(\S+)[ ]*$/i.exec(h);
      if (!m) throw new ApiError(401, 'the Authorization header must be "Bearer <token>"', undefined, CHALLENGE);
      const info = tokens.verify(m[1]!);
      if (!info) throw new ApiError(401, 'invalid or revoked token', undefined, { 'WWW-Authenticate': 'Bearer realm="quorumbl", error="invalid_token"' });
      c.set('token', { kind: 'token', name: info.name, scope: info.scope });
    } else {
      const s = sessionOf(c, ctx);
      if (!s) throw new ApiError(401, 'missing bearer token (Authorization: Bearer <token>) or console session (sign in at /login)', undefined, CHALLENGE);
      if (isMutating(c.req.method)) {
        const cross = crossSite(c, ctx);
        if (cross) throw new ApiError(403, cross);
        if (!sameToken(c.req.header(CSRF_HEADER), s.csrf)) throw new ApiError(403, `missing or wrong CSRF token (send the session's token in ${CSRF_HEADER})`);
      }
      c.set('token', userPrincipal(s.user.name, s.user.role));
      c.set('session', s);
    }
    await next();
  };
}

/** For console pages: a signed-in user or off to /login (GET/HEAD; 401 for a change); a change
 *  must be same-origin and carry the session's CSRF token (form field `_csrf` or X-CSRF-Token),
 *  else 403. Sets `token` (the user's principal) and `session`. */
export function requireSession(ctx: ConsoleCtx): MiddlewareHandler<Env> {
  return async (c, next) => {
    const s = sessionOf(c, ctx);
    const mutating = isMutating(c.req.method);
    if (!s) {
      if (!mutating) return c.redirect('/login', 302);
      throw new ApiError(401, 'not signed in (sign in at /login)');
    }
    if (mutating) {
      const cross = crossSite(c, ctx);
      if (cross) throw new ApiError(403, cross);
      let token = c.req.header(CSRF_HEADER);
      if (token === undefined && /^(application\/x-www-form-urlencoded|multipart\/form-data)/i.test(c.req.header('content-type') ?? '')) {
        const v = (await c.req.parseBody())[CSRF_FIELD]; // hono keeps the parsed body for the handler
        if (typeof v === 'string') token = v;
      }
      if (!sameToken(token, s.csrf)) throw new ApiError(403, 'missing or wrong CSRF token');
    }
    c.set('token', userPrincipal(s.user.name, s.user.role));
    c.set('session', s);
    await next();
  };
}

/** The middleware carries its scope (`.scope`): web/openapi.ts writes it into the OpenAPI
 *  document as the operation's `x-scope`. */
export function requireScope(scope: Scope): MiddlewareHandler<Env> & { scope: Scope } {
  return Object.assign(async (c: Parameters<MiddlewareHandler<Env>>[0], next: Parameters<MiddlewareHandler<Env>>[1]) => {
    const p = c.get('token');
    if (!may(p, scope, c.req.method)) {
      throw new ApiError(403, p.kind === 'token'
        ? `token '${p.name}' has scope '${p.scope}'; this needs '${scope}'`
        : `user '${p.name}' has role '${p.role}'; this needs ${scope === 'admin' ? 'the admin role' : 'the operator or admin role'}`);
    }
    await next();
  }, { scope });
}

/** Who the audit log names for a request: `token:<name>` or `user:<name>`. */
export function actorOf(c: { get(k: 'token'): { name: string; kind?: 'token' | 'user' } }): string {
  const p = c.get('token');
  return `${p.kind ?? 'token'}:${p.name}`;
}


