// The Overrides page in a real browser against a real `serve`, checked with `dig`:
//   admin adds a deny (dig lists it: 127.0.0.5 in bl), edits its reason, expires it (dig stops
//   listing it); imports a CSV (3 new rows, 1 replacing, 2 refused with their line numbers),
//   applies it, sees the rows; exports CSV (quoted, formula cells neutralised); an XSS payload in
//   a reason renders as text; a viewer sees no forms and a crafted POST is refused; 100k seeded
//   overrides page and search (no timings asserted). Screenshots at desktop and phone width.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import {
  digRaw, freePort, ip4Labels, makeTmpDir, poll, spawnQuorumbl, stopAll, writeConfig, toolsOrSkip, waitReady, type Proc,
} from '../../integration/helpers.ts';
import { browserOrSkip, launch, screenshots, signIn } from './browser.ts';

const skip = toolsOrSkip(['dig']) || browserOrSkip();
const PASSWORD = 'correct horse battery staple';
const VIEWER_PASSWORD = 'viewer password for the test';
const BASE = 'dnsbl.test';
let serve: Proc | undefined;
after(() => stopAll(serve));

test('overrides page: add, dig, edit, expire, import with preview, export, XSS as text, viewer read-only, 100k paging', { skip, timeout: 240_000 }, async () => {
  const dir = makeTmpDir();
  const [dns, web] = [await freePort(), await freePort()];
  const cfg = writeConfig(dir, `
base: ${BASE}
state_dir: ${dir}/state
server: { listen: ["127.0.0.1:${dns}"] }
web: { enabled: true, listen: "127.0.0.1:${web}" }
sync: { enabled: false }
sources: []
providers: []
`);
  serve = spawnQuorumbl(['serve', '--config', cfg], { env: { QUORUMBL_ADMIN_PASSWORD: PASSWORD } });
  await waitReady(serve, '127.0.0.1', dns, `bl.${BASE}`);
  const base = `http://127.0.0.1:${web}`;
  const listed = async (ip: string) => {
    const r = await digRaw('127.0.0.1', dns, [`${ip4Labels(ip)}.bl.${BASE}`, 'A']);
    return r.replies[0]!.answer.filter((x) => x.type === 'A').map((x) => x.data);
  };
  const ctx = await launch();
  try {
    const page = ctx.pages()[0] ?? (await ctx.newPage());
    await signIn(page, base, 'admin', PASSWORD);
    await page.getByRole('link', { name: 'Overrides' }).click();
    await page.waitForURL(`${base}/overrides`);
    await screenshots(page, 'overrides-empty');

    // Add a deny with a reason: it shows, and DNS lists it.
    const add = page.locator('section', { has: page.getByRole('heading', { name: 'Add an override' }) });
    await add.getByLabel('deny (list it)').check();
    await add.getByLabel(/^Key/).fill('192.0.2.44');
    await add.getByLabel(/^Reason/).fill('phishing run seen at the helpdesk');
    await add.getByLabel('After').selectOption('7d');
    await screenshots(page, 'overrides-add-form');
    await Promise.all([page.waitForURL(/\/overrides\/\d+\?done=added/), add.getByRole('button', { name: 'Add override' }).click()]);
    const id = Number(/\/overrides\/(\d+)/.exec(page.url())![1]);
    assert.match(await page.locator('#reason').textContent() ?? '', /phishing run seen at the helpdesk/);
    await page.goto(`${base}/overrides`);
    assert.equal(await page.locator('table.list tbody tr', { hasText: '192.0.2.44' }).count(), 1, 'the new deny is in the list');
    assert.deepEqual(await poll(async () => ((await listed('192.0.2.44')).length ? listed('192.0.2.44') : undefined), 'deny listed'), ['127.0.0.5']);

    // A key wider than the limits without force: the width guard's refusal, nothing stored.
    await add.getByLabel(/^Key/).fill('10.0.0.0/8');
    await add.getByLabel(/^Reason/).fill('too wide');
    await add.getByRole('button', { name: 'Add override' }).click();
    assert.match(await page.getByRole('alert').first().textContent() ?? '', /10\.0\.0\.0\/8 covers \/8 .*wider than the limit \/16.*force/);
    assert.equal(await page.locator('table.list tbody tr', { hasText: '10.0.0.0/8' }).count(), 0);

    // Edit the reason, then expire it: DNS stops listing it.
    await page.goto(`${base}/overrides/${id}`);
    await page.getByLabel('Reason', { exact: true }).fill('phishing run, confirmed by abuse desk');
    await Promise.all([page.waitForURL(/done=saved/), page.getByRole('button', { name: 'Save' }).click()]);
    assert.equal(await page.locator('#reason').textContent(), 'phishing run, confirmed by abuse desk');
    await screenshots(page, 'overrides-edit');
    await Promise.all([page.waitForURL(/done=expired/), page.getByRole('button', { name: 'Expire now' }).click()]);
    assert.match(await page.locator('dl.facts').textContent() ?? '', /expired/);
    await poll(async () => ((await listed('192.0.2.44')).length === 0 ? true : undefined), 'expired deny no longer listed');

    // An active override the import will replace, and one with an XSS payload in its reason.
    const xss = `<img src=x onerror="document.title='pwned'"><script>document.title='pwned'</script>`;
    for (const [key, reason] of [['192.0.2.50', 'old reason'], ['192.0.2.51', xss]]) {
      await page.goto(`${base}/overrides`);
      await add.getByLabel(/^Key/).fill(key);
      await add.getByLabel(/^Reason/).fill(reason);
      await Promise.all([page.waitForURL(/done=added/), add.getByRole('button', { name: 'Add override' }).click()]);
    }
    await page.goto(`${base}/overrides?q=192.0.2.51`);
    assert.equal(await page.locator('td.reason').first().textContent(), xss, 'the payload shows as text');
    assert.equal(await page.locator('table.list img, table.list script').count(), 0, 'and is not markup');
    assert.notEqual(await page.title(), 'pwned');

    // Import: 3 new rows, 1 replacing 192.0.2.50, 2 refused (bad key, too wide without force).
    const csv = [
      'action,key,reason,expires',
      'deny,198.51.100.1,imported one,7d',
      'allow,198.51.100.2,"imported, with a comma",never',
      'deny,example.org,imported three,',
      'allow,192.0.2.50,replaced by import,30d',
      'deny,not..a..key,bad key,',
      'deny,10.0.0.0/8,too wide,',
    ].join('\r\n');
    const file = join(dir, 'import.csv');
    writeFileSync(file, csv);
    await page.goto(`${base}/overrides`);
    await page.getByLabel('CSV file').setInputFiles(file);
    await Promise.all([page.waitForURL(`${base}/overrides/import`), page.getByRole('button', { name: 'Preview import' }).click()]);
    const cells = (sel: string) => page.locator(`${sel} tbody tr`).evaluateAll((rows) => rows.map((r) => [...r.querySelectorAll('td')].map((td) => td.textContent!.trim())));
    const adds = await cells('#adds');
    assert.deepEqual(adds.map((r) => [r[0], r[2]]), [['2', '198.51.100.1'], ['3', '198.51.100.2'], ['4', 'example.org']]);
    const repl = await cells('#replaces');
    assert.equal(repl.length, 1);
    assert.deepEqual(repl[0]!.slice(0, 2), ['5', '192.0.2.50']);
    assert.match(repl[0]![2]!, /deny old reason/);
    assert.match(repl[0]![3]!, /allow replaced by import/);
    const refused = await cells('#refused');
    assert.deepEqual(refused.map((r) => [r[0], r[1]]), [['6', 'not..a..key'], ['7', '10.0.0.0/8']]);
    assert.match(refused[0]![2]!, /empty label/);
    assert.match(refused[1]![2]!, /wider than .*force/);
    await screenshots(page, 'overrides-import-preview');
    const applyUrl = base + (await page.locator('form[action^="/overrides/import/"]').getAttribute('action'))!;
    const token = (await page.locator('meta[name=csrf-token]').getAttribute('content'))!;
    await Promise.all([page.waitForURL(/done=imported/), page.getByRole('button', { name: /^Apply 4 changes/ }).click()]);
    const again = await page.request.post(applyUrl, { form: { _csrf: token }, maxRedirects: 0 });
    assert.equal(again.status(), 409, 'a preview applies once');
    assert.match(await again.text(), /preview is gone/);
    const big = await page.request.post(`${base}/overrides/import`, {
      multipart: { _csrf: token, file: { name: 'big.csv', mimeType: 'text/csv', buffer: Buffer.alloc(2 * 1024 * 1024 + 100, 'a') } },
    });
    assert.equal(big.status(), 413);
    assert.match(await big.text(), /larger than 2 MB/);
    const many = await page.request.post(`${base}/overrides/import`, {
      multipart: { _csrf: token, file: { name: 'many.csv', mimeType: 'text/csv', buffer: Buffer.from('action,key,reason\n' + 'deny,192.0.2.1,r\n'.repeat(20_001)) } },
    });
    assert.equal(many.status(), 400);
    assert.match(await many.text(), /line 20002: more than 20000 rows after the header/);
    for (const key of ['198.51.100.1', '198.51.100.2', 'example.org', '192.0.2.50']) {
      assert.equal(await page.locator('table.list tbody tr', { hasText: key }).count(), 1, `${key} imported`);
    }
    assert.match(await page.locator('table.list tbody tr', { hasText: '192.0.2.50' }).textContent() ?? '', /allow.*replaced by import/);
    assert.equal(await page.locator('table.list tbody tr', { hasText: '10.0.0.0/8' }).count(), 0);
    assert.deepEqual(await poll(async () => ((await listed('198.51.100.1')).length ? listed('198.51.100.1') : undefined), 'imported deny listed'), ['127.0.0.5']);
    await screenshots(page, 'overrides-list');

    // Export with the current filter: a download of the rows, quoted, formula cells neutralised.
    await page.goto(`${base}/overrides?q=198.51.100`);
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: 'Export CSV' }).click()]);
    const body = await (await import('node:fs/promises')).readFile((await download.path())!, 'utf8');
    const lines = body.trimEnd().split('\r\n');
    assert.equal(lines[0], 'id,action,key,reason,author,created,expires');
    assert.equal(lines.length, 3, body);
    assert.ok(lines.some((l) => /^\d+,allow,198\.51\.100\.2,"imported, with a comma",admin,\S+Z,never$/.test(l)), body);
    assert.ok(lines.some((l) => /^\d+,deny,198\.51\.100\.1,imported one,admin,\S+Z,\S+Z$/.test(l)), body);
    const formula = await page.request.post(`${base}/overrides`, {
      form: { _csrf: (await page.locator('meta[name=csrf-token]').getAttribute('content'))!, action: 'deny', key: '192.0.2.60', reason: '=HYPERLINK("http://evil")', expiry: 'never' },
      maxRedirects: 0,
    });
    assert.equal(formula.status(), 303);
    const exp2 = await page.request.get(`${base}/overrides.csv?q=192.0.2.60`);
    assert.match(await exp2.text(), /,"'=HYPERLINK\(""http:\/\/evil""\)",/);

    // Changes need the session, its CSRF token, and the same origin.
    const nocsrf = await page.request.post(`${base}/overrides`, { form: { action: 'deny', key: '192.0.2.98', reason: 'no token', expiry: 'never' }, maxRedirects: 0 });
    assert.equal(nocsrf.status(), 403);
    assert.match(await nocsrf.text(), /CSRF/);
    const cross = await page.request.post(`${base}/overrides/${id}/delete`, { form: { _csrf: token }, headers: { origin: 'http://evil.example' }, maxRedirects: 0 });
    assert.equal(cross.status(), 403);
    assert.equal((await fetch(`${base}/overrides/${id}/delete`, { method: 'POST', redirect: 'manual' })).status, 401, 'no session');
    assert.doesNotMatch(await (await page.request.get(`${base}/overrides.csv?status=all`)).text(), /192\.0\.2\.98/);

    // A viewer: reads and exports, sees no forms, and a crafted POST is refused.
    const csrf = (await page.locator('meta[name=csrf-token]').getAttribute('content'))!;
    const mk = await page.request.post(`${base}/api/v1/users`, { headers: { 'x-csrf-token': csrf }, data: { name: 'helen', role: 'viewer', password: VIEWER_PASSWORD } });
    assert.equal(mk.status(), 201, await mk.text());
    await page.getByRole('button', { name: /log out/i }).click();
    await page.waitForURL(/\/login/);
    await signIn(page, base, 'helen', VIEWER_PASSWORD);
    await page.goto(`${base}/overrides`);
    assert.ok(await page.locator('table.list tbody tr').count() >= 6);
    assert.equal(await page.locator('main form[method=post]').count(), 0, 'no add or import form');
    await page.goto(`${base}/overrides/${id}`);
    assert.equal(await page.locator('main form[method=post]').count(), 0, 'no edit, expire or delete form');
    const vcsrf = (await page.locator('meta[name=csrf-token]').getAttribute('content'))!;
    for (const [path, form] of [['/overrides', { action: 'deny', key: '192.0.2.99', reason: 'viewer try', expiry: 'never' }], [`/overrides/${id}/delete`, {}], [`/overrides/${id}/expire`, {}]] as const) {
      const r = await page.request.post(base + path, { form: { _csrf: vcsrf, ...form }, maxRedirects: 0 });
      assert.equal(r.status(), 403, `${path}: ${await r.text()}`);
    }
    assert.equal((await page.request.get(`${base}/overrides.csv?q=192.0.2.99`)).status(), 200, 'a viewer may export');
    assert.doesNotMatch(await (await page.request.get(`${base}/overrides.csv?status=all`)).text(), /192\.0\.2\.99/, 'nothing was added');

    // 100k overrides straight into SQLite: page 1, a later page, and a search that narrows.
    const db = new Database(join(dir, 'state', 'quorumbl.sqlite'));
    const ins = db.prepare("INSERT INTO overrides (key, kind, action, reason, author, created, expires) VALUES (?, 'ip4', ?, ?, 'seed', ?, NULL)");
    const t0 = Date.now();
    db.transaction(() => {
      for (let i = 0; i < 100_000; i++) ins.run(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, i % 2 ? 'deny' : 'allow', `seeded row ${i}`, t0 - i);
    })();
    db.close();
    await page.goto(`${base}/overrides?author=seed`);
    assert.match(await page.locator('#count').textContent() ?? '', /^100000 matching/);
    assert.equal(await page.locator('table.list tbody tr').count(), 50);
    for (let i = 0; i < 3; i++) await Promise.all([page.waitForURL(/before=/), page.getByRole('link', { name: /Older/ }).click()]);
    const later = await page.locator('table.list tbody tr td.reason').allTextContents();
    assert.equal(later.length, 50);
    assert.deepEqual(later.slice(0, 2), ['seeded row 99849', 'seeded row 99848'], 'the fourth page continues where the third ended');
    await page.getByRole('link', { name: /Newer/ }).click();
    assert.equal(await page.locator('table.list tbody tr td.reason').first().textContent(), 'seeded row 99899');
    await page.goto(`${base}/overrides?author=seed&q=${encodeURIComponent('seeded row 7777')}`);
    assert.match(await page.locator('#count').textContent() ?? '', /^11 matching/, 'seeded row 7777 and 77770..77779');
    await screenshots(page, 'overrides-viewer-search');
  } finally {
    await ctx.close();
  }
});
