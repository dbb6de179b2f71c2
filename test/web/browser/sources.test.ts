// The Sources page in a real browser against a real `serve`, with a loopback HTTP upstream:
//   `quorumbl sync` mirrors a 1,001-entry list, then a 90 % shrink that the guards quarantine; the
//   page shows the quarantine with its reasons and what it would change; the operator accepts it
//   and `dig` against the serve answers from the accepted data. A source whose upstream answers
//   with a hostile HTTP reason phrase, and a quarantine reason holding markup (seeded in the state
//   database: today's reasons are built from numbers, a future guard may quote upstream text),
//   render as text. "Sync now" on a source: the page follows the run until it ends.
//   Screenshots at desktop and phone width.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { once } from 'node:events';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { openDb } from '../../../core/db.ts';
import { SyncState, sourcePaths } from '../../../sync/state.ts';
import { readAudit } from '../../../sync/local/audit.ts';
import { dbPath } from '../../../cli/sync.ts';
import {
  digRaw, freePort, ip4Labels, makeTmpDir, poll, runQuorumbl, spawnQuorumbl, stopAll, writeConfig, toolsOrSkip, waitReady, type Proc,
} from '../../integration/helpers.ts';
import { browserOrSkip, launch, screenshots, signIn } from './browser.ts';

const skip = toolsOrSkip(['dig']) || browserOrSkip();
const PASSWORD = 'correct horse battery staple';
const BASE = 'dnsbl.test';
const XSS = '<img src=x onerror=alert(1)>';

function list(n: number): string {
  const lines = ['# synthetic list', '127.0.0.2'];
  for (let i = 0; i < n; i++) lines.push(`198.51.${100 + (i >> 8)}.${i & 255}`);
  return lines.join('\n') + '\n';
}

const bodies = new Map<string, string>([['/trap.txt', list(1000)], ['/fresh.txt', list(20)]]);
let upstream: Server;
let serve: Proc | undefined;

before(async () => {
  upstream = createServer((req, res) => {
    if (req.url === '/evil.txt') return void res.writeHead(503, XSS).end();
    const b = bodies.get(req.url ?? '');
    if (b === undefined) return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': 'text/plain' }).end(b);
  });
  upstream.listen(0, '127.0.0.1');
  await once(upstream, 'listening');
});

after(async () => {
  await stopAll(serve);
  upstream.close();
});

test('sources page: quarantine with reasons and change, accept -> dig answers from it, hostile text as text, sync now', { skip, timeout: 240_000 }, async () => {
  const dir = makeTmpDir();
  const [dns, web] = [await freePort(), await freePort()];
  const up = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
  const src = (name: string, minInterval: string) =>
    `  - { name: ${name}, kind: ip, fetch: "${up}/${name}.txt", format: plain, schedule: "0 0 1 1 *", min_interval: ${minInterval}, retries: 0, timeout: 5, max_prefix: { v4: 16 } }`;
  const cfg = writeConfig(dir, `
base: ${BASE}
state_dir: ${dir}/state
server: { listen: ["127.0.0.1:${dns}"] }
web: { enabled: true, listen: "127.0.0.1:${web}" }
sync: { enabled: true }
sources:
${src('trap', '1h')}
${src('evil', '1h')}
${src('fresh', '2s')}
providers: []
`);
  // The good copy, then a 90 % shrink: quarantined. Both by `quorumbl sync`, before serve starts.
  let r = await runQuorumbl(['sync', '--config', cfg, 'trap'], { timeoutMs: 60_000 });
  assert.equal(r.code, 0, r.output);
  bodies.set('/trap.txt', list(100));
  r = await runQuorumbl(['sync', '--config', cfg, 'trap'], { timeoutMs: 60_000 });
  assert.equal(r.code, 1, r.output);
  // A quarantine whose reason holds markup, then the upstream's hostile reason phrase as the error.
  {
    const db = openDb(dbPath(join(dir, 'state')));
    const state = new SyncState(db);
    const qdir = sourcePaths(join(dir, 'state'), 'evil').quarantine;
    mkdirSync(qdir, { recursive: true });
    writeFileSync(join(qdir, 'q'), '192.0.2.1\n');
    state.finishQuarantined(state.beginRun('evil'), { reasons: [`upstream said ${XSS}`], path: join(qdir, 'q'), stats: null });
    db.close();
  }
  r = await runQuorumbl(['sync', '--config', cfg, 'evil'], { timeoutMs: 60_000 });
  assert.equal(r.code, 1, r.output);

  serve = spawnQuorumbl(['serve', '--config', cfg], { env: { QUORUMBL_ADMIN_PASSWORD: PASSWORD, QUORUMBL_SYNC__ENABLED: 'true' } });
  await waitReady(serve, '127.0.0.1', dns, `trap.mirror.${BASE}`);
  const base = `http://127.0.0.1:${web}`;
  const listed = async (ip: string) => {
    const d = await digRaw('127.0.0.1', dns, [`${ip4Labels(ip)}.trap.mirror.${BASE}`, 'A']);
    return d.replies[0]!.status;
  };
  // The good copy serves: an address only in it is listed.
  assert.equal(await poll(async () => ((await listed('198.51.100.200')) === 'NOERROR' ? 'NOERROR' : undefined), 'good copy served'), 'NOERROR');

  const ctx = await launch();
  const dialogs: string[] = [];
  try {
    const page = ctx.pages()[0] ?? (await ctx.newPage());
    page.on('dialog', (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
    await signIn(page, base, 'admin', PASSWORD);
    await page.getByRole('link', { name: 'Sources' }).click();
    await page.waitForURL(`${base}/sources`);

    const trap = page.locator('#source-trap');
    assert.match(await trap.locator('p.state').textContent() ?? '', /quarantined since .* ago: the last good copy keeps serving/);
    assert.match(await trap.locator('ul.reasons').textContent() ?? '', /entries shrank from 1,001 to 101 \(-90%\), limit -50%/);
    assert.match(await trap.locator('dl.change').textContent() ?? '', /Entries1,001 → 101 \(−900, −90%\)IPv4 addresses1,001 → 101 \(−90%\)/);
    assert.match(await trap.locator('details.guards').textContent() ?? '', /min_interval.*1 h between fetches.*max_shrink.*50%/s);
    assert.match(await trap.locator('p.sync').textContent() ?? '', /Sync now: possible from .* min_interval 1 h since the last attempt/);

    // Hostile text from the upstream (reason phrase -> error) and in a reason: text, not markup.
    const evil = page.locator('#source-evil');
    assert.equal(await page.locator('main img').count(), 0, 'no <img> element was created');
    assert.match(await evil.locator('ul.reasons').textContent() ?? '', /upstream said <img src=x onerror=alert\(1\)>/);
    assert.match(await evil.locator('dd.err-text').textContent() ?? '', /HTTP 503 <img src=x onerror=alert\(1\)>/);
    assert.match(await evil.locator('table.runs').textContent() ?? '', /<img src=x onerror=alert\(1\)>/);
    await screenshots(page, 'sources');

    // Accept the shrunk list: DNS answers from it (198.51.100.200 gone, 198.51.100.5 still listed).
    await Promise.all([page.waitForURL(/\/sources\?done=accepted/), trap.getByRole('button', { name: /^Accept: serve this update \(101 entries\)/ }).click()]);
    assert.match(await page.getByRole('status').first().textContent() ?? '', /Accepted: the update is now the last good copy/);
    assert.equal(await poll(async () => ((await listed('198.51.100.200')) === 'NXDOMAIN' ? 'NXDOMAIN' : undefined), 'accepted copy served', { timeoutMs: 30_000 }), 'NXDOMAIN');
    assert.equal(await listed('198.51.100.5'), 'NOERROR');
    assert.match(await trap.locator('p.state').textContent() ?? '', /^ok$/);
    assert.match(await trap.locator('table.runs').textContent() ?? '', /accepted by operator/);
    {
      const db = openDb(dbPath(join(dir, 'state')));
      const a = readAudit(db).filter((e) => e.action === 'source.accept');
      db.close();
      assert.deepEqual(a.map((e) => [e.actor, e.target]), [['user:admin', 'source:trap']]);
    }

    // Sync now on `fresh` (min_interval 2 s): once serve's own first sync of it has ended and 2 s
    // have passed, the button is there; the page follows the run until it ends.
    await poll(async () => {
      await page.goto(`${base}/sources/fresh`);
      const startupDone = (await page.locator('table.runs .outcome-ok').count()) > 0; // serve's first sync of it
      return startupDone && (await page.getByRole('button', { name: 'Sync now' }).count()) > 0 ? true : undefined;
    }, 'sync now offered for fresh', { timeoutMs: 60_000, intervalMs: 1000 });
    await Promise.all([page.waitForURL(/\/sources\/fresh\?done=sync&run=\d+/), page.getByRole('button', { name: 'Sync now' }).click()]);
    const run = /run=(\d+)/.exec(page.url())![1];
    await page.getByText(new RegExp(`Sync #${run} ended: ok, 21 entries, now serving`)).waitFor({ timeout: 30_000 })
      .catch(async (e) => assert.fail(`${(e as Error).message}\n${await page.locator('main').textContent()}`));
    await screenshots(page, 'sources-detail');
    assert.deepEqual(dialogs, [], 'no script ran');
  } finally {
    await ctx.close();
  }
});
