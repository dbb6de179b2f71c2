// The Reputation page: the keys with the highest scores now (score vs policy.reputation.bar, a
// link to their lookup), recent events (filter by key, kind, reporter; keyset paging), and the
// report form for operators and admins. A report goes through LocalStore.report, the same call
// as POST /api/v1/reports and `quorumbl report` (audited as `user:<name>`), then 303 back with
// a confirmation naming the key's new score. Viewers read; they get no form and 403 on a POST.
//
//   GET  /reputation   ?key, kind, reporter, before (event id), done (the event just reported)
//   POST /reputation   key, kind, note

import { Hono, type Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { JSX } from 'hono/jsx/jsx-runtime';
import { InputError } from '../../sync/local/keys.ts';
import { REPORT_KINDS, type EventPage, type EventQuery, type ReportKind } from '../../sync/local/reputation.ts';
import { actorOf, may, requireScope, requireSession } from '../auth.ts';
import { errorResponse, type Env } from '../http.ts';
import { CSRF_FIELD } from '../session.ts';
import type { ConsolePages } from './context.ts';
import { Layout, type Viewer } from './layout.tsx';
import { when } from './trace.tsx';

const HEADERS = {
  'Content-Security-Policy': "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'same-origin',
  'Cache-Control': 'no-store',
};
const PAGE_SIZE = 50;
const TOP = 20;
const KIND_TEXT: Record<ReportKind, string> = { spam: 'spam', trap: 'spam trap hit', ham: 'ham (good mail)', 'false-positive': 'false positive' };

type Status = 200 | 400 | 403;

interface Filter {
  key?: string;
  kind?: string;
  reporter?: string;
  before?: string;
}

interface FormValues {
  key?: string;
  kind?: string;
  note?: string;
}

const score2 = (x: number) => (Math.round(x * 100) / 100).toFixed(2);

function query(f: Filter, extra: Record<string, string | number> = {}): string {
  const p = new URLSearchParams();
  if (f.key) p.set('key', f.key);
  if (f.kind) p.set('kind', f.kind);
  if (f.reporter) p.set('reporter', f.reporter);
  for (const [k, v] of Object.entries(extra)) p.set(k, String(v));
  const s = p.toString();
  return s ? `?${s}` : '';
}

/** The confirmation after a report: only for an event this user reported (a crafted `done=`
 *  link confirms nothing), with the key's score now. */
function Confirmation(props: { ctx: ConsolePages; done: string; user: Viewer }) {
  const rep = props.ctx.store.reputation;
  const e = /^[1-9]\d{0,15}$/.test(props.done) ? rep.event(Number(props.done)) : null;
  if (!e || e.reporter !== props.user.name) return null;
  const s = rep.score(e.key);
  const over = Math.round(s * 100) / 100 >= rep.bar;
  return (
    <p class="notice" role="status" id="confirmation">
      Recorded: {KIND_TEXT[e.kind]} on {e.key} (event #{e.id}). Its score is now <strong>{score2(s)}</strong>
      {over ? `, at or over the bar ${rep.bar}: bl lists it by reputation` : `, below the bar ${rep.bar}`}.{' '}
      <a href={`/lookup?key=${encodeURIComponent(e.key)}`}>See its verdict</a>
    </p>
  );
}

function ReportForm(props: { user: Viewer; v: FormValues; error?: string }) {
  const { v } = props;
  const kind = v.kind ?? 'spam';
  return (
    <section class="card" aria-labelledby="report-h">
      <h2 id="report-h">Report</h2>
      {props.error && <p class="error" role="alert" id="report-error">{props.error}</p>}
      <form class="stack" method="post" action="/reputation">
        <input type="hidden" name={CSRF_FIELD} value={props.user.csrf} />
        <label>
          Key: one IP address or domain
          <input type="text" name="key" value={v.key ?? ''} required maxlength={300} autocapitalize="none" spellcheck={false} placeholder="192.0.2.7 or mail.example.com" />
        </label>
        <fieldset class="choice">
          <legend>Kind</legend>
          {REPORT_KINDS.map((k) => (
            <label class="row"><input type="radio" name="kind" value={k} checked={kind === k} /> {KIND_TEXT[k]}</label>
          ))}
        </fieldset>
        <label>
          Note (optional)
          <input type="text" name="note" value={v.note ?? ''} maxlength={500} placeholder="what the mail log or the user says" />
        </label>
        <button type="submit">Report</button>
      </form>
      <p class="muted small">Spam adds its weight (1), a trap hit twice that, ham takes 1 off, a false positive cancels every positive score first.</p>
    </section>
  );
}

function ReputationPage(props: {
  ctx: ConsolePages; user: Viewer; f: Filter; page: EventPage | null; filterError?: string; done?: string; form?: FormValues; formError?: string;
}) {
  const { ctx, user, f, page } = props;
  const rep = ctx.store.reputation;
  const top = rep.top(TOP);
  const canReport = may({ kind: 'user', name: user.name, role: user.role as 'admin', scope: 'overrides' }, 'reports', 'POST');
  const halfLife = rep.cfg.half_life % 86400 === 0 ? `${rep.cfg.half_life / 86400} d` : `${Math.round(rep.cfg.half_life / 3600)} h`;
  return (
    <Layout title="Reputation" user={user}>
      <h1>Reputation</h1>
      {props.done && <Confirmation ctx={ctx} done={props.done} user={user} />}
      <p class="muted">
        Scores halve every {halfLife} (at most ±{rep.cfg.cap}). A key at or over the bar <strong>{rep.bar}</strong> is listed in bl /
        dbl (127.0.0.4 / 127.0.1.4) unless an allow override keeps it out; inside a provider range policy.provider_bar applies. Its
        lookup shows the whole verdict.
      </p>
      <div class="cards rep-top">
        <section aria-labelledby="top-h">
          <h2 id="top-h">Top keys now</h2>
          <p id="over-bar">
            <strong>{top.overBar}</strong> key{top.overBar === 1 ? '' : 's'} at or over the bar {rep.bar}.
          </p>
          <div class="scroll" tabindex={0} role="region" aria-labelledby="top-h">
            <table class="list" id="top">
              <thead><tr><th>Key</th><th class="num">Score</th><th>vs bar {rep.bar}</th><th class="num">Events</th><th>Last event (UTC)</th></tr></thead>
              <tbody>
                {top.keys.map((k) => (
                  <tr>
                    <td class="key"><a href={`/lookup?key=${encodeURIComponent(k.key)}`}>{k.key}</a></td>
                    <td class="num">{score2(k.score)}</td>
                    <td>{k.overBar ? <span class="tag deny">listed</span> : <span class="tag">below</span>}</td>
                    <td class="num">{k.events}</td>
                    <td class="nowrap">{when(k.lastAt).replace(' UTC', '')}</td>
                  </tr>
                ))}
                {top.keys.length === 0 && <tr><td colspan={5} class="muted">No key has a positive score.</td></tr>}
              </tbody>
            </table>
          </div>
        </section>
        {canReport && <ReportForm user={user} v={props.form ?? {}} error={props.formError} />}
      </div>
      {!canReport && <p class="muted">Your role ({user.role}) reads reputation; reports need the operator or admin role.</p>}

      <h2 id="events-h">Recent events</h2>
      <form class="filters rep-filters" method="get" action="/reputation" role="search" aria-label="Filter events">
        <label>
          Key
          <input type="search" name="key" value={f.key ?? ''} maxlength={300} autocapitalize="none" spellcheck={false} />
        </label>
        <label>
          Kind
          <select name="kind">
            <option value="" selected={!f.kind}>any</option>
            {REPORT_KINDS.map((k) => <option value={k} selected={f.kind === k}>{k}</option>)}
          </select>
        </label>
        <label>
          Reporter
          <input type="search" name="reporter" value={f.reporter ?? ''} maxlength={100} />
        </label>
        <div class="actions">
          <button type="submit">Filter</button>
          <a href="/reputation">Reset</a>
        </div>
      </form>
      {props.filterError && <p class="error" role="alert" id="filter-error">{props.filterError}</p>}
      {page && (
        <div class="scroll" tabindex={0} role="region" aria-labelledby="events-h">
          <table class="list events" id="events">
            <thead><tr><th>Time (UTC)</th><th>Key</th><th>Kind</th><th class="num">Weight</th><th>Reporter</th><th>Note</th></tr></thead>
            <tbody>
              {page.events.map((e) => (
                <tr>
                  <td class="nowrap">{when(e.at).replace(' UTC', '')}</td>
                  <td class="key"><a href={`/lookup?key=${encodeURIComponent(e.key)}`}>{e.key}</a></td>
                  <td><span class={`tag ${e.kind === 'spam' || e.kind === 'trap' ? 'deny' : 'allow'}`}>{e.kind}</span></td>
                  <td class="num weight">{e.weight}</td>
                  <td class="reporter">{e.reporter}</td>
                  <td class="reason">{e.note ?? ''}</td>
                </tr>
              ))}
              {page.events.length === 0 && <tr><td colspan={6} class="muted">No event matches.</td></tr>}
            </tbody>
          </table>
        </div>
      )}
      {page && (
        <nav class="pager" aria-label="Pages">
          {f.before ? <a href={`/reputation${query(f)}`}>← Newest</a> : <span />}
          {page.next !== null ? <a href={`/reputation${query(f, { before: page.next })}`} rel="next">Older →</a> : <span />}
        </nav>
      )}
    </Layout>
  );
}

const str = (v: unknown, max: number) => (typeof v === 'string' ? v.slice(0, max) : undefined);

function viewerOf(c: Context<Env>): Viewer {
  const s = c.get('session')!;
  return { name: s.user.name, role: s.user.role, csrf: s.csrf };
}

export function reputationPage(ctx: ConsolePages): Hono<Env> {
  const app = new Hono<Env>();
  const render = (c: Context, body: JSX.Element, status: Status = 200) => c.html(body, status, HEADERS);
  const small = bodyLimit({ maxSize: 16 * 1024, onError: (c) => errorResponse(c, 413, 'the form is too large') });

  /** The page with the filter from the query string; a bad filter is an inline error (400). */
  const show = (c: Context<Env>, extra: { form?: FormValues; formError?: string } = {}, status: Status = 200) => {
    const f: Filter = {
      key: str(c.req.query('key'), 300)?.trim() || undefined,
      kind: str(c.req.query('kind'), 20) || undefined,
      reporter: str(c.req.query('reporter'), 100)?.trim() || undefined,
      before: str(c.req.query('before'), 20) || undefined,
    };
    let page: EventPage | null = null;
    let filterError: string | undefined;
    try {
      if (f.before !== undefined && !/^[1-9]\d{0,15}$/.test(f.before)) throw new InputError('before must be an event id', 'before');
      const q: EventQuery = { key: f.key, kind: f.kind, reporter: f.reporter, before: f.before ? Number(f.before) : undefined, limit: PAGE_SIZE };
      page = ctx.store.reputation.recent(q);
    } catch (e) {
      if (!(e instanceof InputError)) throw e;
      filterError = e.message;
    }
    return render(c, <ReputationPage ctx={ctx} user={viewerOf(c)} f={f} page={page} filterError={filterError} done={c.req.query('done')} {...extra} />,
      filterError && status === 200 ? 400 : status);
  };

  app.get('/reputation', requireSession(ctx), (c) => show(c));

  app.post('/reputation', small, requireSession(ctx), requireScope('reports'), async (c) => {
    const form = await c.req.parseBody();
    const v: FormValues = { key: str(form.key, 400), kind: str(form.kind, 20), note: str(form.note, 600) };
    const user = viewerOf(c);
    try {
      const r = ctx.store.report({ key: v.key ?? '', kind: v.kind, reporter: user.name, note: v.note?.trim() ? v.note : undefined }, actorOf(c));
      return c.redirect(`/reputation?done=${r.event.id}`, 303);
    } catch (e) {
      if (!(e instanceof InputError)) throw e;
      return show(c, { form: v, formError: e.message }, 400);
    }
  });

  return app;
}
