// The REST API, the console, the metrics and the public lookup page of a running `serve`.

import { jobsHealth } from '../../core/jobs.ts';
import { createApp } from '../../web/app.ts';
import { startWeb } from '../../web/server.ts';
import { publicApp, type PublicOptions } from '../../web/public/routes.tsx';
import { Removals } from '../../sync/local/removals.ts';
import { createMetricsRegistry } from '../../web/metrics/collect.ts';
import { sourceMetricsOf } from '../../web/metrics/sources.ts';
import { dashSourcesOf } from '../../web/console/dashboard-data.ts';
import { bootstrapAdmin } from '../../web/console/bootstrap.ts';
import { Users } from '../../sync/local/users.ts';
import { SourcesService } from '../../sync/sources-service.ts';
import { VERSION } from '../version.ts';
import type { Serving } from './context.ts';

export async function startWebs(s: Serving): Promise<void> {
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
    disk,
    sources: {
      service: new SourcesService(localDb, { stateDir, sources, command: (d, n) => `quorumbl serve (${d} ${n})` }),
      syncNow: scheduler && ((name, actor) => scheduler.requestNow(name, actor)),
    },
    health: {
      startedAt: s.startedAt,
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
      },
    },
    public: pub.listen ? undefined : publicOptions,
  });
  // The first start creates the console's `admin` (web/console/bootstrap.ts).
  await bootstrapAdmin(new Users(localDb), process.env, log).catch((err) => log.error({ err: (err as Error).message }, 'console admin not created'));
  // DNS matters more than the API: a busy port is logged, DNS keeps answering.
  await startWeb({ app, listen: c.web.listen }).then(
    () => log.info({ listen: c.web.listen }, 'REST API listening'),
    (err) => log.error({ listen: c.web.listen, err: (err as Error).message }, 'REST API not started'),
  );
  if (publicOptions && pub.listen) {
    await startWeb({ app: publicApp(publicOptions), listen: pub.listen, timeouts: { headersMs: 10_000, requestMs: 30_000 } }).then(
      () => log.info({ listen: pub.listen, prefix: pub.prefix }, 'public lookup page listening'),
      (err) => log.error({ listen: pub.listen, err: (err as Error).message }, 'public lookup page not started'),
    );
  } else if (publicOptions) log.info({ prefix: pub.prefix }, 'public lookup page served under its prefix');
}
