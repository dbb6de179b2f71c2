// GET /api/v1/audit: the audit log, newest first (admin). ?target=KEY, ?before=ID, ?limit=N.

import { Hono } from 'hono';
import { readAudit } from '../../sync/local/audit.ts';
import { parseKey } from '../../sync/local/keys.ts';
import type { LocalStore } from '../../sync/local/store.ts';
import { requireScope } from '../auth.ts';
import { ApiError, type Env } from '../http.ts';

function intQuery(v: string | undefined, name: string, max: number): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d{1,15}$/.test(v) || Number(v) < 1 || Number(v) > max) throw new ApiError(400, `${name} must be an integer from 1 to ${max}`, name);
  return Number(v);
}

export function auditRoutes(store: LocalStore): Hono<Env> {
  const app = new Hono<Env>();
  app.get('/', requireScope('admin'), (c) => {
    const t = c.req.query('target');
    // A key in any spelling finds its rows; `token:NAME` and `source:NAME` targets pass as they are.
    const target = t === undefined ? undefined : /^(token|source):/.test(t) ? t : parseKey(t, { cidr: true, wildcard: true }, 'target').key;
    const entries = readAudit(store.db, {
      target,
      before: intQuery(c.req.query('before'), 'before', Number.MAX_SAFE_INTEGER),
      limit: intQuery(c.req.query('limit'), 'limit', 1000),
    });
    return c.json({ entries });
  });
  return app;
}
