// The Lookup page in a real browser against a real `bin/quorumbl serve` (a plain file source, a
// static provider list): an admin looks up a listed IP, reads why (the source), allows it with a
// reason for 1 day, and `dig` against the server stops listing it; the audit row names
// `user:admin`; XSS payloads in the reason render as text; a too-wide key is refused with the
// reason (an operator) or stored with Force (an admin); a false-positive report lands; a bad key
// is an inline error; a viewer sees the verdict but no forms, and a crafted POST from the viewer
// is refused (403). Screenshots at desktop and phone width: the form, a listed verdict, the trace
// after the allow.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { dig, poll, stopAll, toolsOrSkip, type Proc } from '../../integration/helpers.ts';
import { BASE, startConsoleServe } from './console-serve.ts';
import { browserOrSkip, launch, screenshots, signIn } from './browser.ts';

const skip = toolsOrSkip(['dig']) || browserOrSkip();
const PASSWORD = 'correct horse battery staple';
const VIEWER_PASSWORD = 'viewer password 12345';
const LISTED = '45.33.12.34';
const LISTED2 = '45.33.12.35';
const M365 = '40.107.3.4';
const XSS = `ticket 4711 <script>alert(1)</script> "><img src=x onerror=alert(1)>`;
let serve: Proc | undefined;
after(() => stopAll(serve));

test('lookup: why an IP is listed, allow it (dig changes, audited), XSS escaped, too-wide refused, viewer read-only', { skip }, async () => {
  const { dns, cfg, base, api, bl, serve: proc } = await startConsoleServe({
    listed: [LISTED, LISTED2, M365],
    password: PASSWORD,
    prepare: (dir) => writeFileSync(join(dir, 'm365.txt'), '40.107.0.0/16\n'),
    providers: ['{ provider: microsoft365, type: static, file: $DIR/m365.txt }'],
  });
  serve = proc;
  assert.equal((await bl(LISTED)).status, 'NOERROR', 'the test IP is listed before the allow');
  const v = await api('POST', '/api/v1/users', { name: 'helpdesk', role: 'viewer', password: VIEWER_PASSWORD });
  assert.equal(v.status, 201, JSON.stringify(v.json));
  const o = await api('POST', '/api/v1/users', { name: 'oper', role: 'operator', password: VIEWER_PASSWORD });
  assert.equal(o.status, 201, JSON.stringify(o.json));

  const ctx = await launch();
  try {
    const page = ctx.pages()[0] ?? (await ctx.newPage());
    const dialogs: string[] = [];
    page.on('dialog', (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
    await signIn(page, base, 'admin', PASSWORD);
    await page.getByRole('link', { name: 'Lookup' }).click();
    await page.waitForURL((u) => u.pathname === '/lookup');
    await screenshots(page, 'lookup-form');

    // A bad key: the InputError's words inline, not a 500.
    const field = page.getByLabel(/IP address, CIDR or domain/);
    await field.fill('1.2.3.256');
    const [bad] = await Promise.all([page.waitForResponse((r) => r.url().includes('/lookup?')), page.getByRole('button', { name: 'Look up' }).click()]);
    assert.equal(bad.status(), 400);
    assert.match((await page.locator('#key-error').textContent()) ?? '', /256 is not an octet/);

    // A listed IP: the verdict, the return code's meaning, the source that lists it.
    await page.getByLabel(/IP address, CIDR or domain/).fill(LISTED);
    await Promise.all([page.waitForURL((u) => u.searchParams.get('key') === LISTED), page.getByRole('button', { name: 'Look up' }).click()]);
    assert.match((await page.locator('#verdict').textContent()) ?? '', /Listed\s+in bl/);
    const why = (await page.locator('main').textContent()) ?? '';
    assert.match(why, /127\.0\.0\.2/);
    assert.match(why, /weighted sum of the listing sources reached the threshold/);
    assert.equal(await page.locator('td.source-name', { hasText: 'spamlist' }).count(), 1, 'the listing source is named');
    assert.match(why, /spamlist 1\.0 = 1\.0 >= threshold 1\.0/, 'the policy arithmetic');
    await screenshots(page, 'lookup-listed');

    // Allow it for 1 day with an XSS payload in the reason.
    await page.getByLabel(/Reason/).fill(XSS);
    await page.getByLabel('1 day').check();
    await Promise.all([page.waitForURL((u) => u.searchParams.get('done') === 'allow'), page.getByRole('button', { name: `Allow ${LISTED}` }).click()]);
    assert.match((await page.getByRole('status').textContent()) ?? '', new RegExp(`Allowed ${LISTED.replace(/\./g, '\\.')} \\(override #\\d+, until `));
    const r = await poll(async () => {
      const a = await bl(LISTED);
      return a.status === 'NXDOMAIN' || (a.status === 'NOERROR' && a.answer.length === 0) ? a : undefined;
    }, `${LISTED} leaves bl after the allow`);
    assert.ok(r);
    assert.match((await page.locator('#verdict').textContent()) ?? '', /Not listed\s+in bl/, 'the verdict shown is the new one');
    assert.match((await page.locator('#override').textContent()) ?? '', /allow.*by admin.*expires /s, 'who and until when');
    assert.match((await page.locator('#override').textContent()) ?? '', /allow.*ticket 4711 <script>alert\(1\)<\/script> "><img src=x onerror=alert\(1\)>/s, 'the payload is shown as text');
    assert.equal(await page.locator('main img').count(), 0, 'no element was injected');
    assert.deepEqual(dialogs, [], 'no script ran');
    await screenshots(page, 'lookup-allowed');

    // The audit row, with the user as actor and an expiry about a day out.
    const audit = await api('GET', `/api/v1/audit?target=${LISTED}`);
    assert.equal(audit.status, 200);
    const row = audit.json.entries.find((e: any) => e.action === 'override.add');
    assert.ok(row, JSON.stringify(audit.json));
    assert.equal(row.actor, 'user:admin');
    assert.equal(row.after.action, 'allow');
    assert.equal(row.after.reason, XSS);
    const day = row.after.expires - row.after.created;
    assert.ok(day === 86_400_000, `expires 1 d after creation, got ${day} ms`);

    // A key wider than the limits: refused with the reason; the admin is offered force.
    await page.goto(`${base}/lookup?key=100.0.0.0/8`);
    await page.getByLabel(/Reason/).fill('whole /8');
    const [wide] = await Promise.all([page.waitForResponse((x) => x.url().endsWith('/lookup/override')), page.getByRole('button', { name: 'Deny 100.0.0.0/8' }).click()]);
    assert.equal(wide.status(), 403);
    assert.match((await page.locator('#action-error').textContent()) ?? '', /covers \/8 .*wider than the limit \/16.*Tick "Force"/);
    assert.equal((await api('GET', '/api/v1/overrides')).json.overrides.filter((o: any) => o.key === '100.0.0.0/8').length, 0, 'nothing stored');
    // With "Force" ticked the admin may; the audit row says it was forced.
    await page.getByLabel(/Reason/).fill('whole /8, forced');
    await page.getByLabel(/Force/).check();
    await Promise.all([page.waitForURL((u) => u.searchParams.get('done') === 'deny'), page.getByRole('button', { name: 'Deny 100.0.0.0/8' }).click()]);
    const forced = (await api('GET', '/api/v1/audit?target=100.0.0.0/8')).json.entries.find((e: any) => e.action === 'override.add');
    assert.equal(forced?.after?.forced, true, JSON.stringify(forced));
    assert.deepEqual((await bl('100.1.2.3')).answer.map((a) => a.data), ['127.0.0.5'], 'the forced deny is in bl');

    // Report a false positive on the second listed IP: it leaves bl (single source, weight = threshold).
    await page.goto(`${base}/lookup?key=${LISTED2}`);
    await page.getByLabel(/Note/).fill('customer says it is their relay');
    await Promise.all([page.waitForURL((u) => u.searchParams.get('done') === 'false-positive'), page.getByRole('button', { name: 'Report false positive' }).click()]);
    assert.match((await page.getByRole('status').textContent()) ?? '', /false positive report/);
    assert.match((await page.locator('#verdict').textContent()) ?? '', /Not listed/);
    assert.match((await page.locator('main').textContent()) ?? '', /customer says it is their relay/);
    assert.equal((await bl(LISTED2)).status, 'NXDOMAIN');

    // A domain: dbl's answer; a network: its first address, the actions on the whole network.
    await page.goto(`${base}/lookup?key=Mail.Example.COM`);
    assert.match((await page.locator('#verdict').textContent()) ?? '', /Not listed\s+in dbl: mail\.example\.com/);
    await page.goto(`${base}/lookup?key=45.33.12.0/24`);
    assert.match((await page.locator('main').textContent()) ?? '', /45\.33\.12\.0\/24 is a network: .* first address 45\.33\.12\.0/);
    assert.equal(await page.getByRole('button', { name: 'Allow 45.33.12.0/24' }).count(), 1);

    // An operator: no force offered; a too-wide key is refused with the reason, nothing changes.
    await page.getByRole('button', { name: /log out/i }).click();
    await page.waitForURL((u) => u.pathname.startsWith('/login'));
    await signIn(page, base, 'oper', VIEWER_PASSWORD);
    await page.goto(`${base}/lookup?key=100.0.0.0/8`);
    assert.equal(await page.getByLabel(/Force/).count(), 0, 'force is for admins');
    await page.getByLabel(/Reason/).fill('undo the /8');
    const [op] = await Promise.all([page.waitForResponse((x) => x.url().endsWith('/lookup/override')), page.getByRole('button', { name: 'Allow 100.0.0.0/8' }).click()]);
    assert.equal(op.status(), 403);
    assert.match((await page.locator('#action-error').textContent()) ?? '', /wider than the limit \/16.*Ask an admin/);
    assert.deepEqual((await bl('100.1.2.3')).answer.map((a) => a.data), ['127.0.0.5'], 'still denied');

    // The viewer: the verdict, no forms that change anything, and a crafted POST is refused.
    await page.getByRole('button', { name: /log out/i }).click();
    await page.waitForURL((u) => u.pathname.startsWith('/login'));
    await signIn(page, base, 'helpdesk', VIEWER_PASSWORD);
    await page.goto(`${base}/lookup?key=${M365}`);
    assert.match((await page.locator('main').textContent()) ?? '', /microsoft365/, 'the provider range is shown');
    await page.goto(`${base}/lookup?key=${LISTED}`);
    assert.match((await page.locator('#verdict').textContent()) ?? '', /Not listed/);
    assert.equal(await page.locator('form[action^="/lookup/"]').count(), 0, 'no allow/deny/report forms');
    assert.equal(await page.getByRole('button', { name: /allow|deny|report/i }).count(), 0);
    // Crafted with the viewer's own session cookie and CSRF token (the page's CSP allows no fetch).
    const csrf = (await page.locator('meta[name=csrf-token]').getAttribute('content'))!;
    const post = async (path: string, f: Record<string, string>) =>
      (await page.request.post(base + path, { form: { _csrf: csrf, key: LISTED, ...f }, maxRedirects: 0, headers: { origin: base } })).status();
    const crafted = [await post('/lookup/override', { action: 'deny', reason: 'viewer', expires: '1d' }), await post('/lookup/report', { kind: 'spam' })];
    assert.deepEqual(crafted, [403, 403]);
    const after = await api('GET', `/api/v1/audit?target=${LISTED}`);
    assert.equal(after.json.entries.filter((e: any) => e.actor === 'user:helpdesk').length, 0, 'the viewer changed nothing');
  } finally {
    await ctx.close();
  }
});
