// The Users and tokens page in a real browser against a real `serve`: the admin creates an
// operator (and a viewer with a generated password, shown once); names carrying markup are
// refused and echoed as text; a token with scope overrides is shown once (not after a reload,
// not in the URL), works against /api/v1/overrides, is revoked and then gets 401; the admin
// cannot delete themselves; the operator sees no "Users" entry and gets 403 on /users; the
// generated password signs the viewer in. Screenshots at desktop and phone width.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { freePort, makeTmpDir, spawnQuorumbl, stopAll, writeConfig, toolsOrSkip, waitReady, type Proc } from '../../integration/helpers.ts';
import { browserOrSkip, launch, screenshots, signIn } from './browser.ts';

const skip = toolsOrSkip(['dig']) || browserOrSkip();
const PASSWORD = 'correct horse battery staple';
const OLGA_PASSWORD = 'olga operator password';
const XSS = '<img src=x onerror=alert(1)>';
let serve: Proc | undefined;
after(() => stopAll(serve));

test('users and tokens: create users and a token shown once, revoke it, markup as text, admins only', { skip, timeout: 180_000 }, async () => {
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
`);
  serve = spawnQuorumbl(['serve', '--config', cfg], { env: { QUORUMBL_ADMIN_PASSWORD: PASSWORD } });
  await waitReady(serve, '127.0.0.1', dns, '2.0.0.127.bl.dnsbl.test');
  const base = `http://127.0.0.1:${web}`;
  const ctx = await launch();
  try {
    const page = ctx.pages()[0] ?? (await ctx.newPage());
    let dialogs = 0;
    page.on('dialog', (d) => {
      dialogs++;
      void d.dismiss();
    });
    await signIn(page, base, 'admin', PASSWORD);
    await page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: 'Users' }).click();
    await page.waitForURL(`${base}/users`);
    const addUser = page.locator('section', { has: page.getByRole('heading', { name: 'Add a user' }) });
    const addToken = page.locator('section', { has: page.getByRole('heading', { name: 'Create a token' }) });
    assert.equal(await addUser.getByLabel('Initial password').getAttribute('type'), 'password');
    assert.equal(await addUser.getByLabel('Initial password').getAttribute('autocomplete'), 'new-password');

    // An operator with a chosen password.
    await addUser.getByLabel('User name').fill('olga');
    await addUser.getByLabel('Role').selectOption('operator');
    await addUser.getByLabel('Initial password').fill(OLGA_PASSWORD);
    await Promise.all([page.waitForURL(`${base}/users/u/olga?done=created`), addUser.getByRole('button', { name: 'Add user' }).click()]);
    assert.match(await page.locator('dl.facts').textContent() ?? '', /Roleoperator/);
    await screenshots(page, 'users-user');

    // Markup in a user name and a token name: refused, and the echo is text.
    await page.goto(`${base}/users`);
    await addUser.getByLabel('User name').fill(XSS);
    await addUser.getByLabel('Initial password').fill(OLGA_PASSWORD);
    await addUser.getByRole('button', { name: 'Add user' }).click();
    assert.match(await addUser.getByRole('alert').textContent() ?? '', /a user name is 1\.\.64 letters/);
    assert.equal(await addUser.getByLabel('User name').inputValue(), XSS, 'the refused name comes back as the field\'s text');
    await addToken.getByLabel('Token name').fill(XSS);
    await addToken.getByRole('button', { name: 'Create token' }).click();
    assert.match(await addToken.getByRole('alert').textContent() ?? '', /a token name is 1\.\.64 letters/);
    assert.equal(await page.locator('main img').count(), 0, 'no markup from the names');
    assert.doesNotMatch(await page.locator('#users').textContent() ?? '', /img/);

    // A viewer with a generated password: shown once on the answer to the POST.
    await page.goto(`${base}/users`);
    await addUser.getByLabel('User name').fill('vic');
    await addUser.getByLabel('Role').selectOption('viewer');
    await addUser.getByRole('button', { name: 'Add user' }).click();
    const vicPassword = (await page.locator('#secret').textContent())!.trim();
    assert.match(vicPassword, /^[\w-]{24}$/);
    assert.ok(!page.url().includes(vicPassword));

    // A token with scope overrides: shown once, with the copy hint; not in the URL.
    await page.goto(`${base}/users`);
    await addToken.getByLabel('Token name').fill('helpdesk');
    await addToken.getByLabel('Scope').selectOption('overrides');
    await addToken.getByRole('button', { name: 'Create token' }).click();
    const secret = (await page.locator('#secret').textContent())!.trim();
    assert.match(secret, /^qbl_[\w-]{43}$/);
    assert.match(await page.locator('section.secret').textContent() ?? '', /shown only this once.*copy/is);
    assert.ok(!page.url().includes(secret), 'not in the URL');
    await screenshots(page, 'users-token-created');
    // A reload (chromium posts the form again) does not show it again: the name is taken now.
    await page.reload();
    assert.match(await addToken.getByRole('alert').textContent() ?? '', /a token named 'helpdesk' already exists/);
    assert.equal(await page.locator('#secret').count(), 0, 'not shown after a reload');
    assert.ok(!(await page.content()).includes(secret));
    await page.goto(`${base}/users`);
    assert.ok(!(await page.content()).includes(secret), 'not on the page later');
    assert.equal(await page.locator('#tokens tbody tr', { hasText: 'helpdesk' }).count(), 1, 'one token, created once');

    // It works against the API; revoked from the page, it gets 401.
    const call = () => fetch(`${base}/api/v1/overrides`, { headers: { authorization: `Bearer ${secret}` } });
    assert.equal((await call()).status, 200);
    await page.goto(`${base}/users`);
    assert.match(await page.locator('#tokens tbody tr', { hasText: 'helpdesk' }).textContent() ?? '', /overrides/);
    await Promise.all([page.waitForURL(`${base}/users?done=revoked`), page.getByRole('button', { name: 'Revoke token helpdesk' }).click()]);
    assert.match(await page.locator('#tokens tbody tr', { hasText: 'helpdesk' }).textContent() ?? '', /revoked/);
    assert.equal((await call()).status, 401);
    await screenshots(page, 'users');

    // The admin cannot delete themselves (no form; a crafted POST is refused, nothing changes).
    await page.goto(`${base}/users/u/admin`);
    assert.equal(await page.getByRole('button', { name: 'Delete user' }).count(), 0);
    const csrf = await page.locator('meta[name=csrf-token]').getAttribute('content');
    const self = await page.request.post(`${base}/users/u/admin/delete`, { form: { _csrf: csrf! } });
    assert.equal(self.status(), 409);
    assert.match(await self.text(), /you cannot delete yourself: another admin can/);
    const demote = await page.request.post(`${base}/users/u/admin/role`, { form: { _csrf: csrf!, role: 'viewer' } });
    assert.equal(demote.status(), 409);
    assert.match(await demote.text(), /last enabled admin|you cannot demote yourself/);

    // The operator: no "Users" entry, 403 on the page and on its forms.
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.waitForURL((u) => u.pathname.startsWith('/login'));
    await signIn(page, base, 'olga', OLGA_PASSWORD);
    assert.equal(await page.getByRole('link', { name: 'Users' }).count(), 0, 'no nav entry for an operator');
    const r = await page.goto(`${base}/users`);
    assert.equal(r!.status(), 403);
    assert.match(await page.getByRole('alert').textContent() ?? '', /managed by admins.*olga \(operator\)/);
    await screenshots(page, 'users-forbidden');
    const olgaCsrf = await page.locator('meta[name=csrf-token]').getAttribute('content');
    const post = await page.request.post(`${base}/users/tokens`, { form: { _csrf: olgaCsrf!, name: 'sneaky', scope: 'admin' } });
    assert.equal(post.status(), 403);
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.waitForURL((u) => u.pathname.startsWith('/login'));

    // The generated password signs the viewer in.
    await signIn(page, base, 'vic', vicPassword);
    assert.match(await page.textContent('header') ?? '', /vic\s*\(viewer\)/);
    assert.equal(dialogs, 0, 'no script ran');
  } finally {
    await ctx.close();
  }
  // Every change is audited with the admin as actor; never a secret or a hash.
  const db = new Database(join(dir, 'state', 'quorumbl.sqlite'), { readonly: true });
  try {
    const rows = db.prepare("SELECT actor, action, target, before, after FROM audit_log WHERE action IN ('user.create', 'token.create', 'token.revoke') ORDER BY id").all() as any[];
    assert.deepEqual(rows.map((r) => [r.actor, r.action, r.target]), [
      ['system:bootstrap', 'user.create', 'user:admin'], ['user:admin', 'user.create', 'user:olga'], ['user:admin', 'user.create', 'user:vic'],
      ['user:admin', 'token.create', 'token:helpdesk'], ['user:admin', 'token.revoke', 'token:helpdesk'],
    ]);
    assert.doesNotMatch(JSON.stringify(db.prepare('SELECT * FROM audit_log').all()), /qbl_[\w-]{43}|scrypt\$/);
  } finally {
    db.close();
  }
});
