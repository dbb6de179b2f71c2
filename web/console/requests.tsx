// The Requests page: the removal requests senders filed on the public lookup page (web/public/),
// open ones first (oldest first), then the decided ones. Each shows the key with its current
// verdict (a link to /lookup for the full trace), the contact, the message (text, escaped), its
// age and the client address. Operators and admins approve (an allow override "removal request
// #N: note" with an expiry, through the same service as the API) or reject (note required);
// both audited as `user:<name>`. Viewers read; a POST from them is refused (403).
//
//   GET  /requests?state=open|approved|rejected|all
//   POST /requests/:id/approve     note?, expires (1d, 7d, 30d, never)
//   POST /requests/:id/reject      note

import { Hono, type Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { JSX } from 'hono/jsx/jsx-runtime';
import { InputError } from '../../sync/local/keys.ts';
import { OverrideConflict, OverrideGuard } from '../../sync/local/overrides.ts';
import { RemovalRefused, Removals, type RemovalRequest, type RemovalState } from '../../sync/local/removals.ts';
import { actorOf, may, requireSession } from '../auth.ts';
import { ApiError, errorResponse, type Env } from '../http.ts';
import { CSRF_FIELD } from '../session.ts';
import { publicVerdict } from '../public/verdict.ts';
import type { ConsolePages } from './context.ts';
import { ago } from './dashboard-data.ts';
import { Layout, type Viewer } from './layout.tsx';
import { when } from './trace.tsx';

const HEADERS = {
  'Content-Security-Policy': "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'same-origin',
  'Cache-Control': 'no-store',
};
const EXPIRIES = [['1d', '1 day'], ['7d', '7 days'], ['30d', '30 days'], ['never', 'never']] as const;
const FILTERS = [['', 'Open and recent'], ['open', 'Open'], ['approved', 'Approved'], ['rejected', 'Rejected']] as const;

type Status = 200 | 400 | 403 | 404 | 409;

interface Failed {
  id: number;
  error: string;
  note?: string;
  expires?: string;
}

function Verdict(props: { ctx: ConsolePages; r: RemovalRequest }) {
  if (!props.ctx.explain) return null;
  const v = publicVerdict(props.ctx.explain(props.r.key));
  return v.listed
    ? <span class="tag deny">listed in {v.zone}: {v.reasons.map((r) => r.replace(/^listed /, '')).join('; ')}</span>
    : <span class="tag allow">not listed in {v.zone}</span>;
}

function Decision(props: { r: RemovalRequest }) {
  const r = props.r;
  if (r.state === 'open') return <span class="tag">open</span>;
  return (
    <span>
      <span class={`tag ${r.state === 'approved' ? 'allow' : 'deny'}`}>{r.state}</span>
      by {r.decidedBy ?? '?'}, {r.decidedAt ? when(r.decidedAt) : ''}
      {r.overrideId !== null && <> (<a href={`/overrides/${r.overrideId}`}>override #{r.overrideId}</a>)</>}
      {r.note && <>: “{r.note}”</>}
    </span>
  );
}

function DecideForms(props: { r: RemovalRequest; user: Viewer; failed?: Failed }) {
  const { r, user } = props;
  const f = props.failed?.id === r.id ? props.failed : undefined;
  const expires = f?.expires ?? '30d';
  return (
    <div class="decide">
      {f && <p class="error" role="alert" id={`error-${r.id}`}>{f.error}</p>}
      <form class="stack approve-form" method="post" action={`/requests/${r.id}/approve`}>
        <input type="hidden" name={CSRF_FIELD} value={user.csrf} />
        <label>
          Note (optional, added to the override's reason)
          <input type="text" name="note" maxlength={400} value={f ? f.note ?? '' : ''} placeholder="relay secured, checked the headers" />
        </label>
        <fieldset class="expiry">
          <legend>The allow expires after</legend>
          {EXPIRIES.map(([v, label]) => (
            <label class="choice">
              <input type="radio" name="expires" value={v} checked={expires === v} />
              {label}
            </label>
          ))}
        </fieldset>
        <div class="buttons">
          <button type="submit">Approve: allow {r.key}</button>
        </div>
      </form>
      <form class="stack reject-form" method="post" action={`/requests/${r.id}/reject`}>
        <input type="hidden" name={CSRF_FIELD} value={user.csrf} />
        <label>
          Why reject (required, kept with the request)
          <input type="text" name="note" maxlength={400} required placeholder="still sending spam today" />
        </label>
        <div class="buttons">
          <button type="submit" class="danger">Reject</button>
        </div>
      </form>
    </div>
  );
}

function RequestCard(props: { ctx: ConsolePages; r: RemovalRequest; user: Viewer; canChange: boolean; now: number; failed?: Failed }) {
  const { r, now } = props;
  return (
    <article class={`card request ${r.state}`} id={`r-${r.id}`} aria-labelledby={`r-${r.id}-h`}>
      <h2 id={`r-${r.id}-h`}>
        #{r.id} <a class="key" href={`/lookup?key=${encodeURIComponent(r.key)}`}>{r.key}</a>
      </h2>
      <dl class="facts">
        <dt>Now</dt>
        <dd><Verdict ctx={props.ctx} r={r} /></dd>
        <dt>From</dt>
        <dd>{r.contact} <span class="muted">(client {r.client})</span></dd>
        <dt>Received</dt>
        <dd>{when(r.created)} <span class="muted">({ago(now - r.created)} ago)</span></dd>
        <dt>State</dt>
        <dd><Decision r={r} /></dd>
      </dl>
      <p class="message">{r.message}</p>
      {r.state === 'open' && props.canChange && <DecideForms r={r} user={props.user} failed={props.failed} />}
    </article>
  );
}

function RequestsPage(props: { ctx: ConsolePages; user: Viewer; canChange: boolean; state: string; rows: RemovalRequest[]; open: number; done?: string; failed?: Failed }) {
  const now = Date.now();
  return (
    <Layout title="Removal requests" user={props.user}>
      <h1>Removal requests</h1>
      <p class="muted">
        Senders ask here for a listed address or domain to be removed, from the public lookup page. Approving allows the key
        (an allow override naming the request); rejecting leaves the listing as it is. {props.open} open.
      </p>
      {props.done && <p class="ok" role="status">{props.done}</p>}
      {props.failed && !props.rows.some((r) => r.id === props.failed!.id && r.state === 'open') && (
        <p class="error" role="alert" id="action-error">Request #{props.failed.id}: {props.failed.error}</p>
      )}
      <nav class="filters-nav" aria-label="Filter">
        {FILTERS.map(([v, label]) => (props.state === v ? <strong>{label}</strong> : <a href={v ? `/requests?state=${v}` : '/requests'}>{label}</a>))}
      </nav>
      {!props.canChange && <p class="muted">Your role ({props.user.role}) may read the requests; approving and rejecting need the operator or admin role.</p>}
      {props.rows.length === 0 && <p class="muted" id="none">No removal requests{props.state ? ` ${props.state}` : ''}.</p>}
      <div class="request-list">
        {props.rows.map((r) => <RequestCard ctx={props.ctx} r={r} user={props.user} canChange={props.canChange} now={now} failed={props.failed} />)}
      </div>
    </Layout>
  );
}

function viewerOf(c: Context<Env>): Viewer {
  const s = c.get('session')!;
  return { name: s.user.name, role: s.user.role, csrf: s.csrf };
}

const str = (v: unknown, max = 1000) => (typeof v === 'string' ? v.slice(0, max) : '');

export function requestsPage(ctx: ConsolePages): Hono<Env> {
  const app = new Hono<Env>();
  const removals = new Removals(ctx.store);
  const render = (c: Context<Env>, body: JSX.Element, status: Status = 200) => c.html(body, status, HEADERS);
  const canChange = (c: Context<Env>) => may(c.get('token'), 'overrides', 'POST');

  const show = (c: Context<Env>, state: string, extra: { done?: string; failed?: Failed } = {}, status: Status = 200) => {
    const s = (['open', 'approved', 'rejected'] as const).find((x) => x === state) as RemovalState | undefined;
    return render(c, <RequestsPage ctx={ctx} user={viewerOf(c)} canChange={canChange(c)} state={s ?? ''} rows={removals.list({ state: s, limit: 200 })} open={removals.openCount()} {...extra} />, status);
  };

  app.use('/requests/*', bodyLimit({ maxSize: 16 * 1024, onError: (c) => errorResponse(c, 413, 'the form is too large') }));

  app.get('/requests', requireSession(ctx), (c) => {
    // the confirmation only when the state shows it (a crafted link confirms nothing)
    const id = Number(c.req.query('id'));
    const r = Number.isSafeInteger(id) && id > 0 ? removals.get(id) : null;
    const d = c.req.query('done');
    const me = actorOf(c);
    const done = r && r.decidedBy === me && r.state === d
      ? `Request #${r.id} ${r.state}${r.overrideId !== null ? `: ${r.key} is allowed (override #${r.overrideId})` : `: the listing of ${r.key} stays`}.`
      : undefined;
    return show(c, c.req.query('state') ?? '', { done });
  });

  const decide = (action: 'approve' | 'reject') => async (c: Context<Env>) => {
    const p = c.get('token');
    if (!may(p, 'overrides', 'POST')) throw new ApiError(403, `user '${p.name}' has role '${p.role}'; this needs the operator or admin role`);
    const id = Number(c.req.param('id'));
    if (!/^[1-9]\d{0,14}$/.test(c.req.param('id') ?? '')) throw new ApiError(404, 'no such request');
    const f = await c.req.parseBody();
    const note = str(f.note, 500);
    const expires = str(f.expires, 20);
    const fail = (status: Status, error: string) => show(c, '', { failed: { id, error, note, expires } }, status);
    try {
      if (action === 'approve') {
        if (!EXPIRIES.some(([v]) => v === expires)) return fail(400, 'Choose when the allow expires: 1 day, 7 days, 30 days or never.');
        removals.approve(id, { note, expires, actor: actorOf(c), author: p.name, admin: p.role === 'admin' });
      } else {
        if (!note.trim()) return fail(400, 'A note is required to reject: say why the listing stays.');
        removals.reject(id, { note, actor: actorOf(c) });
      }
    } catch (e) {
      if (e instanceof InputError) return fail(400, e.message);
      if (e instanceof RemovalRefused) return fail(e.status === 404 ? 404 : 409, e.message);
      if (e instanceof OverrideGuard) return fail(403, `Refused: ${e.message}.`);
      if (e instanceof OverrideConflict) return fail(e.status, e.message);
      throw e;
    }
    return c.redirect(`/requests?done=${action === 'approve' ? 'approved' : 'rejected'}&id=${id}#r-${id}`, 303);
  };
  app.post('/requests/:id/approve', requireSession(ctx), decide('approve'));
  app.post('/requests/:id/reject', requireSession(ctx), decide('reject'));
  return app;
}
