// The Dashboard (/) and Exemptions (/exemptions) pages in a real browser against a real serve:
// a SpamCop-like list naming 120 Microsoft 365 outbound addresses (file source) and a static M365
// provider list, plus a source whose file is missing (it fails: an alert, its error text escaped
// though it carries markup). The dashboard shows the zones with entries, the source's last
// success, the provider feed, queries per second after dig queries; /exemptions says "spamcop
// lists 120 addresses in microsoft365/... ranges: exempted" with the M365 ranges named. A viewer
// sees both pages. Then spamcop lists 65 more M365 addresses: a rise alert on both pages.
// Screenshots at desktop and phone width.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  ROOT, dig, freePort, poll, makeTmpDir, runQuorumbl, spawnQuorumbl, stopAll, toolsOrSkip, waitForLog, waitReady, writeConfig, type Proc,
} from '../../integration/helpers.ts';
import { browserOrSkip, launch, screenshots, signIn } from './browser.ts';
import type { Page } from 'playwright-core';

const skip = toolsOrSkip(['dig']) || browserOrSkip();
const INC = join(ROOT, 'test', 'fixtures', 'incidents');
const BASE = 'dnsbl.test';
const PASSWORD = 'correct horse battery staple';
const XSS = '<img src=x onerror=alert(1)>';
let serve: Proc | undefined;
after(() => stopAll(serve));

/** The listed IPv4 addresses of the SpamCop-like fixture inside the static M365 list. */
function m365Listed(): number {
  const lines = (t: string) => t.split('\n').map((l) => l.replace(/#.*$/, '').trim()).filter((l) => l && !l.startsWith(':'));
  const ip4 = (ip: string) => ip.split('.').reduce((a, o) => a * 256 + Number(o), 0);
  const ranges = lines(readFileSync(join(INC, 'm365-static.txt'), 'utf8')).filter((l) => !l.includes(':')).map((c) => {
    const [a, p] = c.split('/');
    return [ip4(a!), ip4(a!) + 2 ** (32 - Number(p)) - 1] as const;
  });
  const listed = new Set(lines(readFileSync(join(INC, 'spamcop-m365.ip4tset'), 'utf8')).filter((l) => /^\d+\.\d+\.\d+\.\d+$/.test(l) && l !== '127.0.0.2').map(ip4));
  return [...listed].filter((n) => ranges.some(([s, e]) => n >= s && n <= e)).length;
}

const body = async (page: Page) => (await page.textContent('body')) ?? '';

test('dashboard: zones, sources, feeds, qps and alerts; exemptions: collisions with the M365 ranges; a viewer sees both', { skip }, async () => {
  const expected = m365Listed();
  assert.equal(expected, 120, 'fixture: the SpamCop-like list names 120 M365 addresses');
  const dir = makeTmpDir('quorumbl-dashboard-');
  const [dns, webPort] = [await freePort(), await freePort()];
  const web = `http://127.0.0.1:${webPort}`;
  const staticList = join(dir, 'm365-static.txt');
  copyFileSync(join(INC, 'm365-static.txt'), staticList);
  const spamcopFile = join(dir, 'spamcop.ip4tset');
  copyFileSync(join(INC, 'spamcop-m365.ip4tset'), spamcopFile);
  chmodSync(staticList, 0o644);
  chmodSync(spamcopFile, 0o644);
  const cfg = writeConfig(dir, [
    `server: { listen: ["127.0.0.1:${dns}"] }`,
    `web: { listen: "127.0.0.1:${webPort}" }`,
    'state_dir: state',
    `base: ${BASE}`,
    'sync: { enabled: false }',
    'sources:',
    `  - { name: spamcop, kind: ip, fetch: ${spamcopFile}, format: rbldnsd, rbldnsd_type: ip4tset, schedule: "0 0 1 1 *", min_interval: 1w }`,
    // the missing file's path carries markup: the sync error quoting it must render as text
    `  - name: gone`,
    `    kind: ip`,
    `    fetch: '${join(dir, `missing-${XSS}.txt`)}'`,
    `    format: plain`,
    `    schedule: "0 0 1 1 *"`,
    'providers:',
    `  - { provider: microsoft365, type: static, file: ${staticList} }`,
    '',
  ].join('\n'));
  const s = await runQuorumbl(['sync', '--config', cfg], { timeoutMs: 60000 });
  assert.notEqual(s.code, 0, 'the missing file fails its sync');
  assert.match(s.output, /gone/, s.output);
  serve = spawnQuorumbl(['serve', '--config', cfg], { env: { QUORUMBL_ADMIN_PASSWORD: PASSWORD } });
  await waitReady(serve, '127.0.0.1', dns, `bl.${BASE}`);
  await waitForLog(serve, 0, (r) => r.msg === 'merged zones served', 'first merge', 60000);

  const ctx = await launch();
  try {
    const page = ctx.pages()[0] ?? (await ctx.newPage());
    await signIn(page, web, 'admin', PASSWORD);
    // some queries: a listed address outside M365 and the zone apex
    for (let i = 0; i < 5; i++) await dig('127.0.0.1', dns, [`2.0.0.127.bl.${BASE}`, 'A']);
    await dig('127.0.0.1', dns, [`spamcop.mirror.${BASE}`, 'SOA']);
    await page.goto(`${web}/`);
    const text = await body(page);
    assert.match(text, /Signed in as\s+admin\s+\(admin\)/);
    assert.equal(await page.getByRole('heading', { level: 1 }).textContent(), 'Dashboard');

    // zones with entries; the missing source's mirror answers SERVFAIL
    const zoneRow = (z: string) => page.locator('tr', { has: page.locator('code', { hasText: new RegExp(`^${z.replace(/\./g, '\\.')}$`) }) }).first();
    const spamRow = (await zoneRow(`spamcop.mirror.${BASE}`).textContent()) ?? '';
    assert.match(spamRow, /from data\s*[1-9][\d,]*/, spamRow);
    assert.match((await zoneRow(`bl.${BASE}`).textContent()) ?? '', /from data\s*[1-9][\d,]*/);
    assert.match((await zoneRow(`gone.mirror.${BASE}`).textContent()) ?? '', /SERVFAIL/);

    // sources: spamcop's last success; gone never synced, failing
    const src = (name: string) => page.locator('#sources tr', { has: page.locator('td', { hasText: new RegExp(`^${name}$`) }) });
    assert.match((await src('spamcop').textContent()) ?? '', /^spamcop\d+ s ago\d+ s ago, ok[\d,]+ok$/, 'last success and attempt, entries, ok');
    assert.match((await src('gone').textContent()) ?? '', /never.*failed.*(failing|never synced)/);

    // the provider feed
    const feed = (await page.locator('#feeds tbody tr').first().textContent()) ?? '';
    assert.match(feed, /^microsoft365\/\S+static list[1-9]\d*/, feed);

    // queries per second: bl has a rate, NOERROR or NXDOMAIN
    const bl = page.locator('#qps tr', { has: page.locator('code', { hasText: `bl.${BASE}` }) });
    const cells = await bl.locator('td').allTextContents();
    assert.ok(Number(cells[1]) > 0, `a query rate for bl: ${cells.join(' | ')}`);
    assert.match((await page.locator('#qps tr.total').textContent()) ?? '', /all zones/);

    // the failing source is an alert with what to do; its error text is shown as text
    const alerts = page.locator('ul.alerts li');
    const gone = alerts.filter({ hasText: /^gone: / });
    assert.equal(await gone.count(), 1, (await alerts.allTextContents()).join('\n'));
    const goneText = (await gone.textContent()) ?? '';
    assert.ok(goneText.includes(XSS), `the error text, escaped: ${goneText}`);
    assert.match(goneText, /never synced|quorumbl sources show gone/);
    assert.equal(await page.locator('ul.alerts img').count(), 0, 'no element from the error text');
    assert.match(goneText, /its mirror answers SERVFAIL/);
    assert.equal(await gone.getAttribute('class'), 'alert bad', 'never synced: a red alert');
    assert.equal(await alerts.filter({ hasText: /^Zone gone\./ }).count(), 0, 'the mirror zone is said once, in the source\'s alert');
    await screenshots(page, 'dashboard');

    // exemptions: the collision in words, the samples name the M365 ranges, the ranges with provenance
    await page.getByRole('link', { name: 'Exemptions' }).first().click();
    await page.waitForURL((u) => u.pathname === '/exemptions');
    const ex = await body(page);
    assert.match(ex, new RegExp(`spamcop lists ${expected} addresses in microsoft365/\\S+ ranges: exempted`), ex.slice(0, 2000));
    const item = page.locator('ul.collisions li', { hasText: 'spamcop lists' });
    await item.locator('summary').click();
    const firstSample = await item.locator('tbody tr').first().locator('td').allTextContents();
    const m365 = readFileSync(staticList, 'utf8');
    assert.ok(firstSample[1] && m365.includes(firstSample[1]), `the sample names an M365 range: ${firstSample.join(' | ')}`);
    assert.match(ex, /microsoft365\/\S+Datastatic list/);
    await page.locator('ul.feeds summary').first().click();
    assert.ok((await page.locator('ul.feeds tbody tr').count()) > 1, 'the feed\'s ranges are listed');
    await screenshots(page, 'exemptions');

    // a viewer: created by the admin through the API (session + CSRF), sees both pages
    // (the pages' CSP forbids page scripts to fetch: the browser context's request client, same cookies)
    const csrf = (await page.locator('meta[name="csrf-token"]').getAttribute('content'))!;
    const created = (await ctx.request.post(`${web}/api/v1/users`, { headers: { 'x-csrf-token': csrf }, data: { name: 'helpdesk', role: 'viewer', password: 'viewer password 123' } })).status();
    assert.equal(created, 201);
    await page.getByRole('button', { name: /log out/i }).click();
    await page.waitForURL((u) => u.pathname.startsWith('/login'));
    await signIn(page, web, 'helpdesk', 'viewer password 123');
    const v = await body(page);
    assert.match(v, /signed in as\s*helpdesk\s*\(viewer\)/);
    assert.match(v, /Sources/);
    assert.equal(await page.locator('main form').count(), 0, 'nothing to change on the dashboard');
    await page.goto(`${web}/exemptions`);
    assert.match(await body(page), new RegExp(`spamcop lists ${expected} addresses`));
    assert.equal(await page.locator('main form').count(), 0);

    // an incident day: spamcop lists 65 more M365 addresses (file rewritten, `quorumbl sync`):
    // a rise alert on the dashboard and the pair highlighted on /exemptions
    const added = Array.from({ length: 65 }, (_, i) => `52.102.77.${2 * i + 1}`);
    writeFileSync(spamcopFile, readFileSync(spamcopFile, 'utf8') + '\n' + added.join('\n') + '\n');
    const again = await runQuorumbl(['sync', 'spamcop', '--config', cfg], { timeoutMs: 60000 });
    assert.equal(again.code, 0, again.output);
    const grown = expected + added.length;
    await poll(async () => {
      await page.goto(`${web}/exemptions`);
      return (await page.locator('ul.collisions li.rising').count()) > 0 || undefined;
    }, 'the collision rise on /exemptions', { timeoutMs: 60000, intervalMs: 500 });
    const rising = (await page.locator('ul.collisions li.rising').textContent()) ?? '';
    assert.match(rising, new RegExp(`^spamcop lists ${grown} addresses in microsoft365/\\S+ ranges: exemptedrising`), rising);
    assert.match(await body(page), new RegExp(`Sharp rise: spamcop lists ${grown} addresses in microsoft365/\\S+ ranges, was ${expected} `));
    await screenshots(page, 'exemptions-rise');
    await page.goto(`${web}/`);
    assert.equal(await page.locator('ul.alerts li', { hasText: new RegExp(`^Collisions rose sharply: spamcop lists ${grown} addresses`) }).count(), 1);
  } finally {
    await ctx.close();
  }
});
