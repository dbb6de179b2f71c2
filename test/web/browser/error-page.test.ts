// A console form post while the state disk is full, in a real browser against a real
// `bin/quorumbl serve` whose state directory is a small tmpfs filled to the last block: the
// browser gets the console's 503 page (what happened, what to do, Retry-After), not JSON; the
// API still answers JSON; DNS keeps answering from memory; once space returns the same form
// works and dig sees the change. Screenshots at desktop and phone width.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { dig, ip4Labels, poll, stopAll, toolsOrSkip, type Proc } from '../../integration/helpers.ts';
import { fill, tmpfs, tmpfsOrSkip, unmountAll } from '../../core/tmpfs.ts';
import { BASE, startConsoleServe } from './console-serve.ts';
import { browserOrSkip, launch, screenshots, signIn } from './browser.ts';

const skip = toolsOrSkip(['dig']) || browserOrSkip() || tmpfsOrSkip();
const PASSWORD = 'correct horse battery staple';
const LISTED = '45.33.12.34';
let serve: Proc | undefined;
after(async () => {
  await stopAll(serve);
  unmountAll();
});

test('a full state disk: the lookup form\'s allow shows the console\'s 503 page, DNS keeps answering, the form works once space returns', { skip }, async () => {
  const state = tmpfs('16m');
  const { dns, token, base, serve: proc } = await startConsoleServe({ listed: [LISTED], password: PASSWORD, stateDir: state });
  serve = proc;
  const bl = async () => dig('127.0.0.1', dns, [`${ip4Labels(LISTED)}.bl.${BASE}`, 'A']);
  const readyz = async () => (await (await fetch(base + '/readyz')).json()) as { state_dir?: { state?: string } };
  assert.equal((await bl()).status, 'NOERROR', 'listed before');

  const ctx = await launch();
  try {
    const page = ctx.pages()[0] ?? (await ctx.newPage());
    await signIn(page, base, 'admin', PASSWORD);
    await page.goto(`${base}/lookup?key=${LISTED}`);

    // Fill the state disk to the last block; the server notices (its probe or a failed write).
    fill(join(state, 'filler'));
    await poll(async () => ((await readyz()).state_dir?.state === 'full' ? true : undefined), '/readyz to report the full disk', { timeoutMs: 30000 });

    await page.getByLabel(/Reason/).fill('ticket 9 while the disk is full');
    await page.getByLabel('1 day').check();
    const [res] = await Promise.all([page.waitForResponse((r) => r.url().endsWith('/lookup/override')), page.getByRole('button', { name: `Allow ${LISTED}` }).click()]);
    await page.waitForLoadState();
    assert.equal(res.status(), 503);
    assert.ok(Number(res.headers()['retry-after']) > 0, 'Retry-After kept');
    assert.match(res.headers()['content-type'] ?? '', /^text\/html/);
    assert.equal(await page.locator('h1').textContent(), 'The change was not saved');
    const main = (await page.locator('main').textContent()) ?? '';
    assert.match(main, /state disk is full/);
    assert.match(main, /Free space on the state disk/);
    assert.match((await page.locator('header').textContent()) ?? '', /signed in as admin/, 'in the console\'s layout, still signed in');
    await screenshots(page, 'error-503-disk-full');

    // The API answers JSON; DNS answers from memory, the allow did not land.
    const api = await fetch(base + '/api/v1/overrides', { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ action: 'allow', key: LISTED, reason: 'x' }) });
    assert.equal(api.status, 503);
    assert.match(((await api.json()) as { error: string }).error, /state disk is full/);
    assert.equal((await bl()).status, 'NOERROR', 'still listed: DNS keeps answering');
    assert.equal(serve.exitStatus, null);

    // Space returns: "Go back" leads to the lookup page, and the same form now works.
    rmSync(join(state, 'filler'));
    await poll(async () => ((await readyz()).state_dir?.state === 'writable' ? true : undefined), '/readyz to report the disk writable again', { timeoutMs: 30000 });
    await Promise.all([page.waitForURL((u) => u.pathname === '/lookup'), page.getByRole('link', { name: 'Go back' }).click()]);
    await page.getByLabel(/Reason/).fill('ticket 9 after the disk had room');
    await page.getByLabel('1 day').check();
    await Promise.all([page.waitForURL((u) => u.searchParams.get('done') === 'allow'), page.getByRole('button', { name: `Allow ${LISTED}` }).click()]);
    await poll(async () => {
      const a = await bl();
      return a.status === 'NXDOMAIN' || (a.status === 'NOERROR' && a.answer.length === 0) ? a : undefined;
    }, `${LISTED} leaves bl after the allow`);
  } finally {
    await ctx.close();
  }
  await serve.stop();
});
