// The public lookup page and the removal request workflow in a real browser against a real
// `bin/quorumbl serve` (a plain file source lists two IPs; web.public on its own listener;
// policy.lookup_url pointing at it). The TXT answer's link leads a sender to the page; they see
// "listed" and the public category only (not the source's name), file a removal request whose
// message carries an XSS payload, and get no session cookie. An operator sees the request in the
// console's queue (the payload as text), approves it: `dig` stops listing the IP; rejects the
// other: its listing stays. Both decisions are audited. A viewer sees the queue without forms.
// Screenshots at desktop and phone width: the public page (form, listed, received) and the queue.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { dig, freePort, ip4Labels, poll, stopAll, toolsOrSkip, type Proc } from '../../integration/helpers.ts';
import { BASE, startConsoleServe } from './console-serve.ts';
import { browserOrSkip, launch, screenshots, signIn } from './browser.ts';

const skip = toolsOrSkip(['dig']) || browserOrSkip();
const PASSWORD = 'correct horse battery staple';
const OPER_PASSWORD = 'operator password 12345';
const LISTED = '45.33.12.34';
const LISTED2 = '45.33.12.35';
const XSS = 'We fixed our relay. <img src=x onerror=alert(1)> <script>alert(2)</script>';
let serve: Proc | undefined;
after(() => stopAll(serve));

test('public page: a sender files a removal request; the operator approves it (dig changes) or rejects one (DNS unchanged)', { skip }, async () => {
  const pubPort = await freePort();
  const pub = `http://127.0.0.1:${pubPort}`;
  const { dns, base, api, bl, serve: proc } = await startConsoleServe({
    listed: [LISTED, LISTED2],
    password: PASSWORD,
    policy: `threshold: 1, consensus: 2, lookup_url: "${pub}/public/lookup?key=$"`,
    publicPort: pubPort,
  });
  serve = proc;
  const listed = async (ip: string) => (await bl(ip)).answer.map((a) => a.data).join(' ');
  assert.equal(await listed(LISTED), '127.0.0.2');
  assert.equal(await listed(LISTED2), '127.0.0.2');
  assert.equal((await api('POST', '/api/v1/users', { name: 'oper', role: 'operator', password: OPER_PASSWORD })).status, 201);
  assert.equal((await api('POST', '/api/v1/users', { name: 'helpdesk', role: 'viewer', password: OPER_PASSWORD })).status, 201);

  // The TXT an MTA puts in its reject message links to the public page.
  const txt = (await dig('127.0.0.1', dns, [`${ip4Labels(LISTED)}.bl.${BASE}`, 'TXT'])).answer.map((a) => a.data).join(' ');
  const link = `${pub}/public/lookup?key=${LISTED}`;
  assert.ok(txt.includes(link), txt);

  const ctx = await launch();
  try {
    const page = ctx.pages()[0] ?? (await ctx.newPage());
    const dialogs: string[] = [];
    page.on('dialog', (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });

    // --- the sender, following the link (no sign-in) ---
    await page.goto(`${pub}/public/lookup`);
    await screenshots(page, 'public-lookup-form');
    await page.goto(link);
    assert.match((await page.locator('#verdict').textContent()) ?? '', new RegExp(`${LISTED.replace(/\./g, '\\.')} is listed`));
    assert.match((await page.locator('#reasons').textContent()) ?? '', /Listed by a public blocklist/);
    const shown = (await page.locator('main').textContent()) ?? '';
    assert.doesNotMatch(shown, /spamlist|127\.0\.0\.2|threshold|weight/, 'nothing internal');
    await page.getByLabel(/e-mail address/).fill('postmaster@sender.example');
    await page.getByLabel(/Message/).fill(XSS);
    await screenshots(page, 'public-lookup-listed');
    await Promise.all([page.waitForURL((u) => u.searchParams.has('received')), page.getByRole('button', { name: `Request removal of ${LISTED}` }).click()]);
    assert.match((await page.locator('#received').textContent()) ?? '', /Your removal request #\d+ for 45\.33\.12\.34 was received/);
    await screenshots(page, 'public-request-received');
    // A second request, for the other IP, typed into the form.
    await page.goto(`${pub}/public/lookup`);
    await page.getByLabel(/IP address or domain/).fill(LISTED2);
    await Promise.all([page.waitForURL((u) => u.searchParams.get('key') === LISTED2), page.getByRole('button', { name: 'Look up' }).click()]);
    await page.getByLabel(/e-mail address/).fill('abuse@other.example');
    await page.getByLabel(/Message/).fill('Please remove us too.');
    await Promise.all([page.waitForURL((u) => u.searchParams.has('received')), page.getByRole('button', { name: `Request removal of ${LISTED2}` }).click()]);
    assert.deepEqual((await ctx.cookies()).map((c) => c.name), ['qbl_public'], 'no session cookie, only the form token');
    // The public listener has nothing else.
    for (const path of ['/login', '/api/v1/overrides', '/metrics', '/requests']) assert.equal((await page.goto(pub + path))?.status(), 404, path);

    // --- the operator in the console ---
    await signIn(page, base, 'oper', OPER_PASSWORD);
    assert.match((await page.locator('main').textContent()) ?? '', /2 removal requests waiting/, 'the dashboard alert');
    await page.getByRole('link', { name: 'Requests' }).click();
    await page.waitForURL((u) => u.pathname === '/requests');
    const cards = page.locator('article.request');
    assert.equal(await cards.count(), 2);
    const first = page.locator('article.request', { has: page.locator(`a.key:text-is("${LISTED}")`) });
    assert.equal(await first.locator('p.message').textContent(), XSS, 'the message is shown as text');
    assert.equal(await page.locator('main img').count(), 0, 'no element was injected');
    assert.equal(await page.locator('main script').count(), 0);
    assert.match((await first.textContent()) ?? '', /postmaster@sender\.example/);
    assert.match((await first.textContent()) ?? '', /listed in bl: by a public blocklist/);
    assert.equal(await first.locator(`a[href="/lookup?key=${LISTED}"]`).count(), 1, 'a link to the full trace');
    await screenshots(page, 'requests-queue');

    // Reject the second: a note is required (the browser's own check, then ours).
    const second = page.locator('article.request', { has: page.locator(`a.key:text-is("${LISTED2}")`) });
    await second.getByLabel(/Why reject/).fill('still in our spam traps');
    await Promise.all([page.waitForURL((u) => u.searchParams.get('done') === 'rejected'), second.getByRole('button', { name: 'Reject' }).click()]);
    assert.match((await page.getByRole('status').textContent()) ?? '', /rejected: the listing of 45\.33\.12\.35 stays/);
    // Approve the first, no expiry.
    const firstAgain = page.locator('article.request', { has: page.locator(`a.key:text-is("${LISTED}")`) });
    await firstAgain.getByLabel(/Note/).fill('relay fixed, ticket 77');
    await firstAgain.getByLabel('never').check();
    await Promise.all([page.waitForURL((u) => u.searchParams.get('done') === 'approved'), firstAgain.getByRole('button', { name: `Approve: allow ${LISTED}` }).click()]);
    assert.match((await page.getByRole('status').textContent()) ?? '', /approved: 45\.33\.12\.34 is allowed \(override #\d+\)/);

    await poll(async () => ((await bl(LISTED)).status === 'NXDOMAIN' ? true : undefined), `${LISTED} leaves bl after the approval`);
    assert.equal(await listed(LISTED2), '127.0.0.2', 'the rejected one is still listed');
    assert.match((await page.locator('article.request', { has: page.locator(`a.key:text-is("${LISTED}")`) }).textContent()) ?? '', /not listed in bl/);
    await screenshots(page, 'requests-decided');
    // The sender sees it too.
    await page.goto(link);
    assert.match((await page.locator('#verdict').textContent()) ?? '', /is not listed/);

    // Audited, with the user as actor; the override names the request.
    const approved = (await api('GET', `/api/v1/audit?target=${LISTED}`)).json.entries;
    const row = approved.find((e: any) => e.action === 'removal.approve');
    assert.equal(row?.actor, 'user:oper', JSON.stringify(approved));
    const o = (await api('GET', `/api/v1/overrides/${row.after.overrideId}`)).json.override;
    assert.equal(o.action, 'allow');
    assert.match(o.reason, /^removal request #\d+: relay fixed, ticket 77$/);
    assert.equal(o.expires, null);
    const rejected = (await api('GET', `/api/v1/audit?target=${LISTED2}`)).json.entries;
    assert.deepEqual(rejected.map((e: any) => [e.action, e.actor, e.after.note]), [['removal.reject', 'user:oper', 'still in our spam traps']]);

    // A viewer reads the queue, without forms.
    await page.goto(`${base}/requests`);
    await page.getByRole('button', { name: /log out/i }).click();
    await page.waitForURL((u) => u.pathname.startsWith('/login'));
    await signIn(page, base, 'helpdesk', OPER_PASSWORD);
    await page.goto(`${base}/requests`);
    assert.equal(await page.locator('article.request').count(), 2);
    assert.equal(await page.locator('form[action^="/requests/"]').count(), 0);
    assert.deepEqual(dialogs, [], 'no script ran');
  } finally {
    await ctx.close();
  }
});
