// The sign-in page in a real browser (chromium via playwright-core) against a real serve:
// a wrong password shows the error, the right one reaches the console home, sign-out returns
// to /login, and a session cookie the page script cannot read. Screenshots at desktop and phone
// width.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { freePort, makeTmpDir, spawnQuorumbl, stopAll, writeConfig, toolsOrSkip, waitReady, type Proc } from '../../integration/helpers.ts';
import { browserOrSkip, launch, screenshots, signIn } from './browser.ts';

const skip = toolsOrSkip(['dig']) || browserOrSkip();
const PASSWORD = 'correct horse battery staple';
let serve: Proc | undefined;
after(() => stopAll(serve));

test('sign in, see who is signed in, sign out; errors shown, the cookie is HttpOnly', { skip }, async () => {
  const dir = makeTmpDir();
  const [dns, web] = [await freePort(), await freePort()];
  const cfg = writeConfig(dir, `
base: dnsbl.test
state_dir: ${dir}/state
server: { listen: ["127.0.0.1:${dns}"] }
web: { enabled: true, listen: "127.0.0.1:${web}" }
sync: { enabled: false }
sources: []
providers: []
zones: []
`);
  serve = spawnQuorumbl(['serve', '--config', cfg], { env: { QUORUMBL_ADMIN_PASSWORD: PASSWORD } });
  await waitReady(serve, '127.0.0.1', dns, '2.0.0.127.bl.dnsbl.test');
  const base = `http://127.0.0.1:${web}`;
  const ctx = await launch();
  try {
    const page = ctx.pages()[0] ?? (await ctx.newPage());
    await page.goto(`${base}/`);
    assert.match(new URL(page.url()).pathname, /^\/login/, 'the console redirects to the sign-in page');
    await screenshots(page, 'login');

    await page.getByLabel(/user/i).fill('admin');
    await page.getByLabel(/password/i).fill('wrong password');
    await page.getByRole('button', { name: /sign in/i }).click();
    await page.getByRole('alert').waitFor();
    assert.match((await page.getByRole('alert').textContent()) ?? '', /\S/, 'a failed sign-in says so');
    await screenshots(page, 'login-error');

    await signIn(page, base, 'admin', PASSWORD);
    assert.match((await page.textContent('body')) ?? '', /Signed in as\s+admin\s+\(admin\)/);
    await screenshots(page, 'home');
    const cookies = await ctx.cookies(base);
    assert.ok(cookies.length > 0 && cookies.every((c) => c.httpOnly && c.sameSite === 'Strict'), JSON.stringify(cookies));
    assert.equal(await page.evaluate(() => document.cookie), '', 'no cookie is readable by page scripts');

    await page.getByRole('button', { name: /sign out|log out/i }).click();
    await page.waitForURL((u) => u.pathname.startsWith('/login'));
    await page.goto(`${base}/`);
    assert.match(new URL(page.url()).pathname, /^\/login/, 'signed out: the console asks to sign in again');
  } finally {
    await ctx.close();
  }
});
