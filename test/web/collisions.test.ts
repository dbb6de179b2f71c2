// GET /api/v1/collisions through a real HTTP server: 503 with Retry-After before the first merge
// has computed collisions, the tracker's report after it (any valid token), 401 without a token,
// 404 when the app has no collisions source.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApp } from '../../web/app.ts';
import { startWeb, type WebServer } from '../../web/server.ts';
import { LocalStore } from '../../sync/local/store.ts';
import { CollisionTracker } from '../../sync/collisions-store.ts';
import type { Logger } from '../../core/log.ts';
import { emptyRangeSet6 } from '../../core/ranges.ts';
import { tmpDb } from '../sync/local/helpers.ts';
import { set4 } from '../sync/merge/helpers.ts';

const servers: WebServer[] = [];
const dirs: string[] = [];
after(async () => {
  for (const s of servers) await s.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const quiet = { debug() {}, info() {}, warn() {}, error() {} } as unknown as Logger;

async function setup(withCollisions: boolean) {
  const { db } = tmpDb();
  const store = new LocalStore(db, { reputation: { half_life: 7 * 86400, cap: 10 }, onChange: () => {} });
  const token = store.tokens.create('dashboard', 'reports', 'test').token;
  const dir = mkdtempSync(join(tmpdir(), 'qbl-api-collisions-'));
  dirs.push(dir);
  const tracker = new CollisionTracker({ stateDir: dir, log: quiet });
  tracker.attachDb(db);
  const app = createApp({ store, ...(withCollisions ? { collisionReport: () => tracker.current() } : {}) });
  const server = await startWeb({ app, listen: { address: '127.0.0.1', port: 0 } });
  servers.push(server);
  const get = async (tok?: string) => {
    const res = await fetch(`http://127.0.0.1:${server.port}/api/v1/collisions`, { headers: tok ? { authorization: `Bearer ${tok}` } : {} });
    return { status: res.status, retry: res.headers.get('retry-after'), json: (await res.json()) as any };
  };
  return { get, token, tracker };
}

test('503 before the first merge, then the counts with samples; any valid token; 401 without one', async () => {
  const { get, token, tracker } = await setup(true);
  assert.equal((await get()).status, 401);
  const before = await get(token);
  assert.equal(before.status, 503);
  assert.equal(before.retry, '5');
  assert.match(before.json.error, /after the first merge/);
  await tracker.update([{ name: 'spamcop', v4: set4(['40.92.0.7', '40.92.0.9', '192.0.2.1']), v6: emptyRangeSet6() }], [{ name: 'microsoft365/static', v4: set4(['40.92.0.0/15']), v6: emptyRangeSet6() }], 42);
  const r = await get(token);
  assert.equal(r.status, 200, JSON.stringify(r.json));
  assert.equal(r.json.serial, 42);
  assert.deepEqual(r.json.pairs.map((p: any) => [p.source, p.provider, p.keys, p.ranges, p.samples.map((s: any) => s.listed)]), [['spamcop', 'microsoft365/static', 2, 2, ['40.92.0.7', '40.92.0.9']]]);
  assert.deepEqual(r.json.alerts, []);
});

test('without a collisions source the route is a 404', async () => {
  const { get, token } = await setup(false);
  assert.equal((await get(token)).status, 404);
});
