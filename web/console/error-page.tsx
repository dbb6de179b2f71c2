// Errors on console paths as a page, not the API's JSON: a form post that fails (the state disk
// full or read-only: 503; a form too large: 413; a bug: 500; an expired session or CSRF token:
// 401/403) shows, in the console's layout, what happened and what to do, with the original
// status and Retry-After. `consoleErrorPages` wraps the console's routes: any error answer that
// is not already HTML (an ApiError through app.onError, a body limit's JSON or text) becomes
// this page. /api/*, /metrics and the health probes are left alone (machines read those).

import type { MiddlewareHandler } from 'hono';
import type { Env } from '../http.ts';
import { Layout, type Viewer } from './layout.tsx';
import { PAGE_HEADERS } from './routes.tsx';

/** Paths whose errors stay as they are (JSON or text for programs). */
export const MACHINE_PATH = /^\/(api\/|metrics$|healthz$|livez$|readyz$)/;

interface Explained {
  title: string;
  todo: string;
}

function explain(status: number, message: string, retryAfter: string | null): Explained {
  const later = retryAfter && /^\d+$/.test(retryAfter) ? ` (in ${retryAfter} s at the earliest)` : '';
  switch (status) {
    case 503:
      return {
        title: 'The change was not saved',
        todo: 'Nothing was changed. The server keeps answering DNS from memory and these pages keep showing, but it cannot store changes until the state disk has room again or is writable again. ' +
          `Free space on the state disk (the server log and /readyz name it), then go back and send the form again${later}.`,
      };
    case 413:
      return {
        title: 'The form is too large',
        todo: 'Nothing was changed. Shorten the text (a reason is at most 500 characters) or split the CSV file, then go back and send it again.',
      };
    case 401:
      return { title: 'Not signed in', todo: 'Your session has ended (signed out, expired, or the account was changed). Sign in again, then repeat the change.' };
    case 403:
      return /CSRF|cross-site|cross-origin/i.test(message)
        ? { title: 'The form could not be accepted', todo: 'Nothing was changed. The form had expired or did not come from this console. Go back, reload the page and send it again.' }
        : { title: 'Not allowed', todo: 'Nothing was changed. Your role does not allow this: ask an admin.' };
    case 404:
      return { title: 'Not found', todo: 'Check the address, or start again from the dashboard.' };
    case 429:
      return { title: 'Too many requests', todo: `Wait a little, then try again${later}.` };
    default:
      return status >= 500
        ? { title: 'Something went wrong', todo: 'This is a fault in the server, not in what you entered; the details are in the server log. Go back and try again; if it happens again, tell the admin.' }
        : { title: 'The request was refused', todo: 'Nothing was changed. Go back, correct the form and send it again.' };
  }
}

export function ErrorPage(props: { status: number; message: string; retryAfter: string | null; user?: Viewer; back: string }) {
  const x = explain(props.status, props.message, props.retryAfter);
  const message = props.message ? props.message[0]!.toUpperCase() + props.message.slice(1) : x.title;
  return (
    <Layout title={x.title} user={props.user} narrow>
      <h1>{x.title}</h1>
      <p class="error" role="alert">{message}{/[.!?]$/.test(message) ? '' : '.'}</p>
      <p>{x.todo}</p>
      <p class="buttons">
        {props.status === 401 ? <a href="/login">Sign in</a> : <a href={props.back}>Go back</a>}
        <a href="/">Dashboard</a>
      </p>
      <p class="muted small">HTTP {props.status}</p>
    </Layout>
  );
}

/** Where "Go back" leads: the page the form was on (same-origin Referer), else the dashboard. */
function backOf(referer: string | undefined, host: string | undefined): string {
  if (!referer || !host) return '/';
  try {
    const u = new URL(referer);
    return u.host === host ? u.pathname + u.search : '/';
  } catch {
    return '/';
  }
}

/** Turns a console path's non-HTML error answer into the error page (same status, Retry-After,
 *  WWW-Authenticate and cookies kept). */
export function consoleErrorPages(): MiddlewareHandler<Env> {
  return async (c, next) => {
    await next();
    const res = c.res;
    if (res.status < 400 || MACHINE_PATH.test(c.req.path)) return;
    const type = res.headers.get('content-type') ?? '';
    if (/^text\/html/i.test(type) || c.req.method === 'HEAD') return;
    let message = '';
    try {
      const text = await res.clone().text();
      message = /json/i.test(type) ? String((JSON.parse(text) as { error?: unknown }).error ?? '') : text;
    } catch {
      /* no readable body: the status says it */
    }
    const s = c.get('session');
    const user = s ? { name: s.user.name, role: s.user.role, csrf: s.csrf } : undefined;
    const retryAfter = res.headers.get('retry-after');
    const page = await c.html(<ErrorPage status={res.status} message={message.slice(0, 500)} retryAfter={retryAfter} user={user} back={backOf(c.req.header('referer'), c.req.header('host'))} />);
    const headers = new Headers(PAGE_HEADERS);
    headers.set('content-type', 'text/html; charset=UTF-8');
    for (const h of ['retry-after', 'www-authenticate']) {
      const v = res.headers.get(h);
      if (v !== null) headers.set(h, v);
    }
    for (const cookie of res.headers.getSetCookie()) headers.append('set-cookie', cookie);
    c.res = undefined;
    c.res = new Response(page.body, { status: res.status, headers });
  };
}
