// GET /api/v1/audit: the audit log, newest first (admin), with filters: target (a key in any
// spelling, token:/user:/source:NAME), actor, action (exact or a prefix: `override.`), since /
// until (ISO 8601 or Unix ms), keyset paging (before=ID, `next` in the answer), limit.

import { createRoute, z } from '@hono/zod-openapi';
import { pageAudit, parseAuditFilter } from '../../sync/local/audit.ts';
import type { LocalStore } from '../../sync/local/store.ts';
import { requireScope } from '../auth.ts';
import { apiRouter, errors, ok } from '../openapi.ts';

const text = (description: string, example?: string) => z.string().optional().meta({ description, ...(example ? { example } : {}) });

export const auditQuery = z.object({
  target: text('rows about this key (an IP, CIDR or domain in any spelling) or token:NAME, user:NAME, source:NAME', '192.0.2.7'),
  actor: text('rows by this actor, exactly: user:NAME, token:NAME, cli:USER', 'user:alice'),
  action: text('an action (override.add) or a prefix ending in "." or "*" (override.)', 'override.'),
  since: text('rows at or after this time: ISO 8601 (UTC without a zone) or Unix ms', '2026-12-01'),
  until: text('rows before this time (a date alone: through that day)', '2026-12-06T18:00Z'),
  before: text('rows older (by time, then id) than the row with this id: the `next` of the previous page'),
  limit: text('at most this many rows: 1 to 1000 (default 100)'),
});

const entry = z.object({
  id: z.number().int(),
  at: z.number().int().meta({ description: 'Unix ms' }),
  actor: z.string().meta({ description: 'user:NAME (console), token:NAME (API), cli:USER (CLI)' }),
  action: z.string().meta({ example: 'override.add' }),
  target: z.string().meta({ description: 'the canonical key, or token:NAME, user:NAME, source:NAME' }),
  before: z.unknown().meta({ description: 'the state before (JSON; null when none)' }),
  after: z.unknown().meta({ description: 'the state after (JSON; null when none)' }),
}).meta({ id: 'AuditEntry' });

const answer = z.object({
  entries: z.array(entry).meta({ description: 'newest first' }),
  next: z.number().int().nullable().meta({ description: 'pass as `before` for the next (older) page; null on the last page' }),
});

const list = createRoute({
  method: 'get', path: '/', tags: ['audit'], summary: 'Read the audit log',
  middleware: [requireScope('admin')] as const,
  request: { query: auditQuery },
  responses: { 200: ok(answer, 'the matching rows, newest first'), ...errors(400, 401, 403) },
});

export function auditRoutes(store: LocalStore) {
  const app = apiRouter();
  app.openapi(list, (c) => c.json(pageAudit(store.db, parseAuditFilter(c.req.valid('query'))), 200));
  return app;
}
