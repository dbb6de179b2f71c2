// Bearer-token authentication with scopes. `auth` resolves the token (401 when missing, malformed,
// unknown or revoked); `requireScope` then checks what it may do (403). An admin token may do
// everything.

import type { MiddlewareHandler } from 'hono';
import { allows, type Scope, type Tokens } from '../sync/local/tokens.ts';
import { ApiError, type Env } from './http.ts';

const CHALLENGE = { 'WWW-Authenticate': 'Bearer realm="quorumbl"' };

export function auth(tokens: Tokens): MiddlewareHandler<Env> {
  return async (c, next) => {
    const h = c.req.header('authorization');
    if (!h) throw new ApiError(401, 'missing bearer token (Authorization: Bearer <token>)', undefined, CHALLENGE);
    const m = /^Bearer[ ]+(\S+)[ ]*$/i.exec(h);
    if (!m) throw new ApiError(401, 'the Authorization header must be "Bearer <token>"', undefined, CHALLENGE);
    const info = tokens.verify(m[1]!);
    if (!info) throw new ApiError(401, 'invalid or revoked token', undefined, { 'WWW-Authenticate': 'Bearer realm="quorumbl", error="invalid_token"' });
    c.set('token', info);
    await next();
  };
}

export function requireScope(scope: Scope): MiddlewareHandler<Env> {
  return async (c, next) => {
    const t = c.get('token');
    if (!allows(t.scope, scope)) throw new ApiError(403, `token '${t.name}' has scope '${t.scope}'; this needs '${scope}'`);
    await next();
  };
}

/** Who the audit log names for a request. */
export function actorOf(c: { get(k: 'token'): { name: string } }): string {
  return `token:${c.get('token').name}`;
}
