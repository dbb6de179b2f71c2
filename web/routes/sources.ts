// /api/v1/sources: each source's sync state and quarantine, its recent runs, and the operator's
// actions on it, through the same service as `quorumbl sources` (sync/sources-service.ts) and the
// console's Sources page. Reads and writes need the overrides scope (a viewer session reads, an
// operator acts); every action is audited (source.accept / source.drop / source.sync).
//
//   GET  /                      every source
//   GET  /:name                 one source and its recent runs
//   GET  /:name/runs/:id        one run (a "sync now" answers with the one to watch)
//   POST /:name/accept          the quarantined update becomes the last good copy
//   POST /:name/drop            the quarantined update is deleted
//   POST /:name/sync            one sync now: 202 with its run; 409 while a sync runs (naming the
//                               holder), 429 before min_interval has passed (Retry-After)

import { createRoute, z } from '@hono/zod-openapi';
import type { SyncRun } from '../../sync/state.ts';
import { SourceError, type SourcesService, type SourceView } from '../../sync/sources-service.ts';
import { actorOf, requireScope } from '../auth.ts';
import { ApiError } from '../http.ts';
import { apiRouter, errors, ok } from '../openapi.ts';

export interface SourcesDeps {
  service: SourcesService;
  /** One sync now (serve's SyncScheduler.requestNow); absent when sync is off: 409. */
  syncNow?: (name: string, actor: string) => Promise<{ run: SyncRun }>;
}

const stats = z.record(z.string(), z.unknown()).meta({ description: 'parse statistics (entries, lines, errors, addresses4, forbidden, widest4/6, testPoint)' });

const change = z.object({
  entriesBefore: z.number().nullable(),
  entriesAfter: z.number(),
  entriesDelta: z.number().nullable(),
  entriesShare: z.number().nullable().meta({ description: 'the change as a share of the last good copy (-0.92 = 92 % fewer)' }),
  addresses4Before: z.number().nullable(),
  addresses4After: z.number(),
  addresses4Share: z.number().nullable(),
  errorsAfter: z.number(),
  linesAfter: z.number(),
}).meta({ id: 'QuarantineChange', description: 'what accepting the quarantined update would change, from the stats its guard recorded' });

const quarantine = z.object({
  at: z.string().meta({ description: 'when it was quarantined (ISO 8601)' }),
  atMs: z.number().meta({ description: 'the same in unix ms: send it back as quarantinedAt to decide on exactly this update' }),
  reasons: z.array(z.string()).meta({ description: 'why the guards held it back, in words' }),
  path: z.string(),
  bytes: z.number().nullable(),
  stats: stats.nullable(),
  change: change.nullable(),
}).meta({ id: 'Quarantine' });

const guards = z.object({ max_error_ratio: z.number(), max_shrink: z.number(), max_grow: z.number(), world_share: z.number(), test_point: z.boolean() });

const source = z.object({
  name: z.string().meta({ example: 'spamhaus-drop' }),
  configured: z.boolean().meta({ description: 'false: state left by a source no longer in the config' }),
  status: z.enum(['ok', 'failing', 'quarantined', 'never-synced']),
  lastAttempt: z.string().nullable(),
  lastOutcome: z.string().nullable().meta({ description: 'ok, not-modified, failed, quarantined; null while the first run is in progress' }),
  lastSuccess: z.string().nullable(),
  lastError: z.string().nullable(),
  entries: z.number().nullable().meta({ description: 'entries of the last good copy' }),
  validators: z.object({ etag: z.string().optional(), lastModified: z.string().optional() }),
  stats: stats.nullable(),
  quarantine: quarantine.nullable(),
  config: z.object({ kind: z.string().nullable(), schedule: z.string().nullable(), minInterval: z.number().nullable().meta({ description: 'seconds' }), guards: guards.nullable() }).nullable(),
}).meta({ id: 'Source' });

const run = z.object({
  id: z.number(),
  source: z.string(),
  started: z.string(),
  ended: z.string().nullable(),
  outcome: z.string().nullable().meta({ description: 'ok, not-modified, failed, quarantined; null while running' }),
  bytes: z.number().nullable(),
  entries: z.number().nullable(),
  error: z.string().nullable(),
  note: z.string().nullable(),
}).meta({ id: 'SyncRun' });

const name = z.object({ name: z.string().max(100).meta({ param: { name: 'name', in: 'path' }, example: 'psbl' }) });
const runParams = z.object({
  name: z.string().max(100).meta({ param: { name: 'name', in: 'path' } }),
  id: z.string().regex(/^[1-9]\d{0,14}$/, 'must be a positive integer').meta({ param: { name: 'id', in: 'path' } }),
});

const decided = z.object({
  source: z.string(),
  decision: z.enum(['accept', 'drop']),
  quarantine: z.object({ at: z.string(), reasons: z.array(z.string()), path: z.string() }),
  current: z.string().optional().meta({ description: 'accept: the file now serving' }),
  bytes: z.number().optional(),
  deleted: z.string().nullable().optional().meta({ description: 'drop: the deleted file (null: it was already gone)' }),
  run: run.optional().meta({ description: 'accept: the run recording the decision' }),
});

const scope = requireScope('overrides');

const decideBody = z.strictObject({
  quarantinedAt: z.number().int().nonnegative().optional().meta({ description: 'the quarantine\'s atMs as read: a newer quarantine is refused with 409' }),
});

const list = createRoute({
  method: 'get', path: '/', tags: ['sources'], summary: 'Every source: state, entries, last success and attempt, quarantine',
  middleware: [scope] as const,
  responses: { 200: ok(z.object({ sources: z.array(source) }), 'configured sources in config order, then any with state left'), ...errors(401, 403) },
});

const one = createRoute({
  method: 'get', path: '/{name}', tags: ['sources'], summary: 'One source and its recent runs',
  middleware: [scope] as const, request: { params: name },
  responses: { 200: ok(z.object({ source, runs: z.array(run) }), 'the source, newest run first'), ...errors(401, 403, 404) },
});

const oneRun = createRoute({
  method: 'get', path: '/{name}/runs/{id}', tags: ['sources'], summary: 'One sync run',
  middleware: [scope] as const, request: { params: runParams },
  responses: { 200: ok(z.object({ run }), 'the run (outcome null while it runs)'), ...errors(400, 401, 403, 404) },
});

const decide = (d: 'accept' | 'drop') => createRoute({
  method: 'post', path: `/{name}/${d}`, tags: ['sources'],
  summary: d === 'accept' ? 'Accept the quarantined update: it becomes the last good copy and serves' : 'Drop the quarantined update: deleted; the last good copy keeps serving',
  middleware: [scope] as const,
  request: {
    params: name,
    body: {
      required: false,
      description: 'optional: decide only if the quarantine is still the one seen (else 409)',
      content: { 'application/json': { schema: decideBody } },
    },
  },
  responses: {
    200: ok(z.object({ decision: decided }), 'decided and audited'),
    ...errors(401, 403, 404, 409, 500, 503),
  },
});

const sync = createRoute({
  method: 'post', path: '/{name}/sync', tags: ['sources'],
  summary: 'Sync now: one fetch at once (min_interval since the last attempt is respected)',
  middleware: [scope] as const, request: { params: name },
  responses: {
    202: ok(z.object({ run, watch: z.string().meta({ description: 'GET this for the run\'s outcome' }) }), 'started; the run to watch'),
    ...errors(401, 403, 404, 409, 429, 500, 503),
  },
});

function runJson(r: SyncRun) {
  const iso = (t: number) => new Date(t).toISOString().replace(/\.\d{3}Z$/, 'Z');
  return {
    id: r.id, source: r.source, started: iso(r.started), ended: r.ended == null ? null : iso(r.ended), outcome: r.outcome,
    bytes: r.bytes, entries: r.entries, error: r.error, note: r.note,
  };
}

/** The service's refusals as API errors (a too-early sync with Retry-After). */
function refused<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    throw apiErrorOf(e);
  }
}

function apiErrorOf(e: unknown): unknown {
  if (!(e instanceof SourceError)) return e;
  const retry = (e as { retryAfterS?: number }).retryAfterS;
  return new ApiError(e.status, e.message, undefined, retry !== undefined ? { 'Retry-After': String(retry) } : undefined);
}

const view = (v: SourceView) => v as z.infer<typeof source>;

export function sourceRoutes(deps: SourcesDeps) {
  const app = apiRouter();
  const svc = deps.service;

  app.openapi(list, (c) => c.json({ sources: svc.list().map(view) }, 200));

  app.openapi(one, (c) => {
    const { name: n } = c.req.valid('param');
    const { view: v } = refused(() => svc.get(n));
    return c.json({ source: view(v), runs: svc.runs(n, 20).map(runJson) }, 200);
  });

  app.openapi(oneRun, (c) => {
    const { name: n, id } = c.req.valid('param');
    refused(() => svc.get(n));
    const r = svc.state.run(Number(id));
    if (!r || r.source !== n) throw new ApiError(404, `source '${n}' has no run #${id}`);
    return c.json({ run: runJson(r) }, 200);
  });

  for (const d of ['accept', 'drop'] as const) {
    app.openapi(decide(d), (c) => {
      const { name: n } = c.req.valid('param');
      const b = c.req.valid('json') as z.infer<typeof decideBody>;
      const r = refused(() => svc.decide(n, d, actorOf(c), { quarantinedAt: b.quarantinedAt }));
      const q = r.quarantine;
      return c.json({
        decision: {
          source: r.source, decision: r.decision,
          quarantine: { at: new Date(q.at).toISOString().replace(/\.\d{3}Z$/, 'Z'), reasons: q.reasons, path: q.path },
          ...(d === 'accept' ? { current: r.current, bytes: r.bytes, ...(r.run ? { run: runJson(r.run) } : {}) } : { deleted: r.deleted ?? null }),
        },
      }, 200);
    });
  }

  app.openapi(sync, async (c) => {
    const { name: n } = c.req.valid('param');
    refused(() => svc.get(n));
    if (!deps.syncNow) throw new ApiError(409, 'this server does not sync sources (sync.enabled is false, or it runs without serve\'s scheduler)');
    let started: { run: SyncRun };
    try {
      started = await deps.syncNow(n, actorOf(c));
    } catch (e) {
      throw apiErrorOf(e);
    }
    const watch = `/api/v1/sources/${encodeURIComponent(n)}/runs/${started.run.id}`;
    return c.json({ run: runJson(started.run), watch }, 202, { Location: watch });
  });
  return app;
}
