// The console's request-level safety: the session cookie (HttpOnly, SameSite=Strict, Path=/,
// Secure when web.tls or a trusted proxy's X-Forwarded-Proto says https), the client address
// (the last X-Forwarded-For entry only behind a trusted proxy), the same-origin check of
// cookie-authenticated mutations (Sec-Fetch-Site, Origin) and the synchronizer CSRF token.

import { createHash, timingSafeEqual } from 'node:crypto';
import type { Context } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import { getConnInfo } from '@hono/node-server/conninfo';
import { formatIp6, parseIp6Cidr } from '../core/ip6.ts';
import type { Session, Sessions } from '../sync/local/sessions.ts';
import type { LocalStore } from '../sync/local/store.ts';
import type { Users } from '../sync/local/users.ts';
import type { FailureLog, LoginThrottle } from './console/throttle.ts';

export const SESSION_COOKIE = 'qbl_session';
/** The login form's own CSRF token (double submit: cookie and form field), before any session. */
export const LOGIN_COOKIE = 'qbl_login';
/** Where cookie-authenticated API calls put the session's CSRF token. */
export const CSRF_HEADER = 'x-csrf-token';
export const CSRF_FIELD = '_csrf';

/** What the console's routes and the API's session authentication share. */
export interface ConsoleCtx {
  users: Users;
  sessions: Sessions;
  throttle: LoginThrottle;
  failures: FailureLog;
  /** web.tls: browsers come over HTTPS. */
  tls: boolean;
  /** web.trust_proxy: X-Forwarded-Proto/-For/-Host are believed. */
  trustProxy: boolean;
  /** The local state (overrides, reports): pages change it through the same service functions as the API. */
  store: LocalStore;
}

export function isSecure(c: Context, ctx: Pick<ConsoleCtx, 'tls' | 'trustProxy'>): boolean {
  if (ctx.tls) return true;
  return ctx.trustProxy && c.req.header('x-forwarded-proto')?.split(',')[0]!.trim().toLowerCase() === 'https';
}

/** The client's address: the socket's peer, or behind a trusted proxy the address it appended.
 *  IPv4-mapped IPv6 is written as IPv4; an IPv6 client counts as its /64 (one host has them all). */
export function clientAddress(c: Context, ctx: Pick<ConsoleCtx, 'trustProxy'>): string {
  let a: string | undefined;
  if (ctx.trustProxy) a = c.req.header('x-forwarded-for')?.split(',').pop()?.trim() || undefined;
  if (a === undefined) {
    try {
      a = getConnInfo(c).remote.address;
    } catch {
      /* not served by @hono/node-server (app.request in tests) */
    }
  }
  if (!a) return 'unknown';
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(a);
  if (mapped) return mapped[1]!;
  if (a.includes(':')) {
    const p = parseIp6Cidr(a.replace(/^\[|\]$/g, '').replace(/%.*$/, '') + '/64', true);
    if (typeof p !== 'string') return `${formatIp6(p.addr)}/64`;
  }
  return a.slice(0, 64);
}

export function setSessionCookie(c: Context, ctx: ConsoleCtx, id: string): void {
  setCookie(c, SESSION_COOKIE, id, { httpOnly: true, sameSite: 'Strict', path: '/', secure: isSecure(c, ctx), maxAge: Math.floor(ctx.sessions.absoluteMs / 1000) });
}

export function clearSessionCookie(c: Context, ctx: ConsoleCtx): void {
  deleteCookie(c, SESSION_COOKIE, { httpOnly: true, sameSite: 'Strict', path: '/', secure: isSecure(c, ctx) });
}

export function setLoginCookie(c: Context, ctx: ConsoleCtx, token: string): void {
  setCookie(c, LOGIN_COOKIE, token, { httpOnly: true, sameSite: 'Strict', path: '/login', secure: isSecure(c, ctx), maxAge: 3600 });
}

/** The request's live session, or null (no cookie, unknown, expired, user disabled). */
export function sessionOf(c: Context, ctx: ConsoleCtx): Session | null {
  const id = getCookie(c, SESSION_COOKIE);
  return id ? ctx.sessions.resolve(id) : null;
}

export const isMutating = (method: string) => method !== 'GET' && method !== 'HEAD' && method !== 'OPTIONS';

/** Why a cookie-authenticated mutation is refused as cross-site, or null when it is same-origin.
 *  Browsers send Sec-Fetch-Site and Origin on such requests; a request without both (an old
 *  client, curl with a stolen cookie) still needs the CSRF token. */
export function crossSite(c: Context, ctx: Pick<ConsoleCtx, 'trustProxy'>): string | null {
  const site = c.req.header('sec-fetch-site');
  if (site !== undefined && site !== 'same-origin') return `cross-site request refused (Sec-Fetch-Site: ${site.slice(0, 40)})`;
  const origin = c.req.header('origin');
  if (origin === undefined) return null;
  let host: string;
  try {
    host = new URL(origin).host;
  } catch {
    return 'cross-origin request refused (unreadable Origin)';
  }
  const own = (ctx.trustProxy ? c.req.header('x-forwarded-host')?.split(',')[0]?.trim() : undefined) || c.req.header('host');
  if (origin === 'null' || !own || host.toLowerCase() !== own.toLowerCase()) return `cross-origin request refused (Origin: ${origin.slice(0, 100)})`;
  return null;
}

/** Constant-time comparison of two tokens (unequal lengths are unequal). */
export function sameToken(a: string | undefined, b: string | undefined): boolean {
  if (!a || !b) return false;
  const h = (s: string) => createHash('sha256').update(s, 'utf8').digest();
  return timingSafeEqual(h(a), h(b)) && a === b;
}
