// The Content-Security-Policy of every console page (every GET route the app registers outside
// /api, the sign-in page, an error page): nothing from elsewhere, no inline script, no framing.
// Today no page runs a script, so the policy is `default-src 'none'` with styles, images and
// form posts from the console itself; a page that adds a script calling /api/v1 may have
// `script-src 'self'` and `connect-src 'self'`, exactly those and only together with a
// same-origin <script src>.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { api, login, PW } from '../auth/helpers.ts';
import { fullApp, routesOf } from '../full-app.ts';
import { MACHINE_PATH } from '../../../web/console/error-page.tsx';

const TODAY = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";
/** What each directive may say. */
const ALLOWED: Record<string, string> = {
  'default-src': "'none'",
  'style-src': "'self'",
  'img-src': "'self'",
  'form-action': "'self'",
  'frame-ancestors': "'none'",
  'base-uri': "'none'",
  'script-src': "'self'",
  'connect-src': "'self'",
};

function directives(csp: string): Map<string, string> {
  return new Map(csp.split(';').map((d) => d.trim()).filter(Boolean).map((d) => {
    const [name, ...values] = d.split(/\s+/);
    return [name!.toLowerCase(), values.join(' ')];
  }));
}

test('every console page: a CSP allowing nothing from elsewhere, no inline script, no framing; script and connect only to the console itself', async () => {
  const f = await fullApp();
  const s = await login(f, 'admin', PW.admin);
  const o = await api(f, 'POST', '/api/v1/overrides', { token: f.tokens.admin, body: { action: 'deny', key: '192.0.2.77', reason: 'csp' } });
  const pages = routesOf(f.app)
    .filter((r) => r.method === 'GET' && !MACHINE_PATH.test(r.path) && !r.path.startsWith('/api') && !/\.(css|csv)$/.test(r.path))
    .map((r) => r.path.replace(/:id\b/, String(o.json.override.id)).replace(/:\w+/g, 'x'));
  pages.push('/lookup?key=192.0.2.77', '/no-such-page');
  assert.ok(pages.length >= 6, pages.join(' '));
  let checked = 0;
  for (const path of pages) {
    const res = await fetch(f.base + path, { headers: path === '/login' ? {} : { cookie: s.cookie }, redirect: 'manual' });
    if (res.status >= 300 && res.status < 400) continue; // a redirect (e.g. /login when signed in) has no page
    const html = await res.text();
    assert.match(res.headers.get('content-type') ?? '', /^text\/html/, `${path} is a page`);
    const csp = res.headers.get('content-security-policy');
    assert.ok(csp, `${path}: a CSP`);
    const d = directives(csp);
    for (const [name, value] of d) assert.equal(value, ALLOWED[name], `${path}: ${name} ${value}`);
    for (const need of ['default-src', 'frame-ancestors', 'base-uri', 'form-action']) assert.ok(d.has(need), `${path}: ${need}`);
    const scripts = [...html.matchAll(/<script\b([^>]*)>/gi)].map((m) => m[1]!);
    if (scripts.length === 0) {
      assert.equal(d.get('script-src'), undefined, `${path}: no script, no script-src`);
      assert.equal(d.get('connect-src'), undefined, `${path}: no script, no connect-src`);
      assert.equal(csp, TODAY, path);
    } else {
      assert.equal(d.get('script-src'), "'self'", path);
      for (const a of scripts) assert.match(a, /\bsrc="\/[^/]/, `${path}: a script from the console itself, never inline (${a})`);
    }
    assert.doesNotMatch(html, /\son[a-z]+=/i, `${path}: no inline event handlers`);
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff', path);
    checked++;
  }
  assert.ok(checked >= 6, `${checked} pages checked`);
});
