// The Overrides page: the list (search, filters, keyset paging: 100k rows stay fast), add, edit
// reason and expiry, expire now, delete, CSV export with the current filter, and CSV import with
// a preview kept server-side until "apply". Every change goes through LocalStore (the same service
// functions as the API and the CLI), audited as `user:<name>`. Viewers read and export only.
//
//   GET  /overrides                 list (?q, action, author, status, before|after)
//   GET  /overrides.csv             export (same filter, all matching rows)
//   POST /overrides                 add
//   GET  /overrides/:id             one override, its edit forms
//   POST /overrides/:id             edit reason and expiry
//   POST /overrides/:id/expire      expire now
//   POST /overrides/:id/delete      delete
//   POST /overrides/import          upload -> preview (nothing written)
//   POST /overrides/import/:pid     apply exactly the previewed set (one transaction)

import { Hono, type Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { JSX } from 'hono/jsx/jsx-runtime';
import { InputError } from '../../sync/local/keys.ts';
import { OverrideConflict, OverrideGuard, type Override, type OverrideFilter, type OverridePage } from '../../sync/local/overrides.ts';
import { may, requireScope, requireSession } from '../auth.ts';
import { ApiError, type Env } from '../http.ts';
import { CSRF_FIELD, type ConsoleCtx } from '../session.ts';
import { csvLine, CsvError } from './csv.ts';
import { Layout, type Viewer } from './layout.tsx';
import { MAX_IMPORT_BYTES, MAX_IMPORT_ROWS, PendingImports, planImport, type ImportPlan } from './overrides-import.ts';

const PAGE_SIZE = 50;
const HEADERS = {
  'Content-Security-Policy': "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'same-origin',
  'Cache-Control': 'no-store',
};
const DONE: Record<string, string> = {
  added: 'Override added.', saved: 'Changes saved.', expired: 'Override expired.', deleted: 'Override deleted.', imported: 'Import applied.',
};

type Status = 200 | 400 | 403 | 404 | 409 | 413;
const render = (c: Context, body: JSX.Element, status: Status = 200) => c.html(body, status, HEADERS);

interface Who {
  user: Viewer;
  canWrite: boolean;
  admin: boolean;
  session: string;
}

function who(c: Context<Env>): Who {
  const s = c.get('session')!;
  const p = c.get('token');
  return { user: { name: s.user.name, role: s.user.role, csrf: s.csrf }, canWrite: may(p, 'overrides', 'POST'), admin: p.role === 'admin', session: s.idHash };
}

function filterOf(c: Context): OverrideFilter {
  const q = c.req.query('q')?.trim().slice(0, 200) || undefined;
  const a = c.req.query('action');
  const s = c.req.query('status');
  return {
    q,
    action: a === 'allow' || a === 'deny' ? a : undefined,
    author: c.req.query('author')?.trim().slice(0, 100) || undefined,
    status: s === 'expired' || s === 'all' ? s : 'active',
  };
}

function query(f: OverrideFilter, extra: Record<string, string | number> = {}): string {
  const p = new URLSearchParams();
  if (f.q) p.set('q', f.q);
  if (f.action) p.set('action', f.action);
  if (f.author) p.set('author', f.author);
  if (f.status && f.status !== 'active') p.set('status', f.status);
  for (const [k, v] of Object.entries(extra)) p.set(k, String(v));
  const s = p.toString();
  return s ? `?${s}` : '';
}

const iso = (ms: number | null) => (ms === null ? '' : new Date(ms).toISOString().replace(/\.000Z$/, 'Z'));
const when = (ms: number) => new Date(ms).toISOString().slice(0, 16).replace('T', ' ');

function Expiry(props: { o: Override; now: number }) {
  const { o, now } = props;
  if (o.expires === null) return <span class="muted">never</span>;
  return o.expires <= now ? <span class="tag expired">expired {when(o.expires)}</span> : <span>{when(o.expires)}</span>;
}

/** The expiry choice: presets, never, or a custom time/duration (no script: both fields posted). */
function ExpiryField(props: { keep?: boolean; value?: string; custom?: string }) {
  const v = props.value ?? (props.keep ? 'keep' : '7d');
  const opt = (val: string, label: string) => <option value={val} selected={v === val}>{label}</option>;
  return (
    <fieldset class="expiry">
      <legend>Expires</legend>
      <label>
        After
        <select name="expiry">
          {props.keep && opt('keep', 'keep as it is')}
          {opt('1d', '1 day')}
          {opt('7d', '7 days')}
          {opt('30d', '30 days')}
          {opt('never', 'never')}
          {opt('custom', 'custom (below)')}
        </select>
      </label>
      <label>
        Custom: a time or a duration
        <input type="text" name="custom" value={props.custom ?? ''} placeholder="2026-12-31T00:00Z or 12h" maxlength={40} />
      </label>
    </fieldset>
  );
}

/** The form's expiry as the service takes it; undefined = keep. */
function expiryOf(form: Record<string, unknown>): unknown {
  const e = form.expiry;
  if (e === 'keep') return undefined;
  if (e === '1d' || e === '7d' || e === '30d') return e;
  if (e === 'never') return null;
  if (e === 'custom') {
    const v = typeof form.custom === 'string' ? form.custom.trim() : '';
    if (!v) throw new InputError('expires: choose a preset or enter a custom time or duration', 'expires');
    return v;
  }
  throw new InputError('expires: choose 1 day, 7 days, 30 days, never or custom', 'expires');
}

const Csrf = (props: { user: Viewer }) => <input type="hidden" name={CSRF_FIELD} value={props.user.csrf} />;

interface AddValues {
  action?: string;
  key?: string;
  reason?: string;
  expiry?: string;
  custom?: string;
}

function AddForm(props: { w: Who; v: AddValues; error?: string }) {
  const { w, v } = props;
  return (
    <section class="card" aria-labelledby="add-h">
      <h2 id="add-h">Add an override</h2>
      {props.error && <p class="error" role="alert">{props.error}</p>}
      <form class="stack" method="post" action="/overrides">
        <Csrf user={w.user} />
        <fieldset class="choice">
          <legend>Action</legend>
          <label class="row"><input type="radio" name="action" value="deny" checked={v.action !== 'allow'} /> deny (list it)</label>
          <label class="row"><input type="radio" name="action" value="allow" checked={v.action === 'allow'} /> allow (never list it)</label>
        </fieldset>
        <label>
          Key: IP, CIDR, domain or *.domain
          <input type="text" name="key" value={v.key ?? ''} required maxlength={300} autocapitalize="none" spellcheck={false} />
        </label>
        <label>
          Reason (required)
          <input type="text" name="reason" value={v.reason ?? ''} required maxlength={500} />
        </label>
        <ExpiryField value={v.expiry} custom={v.custom} />
        {w.admin && (
          <label class="row"><input type="checkbox" name="force" value="1" /> force: store a key wider than policy.override_limits</label>
        )}
        <button type="submit">Add override</button>
      </form>
    </section>
  );
}

function ImportForm(props: { w: Who; error?: string }) {
  return (
    <section class="card" aria-labelledby="import-h">
      <h2 id="import-h">Import CSV</h2>
      <p class="muted">
        Columns by header: <code>action,key,reason,expires</code> (expires: empty or never, 7d, or an ISO time). Rows replace an
        existing override of the same key. You see a preview first. At most {MAX_IMPORT_ROWS} rows, 2 MB.
      </p>
      {props.error && <p class="error" role="alert">{props.error}</p>}
      <form class="stack" method="post" action="/overrides/import" enctype="multipart/form-data">
        <Csrf user={props.w.user} />
        <label>
          CSV file
          <input type="file" name="file" accept=".csv,text/csv" required />
        </label>
        {props.w.admin && (
          <label class="row"><input type="checkbox" name="force" value="1" /> force rows wider than policy.override_limits</label>
        )}
        <button type="submit">Preview import</button>
      </form>
    </section>
  );
}

function ListPage(props: { w: Who; f: OverrideFilter; p: OverridePage; authors: string[]; now: number; done?: string; add?: AddValues; addError?: string; importError?: string }) {
  const { w, f, p, now } = props;
  const first = p.rows[0]?.id;
  const last = p.rows[p.rows.length - 1]?.id;
  return (
    <Layout title="Overrides" user={w.user}>
      <h1>Overrides</h1>
      {props.done && <p class="ok" role="status">{props.done}</p>}
      <form class="filters" method="get" action="/overrides" role="search">
        <label>
          Search key or reason
          <input type="search" name="q" value={f.q ?? ''} maxlength={200} />
        </label>
        <label>
          Action
          <select name="action">
            <option value="" selected={!f.action}>any</option>
            <option value="allow" selected={f.action === 'allow'}>allow</option>
            <option value="deny" selected={f.action === 'deny'}>deny</option>
          </select>
        </label>
        <label>
          Author
          <input type="text" name="author" value={f.author ?? ''} list="authors" maxlength={100} />
        </label>
        <datalist id="authors">{props.authors.map((a) => <option value={a} />)}</datalist>
        <label>
          Status
          <select name="status">
            <option value="active" selected={f.status === 'active'}>active</option>
            <option value="expired" selected={f.status === 'expired'}>expired</option>
            <option value="all" selected={f.status === 'all'}>all</option>
          </select>
        </label>
        <div class="actions">
          <button type="submit">Filter</button>
          <a href="/overrides">Reset</a>
          <a href={`/overrides.csv${query(f)}`} download="overrides.csv">Export CSV</a>
        </div>
      </form>
      <p class="muted" id="count">{p.total} matching</p>
      <div class="scroll" tabindex={0} role="region" aria-labelledby="count">
        <table class="list">
          <thead>
            <tr><th>#</th><th>Action</th><th>Key</th><th>Reason</th><th>Author</th><th>Created (UTC)</th><th>Expires (UTC)</th></tr>
          </thead>
          <tbody>
            {p.rows.map((o) => (
              <tr>
                <td><a href={`/overrides/${o.id}`}>{o.id}</a></td>
                <td><span class={`tag ${o.action}`}>{o.action}</span></td>
                <td class="key"><a href={`/overrides/${o.id}`}>{o.key}</a></td>
                <td class="reason">{o.reason}</td>
                <td>{o.author}</td>
                <td class="nowrap">{when(o.created)}</td>
                <td class="nowrap"><Expiry o={o} now={now} /></td>
              </tr>
            ))}
            {p.rows.length === 0 && <tr><td colspan={7} class="muted">No override matches.</td></tr>}
          </tbody>
        </table>
      </div>
      <nav class="pager" aria-label="Pages">
        {p.newer && first !== undefined ? <a href={`/overrides${query(f, { after: first })}`} rel="prev">← Newer</a> : <span />}
        {p.older && last !== undefined ? <a href={`/overrides${query(f, { before: last })}`} rel="next">Older →</a> : <span />}
      </nav>
      {w.canWrite && (
        <div class="cards">
          <AddForm w={w} v={props.add ?? {}} error={props.addError} />
          <ImportForm w={w} error={props.importError} />
        </div>
      )}
    </Layout>
  );
}

function EditPage(props: { w: Who; o: Override; now: number; done?: string; error?: string; reason?: string }) {
  const { w, o, now } = props;
  const active = o.expires === null || o.expires > now;
  return (
    <Layout title={`Override #${o.id}`} user={w.user}>
      <p><a href="/overrides">← All overrides</a></p>
      <h1>Override #{o.id}</h1>
      {props.done && <p class="ok" role="status">{props.done}</p>}
      {props.error && <p class="error" role="alert">{props.error}</p>}
      <dl class="facts">
        <dt>Action</dt><dd><span class={`tag ${o.action}`}>{o.action}</span></dd>
        <dt>Key</dt><dd class="key">{o.key}</dd>
        <dt>Reason</dt><dd class="reason" id="reason">{o.reason}</dd>
        <dt>Author</dt><dd>{o.author}</dd>
        <dt>Created (UTC)</dt><dd>{when(o.created)}</dd>
        <dt>Expires (UTC)</dt><dd><Expiry o={o} now={now} /></dd>
      </dl>
      {w.canWrite && (
        <div class="cards">
          <section class="card" aria-labelledby="edit-h">
            <h2 id="edit-h">Edit</h2>
            <form class="stack" method="post" action={`/overrides/${o.id}`}>
              <Csrf user={w.user} />
              <label>
                Reason
                <input type="text" name="reason" value={props.reason ?? o.reason} required maxlength={500} />
              </label>
              <ExpiryField keep />
              {w.admin && <label class="row"><input type="checkbox" name="force" value="1" /> force (a wide key living longer)</label>}
              <button type="submit">Save</button>
            </form>
          </section>
          <section class="card" aria-labelledby="end-h">
            <h2 id="end-h">End it</h2>
            {active && (
              <form method="post" action={`/overrides/${o.id}/expire`}>
                <Csrf user={w.user} />
                <p class="muted">Expiring keeps the row (and its history); DNS stops applying it at once.</p>
                <button type="submit">Expire now</button>
              </form>
            )}
            <form method="post" action={`/overrides/${o.id}/delete`}>
              <Csrf user={w.user} />
              <p class="muted">Deleting removes the row; the audit log keeps what it was.</p>
              <button type="submit" class="danger">Delete</button>
            </form>
          </section>
        </div>
      )}
    </Layout>
  );
}

function PreviewPage(props: { w: Who; plan: ImportPlan; pid: string; now: number }) {
  const { w, plan, now } = props;
  const adds = plan.rows.filter((r) => !r.before);
  const repl = plan.rows.filter((r) => r.before);
  const exp = (ms: number | null) => (ms === null ? 'never' : when(ms));
  return (
    <Layout title="Import preview" user={w.user}>
      <p><a href="/overrides">← All overrides</a></p>
      <h1>Import preview</h1>
      <p id="summary">
        <strong>{adds.length}</strong> to add, <strong>{repl.length}</strong> to replace, <strong>{plan.refused.length}</strong> refused. Nothing
        has been written yet.
      </p>
      <h2>To add ({adds.length})</h2>
      <div class="scroll" tabindex={0} role="region" aria-label="Rows to add">
        <table class="list" id="adds">
          <thead><tr><th>Line</th><th>Action</th><th>Key</th><th>Reason</th><th>Expires (UTC)</th></tr></thead>
          <tbody>
            {adds.map((r) => (
              <tr><td>{r.line}</td><td><span class={`tag ${r.action}`}>{r.action}</span>{r.force && <span class="tag expired">forced</span>}</td><td class="key">{r.key}</td><td class="reason">{r.reason}</td><td class="nowrap">{exp(r.expires)}</td></tr>
            ))}
          </tbody>
        </table>
      </div>
      <h2>To replace ({repl.length})</h2>
      <div class="scroll" tabindex={0} role="region" aria-label="Rows to replace">
        <table class="list" id="replaces">
          <thead><tr><th>Line</th><th>Key</th><th>Before (UTC)</th><th>After (UTC)</th></tr></thead>
          <tbody>
            {repl.map((r) => (
              <tr>
                <td>{r.line}</td>
                <td class="key">{r.key}</td>
                <td class="reason">
                  <span class={`tag ${r.before!.action}`}>{r.before!.action}</span> {r.before!.reason} <span class="muted">(expires {exp(r.before!.expires)}{r.before!.expires !== null && r.before!.expires <= now ? ', expired' : ''})</span>
                </td>
                <td class="reason">
                  <span class={`tag ${r.action}`}>{r.action}</span> {r.reason} <span class="muted">(expires {exp(r.expires)})</span>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <h2>Refused ({plan.refused.length})</h2>
      <div class="scroll" tabindex={0} role="region" aria-label="Refused rows">
        <table class="list" id="refused">
          <thead><tr><th>Line</th><th>Key</th><th>Why</th></tr></thead>
          <tbody>
            {plan.refused.map((r) => <tr><td>{r.line}</td><td class="key">{r.key}</td><td class="reason">{r.why}</td></tr>)}
          </tbody>
        </table>
      </div>
      <div class="actions">
        {plan.rows.length > 0 && (
          <form class="inline" method="post" action={`/overrides/import/${props.pid}`}>
            <Csrf user={w.user} />
            <button type="submit">Apply {plan.rows.length} change{plan.rows.length === 1 ? '' : 's'}</button>
          </form>
        )}
        <a href="/overrides">Cancel</a>
      </div>
    </Layout>
  );
}

/** A refusal the user can act on, in words (InputError, the width guard, a conflict). */
function userError(e: unknown, admin: boolean): { status: Status; message: string } | null {
  if (e instanceof InputError) return { status: 400, message: e.message };
  if (e instanceof OverrideGuard) return { status: 403, message: admin || e.needs === 'admin' ? e.message.replace(/ \(CLI --force, API "force": true\)/, ' (tick "force")') : `${e.message.replace(/ \(CLI --force, API "force": true\)/, '')}; ask an admin` };
  if (e instanceof OverrideConflict) return { status: e.status, message: e.message };
  return null;
}

const str = (v: unknown) => (typeof v === 'string' ? v : undefined);

export function overridesPage(ctx: ConsoleCtx): Hono<Env> {
  const app = new Hono<Env>();
  const store = ctx.store;
  const pending = new PendingImports();
  const small = bodyLimit({ maxSize: 16 * 1024, onError: (c) => c.text('the form is too large', 413) });
  const upload = bodyLimit({
    maxSize: MAX_IMPORT_BYTES + 16 * 1024,
    onError: (c) => c.html(<Layout title="Import refused"><h1>Import refused</h1><p class="error" role="alert">The file is larger than 2 MB: split it. <a href="/overrides">Back</a></p></Layout>, 413, HEADERS),
  });
  const writer = requireScope('overrides');

  const list = (c: Context<Env>, w: Who, extra: { done?: string; add?: AddValues; addError?: string; importError?: string } = {}, status: Status = 200) => {
    const f = filterOf(c);
    const num = (k: string) => {
      const v = c.req.query(k);
      return v && /^\d{1,15}$/.test(v) ? Number(v) : undefined;
    };
    const p = store.overrides.page(f, { before: num('before'), after: num('after'), limit: PAGE_SIZE });
    return render(c, <ListPage w={w} f={f} p={p} authors={store.overrides.authors()} now={Date.now()} {...extra} />, status);
  };

  app.get('/overrides', requireSession(ctx), (c) => list(c, who(c), { done: DONE[c.req.query('done') ?? ''] }));

  app.get('/overrides.csv', requireSession(ctx), (c) => {
    const f = filterOf(c);
    let out = csvLine(['id', 'action', 'key', 'reason', 'author', 'created', 'expires']);
    for (const o of store.overrides.each(f)) out += csvLine([o.id, o.action, o.key, o.reason, o.author, iso(o.created), o.expires === null ? 'never' : iso(o.expires)]);
    return c.body(out, 200, {
      'Content-Type': 'text/csv; charset=utf-8',
      'Content-Disposition': 'attachment; filename="overrides.csv"',
      'X-Content-Type-Options': 'nosniff',
      'Cache-Control': 'no-store',
    });
  });

  app.post('/overrides/import', upload, requireSession(ctx), writer, async (c) => {
    const w = who(c);
    const form = await c.req.parseBody();
    const file = form.file;
    if (!(file instanceof File) || file.size === 0) return list(c, w, { importError: 'Choose a CSV file to import.' }, 400);
    if (file.size > MAX_IMPORT_BYTES) return list(c, w, { importError: 'The file is larger than 2 MB: split it.' }, 413);
    let plan: ImportPlan;
    try {
      const text = new TextDecoder('utf-8', { fatal: true }).decode(await file.arrayBuffer());
      plan = planImport(text, store, { admin: w.admin, force: form.force === '1' });
    } catch (e) {
      if (e instanceof CsvError) return list(c, w, { importError: `The file cannot be read: ${e.message}` }, 400);
      if (e instanceof TypeError) return list(c, w, { importError: 'The file is not UTF-8 text.' }, 400);
      throw e;
    }
    const pid = pending.put(w.session, plan);
    return render(c, <PreviewPage w={w} plan={plan} pid={pid} now={Date.now()} />);
  });

  app.post('/overrides/import/:pid', small, requireSession(ctx), writer, (c) => {
    const w = who(c);
    const plan = pending.take(c.req.param('pid'), w.session);
    if (!plan) return list(c, w, { importError: 'That preview is gone (applied already, older than 30 minutes, or from another session). Upload the file again.' }, 409);
    try {
      store.applyOverrides(plan.rows, { actor: `user:${w.user.name}`, author: w.user.name, admin: w.admin });
    } catch (e) {
      const u = userError(e, w.admin);
      if (!u) throw e;
      return list(c, w, { importError: `Nothing was imported: ${u.message}` }, u.status);
    }
    return c.redirect('/overrides?done=imported', 303);
  });

  app.post('/overrides', small, requireSession(ctx), writer, async (c) => {
    const w = who(c);
    const form = await c.req.parseBody();
    const v: AddValues = { action: str(form.action), key: str(form.key), reason: str(form.reason), expiry: str(form.expiry), custom: str(form.custom) };
    try {
      const o = store.addOverride(
        { action: v.action, key: v.key, reason: v.reason, author: w.user.name, expires: expiryOf(form) },
        { actor: `user:${w.user.name}`, force: form.force === '1', admin: w.admin },
      );
      return c.redirect(`/overrides/${o.id}?done=added`, 303);
    } catch (e) {
      const u = userError(e, w.admin);
      if (!u) throw e;
      return list(c, w, { add: v, addError: u.message }, u.status);
    }
  });

  const one = (c: Context<Env>) => {
    const v = c.req.param('id') ?? '';
    const o = /^[1-9]\d{0,14}$/.test(v) ? store.overrides.get(Number(v)) : null;
    if (!o) throw new ApiError(404, `there is no override #${v.slice(0, 20)}`);
    return o;
  };

  app.get('/overrides/:id', requireSession(ctx), (c) => {
    const w = who(c);
    const v = c.req.param('id');
    const o = /^[1-9]\d{0,14}$/.test(v) ? store.overrides.get(Number(v)) : null;
    if (!o) return render(c, <Layout title="Not found" user={w.user}><h1>Not found</h1><p>There is no override #{v.slice(0, 20)}. <a href="/overrides">All overrides</a></p></Layout>, 404);
    return render(c, <EditPage w={w} o={o} now={Date.now()} done={DONE[c.req.query('done') ?? '']} />);
  });

  app.post('/overrides/:id', small, requireSession(ctx), writer, async (c) => {
    const w = who(c);
    const o = one(c);
    const form = await c.req.parseBody();
    try {
      store.updateOverride(o.id, { reason: str(form.reason) ?? '', expires: expiryOf(form) }, `user:${w.user.name}`, { force: form.force === '1', admin: w.admin });
      return c.redirect(`/overrides/${o.id}?done=saved`, 303);
    } catch (e) {
      const u = userError(e, w.admin);
      if (!u) throw e;
      return render(c, <EditPage w={w} o={o} now={Date.now()} error={u.message} reason={str(form.reason)} />, u.status);
    }
  });

  app.post('/overrides/:id/expire', small, requireSession(ctx), writer, (c) => {
    const w = who(c);
    const o = one(c);
    store.updateOverride(o.id, { expires: 'now' }, `user:${w.user.name}`);
    return c.redirect(`/overrides/${o.id}?done=expired`, 303);
  });

  app.post('/overrides/:id/delete', small, requireSession(ctx), writer, (c) => {
    const w = who(c);
    const o = one(c);
    store.removeOverride(o.id, `user:${w.user.name}`);
    return c.redirect('/overrides?done=deleted', 303);
  });

  return app;
}
