// The public lookup page and removal requests, for senders on the internet (no sign-in):
//   GET  <prefix>/lookup?key=K    listed / not listed and the public reason categories
//   POST <prefix>/request         a removal request (key, contact, message) -> 303 to the lookup
//   GET  <prefix>/style.css       the console's stylesheet
// Either mounted under the prefix on the main listener (web/app.ts) or alone on its own listener
// (publicApp: nothing else is reachable there).
//
// Against a hostile client: lookups and posts per client address per minute (in memory; the
// client is the socket's peer unless trust_proxy), removal requests per client and in all per
// hour and open requests per key (counted in the database, sync/local/removals.ts), the body
// size (413), the message length (400), a double-submit form token (cookie + field, no session)
// and the same-origin check on the post. Nothing internal is shown: verdict.ts.

import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Hono, type Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { getCookie, setCookie } from 'hono/cookie';
import type { JSX } from 'hono/jsx/jsx-runtime';
import { diskErrorOf } from '../../core/disk.ts';
import { InputError, parseKey } from '../../sync/local/keys.ts';
import { RemovalRefused, type Removals } from '../../sync/local/removals.ts';
import type { Explanation } from '../../sync/merge/explain.ts';
import { ApiError, type Env } from '../http.ts';
import { CSRF_FIELD, clientAddress, crossSite, isSecure, sameToken } from '../session.ts';
import { RateLimiter } from './limiter.ts';
import { LookupPage, NoticePage, type LookupView, type RequestForm } from './pages.tsx';
import { publicVerdict } from './verdict.ts';

const CSS = readFileSync(new URL('../console/console.css', import.meta.url), 'utf8');

/** The form token's cookie (double submit), scoped to the prefix. */
export const PUBLIC_COOKIE = 'qbl_public';

const PAGE_HEADERS = {
  'Content-Security-Policy': "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'same-origin', // not no-referrer: then browsers post with "Origin: null"
  'Cache-Control': 'no-store',
};

export interface PublicOptions {
  /** web.public.prefix, e.g. /public. */
  prefix: string;
  /** MergeService.explain; throws InputError for a bad key. */
  explain: (key: string) => Explanation;
  /** The requests' store, with web.public's limits. */
  removals: Removals;
  /** web.tls: the form cookie is Secure. */
  tls?: boolean;
  /** web.public.trust_proxy (or web.trust_proxy): the client is the last X-Forwarded-For. */
  trustProxy?: boolean;
  /** Lookups and posts per client address per minute. */
  lookupsPerMinute: number;
  /** false while the state disk cannot take writes: requests get 503. */
  canWrite?: () => boolean;
  now?: () => number;
  /** Unexpected errors (the sender sees a plain 500 page). */
  onError?: (e: unknown) => void;
}

type Status = 200 | 400 | 403 | 404 | 409 | 413 | 429 | 500 | 503;

export function publicRoutes(o: PublicOptions): Hono<Env> {
  const app = new Hono<Env>();
  const p = o.prefix;
  const sec = { tls: o.tls === true, trustProxy: o.trustProxy === true };
  const limiter = new RateLimiter(o.lookupsPerMinute, o.now);
  const max = o.removals.limits.maxMessage;
  const html = (c: Context, body: JSX.Element, status: Status = 200, headers: Record<string, string> = {}) => c.html(body, status, { ...PAGE_HEADERS, ...headers });
  const notice = (c: Context, status: Status, title: string, text: string, headers: Record<string, string> = {}) =>
    html(c, <NoticePage prefix={p} title={title} text={text} />, status, headers);
  const tooMany = (c: Context, wait: number, what = 'Too many lookups from your address') =>
    notice(c, 429, 'Too many requests', `${what}. Try again in ${wait} s.`, { 'Retry-After': String(wait) });

  /** The form token: the cookie's while it is well formed (several tabs keep working), else a new one. */
  const token = (c: Context): string => {
    let t = getCookie(c, PUBLIC_COOKIE);
    if (!t || !/^[\w-]{43}$/.test(t)) t = randomBytes(32).toString('base64url');
    setCookie(c, PUBLIC_COOKIE, t, { httpOnly: true, sameSite: 'Strict', path: p, secure: isSecure(c, sec), maxAge: 3600 });
    return t;
  };

  /** The page of one key (or of the empty form). */
  const view = (c: Context, input: string, extra: Partial<LookupView> = {}): { v: LookupView; status: Status } => {
    const v: LookupView = { prefix: p, input, openLimit: o.removals.limits.openPerKey, csrf: token(c), messageMax: max, ...extra };
    if (!input.trim()) return { v, status: 200 };
    try {
      const k = parseKey(input, { cidr: false, wildcard: false }, 'key');
      if (k.kind === 'ip4' || k.kind === 'ip6' || k.kind === 'domain') {
        v.verdict = publicVerdict(o.explain(k.key));
        if (v.verdict.listed) v.pending = o.removals.openFor(k.key);
      }
    } catch (e) {
      if (!(e instanceof InputError)) throw e;
      v.error = e.message.replace(/^key /, 'This ');
      return { v, status: 400 };
    }
    return { v, status: 200 };
  };

  app.onError((e, c) => {
    if (e instanceof ApiError) return notice(c, e.status as Status, 'Refused', e.message);
    o.onError?.(e);
    return notice(c, 500, 'Something went wrong', 'The lookup failed on our side. Please try again later.');
  });

  app.get('/style.css', (c) => c.body(CSS, 200, { 'Content-Type': 'text/css; charset=utf-8', 'Cache-Control': 'public, max-age=3600', 'X-Content-Type-Options': 'nosniff' }));
  app.get('/', (c) => c.redirect(`${p}/lookup`, 302));

  app.get('/lookup', (c) => {
    const input = (c.req.query('key') ?? '').slice(0, 400);
    if (input.trim()) {
      const wait = limiter.take(clientAddress(c, sec));
      if (wait > 0) return tooMany(c, wait);
    }
    const received = Number(c.req.query('received'));
    const { v, status } = view(c, input);
    // "received" only when that request exists for this key (a crafted link confirms nothing)
    if (Number.isSafeInteger(received) && received > 0 && v.verdict && o.removals.get(received)?.key === v.verdict.key) v.received = received;
    return html(c, <LookupPage {...v} />, status);
  });

  // A message of `max` characters, URL-encoded (up to 9 bytes each), and the other fields.
  const bodyMax = 4096 + 9 * max;
  app.use('/request', bodyLimit({ maxSize: bodyMax, onError: (c) => notice(c, 413, 'Too large', `The form is larger than ${bodyMax} bytes; the message may have at most ${max} characters.`) }));

  app.post('/request', async (c) => {
    const cross = crossSite(c, sec);
    if (cross) return notice(c, 403, 'Refused', `${cross}.`);
    const client = clientAddress(c, sec);
    const wait = limiter.take(client);
    if (wait > 0) return tooMany(c, wait);
    if (!/^application\/x-www-form-urlencoded|^multipart\/form-data/i.test(c.req.header('content-type') ?? '')) {
      return notice(c, 400, 'Refused', 'Send the form from the lookup page.');
    }
    const f = await c.req.parseBody();
    const str = (v: unknown, n: number) => (typeof v === 'string' ? v.slice(0, n) : '');
    const key = str(f.key, 400);
    const form: RequestForm = { contact: str(f.contact, 300), message: str(f.message, max + 1000) };
    const again = (status: Status, formError: string, headers: Record<string, string> = {}) => {
      const { v } = view(c, key, { formError, form });
      return html(c, <LookupPage {...v} />, v.error ? 400 : status, headers);
    };
    if (!sameToken(str(f[CSRF_FIELD], 100), getCookie(c, PUBLIC_COOKIE))) return again(403, 'The form had expired. Please send it again.');
    let canonical: string;
    try {
      canonical = parseKey(key, { cidr: false, wildcard: false }, 'key').key;
    } catch (e) {
      if (!(e instanceof InputError)) throw e;
      return again(400, e.message);
    }
    if (!publicVerdict(o.explain(canonical)).listed) return again(409, `${canonical} is not listed: there is nothing to remove.`);
    if (o.canWrite && !o.canWrite()) return again(503, 'Requests cannot be taken right now. Please try again later.', { 'Retry-After': '300' });
    let id: number;
    try {
      id = o.removals.file({ key: canonical, contact: form.contact, message: form.message, client }).id;
    } catch (e) {
      if (e instanceof InputError) {
        const what = e.field === 'contact' ? 'Your e-mail address' : e.field === 'message' ? 'The message' : 'The key';
        return again(400, `${what}: ${e.message.replace(/^(contact|message|key) /, '')}`);
      }
      if (e instanceof RemovalRefused && e.status === 429) return again(429, `Too many removal requests. Try again in ${e.retryAfter} s.`, { 'Retry-After': String(e.retryAfter) });
      if (e instanceof RemovalRefused) return again(409, e.message[0]!.toUpperCase() + e.message.slice(1) + '.');
      // the state disk failed the write (full, read-only, I/O): nothing stored, the sender may retry
      if (diskErrorOf(e)) {
        o.onError?.(e);
        return again(503, 'Requests cannot be taken right now. Please try again later.', { 'Retry-After': '300' });
      }
      throw e;
    }
    return c.redirect(`${p}/lookup?key=${encodeURIComponent(canonical)}&received=${id}`, 303);
  });

  return app;
}

/** The app of the public listener: the public pages under the prefix, `/` to the lookup, and a
 *  404 page for everything else (no API, console, metrics or health endpoints here). */
export function publicApp(o: PublicOptions): Hono<Env> {
  const app = new Hono<Env>();
  app.notFound((c) => c.html(<NoticePage prefix={o.prefix} title="Not found" text="There is no such page here." />, 404, PAGE_HEADERS));
  app.onError((e, c) => {
    o.onError?.(e);
    return c.html(<NoticePage prefix={o.prefix} title="Something went wrong" text="Please try again later." />, 500, PAGE_HEADERS);
  });
  app.get('/', (c) => c.redirect(`${o.prefix}/lookup`, 302));
  app.route(o.prefix, publicRoutes(o));
  return app;
}
