// Shared by the console auth tests: the real app over real HTTP on loopback (port 0), a real
// SQLite file, a settable clock; sign-in through the real form.

import { after } from 'node:test';
import assert from 'node:assert/strict';
import { createApp } from '../../../web/app.ts';
import type { ConsoleOptions } from '../../../web/console/context.ts';
import { startWeb, type WebServer } from '../../../web/server.ts';
import { LocalStore } from '../../../sync/local/store.ts';
import { Users } from '../../../sync/local/users.ts';
import { Clock, tmpDb } from '../../sync/local/helpers.ts';

export const PW = { admin: 'admin-password-1', operator: 'operator-password-1', viewer: 'viewer-password-1' };

const servers: WebServer[] = [];
after(async () => {
  for (const s of servers) await s.close();
});

export interface Fixture {
  base: string;
  host: string;
  store: LocalStore;
  users: Users;
  clock: Clock;
  failures: { user: string; client: string; throttled: boolean; suppressed: number }[];
  adminToken: string;
}

export async function setup(opts: Partial<ConsoleOptions> & { roles?: boolean } = {}): Promise<Fixture> {
  const { db } = tmpDb();
  const clock = new Clock(Date.now());
  const store = new LocalStore(db, { reputation: { half_life: 7 * 86400, cap: 10 }, now: clock.now });
  const users = new Users(db, clock.now);
  await users.create('admin', 'admin', PW.admin, 'test');
  if (opts.roles !== false) {
    await users.create('olga', 'operator', PW.operator, 'test');
    await users.create('vic', 'viewer', PW.viewer, 'test');
  }
  const failures: Fixture['failures'] = [];
  const app = createApp({ store, console: { now: clock.now, logFailure: (f) => failures.push(f), ...opts } });
  const server = await startWeb({ app, listen: { address: '127.0.0.1', port: 0 } });
  servers.push(server);
  const host = `127.0.0.1:${server.port}`;
  return { base: `http://${host}`, host, store, users, clock, failures, adminToken: store.tokens.create('root', 'admin', 'test').token };
}

/** The value of one cookie from a response's Set-Cookie headers (undefined when not set). */
export function cookieOf(res: Response, name: string): string | undefined {
  for (const c of res.headers.getSetCookie()) {
    const m = new RegExp(`^${name}=([^;]*)`).exec(c);
    if (m) return m[1];
  }
  return undefined;
}

export function setCookieLine(res: Response, name: string): string | undefined {
  return res.headers.getSetCookie().find((c) => c.startsWith(`${name}=`));
}

/** GET /login: the form's token and its cookie. */
export async function loginForm(f: Fixture, headers: Record<string, string> = {}): Promise<{ csrf: string; cookie: string; html: string }> {
  const res = await fetch(f.base + '/login', { headers, redirect: 'manual' });
  assert.equal(res.status, 200);
  const html = await res.text();
  const csrf = /name="_csrf" value="([^"]+)"/.exec(html)?.[1];
  const cookie = cookieOf(res, 'qbl_login');
  assert.ok(csrf && cookie, 'login form token and cookie');
  return { csrf, cookie, html };
}

export async function postLogin(f: Fixture, name: string, password: string, opts: { headers?: Record<string, string>; csrf?: string } = {}): Promise<Response> {
  const form = await loginForm(f, opts.headers);
  return fetch(f.base + '/login', {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: `qbl_login=${form.cookie}`, origin: f.base, 'sec-fetch-site': 'same-origin', ...opts.headers },
    body: new URLSearchParams({ _csrf: opts.csrf ?? form.csrf, name, password }).toString(),
  });
}

export interface Session {
  cookie: string;
  csrf: string;
}

/** Signs in through the form; returns the session cookie and the CSRF token from the home page. */
export async function login(f: Fixture, name: string, password: string): Promise<Session> {
  const res = await postLogin(f, name, password);
  assert.equal(res.status, 303, await res.text());
  const id = cookieOf(res, 'qbl_session');
  assert.ok(id);
  const home = await fetch(f.base + '/', { headers: { cookie: `qbl_session=${id}` }, redirect: 'manual' });
  assert.equal(home.status, 200);
  const csrf = /<meta name="csrf-token" content="([^"]+)"/.exec(await home.text())?.[1];
  assert.ok(csrf);
  return { cookie: `qbl_session=${id}`, csrf };
}

/** A JSON API call with a session (same-origin, with its CSRF token unless told otherwise). */
export async function api(f: Fixture, method: string, path: string, opts: { session?: Session; token?: string; body?: unknown; csrf?: string | null; headers?: Record<string, string> } = {}) {
  const headers: Record<string, string> = {};
  if (opts.session) {
    headers.cookie = opts.session.cookie;
    headers.origin = f.base;
    headers['sec-fetch-site'] = 'same-origin';
    if (opts.csrf !== null) headers['x-csrf-token'] = opts.csrf ?? opts.session.csrf;
  }
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  if (opts.body !== undefined) headers['content-type'] = 'application/json';
  Object.assign(headers, opts.headers);
  const res = await fetch(f.base + path, { method, headers, body: opts.body === undefined ? undefined : JSON.stringify(opts.body) });
  const text = await res.text();
  return { status: res.status, json: (text ? JSON.parse(text) : {}) as Record<string, any>, headers: res.headers };
}
