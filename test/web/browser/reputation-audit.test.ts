// The Reputation and Audit pages in a real browser against a real `bin/quorumbl serve`: an
// operator reports a key as spam three times through the form; the confirmations name the
// score (below the bar, then at it), the key shows as listed among the top keys, and `dig`
// against the server answers 127.0.0.4 (bl: local reputation >= policy.reputation.bar). An admin
// filters the audit log by that key and reads the three report rows with the score before and
// after. An XSS payload in the note renders as text on both pages. The operator sees no Audit
// page; a viewer sees no form, and a crafted POST from the viewer is refused (403).
// Screenshots of both pages at desktop and phone width.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { dig, ip4Labels, poll, stopAll, toolsOrSkip, type Proc } from '../../integration/helpers.ts';
import { BASE, startConsoleServe } from './console-serve.ts';
import { browserOrSkip, launch, screenshots, signIn } from './browser.ts';

const skip = toolsOrSkip(['dig']) || browserOrSkip();
const PASSWORD = 'correct horse battery staple';
const OTHER_PASSWORD = 'another password 12345';
const KEY = '203.0.113.77';
const XSS = `relay abuse <img src=x onerror=alert(1)> "><script>alert(2)</script>`;
let serve: Proc | undefined;
after(() => stopAll(serve));

test('reputation: an operator reports a key 3 times until dig lists it; the admin finds the rows in the audit log; XSS escaped; viewer read-only', { skip }, async () => {
  const { dns, base, api, serve: proc } = await startConsoleServe({
    listed: ['45.33.12.34'],
    password: PASSWORD,
    policy: 'threshold: 1, consensus: 2, reputation: { half_life: 7d, cap: 10, bar: 3 }',
  });
  serve = proc;
  for (const [name, role] of [['oper', 'operator'], ['helpdesk', 'viewer']]) {
    const u = await api('POST', '/api/v1/users', { name, role, password: OTHER_PASSWORD });
    assert.equal(u.status, 201, JSON.stringify(u.json));
  }
  const bl = () => dig('127.0.0.1', dns, [`${ip4Labels(KEY)}.bl.${BASE}`, 'A']);
  assert.equal((await bl()).status, 'NXDOMAIN', 'not listed before the reports');

  const ctx = await launch();
  try {
    const page = ctx.pages()[0] ?? (await ctx.newPage());
    const dialogs: string[] = [];
    page.on('dialog', (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
    await signIn(page, base, 'oper', OTHER_PASSWORD);
    assert.equal(await page.getByRole('link', { name: 'Audit' }).count(), 0, 'no Audit entry for an operator');
    await page.getByRole('link', { name: 'Reputation' }).click();
    await page.waitForURL((u) => u.pathname === '/reputation');
    assert.match((await page.locator('#top').textContent()) ?? '', /No key has a positive score/);

    // Three spam reports through the form: below the bar twice, then at it.
    for (let i = 1; i <= 3; i++) {
      const form = page.locator('form[action="/reputation"][method="post"]');
      await form.getByLabel(/Key/).fill(KEY);
      await form.getByLabel('spam', { exact: true }).check();
      await form.getByLabel(/Note/).fill(i === 3 ? XSS : `report ${i}`);
      await Promise.all([page.waitForURL((u) => u.searchParams.has('done')), form.getByRole('button', { name: 'Report' }).click()]);
      const said = (await page.locator('#confirmation').textContent()) ?? '';
      assert.match(said, new RegExp(`Recorded: spam on ${KEY.replace(/\./g, '\\.')} \\(event #\\d+\\)\\. Its score is now ${i}\\.00`), said);
      assert.match(said, i < 3 ? /below the bar 3/ : /at or over the bar 3: bl lists it/, said);
      if (i < 3) assert.equal((await bl()).status, 'NXDOMAIN', `not listed after ${i} report(s)`);
    }
    const row = page.locator('#top tbody tr', { hasText: KEY });
    assert.match((await row.textContent()) ?? '', /3\.00\s*listed\s*3/);
    assert.equal(await row.getByRole('link', { name: KEY }).getAttribute('href'), `/lookup?key=${KEY}`);
    assert.match((await page.locator('#over-bar').textContent()) ?? '', /1 key at or over the bar 3/);
    // The note is shown as text, nothing injected, no script ran.
    assert.equal(await page.locator('#events td.reason', { hasText: XSS }).count(), 1, 'the payload as text');
    assert.equal(await page.locator('main img, main script').count(), 0, 'no element injected');
    await screenshots(page, 'reputation');

    // DNS: bl lists it by local reputation (127.0.0.4).
    const listed = await poll(async () => {
      const a = await bl();
      return a.status === 'NOERROR' && a.answer.length ? a : undefined;
    }, `${KEY} in bl after the third report`);
    assert.deepEqual(listed!.answer.map((a) => a.data), ['127.0.0.4']);

    // A bad key: an inline error, the form keeps what was typed.
    const form = page.locator('form[action="/reputation"][method="post"]');
    await form.getByLabel(/Key/).fill('203.0.113.0/24');
    const [bad] = await Promise.all([page.waitForResponse((r) => r.url().endsWith('/reputation') && r.request().method() === 'POST'), form.getByRole('button', { name: 'Report' }).click()]);
    assert.equal(bad.status(), 400);
    assert.match((await page.locator('#report-error').textContent()) ?? '', /203\.0\.113\.0\/24/);

    // The operator has no audit page.
    const denied = await page.goto(`${base}/audit`);
    assert.equal(denied?.status(), 403);

    // The admin: the audit log filtered by the key (another spelling of it), the three report rows
    // with the score before and after, the note as text.
    await page.getByRole('button', { name: /log out/i }).click();
    await page.waitForURL((u) => u.pathname.startsWith('/login'));
    await signIn(page, base, 'admin', PASSWORD);
    await page.getByRole('link', { name: 'Audit' }).click();
    await page.waitForURL((u) => u.pathname === '/audit');
    await page.getByLabel(/Key or target/).fill(` ${KEY} `);
    await page.getByLabel(/Action/).fill('reputation.');
    await Promise.all([page.waitForURL((u) => u.searchParams.get('action') === 'reputation.'), page.getByRole('button', { name: 'Filter' }).click()]);
    const entries = page.locator('#entries > li');
    assert.equal(await entries.count(), 3);
    for (const [j, want] of [[0, ['2.00', '3.00']], [2, ['0.00', '1.00']]] as const) {
      const e = entries.nth(j);
      assert.match((await e.locator('.audit-head').textContent()) ?? '', new RegExp(`reputation\\.report\\s+user:oper\\s+on ${KEY.replace(/\./g, '\\.')}`));
      const score = e.locator('tr', { has: page.locator('th', { hasText: /^score/ }) });
      assert.equal(await score.getAttribute('class'), 'changed', 'the changed field is marked');
      const [b, a] = await score.locator('td').allTextContents();
      assert.deepEqual([parseFloat(b!).toFixed(2), parseFloat(a!).toFixed(2)], want, `score before ${b}, after ${a}`);
    }
    assert.equal(await entries.nth(0).locator('td.json', { hasText: XSS }).count(), 1, 'the note in the after state, as text');
    assert.equal(await page.locator('main img, main script').count(), 0);
    await screenshots(page, 'audit');

    // The viewer: reads reputation, no report form, no audit; a crafted POST is refused.
    await page.getByRole('button', { name: /log out/i }).click();
    await page.waitForURL((u) => u.pathname.startsWith('/login'));
    await signIn(page, base, 'helpdesk', OTHER_PASSWORD);
    await page.goto(`${base}/reputation`);
    assert.equal(await page.locator('form[method="post"][action="/reputation"]').count(), 0, 'no report form');
    assert.equal(await page.getByRole('button', { name: 'Report' }).count(), 0);
    assert.equal(await page.getByRole('link', { name: 'Audit' }).count(), 0);
    assert.equal(await page.locator('#top tbody tr', { hasText: KEY }).count(), 1, 'reads the top keys');
    const csrf = (await page.locator('meta[name=csrf-token]').getAttribute('content'))!;
    const crafted = await page.request.post(`${base}/reputation`, { form: { _csrf: csrf, key: KEY, kind: 'false-positive' }, maxRedirects: 0, headers: { origin: base } });
    assert.equal(crafted.status(), 403);
    assert.equal((await api('GET', `/api/v1/reputation?key=${KEY}`)).json.events.length, 3, 'the viewer changed nothing');
    assert.deepEqual(dialogs, [], 'no script ran');
  } finally {
    await ctx.close();
  }
});
