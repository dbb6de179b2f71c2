// ProviderFeeds (what `serve` runs): a feed with a shipped baseline starts on it and never holds
// the first merge back; its failed checks are recorded on disk (what `quorumbl providers` reads
// from another process) and logged as stale; its first good fetch replaces the baseline and asks
// for a merge; a feed with neither baseline nor last good copy is waited for, bounded, and then
// reported loudly; a restart starts from the last good copy and the recorded state.

import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { after, test } from 'node:test';
import type { Logger } from '../../../core/log.ts';
import { ProviderFeeds } from '../../../sync/providers/feeds.ts';
import { providerSchema } from '../../../sync/providers/index.ts';
import { readFeedStates } from '../../../sync/providers/status.ts';
import { loadBaselines } from '../../../sync/providers/baseline.ts';
import { feedFile } from '../../../sync/providers/store.ts';
import { tmpDir } from '../fetch/helpers.ts';
import { PROVIDER_FIXTURES } from './dns-server.ts';

interface Rec { level: string; obj: Record<string, unknown>; msg: string }
function logger(): { log: Logger; recs: Rec[] } {
  const recs: Rec[] = [];
  const at = (level: string) => (obj: Record<string, unknown> | string, msg?: string) => {
    recs.push(typeof obj === 'string' ? { level, obj: {}, msg: obj } : { level, obj, msg: msg ?? '' });
  };
  const log = { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), fatal: at('fatal'), trace: at('trace') } as unknown as Logger;
  return { log, recs };
}

/** A loopback M365 web service: 'down' resets every connection, 'hang' never answers. */
class M365 {
  mode: 'down' | 'up' | 'hang' = 'down';
  endpoints = 0;
  private sockets = new Set<Socket>();
  private server: Server = createServer((req, res) => {
    if (this.mode === 'down') return req.socket.destroy();
    if (this.mode === 'hang') return;
    const url = new URL(req.url!, 'http://x');
    if (url.pathname === '/version/Worldwide') res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ instance: 'Worldwide', latest: '2024063000' }));
    else if (url.pathname === '/endpoints/Worldwide') {
      this.endpoints++;
      res.writeHead(200, { 'content-type': 'application/json' }).end(readFileSync(join(PROVIDER_FIXTURES, 'm365-endpoints-2024063000.json')));
    } else res.writeHead(404).end();
  });
  port = 0;
  async start(): Promise<this> {
    this.server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as { port: number }).port;
    return this;
  }
  close(): void {
    for (const s of this.sockets) s.destroy();
    this.server.close();
  }
}

const servers: M365[] = [];
const feedsRunning: ProviderFeeds[] = [];
after(() => {
  for (const f of feedsRunning) f.stop();
  for (const s of servers) s.close();
});

async function m365(): Promise<M365> {
  const s = await new M365().start();
  servers.push(s);
  return s;
}

const m365Cfg = (port: number, extra: Record<string, unknown> = {}) =>
  providerSchema.parse({ provider: 'microsoft365', type: 'm365', base_url: `http://127.0.0.1:${port}`, timeout: 5, ...extra });

function feeds(cfgs: ReturnType<typeof m365Cfg>[], stateDir: string, log: Logger, opts: { onChange?: () => void; wait?: number; now?: () => number } = {}) {
  const f = new ProviderFeeds(cfgs, { stateDir, log, onChange: opts.onChange ?? (() => {}), firstFetchWaitMs: opts.wait ?? 600_000, ...(opts.now ? { now: opts.now } : {}) });
  feedsRunning.push(f);
  return f;
}

test('a feed unreachable since the first start runs on its baseline; the failure is recorded and stale; the first good fetch replaces it', async () => {
  const srv = await m365();
  const dir = tmpDir('qbl-feeds-');
  const { log, recs } = logger();
  let changes = 0;
  const cfg = m365Cfg(srv.port);
  const f = feeds([cfg], dir, log, { onChange: () => changes++ });
  const feed = f.list[0]!;
  assert.ok(feed.result?.baseline, 'the baseline is in use before any fetch');
  assert.equal(feed.result.ranges.length, 6);

  // start() does not wait for a feed that has a baseline (the wait is 10 min here)
  await f.start(true);
  await feed.running; // the background first check
  assert.equal(feed.status.lastStatus, 'failed');
  assert.ok(feed.result?.baseline, 'still the baseline');
  assert.equal(changes, 0);
  assert.ok(recs.some((r) => r.level === 'error' && r.msg === 'provider feed not updated; previous ranges kept' && r.obj.origin === 'baseline'));
  const stale = recs.filter((r) => r.level === 'warn' && /still on the shipped baseline/.test(r.msg));
  assert.deepEqual(stale.map((r) => r.obj.when), ['start', 'check'], 'stale logged at start and at the check');
  assert.equal(stale[0]!.obj.baseline, 'microsoft365-m365-worldwide.json dated 2025-01-01');

  // another process (the CLI) sees the same from the files
  let [s] = readFeedStates([cfg], dir, loadBaselines(), Date.now());
  assert.equal(s!.origin, 'baseline');
  assert.equal(s!.lastStatus, 'failed');
  assert.ok(s!.lastError && s!.lastError.length > 0, 'the error text');
  assert.equal(s!.lastSuccess, null);
  assert.equal(s!.stale, true);
  assert.equal(s!.ranges, 6);
  assert.equal(existsSync(feedFile(dir, 'last-good', 'microsoft365', 'm365-worldwide')), false, 'a baseline is never saved as last good');

  // the service comes back: the next check replaces the baseline and asks for a merge
  srv.mode = 'up';
  await f.check(feed);
  assert.equal(feed.result?.baseline, undefined);
  assert.equal(feed.result?.version, '2024063000');
  assert.match(feed.result!.ranges[0]!.detail, /^M365 endpoint set 10 \(TCP 25\), version 2024063000$/);
  assert.equal(changes, 1, 'baseline -> fetched is a change even with the same ranges');
  assert.ok(recs.some((r) => r.msg === 'provider feed checked' && r.obj.replacedBaseline === true));
  [s] = readFeedStates([cfg], dir, loadBaselines(), Date.now());
  assert.equal(s!.origin, 'fetched');
  assert.equal(s!.version, '2024063000');
  assert.equal(s!.stale, false);
  assert.ok(s!.lastSuccess && s!.lastError, 'last success and the older error both shown');
  assert.equal(f.states()[0]!.origin, 'fetched', 'the in-memory view agrees');
});

test('a restart starts from the last good copy and the recorded check; unchanged versions keep it fresh; max_age makes it stale', async () => {
  const srv = await m365();
  srv.mode = 'up';
  const dir = tmpDir('qbl-feeds-');
  const cfg = m365Cfg(srv.port, { max_age: '1d' });
  const a = feeds([cfg], dir, logger().log);
  await a.check(a.list[0]!);
  a.stop();
  assert.equal(srv.endpoints, 1);

  // restart, network down: last good (not the baseline), the recorded success
  srv.mode = 'down';
  let t = Date.now();
  const { log, recs } = logger();
  const b = feeds([cfg], dir, log, { now: () => t });
  const feed = b.list[0]!;
  assert.equal(feed.result?.baseline, undefined);
  assert.equal(feed.result?.version, '2024063000');
  assert.ok(feed.status.lastSuccess);
  assert.equal(b.states()[0]!.stale, false);
  // two days later, the service still down: stale at the check, age and max_age in the log
  t += 2 * 86400_000;
  await b.check(feed);
  const w = recs.find((r) => r.level === 'warn' && r.msg === 'provider feed stale: its last good fetch is older than max_age');
  assert.ok(w, JSON.stringify(recs));
  assert.equal(w.obj.maxAgeSeconds, 86400);
  assert.ok((w.obj.ageSeconds as number) >= 2 * 86400);
  assert.equal(b.states()[0]!.stale, true);
  // back up with the same version: not re-downloaded, but confirmed: fresh again
  srv.mode = 'up';
  await b.check(feed);
  assert.equal(feed.status.lastStatus, 'unchanged');
  assert.equal(srv.endpoints, 1, 'same version: endpoints not downloaded again');
  assert.equal(b.states()[0]!.stale, false);
});

test('a feed with neither baseline nor last good copy: the first merge waits, bounded, then goes on with an error', async () => {
  const srv = await m365();
  srv.mode = 'hang';
  const dir = tmpDir('qbl-feeds-');
  const { log, recs } = logger();
  // China has no shipped baseline
  const cfg = m365Cfg(srv.port, { instance: 'China', timeout: 60 });
  const f = feeds([cfg], dir, log, { wait: 300 });
  assert.equal(f.list[0]!.result, null);
  await f.start(true); // returns after the bounded wait although the fetch still hangs
  const e = recs.find((r) => r.level === 'error' && /has no ranges \(never fetched, no shipped baseline\): merging without it/.test(r.msg));
  assert.ok(e, JSON.stringify(recs));
  assert.equal(e.obj.waitedMs, 300);
  const [s] = f.states();
  assert.equal(s!.origin, 'none');
  assert.equal(s!.stale, true);
  assert.equal(s!.ageSeconds, null);
  f.stop();
  srv.close();
});

test('sync disabled: no fetch, the baselines serve, stale logged at start; a feed with nothing is an error', async () => {
  const srv = await m365();
  srv.mode = 'up';
  const dir = tmpDir('qbl-feeds-');
  const { log, recs } = logger();
  const cfgs = [m365Cfg(srv.port), m365Cfg(srv.port, { instance: 'China' })];
  const f = feeds(cfgs, dir, log);
  await f.start(false);
  assert.equal(srv.endpoints, 0);
  assert.ok(f.list[0]!.result?.baseline);
  assert.ok(recs.some((r) => r.level === 'warn' && r.obj.feed === 'm365-worldwide' && r.obj.when === 'start'));
  assert.ok(recs.some((r) => r.level === 'error' && r.obj.feed === 'm365-china' && /sync\.enabled is false/.test(r.msg)));
});

test('a state dir where nothing can be written: the fetched ranges are used anyway, one warning each', async () => {
  const srv = await m365();
  srv.mode = 'up';
  const dir = tmpDir('qbl-feeds-');
  const { log, recs } = logger();
  // a file where the status directory must go
  const { mkdirSync, writeFileSync } = await import('node:fs');
  mkdirSync(join(dir, 'providers'), { recursive: true });
  writeFileSync(join(dir, 'providers', 'status'), 'not a directory');
  writeFileSync(join(dir, 'providers', 'last-good'), 'not a directory');
  let changes = 0;
  const f = feeds([m365Cfg(srv.port)], dir, log, { onChange: () => changes++ });
  await f.check(f.list[0]!);
  await f.check(f.list[0]!);
  assert.equal(f.list[0]!.result?.version, '2024063000', 'the fetched ranges replace the baseline in memory');
  assert.equal(f.list[0]!.result?.baseline, undefined);
  assert.equal(changes, 1);
  assert.equal(recs.filter((r) => r.level === 'warn' && /cannot record the provider feed state/.test(r.msg)).length, 1);
  assert.ok(recs.some((r) => r.level === 'warn' && /last good copy could not be written/.test(r.msg)));
  assert.ok(!recs.some((r) => r.level === 'error'), JSON.stringify(recs.filter((r) => r.level === 'error')));
});

test('a truncated last good copy and check record (a crash mid-write without rename): back to the baseline, no crash', async () => {
  const srv = await m365();
  srv.mode = 'up';
  const dir = tmpDir('qbl-feeds-');
  const cfg = m365Cfg(srv.port);
  const a = feeds([cfg], dir, logger().log);
  await a.check(a.list[0]!);
  a.stop();
  const { writeFileSync } = await import('node:fs');
  for (const kind of ['last-good', 'status'] as const) {
    const file = feedFile(dir, kind, 'microsoft365', 'm365-worldwide');
    writeFileSync(file, readFileSync(file, 'utf8').slice(0, 40));
  }
  srv.mode = 'down';
  const { log } = logger();
  const b = feeds([cfg], dir, log);
  assert.ok(b.list[0]!.result?.baseline, 'an unreadable last good copy falls back to the baseline, never to nothing');
  const [s] = readFeedStates([cfg], dir, loadBaselines(), Date.now());
  assert.deepEqual([s!.origin, s!.lastAttempt, s!.ranges], ['baseline', null, 6]);
  // the next good fetch writes both again
  srv.mode = 'up';
  await b.check(b.list[0]!);
  const [t] = readFeedStates([cfg], dir, loadBaselines(), Date.now());
  assert.deepEqual([t!.origin, t!.lastStatus], ['fetched', 'updated']);
});
