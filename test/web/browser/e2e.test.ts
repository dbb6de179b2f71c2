// The console end to end, as a helpdesk shift uses it, against a real `bin/quorumbl serve` whose
// bl lists an address because a real source (a plain list served over HTTP on loopback, synced
// with `quorumbl sync`) lists it, checked with `dig` against the running server:
//   1. the admin signs in through the sign-in page, looks the address up, reads why (the source
//      and the return code in words), allows it for 1 day with a reason, sees `dig` change from
//      listed to NXDOMAIN, finds the audit row, logs out: /lookup asks to sign in again and the
//      old session cookie is refused by /api/v1.
//   2. a viewer (created by the admin through POST /api/v1/users) sees no form that changes
//      anything on Lookup and Overrides, and every one of those forms replayed with the viewer's
//      own cookie and CSRF token gets 403 and changes nothing (SQLite rows and dig answers).
// Screenshots of each step at desktop and phone width.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { Page } from 'playwright-core';
import {
  dig, freePort, ip4Labels, makeTmpDir, poll, runQuorumbl, spawnQuorumbl, stopAll, toolsOrSkip, waitForLog, waitReady, writeConfig, type Proc,
} from '../../integration/helpers.ts';
import { browserOrSkip, launch, screenshots, signIn } from './browser.ts';

const skip = toolsOrSkip(['dig']) || browserOrSkip();
const PASSWORD = 'correct horse battery staple';
const VIEWER = { name: 'helpdesk', password: 'viewer password 4711' };
const BASE = 'dnsbl.test';
const LISTED = '198.51.100.7'; // allowed by the admin in test 1
const LISTED2 = '198.51.100.20'; // stays listed: the viewer's replayed forms must not change it
const REASON = 'ticket 4711: customer relay, confirmed with their admin';

let upstream: Server;
let serve: Proc | undefined;
let web = '';
let dns = 0;
let dbPath = '';
let allowId = 0;

/**
 * The newest audit entry of `key` as the Audit page shows it (filtered by the key through its
 * form): action, actor, target and the "after" column of its before -> after table, numbers
 * read back from their text (a time shows as "1796... (2026-...)").
 */
async function findAuditRow(page: Page, key: string): Promise<Record<string, any> | undefined> {
  await page.goto(`${web}/audit`);
  await page.fill('input[name="key"]', key);
  await page.getByRole('button', { name: 'Filter' }).click();
  await page.waitForURL((u) => u.pathname === '/audit' && u.searchParams.get('key') === key);
  const first = page.locator('li.audit-entry').first();
  if ((await first.count()) === 0) return undefined;
  await screenshots(page, 'e2e-04b-audit');
  const after: Record<string, unknown> = {};
  for (const tr of await first.locator('table.diff tbody tr').all()) {
    const name = (await tr.locator('th.field').innerText()).replace(/changed$/, '').trim();
    const text = (await tr.locator('td[data-side="after"]').innerText()).trim();
    after[name] = /^-?\d+( \(.*\))?$/.test(text) ? Number(text.split(' ')[0]) : text;
  }
  return {
    action: (await first.locator('.audit-head .tag').innerText()).trim(),
    actor: (await first.locator('.actor').innerText()).trim(),
    target: (await first.locator('.target').innerText()).trim(),
    after,
  };
}

/** bl's answer for an IPv4 address: the A records, [] for NXDOMAIN. */
async function bl(ip: string): Promise<string[]> {
  const r = await dig('127.0.0.1', dns, [`${ip4Labels(ip)}.bl.${BASE}`, 'A']);
  if (r.status === 'NXDOMAIN') return [];
  assert.equal(r.status, 'NOERROR', r.raw);
  return r.answer.filter((a) => a.type === 'A').map((a) => a.data);
}

before(async () => {
  if (skip) return;
  upstream = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' }).end(`# a public spam list\n${LISTED}\n${LISTED2}\n203.0.113.0/28\n`);
  });
  upstream.listen(0, '127.0.0.1');
  await once(upstream, 'listening');
  const dir = makeTmpDir('quorumbl-e2e-');
  dns = await freePort();
  const webPort = await freePort();
  web = `http://127.0.0.1:${webPort}`;
  dbPath = join(dir, 'state', 'quorumbl.sqlite');
  const cfg = writeConfig(dir, [
    `base: ${BASE}`,
    `state_dir: ${dir}/state`,
    `server: { listen: ["127.0.0.1:${dns}"] }`,
    `web: { enabled: true, listen: "127.0.0.1:${webPort}" }`,
    'sync: { enabled: false }',
    'policy: { threshold: 1 }',
    'sources:',
    `  - { name: spamhttp, kind: ip, fetch: "http://127.0.0.1:${(upstream.address() as AddressInfo).port}/list.txt", format: plain, schedule: "0 0 1 1 *", retries: 0, weight: 1 }`,
    'providers: []',
    '',
  ].join('\n'));
  const s = await runQuorumbl(['sync', '--config', cfg], { timeoutMs: 60000 });
  assert.equal(s.code, 0, s.output);
  serve = spawnQuorumbl(['serve', '--config', cfg], { env: { QUORUMBL_ADMIN_PASSWORD: PASSWORD } });
  await waitReady(serve, '127.0.0.1', dns, `bl.${BASE}`);
  await waitForLog(serve, 0, (r) => r.msg === 'merged zones served', 'first merge', 60000);
});

after(async () => {
  await stopAll(serve);
  upstream?.close();
});

test('admin: sign in, look up a listed IP, read why, allow it for 1 day, dig changes, audit row, log out', { skip, timeout: 240_000 }, async () => {
  assert.deepEqual(await bl(LISTED), ['127.0.0.2'], 'listed in bl through the HTTP source before the test');
  const ctx = await launch();
  try {
    const page = ctx.pages()[0] ?? (await ctx.newPage());
    // Sign in through the page: the form, then the console home.
    await page.goto(`${web}/lookup`);
    assert.equal(new URL(page.url()).pathname, '/login', 'not signed in: the sign-in page');
    await screenshots(page, 'e2e-01-login');
    await signIn(page, web, 'admin', PASSWORD);
    assert.match((await page.textContent('body')) ?? '', /Signed in as\s+admin\s+\(admin\)/);

    // Look the address up.
    await page.getByRole('link', { name: 'Lookup' }).click();
    await page.waitForURL((u) => u.pathname === '/lookup');
    await page.getByLabel(/IP address, CIDR or domain/).fill(LISTED);
    await Promise.all([page.waitForURL((u) => u.searchParams.get('key') === LISTED), page.getByRole('button', { name: 'Look up' }).click()]);
    assert.match((await page.locator('#verdict').textContent()) ?? '', /Listed\s+in bl/);

    // Why: the source that lists it, its entry, the return code and what it means in words.
    const answers = page.locator('table.answers tbody tr').first();
    assert.deepEqual((await answers.locator('td').allTextContents()).slice(0, 3), ['bl', '127.0.0.2', 'listed by policy: the weighted sum of the listing sources reached the threshold']);
    const src = page.locator('table.sources tbody tr');
    assert.equal(await src.count(), 1, 'one source lists it');
    assert.equal(await src.locator('td.source-name').textContent(), 'spamhttp');
    assert.equal(await src.locator('td').nth(2).textContent(), LISTED, 'its entry in the source');
    assert.match((await page.locator('main').textContent()) ?? '', /spamhttp 1\.0 = 1\.0 >= threshold 1\.0/, 'the policy arithmetic');
    await screenshots(page, 'e2e-02-lookup-listed');

    // Allow it with a reason, for 1 day.
    await page.getByLabel(/Reason/).fill(REASON);
    await page.getByLabel('1 day').check();
    await screenshots(page, 'e2e-03-allow-form');
    await Promise.all([page.waitForURL((u) => u.searchParams.get('done') === 'allow'), page.getByRole('button', { name: `Allow ${LISTED}` }).click()]);
    const done = (await page.getByRole('status').textContent()) ?? '';
    allowId = Number(/override #(\d+), until /.exec(done)?.[1]);
    assert.ok(allowId > 0, done);

    // The running server stops listing it (bounded wait: the merge runs after the change).
    await poll(async () => ((await bl(LISTED)).length === 0 ? true : undefined), `${LISTED} NXDOMAIN in bl after the allow`, { timeoutMs: 30000 });
    assert.deepEqual(await bl(LISTED2), ['127.0.0.2'], 'the neighbour stays listed');
    await page.reload();
    assert.match((await page.locator('#verdict').textContent()) ?? '', /Not listed\s+in bl/);
    assert.match((await page.locator('#override').textContent()) ?? '', new RegExp(`allow override #${allowId} .*${REASON}.*by admin.*expires `, 's'));
    await screenshots(page, 'e2e-04-lookup-allowed');

    // The audit row of the change: who, what, the reason, and an expiry of one day.
    const row = await findAuditRow(page, LISTED);
    assert.ok(row, 'an audit row for the allow');
    assert.equal(row.action, 'override.add');
    assert.equal(row.actor, 'user:admin');
    assert.equal(row.target, LISTED);
    assert.equal(row.after.id, allowId);
    assert.equal(row.after.action, 'allow');
    assert.equal(row.after.reason, REASON);
    assert.equal(row.after.expires - row.after.created, 86_400_000, 'expires one day after creation');

    // Log out: /lookup asks to sign in again, and the old cookie no longer opens /api/v1.
    const old = (await ctx.cookies(web)).find((c) => c.name === 'qbl_session');
    assert.ok(old, 'a session cookie while signed in');
    const withOld = { cookie: `qbl_session=${old.value}` };
    assert.equal((await fetch(`${web}/api/v1/audit?target=${LISTED}`, { headers: withOld })).status, 200, 'the cookie works before logout');
    await page.getByRole('button', { name: /log out/i }).click();
    await page.waitForURL((u) => u.pathname.startsWith('/login'));
    await screenshots(page, 'e2e-05-logged-out');
    await page.goto(`${web}/lookup?key=${LISTED}`);
    assert.equal(new URL(page.url()).pathname, '/login', '/lookup redirects to the sign-in page');
    const api = await fetch(`${web}/api/v1/audit?target=${LISTED}`, { headers: withOld });
    assert.equal(api.status, 401, 'the old session cookie is refused');
    const lookup = await fetch(`${web}/lookup?key=${LISTED}`, { headers: withOld, redirect: 'manual' });
    assert.ok([302, 303].includes(lookup.status) && /\/login/.test(lookup.headers.get('location') ?? ''), `old cookie on /lookup: ${lookup.status} ${lookup.headers.get('location')}`);
  } finally {
    await ctx.close();
  }
});

test('viewer: no forms that change anything on Lookup and Overrides; replayed POSTs get 403 and change nothing', { skip, timeout: 240_000 }, async () => {
  assert.ok(allowId > 0, 'the first test left an allow override');
  const ctx = await launch();
  try {
    const page = ctx.pages()[0] ?? (await ctx.newPage());
    // The admin creates the viewer through the API (session cookie + CSRF header).
    await signIn(page, web, 'admin', PASSWORD);
    const adminCsrf = (await page.locator('meta[name=csrf-token]').getAttribute('content'))!;
    const mk = await page.request.post(`${web}/api/v1/users`, { headers: { 'x-csrf-token': adminCsrf }, data: { name: VIEWER.name, role: 'viewer', password: VIEWER.password } });
    assert.equal(mk.status(), 201, await mk.text());
    await page.getByRole('button', { name: /log out/i }).click();
    await page.waitForURL((u) => u.pathname.startsWith('/login'));
    await signIn(page, web, VIEWER.name, VIEWER.password);
    assert.match((await page.textContent('body')) ?? '', /Signed in as\s+helpdesk\s+\(viewer\)/);

    // Lookup: the verdict and the trace, no allow/deny or report form, no such buttons.
    await page.goto(`${web}/lookup?key=${LISTED2}`);
    assert.match((await page.locator('#verdict').textContent()) ?? '', /Listed\s+in bl/);
    assert.equal(await page.locator('td.source-name').textContent(), 'spamhttp');
    assert.equal(await page.locator('form[action^="/lookup/"]').count(), 0, 'no allow/deny/report forms');
    assert.equal(await page.getByRole('button', { name: /allow|deny|report/i }).count(), 0);
    assert.equal(await page.locator('main form[method=post]').count(), 0);
    await screenshots(page, 'e2e-06-viewer-lookup');
    // Overrides: the list and one override, no add, import, edit, expire or delete form.
    await page.goto(`${web}/overrides`);
    assert.equal(await page.locator('table.list tbody tr', { hasText: LISTED }).count(), 1, 'the viewer reads the list');
    assert.equal(await page.locator('main form[method=post]').count(), 0, 'no add or import form');
    assert.equal(await page.locator('input[type=file]').count(), 0);
    assert.equal(await page.getByRole('button', { name: /add|import|preview/i }).count(), 0);
    await screenshots(page, 'e2e-07-viewer-overrides');
    await page.goto(`${web}/overrides/${allowId}`);
    assert.equal(await page.locator('main form[method=post]').count(), 0, 'no edit, expire or delete form');
    assert.equal(await page.getByRole('button', { name: /save|expire|delete/i }).count(), 0);
    await screenshots(page, 'e2e-08-viewer-override');

    // Every form replayed with the viewer's own cookie and CSRF token, same origin: 403.
    const db = new Database(dbPath, { readonly: true, fileMustExist: true });
    const snapshot = () => ({
      overrides: db.prepare('SELECT * FROM overrides ORDER BY id').all(),
      events: db.prepare('SELECT count(*) AS n FROM reputation_events').get(),
      audit: db.prepare('SELECT max(id) AS id FROM audit_log').get(),
    });
    try {
      const before = snapshot();
      const csrf = (await page.locator('meta[name=csrf-token]').getAttribute('content'))!;
      const headers = { origin: web };
      const form = (path: string, f: Record<string, string>) => page.request.post(web + path, { form: { _csrf: csrf, ...f }, headers, maxRedirects: 0 });
      const replies: Array<[string, number]> = [];
      for (const [path, f] of [
        ['/lookup/override', { key: LISTED2, action: 'allow', reason: 'viewer try', expires: '1d' }],
        ['/lookup/override', { key: LISTED, action: 'deny', reason: 'viewer try', expires: 'never' }],
        ['/lookup/report', { key: LISTED2, kind: 'false-positive', note: 'viewer try' }],
        ['/overrides', { action: 'allow', key: LISTED2, reason: 'viewer try', expiry: 'never' }],
        [`/overrides/${allowId}`, { reason: 'viewer edit', expiry: 'never' }],
        [`/overrides/${allowId}/expire`, {}],
        [`/overrides/${allowId}/delete`, {}],
        ['/overrides/import/0123456789abcdef', {}],
      ] as const) replies.push([path, (await form(path, f)).status()]);
      const csv = Buffer.from(`action,key,reason\nallow,${LISTED2},viewer import\n`);
      const imp = await page.request.post(`${web}/overrides/import`, { multipart: { _csrf: csrf, file: { name: 'x.csv', mimeType: 'text/csv', buffer: csv } }, headers, maxRedirects: 0 });
      replies.push(['/overrides/import', imp.status()]);
      const viaApi = await page.request.post(`${web}/api/v1/overrides`, { headers: { ...headers, 'x-csrf-token': csrf }, data: { action: 'allow', key: LISTED2, reason: 'viewer via api' } });
      replies.push(['/api/v1/overrides', viaApi.status()]);
      assert.deepEqual(replies.filter(([, s]) => s !== 403), [], `every replayed change is refused: ${JSON.stringify(replies)}`);

      // Nothing changed: the same rows in SQLite, and the same DNS answers.
      assert.deepEqual(snapshot(), before, 'overrides, reputation events and the audit log are unchanged');
      assert.deepEqual(await bl(LISTED2), ['127.0.0.2'], 'still listed');
      assert.deepEqual(await bl(LISTED), [], 'still allowed');
    } finally {
      db.close();
    }
  } finally {
    await ctx.close();
  }
});
