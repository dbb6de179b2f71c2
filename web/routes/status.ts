// GET /api/v1/status: what the console's Dashboard shows, as JSON (any token or session): zones
// with entries and whether they answer from data, queries per second by zone and rcode, the
// merge, each source's last success vs last attempt, provider feeds' freshness, disk state and
// the alerts in words with what to do. The same getters and alertsOf() the page uses.

import { createRoute, z } from '@hono/zod-openapi';
import { alertsOf, type DashboardDeps, type QueryRate } from '../console/dashboard-data.ts';
import { apiRouter, errors, ok } from '../openapi.ts';

const iso = (t: number | null) => (t === null ? null : new Date(t).toISOString());
const when = z.string().nullable().meta({ description: 'ISO 8601, null = never' });

const rate = z.object({
  zone: z.string(),
  qps: z.number(),
  rcodes: z.record(z.string(), z.number()).meta({ description: 'rcode name -> queries per second (those seen)' }),
});

const Status = z.object({
  now: z.string(),
  zones: z.array(z.object({ name: z.string(), answers: z.enum(['data', 'servfail']), entries: z.number().nullable() })),
  queries: z.object({
    seconds: z.number().meta({ description: 'the interval the rates are over (up to 60 s)' }),
    total: rate,
    zones: z.array(rate),
  }).nullable().meta({ description: 'null when the DNS counters are not wired (the app alone)' }),
  merge: z.object({ ready: z.boolean(), soa_serial: z.number(), evidence_serial: z.number(), built_at: when, last_merge_at: when }),
  sources: z.array(z.object({
    name: z.string(),
    last_success: when,
    last_attempt: when,
    last_outcome: z.string().nullable(),
    last_error: z.string().nullable(),
    entries: z.number().nullable(),
    consecutive_failures: z.number(),
    quarantined: z.object({ at: z.string(), reasons: z.array(z.string()), entries: z.number().nullable() }).nullable(),
  })),
  providers: z.array(z.object({
    provider: z.string(), feed: z.string(), active: z.boolean(), origin: z.string(), ranges: z.number(),
    data_at: z.string().nullable(), last_success: z.string().nullable(), last_error: z.string().nullable(),
    age_seconds: z.number().nullable(), max_age_seconds: z.number(), stale: z.boolean(),
  })),
  disk: z.object({ state: z.string(), writable: z.boolean(), cause: z.string().nullable(), free_bytes: z.number().nullable() }).nullable(),
  alerts: z.array(z.object({ level: z.enum(['bad', 'warn']), what: z.string(), todo: z.string() })),
  reload: z.object({
    ok: z.boolean(), at: z.string(), errors: z.array(z.string()).meta({ description: 'why it was refused, each with FILE:LINE and key' }),
    restart: z.array(z.string()).meta({ description: 'keys changed in the file that need a restart' }),
    merge: z.enum(['pending', 'ok', 'failed']).nullable(),
  }).nullable().optional().meta({ description: 'the last config reload (SIGHUP, quorumbl reload); null: none since start' }),
}).meta({ id: 'Status' });

const get = createRoute({
  method: 'get', path: '/', tags: ['status'], operationId: 'getStatus', 'x-scope': 'any', summary: 'What the dashboard shows: zones, query rates, merge, sources, feeds, alerts',
  responses: { 200: ok(Status, 'the current status'), ...errors(401) },
});

export function statusRoutes(d: DashboardDeps, queries?: QueryRate) {
  const app = apiRouter();
  app.openapi(get, (c) => {
    const now = (d.now ?? Date.now)();
    const m = d.merge();
    const disk = d.disk?.() ?? null;
    const body: z.infer<typeof Status> = {
      now: new Date(now).toISOString(),
      zones: d.zones().map((z) => ({ name: z.name, answers: z.failed ? 'servfail' : 'data', entries: z.entries })),
      queries: queries?.rate() ?? null,
      merge: { ready: m.ready, soa_serial: m.soaSerial, evidence_serial: m.evidenceSerial, built_at: m.ready ? iso(m.builtAt) : null, last_merge_at: iso(m.lastMergeAt) },
      sources: d.sources().map((s) => ({
        name: s.name,
        last_success: iso(s.lastSuccess),
        last_attempt: iso(s.lastAttempt),
        last_outcome: s.lastOutcome,
        last_error: s.lastError,
        entries: s.entries,
        consecutive_failures: s.consecutiveFailures,
        quarantined: s.quarantine && { at: new Date(s.quarantine.at).toISOString(), reasons: s.quarantine.reasons, entries: s.quarantine.entries },
      })),
      providers: d.providers().map((f) => ({
        provider: f.provider, feed: f.feed, active: f.active, origin: f.origin, ranges: f.ranges,
        data_at: f.dataAt, last_success: f.lastSuccess, last_error: f.lastError,
        age_seconds: f.ageSeconds, max_age_seconds: f.maxAgeSeconds, stale: f.stale,
      })),
      disk: disk && { state: disk.state, writable: disk.writable, cause: disk.cause, free_bytes: disk.free_bytes },
      alerts: alertsOf(d, now),
    };
    if (d.reload) body.reload = d.reload();
    return c.json(body, 200);
  });
  return app;
}
