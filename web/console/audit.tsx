// The Audit log page (admins, as GET /api/v1/audit): filter by actor, key (any spelling, or
// token:/user:/source:NAME), action (exact or a prefix such as `override.`) and time; newest
// first, 50 a page (keyset: "Older"). Each entry shows before -> after field by field, the
// changed fields marked; values are JSON shown as text (escaped by hono's JSX).
//
//   GET /audit   ?actor, key, action, from, to, before

import { Hono, type Context } from 'hono';
import type { JSX } from 'hono/jsx/jsx-runtime';
import { pageAudit, parseAuditFilter, type AuditEntry } from '../../sync/local/audit.ts';
import { InputError } from '../../sync/local/keys.ts';
import { requireSession } from '../auth.ts';
import type { Env } from '../http.ts';
import type { ConsolePages } from './context.ts';
import { Layout, type Viewer } from './layout.tsx';

const HEADERS = {
  'Content-Security-Policy': "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'same-origin',
  'Cache-Control': 'no-store',
};
const PAGE_SIZE = 50;
/** Suggestions for the action field (the prefixes first). */
// Every AuditAction (sync/local/audit.ts) and the prefixes: the action field's suggestions.
const ACTIONS: readonly string[] = [
  'override.', 'reputation.', 'source.', 'token.', 'user.', 'removal.',
  'override.add', 'override.replace', 'override.update', 'override.expiry', 'override.remove',
  'reputation.report', 'reputation.false-positive', 'source.accept', 'source.drop', 'source.sync', 'removal.approve', 'removal.reject',
  'token.create', 'token.revoke', 'user.create', 'user.update', 'user.remove', 'user.login', 'user.logout',
];
/** Fields holding Unix ms: shown with their UTC time too. */
const TIME_FIELDS = /(^|\.)(at|created|expires|revoked|last_used|lastUsed|last_login|q_at|disabled)$/;

interface Filter {
  actor: string;
  key: string;
  action: string;
  from: string;
  to: string;
  before: string;
}

const utc = (ms: number) => new Date(ms).toISOString().replace('T', ' ').replace(/\.\d{3}Z$/, 'Z');

function query(f: Filter, extra: Record<string, string | number> = {}): string {
  const p = new URLSearchParams();
  for (const k of ['actor', 'key', 'action', 'from', 'to'] as const) if (f[k]) p.set(k, f[k]);
  for (const [k, v] of Object.entries(extra)) p.set(k, String(v));
  const s = p.toString();
  return s ? `?${s}` : '';
}

/** A JSON value as fields: an object's members (nested objects one level down, `event.kind`),
 *  anything else as one unnamed field. */
function fieldsOf(v: unknown): Map<string, unknown> {
  const out = new Map<string, unknown>();
  if (v === null || v === undefined) return out;
  if (typeof v !== 'object' || Array.isArray(v)) {
    out.set('', v);
    return out;
  }
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
    if (x !== null && typeof x === 'object' && !Array.isArray(x)) for (const [k2, y] of Object.entries(x as Record<string, unknown>)) out.set(`${k}.${k2}`, y);
    else out.set(k, x);
  }
  return out;
}

function shown(field: string, v: unknown): string {
  if (v === undefined) return '';
  if (typeof v === 'string') return v;
  const s = JSON.stringify(v) ?? String(v);
  if (typeof v === 'number' && TIME_FIELDS.test(field) && v > 1e11) return `${s} (${utc(v)})`;
  // A score as it is compared with the bar (two decimals), then the stored value.
  if (typeof v === 'number' && /(^|\.)score$/.test(field) && !Number.isInteger(v)) return `${(Math.round(v * 100) / 100).toFixed(2)} (${s})`;
  return s;
}

function Change(props: { e: AuditEntry }) {
  const { e } = props;
  const b = fieldsOf(e.before);
  const a = fieldsOf(e.after);
  const names = [...new Set([...b.keys(), ...a.keys()])];
  if (names.length === 0) return <p class="muted small">No state recorded.</p>;
  // A field on both sides that differs is marked; one on one side only is shown as it is.
  return (
    <div class="scroll">
      <table class="list diff">
        <thead><tr><th>Field</th><th>Before</th><th>After</th></tr></thead>
        <tbody>
          {names.map((n) => {
            const x = shown(n, b.get(n));
            const y = shown(n, a.get(n));
            const changed = b.has(n) && a.has(n) && x !== y;
            return (
              <tr class={changed ? 'changed' : undefined}>
                <th scope="row" class="field">{n || '(value)'}{changed && <span class="tag changed-tag">changed</span>}</th>
                <td class="json" data-side="before">{b.has(n) ? x : <span class="muted">{e.before === null ? '(none)' : '—'}</span>}</td>
                <td class="json" data-side="after">{a.has(n) ? y : <span class="muted">{e.after === null ? '(none)' : '—'}</span>}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

function AuditPage(props: { user: Viewer; f: Filter; entries: AuditEntry[]; next: number | null; error?: string }) {
  const { f } = props;
  return (
    <Layout title="Audit log" user={props.user}>
      <h1>Audit log</h1>
      <form class="filters audit-filters" method="get" action="/audit" role="search" aria-label="Filter the audit log">
        <label>
          Key or target
          <input type="search" name="key" value={f.key} maxlength={300} autocapitalize="none" spellcheck={false} placeholder="192.0.2.7, token:NAME, user:NAME" />
        </label>
        <label>
          Actor
          <input type="search" name="actor" value={f.actor} maxlength={200} autocapitalize="none" spellcheck={false} placeholder="user:alice" />
        </label>
        <label>
          Action
          <input type="search" name="action" value={f.action} list="audit-actions" maxlength={50} autocapitalize="none" spellcheck={false} placeholder="override. or override.add" />
        </label>
        <datalist id="audit-actions">{ACTIONS.map((a) => <option value={a} />)}</datalist>
        <label>
          From (UTC)
          <input type="search" name="from" value={f.from} maxlength={40} placeholder="2026-12-01" />
        </label>
        <label>
          To (UTC)
          <input type="search" name="to" value={f.to} maxlength={40} placeholder="2026-12-06 18:00" />
        </label>
        <div class="actions">
          <button type="submit">Filter</button>
          <a href="/audit">Reset</a>
        </div>
      </form>
      {props.error && <p class="error" role="alert" id="filter-error">{props.error}</p>}
      {!props.error && props.entries.length === 0 && <p class="muted">No entry matches.</p>}
      <ol class="audit" id="entries">
        {props.entries.map((e) => (
          <li class="audit-entry" id={`a${e.id}`}>
            <p class="audit-head">
              <span class="nowrap">{utc(e.at)}</span> <span class="tag">{e.action}</span> <strong class="actor">{e.actor}</strong>
              {' on '}<span class="target">{e.target}</span> <span class="muted small">#{e.id}</span>
            </p>
            <Change e={e} />
          </li>
        ))}
      </ol>
      <nav class="pager" aria-label="Pages">
        {f.before ? <a href={`/audit${query(f)}`}>← Newest</a> : <span />}
        {props.next !== null ? <a href={`/audit${query(f, { before: props.next })}`} rel="next">Older →</a> : <span />}
      </nav>
    </Layout>
  );
}

export function auditPage(ctx: ConsolePages): Hono<Env> {
  const app = new Hono<Env>();
  const render = (c: Context, body: JSX.Element, status: 200 | 400 | 403 = 200) => c.html(body, status, HEADERS);

  app.get('/audit', requireSession(ctx), (c) => {
    const s = c.get('session')!;
    const user: Viewer = { name: s.user.name, role: s.user.role, csrf: s.csrf };
    // Admins only, as GET /api/v1/audit: it holds every user's and token's history.
    if (s.user.role !== 'admin') {
      return render(c, <Layout title="Audit log" user={user}><h1>Audit log</h1><p class="error" role="alert">The audit log is for admins; your role is {user.role}.</p></Layout>, 403);
    }
    const q = (k: string, max: number) => (c.req.query(k) ?? '').slice(0, max).trim();
    const f: Filter = { actor: q('actor', 200), key: q('key', 300), action: q('action', 50), from: q('from', 40), to: q('to', 40), before: q('before', 20) };
    try {
      const filter = parseAuditFilter({ target: f.key, actor: f.actor, action: f.action, since: f.from, until: f.to, before: f.before });
      const p = pageAudit(ctx.store.db, { ...filter, limit: PAGE_SIZE });
      return render(c, <AuditPage user={user} f={f} entries={p.entries} next={p.next} />);
    } catch (e) {
      if (!(e instanceof InputError)) throw e;
      // The form's names for the fields the service names.
      const names: Record<string, string> = { target: 'key', since: 'from', until: 'to' };
      const error = e.message.replace(/\b(target|since|until)\b/g, (m) => names[m]!);
      return render(c, <AuditPage user={user} f={f} entries={[]} next={null} error={error} />, 400);
    }
  });

  return app;
}
