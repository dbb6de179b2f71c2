// GET /api/v1/providers through a real HTTP server: any valid token reads the feed state the
// server holds; no token is a 401; without a providers source the route does not exist.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApp } from '../../web/app.ts';
import { startWeb, type WebServer } from '../../web/server.ts';
import { LocalStore } from '../../sync/local/store.ts';
import { ProviderFeeds } from '../../sync/providers/feeds.ts';
import { providersSchema } from '../../sync/providers/index.ts';
import type { Logger } from '../../core/log.ts';
import { tmpDb } from '../sync/local/helpers.ts';

const servers: WebServer[] = [];
after(async () => {
  for (const s of servers) await s.close();
});

const quiet = { debug() {}, info() {}, warn() {}, error() {} } as unknown as Logger;

async function setup(withProviders: boolean) {
  const { db } = tmpDb();
  const store = new LocalStore(db, { reputation: { half_life: 7 * 86400, cap: 10 }, onChange: () => {} });
  const token = store.tokens.create('rspamd', 'reports', 'test').token;
  const feeds = new ProviderFeeds(providersSchema.parse(undefined), { stateDir: mkdtempSync(join(tmpdir(), 'qbl-api-providers-')), log: quiet, onChange: () => {} });
  const app = createApp({ store, ...(withProviders ? { providers: () => feeds.states() } : {}) });
  const server = await startWeb({ app, listen: { address: '127.0.0.1', port: 0 } });
  servers.push(server);
  const get = async (tok?: string) => {
    const res = await fetch(`http://127.0.0.1:${server.port}/api/v1/providers`, { headers: tok ? { authorization: `Bearer ${tok}` } : {} });
    return { status: res.status, json: (await res.json()) as any };
  };
  return { get, token };
}

test('any valid token (reports scope here) reads the provider feed state', async () => {
  const { get, token } = await setup(true);
  assert.equal((await get()).status, 401);
  assert.equal((await get('not-a-token-at-all-xxxxxxxxxxxx')).status, 401);
  const r = await get(token);
  assert.equal(r.status, 200, JSON.stringify(r.json));
  assert.equal(r.json.stale, true, 'a feed on its baseline is stale');
  assert.equal(r.json.providers.length, 4);
  const m = r.json.providers[0];
  assert.deepEqual([m.provider, m.feed, m.origin, m.ranges, m.stale], ['microsoft365', 'm365-worldwide', 'baseline', 6, true]);
  assert.equal(m.baseline.date, '2025-01-01');
  assert.ok(m.ageSeconds > 365 * 86400);
});

test('without a providers source the route is a 404', async () => {
  const { get, token } = await setup(false);
  assert.equal((await get(token)).status, 404);
});
