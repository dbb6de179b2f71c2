// XSS in the browser: hostile text from every outside party a console page shows, against a real
// `bin/quorumbl serve`, in chromium with the pages' CSP turned off (bypassCSP), so that escaping
// alone must keep it inert; a canary at the end proves the detector fires when markup does get in.
// Payloads `<img src=x onerror=window.__xss=1>` and `<script>window.__xss=1</script>` in:
//   - an override reason and a reputation report note (API, bearer token),
//   - a source's TXT (an rbldnsd list served over HTTP: `:127.0.0.2:<payload> $`),
//   - a source's last error (the upstream answers HTTP 500 with a hostile reason phrase),
//   - a provider feed's last error (HTTP 503 with a hostile Retry-After header),
//   - a source name: the config refuses it (names become a DNS label), checked with check-config.
// Pages: Dashboard, Lookup traces, Overrides list and detail, Exemptions: `window.__xss` stays
// undefined, no element carries the payload, and the payload is visible as text. `dig TXT` on the
// source's mirror zone returns the TXT bytes as the list gave them. Screenshots of each page.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import type { Page } from 'playwright-core';
import {
  dig, freePort, ip4Labels, makeTmpDir, poll, runQuorumbl, spawnQuorumbl, stopAll, toolsOrSkip, txtStrings, waitForLog, waitReady, writeConfig, type Proc,
} from '../../integration/helpers.ts';
import { browserOrSkip, launch, screenshots, signIn } from './browser.ts';

const skip = toolsOrSkip(['dig']) || browserOrSkip();
const PASSWORD = 'correct horse battery staple';
const BASE = 'dnsbl.test';
const IMG = '<img src=x onerror=window.__xss=1>';
const SCRIPT = '<script>window.__xss=1</script>';
const PAYLOAD = `${IMG}${SCRIPT}`;
const TXT_LISTED = '192.0.2.10'; // listed by the rbldnsd source with the hostile TXT
const DENIED = '192.0.2.20'; // a deny override with the payload as its reason
const REPORTED = '192.0.2.30'; // a spam report with the payload as its note
// The source's TXT template: markup, a double quote and a non-ASCII character (bytes, UTF-8).
const TXT_TEMPLATE = `${SCRIPT} ${IMG} "quoted" café: $`;

let upstream: Server | undefined;
let serve: Proc | undefined;
after(async () => {
  await stopAll(serve);
  upstream?.close();
});

/** Opens a page and checks that nothing ran and nothing was injected, and that each text shows. */
async function inert(page: Page, url: string, texts: string[], shot: string): Promise<void> {
  const r = await page.goto(url);
  assert.equal(r?.status(), 200, `${url}: ${r?.status()}`);
  const state = await page.evaluate(() => ({
    xss: (window as unknown as { __xss?: unknown }).__xss,
    injected: document.querySelectorAll('img, [onerror], body script').length,
  }));
  assert.deepEqual(state, { xss: undefined, injected: 0 }, `${url}: no script ran, no element injected`);
  const shown = await page.locator('body').innerText();
  for (const t of texts) assert.ok(shown.includes(t), `${url} shows ${JSON.stringify(t)} as text:\n${shown.slice(0, 3000)}`);
  await screenshots(page, shot);
}

test('XSS payloads from reasons, notes, list TXT and upstream errors render as text on every page; dig TXT keeps the bytes', { skip, timeout: 300_000 }, async () => {
  upstream = createServer((req, res) => {
    if (req.url === '/rbl.txt') {
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' }).end(`# an rbldnsd ip4set with a hostile TXT\n:127.0.0.2:${TXT_TEMPLATE}\n${TXT_LISTED}\n`);
    } else if (req.url === '/broken.txt') {
      res.writeHead(500, PAYLOAD, { 'content-type': 'text/html' }).end(`<html><body>${PAYLOAD}</body></html>`);
    } else if (req.url === '/feed.json') {
      res.writeHead(503, { 'content-type': 'text/html', 'retry-after': IMG }).end(PAYLOAD);
    } else res.writeHead(404).end();
  });
  upstream.listen(0, '127.0.0.1');
  await once(upstream, 'listening');
  const up = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
  const dir = makeTmpDir('quorumbl-xss-');
  const [dns, webPort] = [await freePort(), await freePort()];
  const web = `http://127.0.0.1:${webPort}`;

  // A source name with markup: refused by the config (it becomes a DNS label), with the reason.
  const odd = writeConfig(dir, ['sources:', `  - { name: "${IMG}", kind: ip, fetch: "${up}/rbl.txt", format: plain }`, ''].join('\n'), 'odd.yaml');
  const oc = await runQuorumbl(['check-config', odd]);
  assert.notEqual(oc.code, 0, oc.output);
  assert.match(oc.output, /source names are lowercase letters, digits and dashes/);

  const cfg = writeConfig(dir, [
    `base: ${BASE}`,
    `state_dir: ${dir}/state`,
    `server: { listen: ["127.0.0.1:${dns}"] }`,
    `web: { enabled: true, listen: "127.0.0.1:${webPort}" }`,
    // provider feeds are fetched by serve only with sync on; every upstream here is on loopback
    'sync: { enabled: true }',
    'policy: { threshold: 1 }',
    'sources:',
    `  - { name: rbl, kind: ip, fetch: "${up}/rbl.txt", format: rbldnsd, rbldnsd_type: ip4set, schedule: "0 0 1 1 *", min_interval: 1w, retries: 0 }`,
    `  - { name: broken, kind: ip, fetch: "${up}/broken.txt", format: plain, schedule: "0 0 1 1 *", min_interval: 1w, retries: 0 }`,
    'providers:',
    `  - { provider: partner, type: json, url: "${up}/feed.json", paths: ["prefixes[].ip_prefix"], interval: 1d }`,
    '',
  ].join('\n'));
  const s = await runQuorumbl(['sync', '--config', cfg], { timeoutMs: 60000 });
  assert.equal(s.code, 1, `broken fails, rbl syncs: ${s.output}`);
  const t = await runQuorumbl(['token', 'create', '--name', 'it', '--scope', 'admin', '--config', cfg]);
  assert.equal(t.code, 0, t.output);
  const token = t.stdout.trim();
  serve = spawnQuorumbl(['serve', '--config', cfg], { env: { QUORUMBL_ADMIN_PASSWORD: PASSWORD, QUORUMBL_SYNC__ENABLED: 'true' } });
  await waitReady(serve, '127.0.0.1', dns, `bl.${BASE}`);
  await waitForLog(serve, 0, (r) => r.msg === 'merged zones served', 'first merge', 60000);
  const api = async (method: string, path: string, body?: unknown) => {
    const r = await fetch(web + path, { method, headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) }, body: body ? JSON.stringify(body) : undefined });
    return { status: r.status, json: (await r.json()) as any };
  };

  // dig TXT on the source's mirror: the list's TXT, byte for byte, `$` expanded.
  const mirror = await dig('127.0.0.1', dns, [`${ip4Labels(TXT_LISTED)}.rbl.mirror.${BASE}`, 'TXT']);
  assert.equal(mirror.status, 'NOERROR', mirror.raw);
  const txt = TXT_TEMPLATE.replace('$', TXT_LISTED);
  assert.deepEqual(mirror.answer.filter((a) => a.type === 'TXT').map((a) => txtStrings(a.data).join('')), [Buffer.from(txt, 'utf8').toString('latin1')], mirror.raw);
  // bl lists it too (the merged TXT names the source, not the list's text)
  const merged = await dig('127.0.0.1', dns, [`${ip4Labels(TXT_LISTED)}.bl.${BASE}`, 'TXT']);
  assert.deepEqual(merged.answer.map((a) => txtStrings(a.data).join('')), [`Listed by ${BASE} (sources: rbl)`], merged.raw);

  // People's text through the API: an override reason and a report note.
  const o = await api('POST', '/api/v1/overrides', { action: 'deny', key: DENIED, reason: PAYLOAD });
  assert.equal(o.status, 201, JSON.stringify(o.json));
  const overrideId = o.json.override?.id ?? o.json.id;
  assert.ok(Number(overrideId) > 0, JSON.stringify(o.json));
  const rep = await api('POST', '/api/v1/reports', { key: REPORTED, kind: 'spam', note: PAYLOAD });
  assert.equal(rep.status, 201, JSON.stringify(rep.json));
  // The upstream errors are recorded: the source's (sync CLI) and the provider feed's (serve).
  const feedError = await poll(async () => {
    const p = await api('GET', '/api/v1/providers');
    const f = JSON.stringify(p.json);
    return f.includes(IMG) ? f : undefined;
  }, 'the provider feed\'s last error', { timeoutMs: 30000 });
  assert.ok(feedError.includes('HTTP 503'), feedError);

  const ctx = await launch({ bypassCSP: true });
  try {
    const page = ctx.pages()[0] ?? (await ctx.newPage());
    await signIn(page, web, 'admin', PASSWORD);
    // Dashboard: the failing source's alert quotes the upstream's reason phrase.
    await inert(page, `${web}/`, [`HTTP 500 ${PAYLOAD}`, `Retry-After: ${IMG}`], 'xss-dashboard');
    // Lookup traces: the source listing it, the override reason, the report note.
    await inert(page, `${web}/lookup?key=${TXT_LISTED}`, ['rbl', `Listed by ${BASE} (sources: rbl)`], 'xss-lookup-source');
    await inert(page, `${web}/lookup?key=${DENIED}`, [`“${PAYLOAD}”`], 'xss-lookup-override');
    await inert(page, `${web}/lookup?key=${REPORTED}`, [PAYLOAD], 'xss-lookup-report');
    // Overrides: the list and the override's own page.
    await inert(page, `${web}/overrides`, [PAYLOAD], 'xss-overrides');
    await inert(page, `${web}/overrides/${overrideId}`, [PAYLOAD], 'xss-override');
    // Exemptions: the provider feed's last check error quotes the hostile header.
    await inert(page, `${web}/exemptions`, [`partner/`, `HTTP 503 (Retry-After: ${IMG})`], 'xss-exemptions');

    // The canary: the same payload inserted as markup does run here (CSP is off), so the checks
    // above would have caught an unescaped payload.
    await page.evaluate((html) => document.body.insertAdjacentHTML('beforeend', html), IMG);
    await poll(async () => ((await page.evaluate(() => (window as unknown as { __xss?: unknown }).__xss)) === 1 ? true : undefined), 'the canary payload runs', { timeoutMs: 5000 });
  } finally {
    await ctx.close();
  }
});
