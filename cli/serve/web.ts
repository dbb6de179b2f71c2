// The REST API, the console, the metrics and the public lookup page of a running `serve`.
// Each listener serves the app its target holds: a config reload builds new apps and swaps
// them in; a changed listen address gets a new listener bound before the old one closes.

import { jobsHealth } from '../../core/jobs.ts';
import { createApp } from '../../web/app.ts';
import { startWeb, type WebServer } from '../../web/server.ts';
import { publicApp, type PublicOptions } from '../../web/public/routes.tsx';
import { Removals } from '../../sync/local/removals.ts';
import { createMetricsRegistry } from '../../web/metrics/collect.ts';
import { sourceMetricsOf } from '../../web/metrics/sources.ts';
import { dashSourcesOf } from '../../web/console/dashboard-data.ts';
import { bootstrapAdmin } from '../../web/console/bootstrap.ts';
import { Users } from '../../sync/local/users.ts';
import { SourcesService } from '../../sync/sources-service.ts';
import { VERSION } from '../version.ts';
import type { LoadedConfig } from '../../core/config/load.ts';
import type { Serving } from './context.ts';

type Fetch = (req: Request, ...rest: unknown[]) => Response | Promise<Response>;
type Listen = { address: string; port: number };

/** A bound listener and the app it serves now. */
export interface Listener {
  listen: Listen;
  server: WebServer;
  target: { fetch: Fetch };
}

export interface WebListeners {
  api?: Listener;
  pub?: Listener;
}

const PUBLIC_TIMEOUTS = { headersMs: 10_000, requestMs: 30_000 };
const notYet: Fetch = () => new Response('starting\n', { status: 503 });

async function bind(listen: Listen, timeouts?: typeof PUBLIC_TIMEOUTS): Promise<Listener> {
  const target = { fetch: notYet };
  const server = await startWeb({ app: { fetch: (req: Request, ...rest: unknown[]) => target.fetch(req, ...rest) }, listen, timeouts });
  return { listen, server, target };
}

/** The API/console app (with the public page under its prefix unless it has its own
 *  listener) and the public page's own app, from the parts and the config in `s` now. */
function buildApps(s: Serving): { app: Fetch; publicApp?: Fetch; publicListen?: Listen } {
  const c = s.cfg.config;
  const { log, disk, server, store, local, localDb, stateDir, scheduler } = s;
  const { state } = s.sync;
  const sources = c.sources;
  // The public lookup page (web.public): its own listener, or under its prefix on web.listen.
  const pub = c.web.public;
  const removals = new Removals(local, { perClientHour: pub.requests_per_hour, globalHour: pub.requests_per_hour_total, maxMessage: pub.message_max, openPerKey: pub.open_per_key });
  const publicOptions: PublicOptions | undefined = !pub.enabled ? undefined : {
    prefix: pub.prefix, explain: (key) => s.merge.explain(key), removals, tls: c.web.tls, trustProxy: pub.trust_proxy ?? c.web.trust_proxy,
    lookupsPerMinute: pub.lookups_per_minute, canWrite: () => disk.writable, onError: (e) => log.error({ err: (e as Error).message }, 'public page error'),
  };
  const app = createApp({
    version: VERSION,
    store: local, explain: (key) => s.merge.explain(key), providers: () => s.merge.providerStates(), collisionReport: () => s.merge.collisionReport(), onError: (e) => log.error({ err: (e as Error).message }, 'API error'),
    export: { zones: () => s.loadedZones, base: c.base, maxExpansion: c.transfer?.max_expansion, report: (zone, problems) => log.warn({ zone, problems: problems.slice(0, 20), count: problems.length }, 'export: what the file cannot say as quorumbl answers') },
    disk,
    sources: {
      service: new SourcesService(localDb, { stateDir, sources, command: (d, n) => `quorumbl serve (${d} ${n})` }),
      syncNow: scheduler && ((name, actor) => scheduler.requestNow(name, actor)),
    },
    health: {
      startedAt: s.startedAt,
      reload: () => s.reloader?.status ?? null,
      dns: () => ({ listening: server.addresses.length > 0, addresses: server.addresses.map((a) => `${a.proto}/${a.address.includes(':') ? `[${a.address}]` : a.address}:${a.port}`) }),
      zones: () => ({ served: store.published.length, failed: store.published.filter((z) => z.failed).map((z) => z.name) }),
      disk: () => disk.status(),
      jobs: jobsHealth,
    },
    metrics: !c.web.metrics.enabled ? undefined : {
      token: c.web.metrics.token,
      registry: createMetricsRegistry({
        dns: () => server.counters, zones: () => store.published, mergedZones: () => s.merge.zoneNames, merge: () => s.merge.status,
        sources: () => sourceMetricsOf(state, sources.map((x) => x.name)), providers: () => s.merge.providerStates(),
        overrides: () => local.overlay.overrides, jobs: jobsHealth, disk: () => disk.status(),
        collisions: () => s.merge.collisionCounts(),
        onError: (metric, e) => log.warn({ metric, err: (e as Error).message }, 'metric not read'),
      }),
    },
    console: {
      tls: c.web.tls, trustProxy: c.web.trust_proxy, canWrite: () => disk.writable,
      explain: (key) => s.merge.explain(key),
      onTouchError: (e) => void (disk.report(e) || log.warn({ err: (e as Error).message }, 'session use not recorded')),
      logFailure: (f) => log.warn(f, f.throttled ? 'console sign-in throttled' : 'console sign-in failed'),
      dashboard: {
        dns: () => server.counters, merge: () => s.merge.status, providers: () => s.merge.providerStates(),
        providerRanges: () => s.merge.providerRanges(), collisions: () => s.merge.collisionReport(), disk: () => disk.status(), jobs: jobsHealth,
        zones: () => {
          const sizes = new Map(s.loadedZones.map((z) => [z.name, z.datasets.reduce((n, d) => n + d.size, 0)]));
          return store.published.map((z) => ({ ...z, entries: sizes.get(z.name) ?? null }));
        },
        sources: () => dashSourcesOf(state, sources),
        removals: () => removals.openCount(),
        reload: () => s.reloader?.status ?? null,
      },
    },
    public: pub.listen ? undefined : publicOptions,
  });
  return { app: app.fetch as Fetch, publicApp: publicOptions && pub.listen ? (publicApp(publicOptions).fetch as Fetch) : undefined, publicListen: publicOptions && pub.listen ? pub.listen : undefined };
}

export async function startWebs(s: Serving): Promise<void> {
  const { log, localDb } = s;
  const c = s.cfg.config;
  const apps = buildApps(s);
  s.web = {};
  // The first start creates the console's `admin` (web/console/bootstrap.ts).
  await bootstrapAdmin(new Users(localDb), process.env, log).catch((err) => log.error({ err: (err as Error).message }, 'console admin not created'));
  // DNS matters more than the API: a busy port is logged, DNS keeps answering.
  await bind(c.web.listen).then(
    (l) => {
      l.target.fetch = apps.app;
      s.web!.api = l;
      log.info({ listen: c.web.listen }, 'REST API listening');
    },
    (err) => log.error({ listen: c.web.listen, err: (err as Error).message }, 'REST API not started'),
  );
  if (apps.publicApp && apps.publicListen) {
    const listen = apps.publicListen;
    await bind(listen, PUBLIC_TIMEOUTS).then(
      (l) => {
        l.target.fetch = apps.publicApp!;
        s.web!.pub = l;
        log.info({ listen, prefix: c.web.public.prefix }, 'public lookup page listening');
      },
      (err) => log.error({ listen, err: (err as Error).message }, 'public lookup page not started'),
    );
  } else if (c.web.public.enabled) log.info({ prefix: c.web.public.prefix }, 'public lookup page served under its prefix');
}

const sameListen = (a: Listen | undefined, b: Listen | undefined) => a?.address === b?.address && a?.port === b?.port;

/** A config reload's web part. Prepare binds each listener whose address changed (or that is
 *  not bound); a bind error refuses the reload. Commit (after `s.cfg` is the new config) swaps
 *  the new apps in and closes the listeners replaced; abort closes the ones just bound. */
export async function prepareWeb(s: Serving, next: LoadedConfig): Promise<{ errors: string[] } | { commit: () => Promise<void>; abort: () => Promise<void> }> {
  const w = next.config.web;
  const cur = s.web ?? {};
  const fresh: WebListeners = {};
  const abort = async () => {
    await Promise.all([fresh.api, fresh.pub].map((l) => l?.server.close().catch(() => {})));
  };
  if (!w.enabled) return { commit: async () => {}, abort };
  const errors: string[] = [];
  try {
    if (!cur.api || !sameListen(cur.api.listen, w.listen)) fresh.api = await bind(w.listen);
  } catch (err) {
    errors.push(`${next.file}: web.listen: ${(err as Error).message}`);
  }
  const pubListen = w.public.enabled ? w.public.listen : undefined;
  try {
    if (pubListen && (!cur.pub || !sameListen(cur.pub.listen, pubListen))) fresh.pub = await bind(pubListen, PUBLIC_TIMEOUTS);
  } catch (err) {
    errors.push(`${next.file}: web.public.listen: ${(err as Error).message}`);
  }
  if (errors.length) {
    await abort();
    return { errors };
  }
  return {
    abort,
    commit: async () => {
      const apps = buildApps(s);
      const closing: Listener[] = [];
      const api = fresh.api ?? cur.api!;
      api.target.fetch = apps.app;
      if (fresh.api && cur.api) closing.push(cur.api);
      let pub = cur.pub;
      if (apps.publicApp) {
        pub = fresh.pub ?? cur.pub!;
        pub.target.fetch = apps.publicApp;
        if (fresh.pub && cur.pub) closing.push(cur.pub);
      } else if (cur.pub) {
        closing.push(cur.pub);
        pub = undefined;
      }
      s.web = { api, pub };
      if (fresh.api) s.log.info({ listen: api.listen, was: cur.api?.listen ?? null }, 'REST API listening (config reload)');
      if (fresh.pub) s.log.info({ listen: fresh.pub.listen }, 'public lookup page listening (config reload)');
      await Promise.all(closing.map((l) => l.server.close().catch((err) => s.log.warn({ listen: l.listen, err: (err as Error).message }, 'old web listener not closed'))));
    },
  };
}
