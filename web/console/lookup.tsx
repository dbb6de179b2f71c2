// The Lookup page: an IP, CIDR or domain -> its verdict in bl/wl/dbl and the explain trace in
// words (trace.tsx), and from there allow/deny (an override, reason required, expiry 1 d, 7 d,
// 30 d or never) and "report false positive" / "report spam". Changes go through the same
// LocalStore calls as the API and the CLI (audited as `user:<name>`), then POST-redirect-GET
// back to the same key with a confirmation. A bad key is an inline error (the InputError's
// message), never a 500. Viewers see the verdict, no forms, and a POST from them is refused (403).

import { Hono, type Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { actorOf, may, requireSession } from '../auth.ts';
import { ApiError, errorResponse, type Env } from '../http.ts';
import { CSRF_FIELD } from '../session.ts';
import { InputError, parseKey } from '../../sync/local/keys.ts';
import { OverrideConflict, OverrideGuard, type Override } from '../../sync/local/overrides.ts';
import type { Explanation } from '../../sync/merge/explain.ts';
import type { ConsolePages } from './context.ts';
import { Layout, type Viewer } from './layout.tsx';
import { Trace, when } from './trace.tsx';

const PAGE_HEADERS = {
  'Content-Security-Policy': "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'same-origin',
  'Cache-Control': 'no-store',
};

/** The expiries offered (override durations as parseExpires reads them). */
const EXPIRIES = [['1d', '1 day'], ['7d', '7 days'], ['30d', '30 days'], ['never', 'never']] as const;
const REPORTS = { 'false-positive': 'false positive', spam: 'spam' } as const;

interface Looked {
  /** What was typed (shown back in the form). */
  input: string;
  /** The canonical key the actions act on (a CIDR stays a CIDR). */
  key?: string;
  /** Set for a CIDR: the address explained in its place. */
  first?: string;
  x?: Explanation;
  /** The override stored on exactly this key (a CIDR's own override, or the key's). */
  own?: Override | null;
  error?: string;
}

/** Parses and explains; every bad-input error becomes `error` (its InputError message). */
function lookUp(ctx: ConsolePages, input: string): Looked {
  const r: Looked = { input };
  if (!input.trim()) return r;
  try {
    const k = parseKey(input, { cidr: true, wildcard: true }, 'key');
    r.key = k.key;
    let target = k.key;
    if ((k.kind === 'ip4' && k.bits < 32) || (k.kind === 'ip6' && k.bits < 128)) target = r.first = k.key.slice(0, k.key.indexOf('/'));
    r.own = ctx.store.overrides.byKey(k.key);
    if (ctx.explain) r.x = ctx.explain(target);
  } catch (e) {
    if (!(e instanceof InputError)) throw e;
    r.error = e.message;
  }
  return r;
}

/** The confirmation after a change, only when the state shows it (a crafted `done=` link
 *  confirms nothing that did not happen). */
function Confirmation(props: { done: string; target: string; own: Override | null | undefined; x?: Explanation; user: string }) {
  const d = props.done;
  let text: string;
  if (d === 'allow' || d === 'deny') {
    const o = props.own;
    if (!o || o.action !== d || o.author !== props.user) return null;
    text = `${d === 'allow' ? 'Allowed' : 'Denied'} ${o.key} (override #${o.id}, ${o.expires === null ? 'no expiry' : `until ${when(o.expires)}`}). The verdict below is the server's answer now.`;
  } else if (d === 'false-positive' || d === 'spam') {
    const e = props.x?.reputation.events[0];
    if (!e || e.kind !== d || e.reporter !== props.user) return null;
    text = `Your ${REPORTS[d]} report on ${props.target} was recorded. The verdict below includes it.`;
  } else return null;
  return <p class="notice" role="status">{text}</p>;
}

function ActionForms(props: { user: Viewer; target: string; own: Override | null | undefined; single: boolean; reason?: string; expires?: string; action?: string }) {
  const admin = props.user.role === 'admin';
  return (
    <section class="actions" aria-labelledby="act-h">
      <h2 id="act-h">Change the verdict</h2>
      {props.own && (
        <p class="muted">
          Saving replaces the current {props.own.action} override #{props.own.id} of {props.own.key}.
        </p>
      )}
      <form class="stack override-form" method="post" action="/lookup/override">
        <input type="hidden" name={CSRF_FIELD} value={props.user.csrf} />
        <input type="hidden" name="key" value={props.target} />
        <label>
          Reason (required, kept in the audit log)
          <input type="text" name="reason" required maxlength={500} value={props.reason ?? ''} placeholder="ticket 4711: their relay was bounced" />
        </label>
        <fieldset class="expiry">
          <legend>Expires after</legend>
          {EXPIRIES.map(([v, label]) => (
            <label class="choice">
              <input type="radio" name="expires" value={v} checked={(props.expires ?? '7d') === v} />
              {label}
            </label>
          ))}
        </fieldset>
        {admin && (
          <label class="choice">
            <input type="checkbox" name="force" value="1" />
            Force: store a key wider than policy.override_limits (admin only)
          </label>
        )}
        <div class="buttons">
          <button type="submit" name="action" value="allow">Allow {props.target}</button>
          <button type="submit" name="action" value="deny" class="danger">Deny {props.target}</button>
        </div>
      </form>
      {props.single && (
        <form class="stack report-form" method="post" action="/lookup/report" aria-labelledby="rep-form-h">
          <h3 id="rep-form-h">Report to local reputation</h3>
          <input type="hidden" name={CSRF_FIELD} value={props.user.csrf} />
          <input type="hidden" name="key" value={props.target} />
          <label>
            Note (optional)
            <input type="text" name="note" maxlength={500} placeholder="what the user or the mail log says" />
          </label>
          <div class="buttons">
            <button type="submit" name="kind" value="false-positive" class="quiet">Report false positive</button>
            <button type="submit" name="kind" value="spam" class="quiet">Report spam</button>
          </div>
        </form>
      )}
    </section>
  );
}

function LookupPage(props: { ctx: ConsolePages; user: Viewer; r: Looked; done?: string; actionError?: string; form?: { reason?: string; expires?: string } }) {
  const { r, user, ctx } = props;
  const canChange = may({ kind: 'user', name: user.name, role: user.role as 'admin', scope: 'overrides' }, 'overrides', 'POST');
  return (
    <Layout title={r.key ? `Lookup ${r.key}` : 'Lookup'} user={user}>
      <h1>Lookup</h1>
      <form class="lookup-form" method="get" action="/lookup" role="search">
        <label>
          IP address, CIDR or domain
          <span class="row">
            <input type="text" name="key" value={r.input} required maxlength={300} autocapitalize="none" spellcheck={false} autofocus={!r.input} placeholder="192.0.2.7 or mail.example.com" aria-describedby={r.error ? 'key-error' : undefined} aria-invalid={r.error ? 'true' : undefined} />
            <button type="submit">Look up</button>
          </span>
        </label>
      </form>
      {!r.input && (
        <p class="muted">
          The client address of a rejected connection from the mail log, a network (198.51.100.0/24, 2001:db8::/48) or a
          domain (mail.example.com, *.example.com): what bl, wl and dbl answer for it, and why.
        </p>
      )}
      {r.error && <p class="error" role="alert" id="key-error">{r.error}</p>}
      {props.done && r.key && <Confirmation done={props.done} target={r.key} own={r.own} x={r.x} user={user.name} />}
      {props.actionError && <p class="error" role="alert" id="action-error">{props.actionError}</p>}
      {r.key && r.first && (
        <p class="muted">
          {r.key} is a network: DNS answers per address, so this is the verdict of its first address {r.first}. Allow and deny below act on all of {r.key}.
        </p>
      )}
      {r.key && r.own && r.own.key !== r.x?.override?.key && (
        <p>
          {r.key} has its own <strong>{r.own.action}</strong> override #{r.own.id}: “{r.own.reason}” by {r.own.author}, {r.own.expires === null ? 'no expiry' : r.own.expires > Date.now() ? `until ${when(r.own.expires)}` : `expired ${when(r.own.expires)}`}.
        </p>
      )}
      {r.x && <Trace x={r.x} override={r.x.override ? ctx.store.overrides.get(r.x.override.id) : null} />}
      {r.key && !r.x && <p class="muted">This server has no merged data to explain (the web API runs without the merge).</p>}
      {r.key && canChange && <ActionForms user={user} target={r.key} own={r.own} single={!r.first && !r.key.startsWith('*.')} reason={props.form?.reason} expires={props.form?.expires} />}
      {r.key && !canChange && <p class="muted">Your role ({user.role}) may look up keys; allowing, denying and reports need the operator or admin role.</p>}
    </Layout>
  );
}

function viewerOf(c: Context<Env>): Viewer {
  const s = c.get('session')!;
  return { name: s.user.name, role: s.user.role, csrf: s.csrf };
}

function str(v: unknown, max = 1000): string {
  return typeof v === 'string' ? v.slice(0, max) : '';
}

/** The user's rights for changes: a viewer gets 403 (the same rule as the API's). */
function mustChange(c: Context<Env>): void {
  const p = c.get('token');
  if (!may(p, 'overrides', 'POST')) throw new ApiError(403, `user '${p.name}' has role '${p.role}'; this needs the operator or admin role`);
}

const back = (key: string, done: string) => `/lookup?key=${encodeURIComponent(key)}&done=${encodeURIComponent(done)}`;

export function lookupRoutes(ctx: ConsolePages): Hono<Env> {
  const app = new Hono<Env>();
  const html = (c: Context<Env>, body: ReturnType<typeof LookupPage>, status: 200 | 400 | 403 | 404 | 409 = 200) => c.html(body, status, PAGE_HEADERS);

  app.use('/lookup/*', bodyLimit({ maxSize: 16 * 1024, onError: (c) => errorResponse(c, 413, 'the form is too large') }));

  app.get('/lookup', requireSession(ctx), (c) => {
    const input = str(c.req.query('key'), 400);
    const r = lookUp(ctx, input);
    return html(c, <LookupPage ctx={ctx} user={viewerOf(c)} r={r} done={r.error ? undefined : c.req.query('done')} />, r.error ? 400 : 200);
  });

  app.post('/lookup/override', requireSession(ctx), async (c) => {
    mustChange(c);
    const f = await c.req.parseBody();
    const key = str(f.key, 400);
    const action = str(f.action);
    const reason = str(f.reason, 600);
    const expires = str(f.expires, 20);
    const user = viewerOf(c);
    const retry = (status: 400 | 403 | 404 | 409, message: string) =>
      html(c, <LookupPage ctx={ctx} user={user} r={lookUp(ctx, key)} actionError={message} form={{ reason, expires }} />, status);
    if (action !== 'allow' && action !== 'deny') return retry(400, 'Choose allow or deny.');
    if (!EXPIRIES.some(([v]) => v === expires)) return retry(400, 'Choose when the override expires: 1 day, 7 days, 30 days or never.');
    if (!reason.trim()) return retry(400, 'A reason is required: say why (a ticket number, what the user reported).');
    try {
      ctx.store.addOverride(
        { action, key, reason, author: user.name, expires },
        { actor: actorOf(c), replace: true, force: f.force === '1', admin: user.role === 'admin' },
      );
    } catch (e) {
      if (e instanceof InputError) return retry(400, e.message);
      if (e instanceof OverrideGuard) {
        return retry(403, user.role === 'admin'
          ? `Refused: ${e.message}. Tick "Force" to store it anyway.`
          : `Refused: ${e.message}. Ask an admin, or choose a narrower key.`);
      }
      if (e instanceof OverrideConflict) return retry(e.status, e.message);
      throw e;
    }
    return c.redirect(back(key, action), 303);
  });

  app.post('/lookup/report', requireSession(ctx), async (c) => {
    mustChange(c);
    const f = await c.req.parseBody();
    const key = str(f.key, 400);
    const kind = str(f.kind);
    const note = str(f.note, 600);
    const user = viewerOf(c);
    if (kind !== 'false-positive' && kind !== 'spam') {
      return html(c, <LookupPage ctx={ctx} user={user} r={lookUp(ctx, key)} actionError="Choose false positive or spam." />, 400);
    }
    try {
      ctx.store.report({ key, kind, reporter: user.name, note: note.trim() ? note : undefined }, actorOf(c));
    } catch (e) {
      if (!(e instanceof InputError)) throw e;
      return html(c, <LookupPage ctx={ctx} user={user} r={lookUp(ctx, key)} actionError={e.message} />, 400);
    }
    return c.redirect(back(key, kind), 303);
  });

  return app;
}
