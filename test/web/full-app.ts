// The app as `serve` builds it, with EVERY optional part (console, explain, providers,
// collisions, export, health, metrics, sources, the public page under its prefix), over real HTTP on loopback (port 0) with a real SQLite file:
// what the OpenAPI and security tests enumerate routes of. Users of each role and tokens of
// each scope.

import { after } from 'node:test';
import { Registry } from 'prom-client';
import { createApp } from '../../web/app.ts';
import { startWeb, type WebServer } from '../../web/server.ts';
import { LocalStore } from '../../sync/local/store.ts';
import { Users } from '../../sync/local/users.ts';
import { SCOPES, type Scope } from '../../sync/local/tokens.ts';
import { Clock, tmpDb } from '../sync/local/helpers.ts';
import { PW, type Fixture } from './auth/helpers.ts';
import { SourcesService } from '../../sync/sources-service.ts';
import { Removals } from '../../sync/local/removals.ts';
import { mkdtempSync } from 'node:fs';
import { RecordsDataset } from '../../core/datasets/records.ts';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const servers: WebServer[] = [];
after(async () => {
  for (const s of servers) await s.close();
});

export interface FullFixture extends Fixture {
  app: ReturnType<typeof createApp>;
  /** A token of each scope. */
  tokens: Record<Scope, string>;
}

export async function fullApp(): Promise<FullFixture> {
  const { db } = tmpDb();
  const clock = new Clock(Date.now());
  const store = new LocalStore(db, { reputation: { half_life: 7 * 86400, cap: 10 }, now: clock.now });
  const users = new Users(db, clock.now);
  await users.create('admin', 'admin', PW.admin, 'test');
  await users.create('olga', 'operator', PW.operator, 'test');
  await users.create('vic', 'viewer', PW.viewer, 'test');
  const tokens = Object.fromEntries(SCOPES.map((s) => [s, store.tokens.create(`t-${s}`, s, 'test').token])) as Record<Scope, string>;
  const failures: Fixture['failures'] = [];
  const app = createApp({
    store,
    version: 'test',
    explain: (key) => ({ key, verdict: 'pass' }),
    providers: () => [],
    collisionReport: () => null,
    export: { zones: () => [{ name: 'bl.test', datasets: [new RecordsDataset([{ name: '2.0.0.127', type: 1, ttl: 300, data: '127.0.0.2' }], { soa: { ttl: 300, mname: 'ns.test', rname: 'hm.test', serial: 1, refresh: 600, retry: 300, expire: 86400, minimum: 60 } })], newestMtime: 0, failed: false }], base: 'test' },
    health: { dns: () => ({ listening: true, addresses: [] }), zones: () => ({ served: 3, failed: [] }) },
    metrics: { registry: new Registry(), token: null },
    console: { now: clock.now, logFailure: (f) => failures.push(f) },
    sources: { service: new SourcesService(db, { stateDir: mkdtempSync(join(tmpdir(), 'quorumbl-fullapp-')), sources: [{ name: 'spamlist' }], now: clock.now }) },
    public: { prefix: '/public', explain: (() => { throw new Error('no explain in this fixture'); }) as never, removals: new Removals(store), lookupsPerMinute: 30, now: clock.now },
  });
  const server = await startWeb({ app, listen: { address: '127.0.0.1', port: 0 } });
  servers.push(server);
  const host = `127.0.0.1:${server.port}`;
  return { app, base: `http://${host}`, host, store, users, clock, failures, adminToken: tokens.admin, tokens };
}

export interface RouteEntry {
  method: string;
  /** hono's path, e.g. /api/v1/overrides/:id */
  path: string;
}

/** The routes the app registers (method + path, once each), middleware-only entries left out. */
export function routesOf(app: { routes: { method: string; path: string }[] }): RouteEntry[] {
  const seen = new Map<string, RouteEntry>();
  for (const r of app.routes) {
    if (r.method === 'ALL' || r.path.endsWith('*')) continue;
    seen.set(`${r.method} ${r.path}`, { method: r.method, path: r.path });
  }
  return [...seen.values()];
}

/** `/api/v1/overrides/:id` -> `/overrides/{id}` (the document's paths are under servers[0].url). */
export function docPath(path: string): string {
  return path.replace(/^\/api\/v1/, '').replace(/:([A-Za-z_][\w]*)/g, '{$1}') || '/';
}

export const MUTATING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
