// GET /api/v1/reputation: recent reputation events (newest first, keyset paging; filter by key,
// kind, reporter) and the keys with the highest scores now, each with whether it reaches
// policy.reputation.bar. Read by `reports` tokens (the mail system reading back what it
// reported), `overrides` tokens (the helpdesk) and admins; every console role.

import { createRoute, z } from '@hono/zod-openapi';
import type { MiddlewareHandler } from 'hono';
import { InputError } from '../../sync/local/keys.ts';
import { REPORT_KINDS } from '../../sync/local/reputation.ts';
import type { LocalStore } from '../../sync/local/store.ts';
import { may } from '../auth.ts';
import { ApiError, type Env } from '../http.ts';
import { apiRouter, errors, ok } from '../openapi.ts';

/** A `reports` or an `overrides` token (or admin); any signed-in console user (a read). */
const readers: MiddlewareHandler<Env> = async (c, next) => {
  const p = c.get('token');
  if (!may(p, 'reports', c.req.method) && !may(p, 'overrides', c.req.method)) {
    throw new ApiError(403, `token '${p.name}' has scope '${p.scope}'; this needs 'reports', 'overrides' or 'admin'`);
  }
  await next();
};

const text = (description: string, example?: string) => z.string().optional().meta({ description, ...(example ? { example } : {}) });

export const reputationQuery = z.object({
  key: text('only the events of this IP or domain (any spelling)', '192.0.2.7'),
  kind: z.enum(REPORT_KINDS as [string, ...string[]]).optional().meta({ description: 'only events of this kind' }),
  reporter: text('only events by this reporter', 'rspamd'),
  before: text('events older than the event with this id (the `next` of the previous page)'),
  limit: text('at most this many events: 1 to 500 (default 50)'),
  top: text('how many top keys: 1 to 500 (default 20)'),
});

const event = z.object({
  id: z.number().int(),
  key: z.string(),
  kind: z.enum(REPORT_KINDS as [string, ...string[]]),
  weight: z.number(),
  reporter: z.string(),
  at: z.number().int().meta({ description: 'Unix ms' }),
  note: z.string().nullable(),
}).meta({ id: 'ReputationEvent' });

const topKey = z.object({
  key: z.string(),
  keyKind: z.enum(['ip4', 'ip6', 'domain', 'wildcard']),
  score: z.number().meta({ description: 'the score now (decayed since its last event)' }),
  lastAt: z.number().int().meta({ description: 'Unix ms of its last event' }),
  events: z.number().int(),
  overBar: z.boolean().meta({ description: 'the score at two decimals reaches policy.reputation.bar: bl/dbl list it (127.0.0.4 / 127.0.1.4) unless an allow override, or a provider range under provider_bar, keeps it out' }),
});

const answer = z.object({
  bar: z.number().meta({ description: 'policy.reputation.bar' }),
  halfLife: z.number().meta({ description: 'policy.reputation.half_life in seconds' }),
  cap: z.number(),
  top: z.array(topKey).meta({ description: 'the highest scores now, highest first (scores that show as 0.00 left out)' }),
  overBar: z.number().int().meta({ description: 'how many keys reach the bar now' }),
  events: z.array(event).meta({ description: 'newest first (by time, then id)' }),
  next: z.number().int().nullable().meta({ description: 'pass as `before` for the next (older) page; null on the last page' }),
});

const get = createRoute({
  method: 'get', path: '/', tags: ['reputation'], summary: 'Recent reputation events and the top keys', 'x-scope': 'any',
  middleware: [readers] as const,
  request: { query: reputationQuery },
  responses: { 200: ok(answer, 'the top keys and a page of events'), ...errors(400, 401, 403) },
});

function int(v: string | undefined, name: string, max: number): number | undefined {
  if (v === undefined || v === '') return undefined;
  if (!/^\d{1,16}$/.test(v) || Number(v) < 1 || Number(v) > max) throw new InputError(`${name} must be an integer from 1 to ${max}`, name);
  return Number(v);
}

export function reputationRoutes(store: LocalStore) {
  const app = apiRouter();
  app.openapi(get, (c) => {
    const q = c.req.valid('query');
    const rep = store.reputation;
    const page = rep.recent({
      key: q.key || undefined, kind: q.kind, reporter: q.reporter || undefined,
      before: int(q.before, 'before', Number.MAX_SAFE_INTEGER), limit: int(q.limit, 'limit', 500),
    });
    const top = rep.top(int(q.top, 'top', 500) ?? 20);
    return c.json({ bar: rep.bar, halfLife: rep.cfg.half_life, cap: rep.cfg.cap, top: top.keys, overBar: top.overBar, ...page }, 200);
  });
  return app;
}
