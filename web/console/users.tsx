// The Users and tokens page (admins only; everyone else gets a 403 page): console users with
// role, created, last sign-in and state; create, change role, reset password, disable/enable,
// delete; API tokens with scope, created, last used, revoked; create and revoke. Every change goes
// through the same service functions as the API and the CLI (sync/local/users.ts, tokens.ts),
// audited as `user:<name>`. The users service ends a user's sessions when they are deleted,
// disabled, demoted or given a new password, and keeps the last enabled admin; the page also
// refuses an admin deleting, disabling or demoting themselves (`refuseSelf`).
//
// Secrets (a new token, a generated password) are shown once: the POST's own answer renders them
// (200, Cache-Control: no-store), never in a URL, never kept anywhere. A reload re-posts the
// form, which the service refuses (the name exists; the password form carries the stamp of the
// password it replaces, `ifPassword`) without changing or showing anything again.
//
//   GET  /users                        users and tokens
//   POST /users                        create a user (password given, or generated and shown once)
//   GET  /users/u/:name                one user and the forms that change it
//   POST /users/u/:name/role           change the role
//   POST /users/u/:name/password       reset the password (given, or generated and shown once)
//   POST /users/u/:name/state          disable (disabled=1) or enable
//   POST /users/u/:name/delete         delete
//   POST /users/tokens                 create a token: the answer shows the secret once
//   POST /users/tokens/:id/revoke      revoke

import { Hono, type Context, type MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { JSX } from 'hono/jsx/jsx-runtime';
import { InputError } from '../../sync/local/keys.ts';
import { SCOPES, type TokenInfo } from '../../sync/local/tokens.ts';
import { generatePassword, MIN_PASSWORD, ROLES, UserConflict, type UserInfo } from '../../sync/local/users.ts';
import { may, requireSession } from '../auth.ts';
import type { Env } from '../http.ts';
import { CSRF_FIELD, type ConsoleCtx } from '../session.ts';
import { Layout, type Viewer } from './layout.tsx';

const HEADERS = {
  'Content-Security-Policy': "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'same-origin',
  'Cache-Control': 'no-store',
};
type Status = 200 | 400 | 403 | 404 | 409;
const render = (c: Context, body: JSX.Element, status: Status = 200) => c.html(body, status, HEADERS);

const DONE: Record<string, string> = {
  created: 'User created.', role: 'Role changed; their sessions ended if it was a demotion.', password: 'Password changed; their other sessions ended.',
  disabled: 'User disabled; their sessions ended.', enabled: 'User enabled.', deleted: 'User deleted; their sessions ended.', revoked: 'Token revoked: it no longer works.',
};
const ROLE_TEXT: Record<string, string> = { admin: 'everything, users and tokens too', operator: 'lookup, allow/deny, reports, sources', viewer: 'reads only' };
const SCOPE_TEXT: Record<string, string> = { reports: 'POST reports (a mail filter)', overrides: 'read and change overrides (a helpdesk tool)', admin: 'everything' };

const when = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString().slice(0, 16).replace('T', ' '));
const str = (v: unknown, max = 1100) => (typeof v === 'string' ? v.slice(0, max) : '');

interface Who {
  user: Viewer;
  /** The session's id hash: kept when the admin changes their own password. */
  session: string;
}

function who(c: Context<Env>): Who {
  const s = c.get('session')!;
  return { user: { name: s.user.name, role: s.user.role, csrf: s.csrf }, session: s.idHash };
}

const Csrf = (props: { w: Who }) => <input type="hidden" name={CSRF_FIELD} value={props.w.user.csrf} />;

/** A secret shown once: select it (one click selects it all) and copy. */
function Secret(props: { title: string; value: string; use?: string }) {
  return (
    <section class="secret" aria-labelledby="secret-h" role="status">
      <h2 id="secret-h">{props.title}</h2>
      <p><strong>Copy it now: it is shown only this once.</strong> quorumbl keeps only a hash; if it is lost, make a new one.</p>
      <code id="secret" class="secret-value" tabindex={0}>{props.value}</code>
      <p class="muted small">Click it to select it all, then copy (Ctrl+C, ⌘C).{props.use ? ` ${props.use}` : ''}</p>
    </section>
  );
}

function PasswordField(props: { label: string }) {
  return (
    <label>
      {props.label}
      <input type="password" name="password" autocomplete="new-password" minlength={MIN_PASSWORD} maxlength={1024} aria-describedby="pw-hint" />
      <span class="muted small" id="pw-hint">At least {MIN_PASSWORD} characters. Leave empty to generate one (shown once).</span>
    </label>
  );
}

function RoleSelect(props: { value?: string }) {
  return (
    <label>
      Role
      <select name="role" aria-describedby="role-hint">
        {ROLES.map((r) => <option value={r} selected={(props.value ?? 'operator') === r}>{r}</option>)}
      </select>
      <span class="muted small" id="role-hint">{ROLES.map((r) => `${r}: ${ROLE_TEXT[r]}`).join('; ')}.</span>
    </label>
  );
}

function State(props: { u: UserInfo }) {
  return props.u.disabled === null ? <span class="tag">enabled</span> : <span class="tag expired">disabled {when(props.u.disabled)}</span>;
}

interface ListExtra {
  done?: string;
  secret?: JSX.Element;
  userForm?: { name?: string; role?: string; error?: string };
  tokenForm?: { name?: string; scope?: string; error?: string };
  tokenError?: string;
}

function ListPage(props: { w: Who; users: UserInfo[]; tokens: TokenInfo[] } & ListExtra) {
  const { w } = props;
  const uf = props.userForm ?? {};
  const tf = props.tokenForm ?? {};
  return (
    <Layout title="Users and tokens" user={w.user}>
      <h1>Users and tokens</h1>
      {props.done && <p class="ok" role="status">{props.done}</p>}
      {props.secret}
      <h2 id="users-h">Users</h2>
      <div class="scroll" tabindex={0} role="region" aria-labelledby="users-h">
        <table class="list stacked" id="users">
          <thead><tr><th>Name</th><th>Role</th><th>Created (UTC)</th><th>Last sign-in (UTC)</th><th>State</th></tr></thead>
          <tbody>
            {props.users.map((u) => (
              <tr>
                <td class="key" data-label="Name"><span><a href={`/users/u/${encodeURIComponent(u.name)}`}>{u.name}</a>{u.name === w.user.name && <span class="muted"> (you)</span>}</span></td>
                <td data-label="Role"><span><span class={`tag role-${u.role}`}>{u.role}</span></span></td>
                <td class="nowrap" data-label="Created">{when(u.created)}</td>
                <td class="nowrap" data-label="Last sign-in">{when(u.lastLogin) ?? <span class="muted">never</span>}</td>
                <td data-label="State"><span><State u={u} /></span></td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>

      <h2 id="tokens-h">API tokens</h2>
      <p class="muted">Bearer tokens for <code>/api/v1</code> (also <code>quorumbl token</code>). Revoked tokens stay listed for the record.</p>
      {props.tokenError && <p class="error" role="alert">{props.tokenError}</p>}
      <div class="scroll" tabindex={0} role="region" aria-labelledby="tokens-h">
        <table class="list stacked" id="tokens">
          <thead><tr><th>Name</th><th>Scope</th><th>Created (UTC)</th><th>Last used (UTC)</th><th>State</th></tr></thead>
          <tbody>
            {props.tokens.map((t) => (
              <tr class={t.revoked === null ? undefined : 'revoked'}>
                <td class="key" data-label="Name">{t.name}</td>
                <td data-label="Scope"><span><span class="tag">{t.scope}</span></span></td>
                <td class="nowrap" data-label="Created">{when(t.created)}</td>
                <td class="nowrap" data-label="Last used">{when(t.lastUsed) ?? <span class="muted">never</span>}</td>
                <td data-label="State"><span>
                  {t.revoked === null ? (
                    <form class="inline" method="post" action={`/users/tokens/${t.id}/revoke`}>
                      <Csrf w={w} />
                      <button type="submit" class="danger small" aria-label={`Revoke token ${t.name}`}>Revoke</button>
                    </form>
                  ) : <span class="tag expired">revoked {when(t.revoked)}</span>}
                </span></td>
              </tr>
            ))}
            {props.tokens.length === 0 && <tr><td colspan={5} class="muted">No token yet.</td></tr>}
          </tbody>
        </table>
      </div>

      <div class="cards">
        <section class="card" aria-labelledby="add-user-h">
          <h2 id="add-user-h">Add a user</h2>
          {uf.error && <p class="error" role="alert">{uf.error}</p>}
          <form class="stack" method="post" action="/users">
            <Csrf w={w} />
            <label>
              User name
              <input type="text" name="name" value={uf.name ?? ''} required maxlength={64} autocomplete="off" autocapitalize="none" spellcheck={false} aria-describedby="name-hint" />
              <span class="muted small" id="name-hint">Letters, digits, ".", "_", "@", "-"; up to 64.</span>
            </label>
            <RoleSelect value={uf.role} />
            <PasswordField label="Initial password" />
            <button type="submit">Add user</button>
          </form>
        </section>
        <section class="card" aria-labelledby="add-token-h">
          <h2 id="add-token-h">Create a token</h2>
          {tf.error && <p class="error" role="alert">{tf.error}</p>}
          <form class="stack" method="post" action="/users/tokens">
            <Csrf w={w} />
            <label>
              Token name
              <input type="text" name="name" value={tf.name ?? ''} required maxlength={64} autocomplete="off" autocapitalize="none" spellcheck={false} placeholder="rspamd" />
            </label>
            <label>
              Scope
              <select name="scope" aria-describedby="scope-hint">
                {SCOPES.map((s) => <option value={s} selected={(tf.scope ?? 'reports') === s}>{s}</option>)}
              </select>
              <span class="muted small" id="scope-hint">{SCOPES.map((s) => `${s}: ${SCOPE_TEXT[s]}`).join('; ')}.</span>
            </label>
            <button type="submit">Create token</button>
          </form>
        </section>
      </div>
    </Layout>
  );
}

function UserPage(props: { w: Who; u: UserInfo; stamp: string; done?: string; error?: string; secret?: JSX.Element }) {
  const { w, u } = props;
  const self = u.name === w.user.name;
  const base = `/users/u/${encodeURIComponent(u.name)}`;
  return (
    <Layout title={`User ${u.name}`} user={w.user}>
      <p><a href="/users">← Users and tokens</a></p>
      <h1>User <span class="key">{u.name}</span></h1>
      {props.done && <p class="ok" role="status">{props.done}</p>}
      {props.error && <p class="error" role="alert">{props.error}</p>}
      {props.secret}
      <dl class="facts">
        <dt>Role</dt><dd><span class={`tag role-${u.role}`}>{u.role}</span> <span class="muted">{ROLE_TEXT[u.role]}</span></dd>
        <dt>Created (UTC)</dt><dd>{when(u.created)}</dd>
        <dt>Last sign-in (UTC)</dt><dd>{when(u.lastLogin) ?? 'never'}</dd>
        <dt>State</dt><dd><State u={u} /></dd>
      </dl>
      {self && <p class="muted">This is you: another admin can demote, disable or delete your account; you cannot do it yourself here.</p>}
      <div class="cards">
        {!self && (
          <section class="card" aria-labelledby="role-h">
            <h2 id="role-h">Change role</h2>
            <form class="stack" method="post" action={`${base}/role`}>
              <Csrf w={w} />
              <RoleSelect value={u.role} />
              <p class="muted small">A demotion ends their sessions: they sign in again with the new role.</p>
              <button type="submit">Change role</button>
            </form>
          </section>
        )}
        <section class="card" aria-labelledby="pw-h">
          <h2 id="pw-h">Reset password</h2>
          <form class="stack" method="post" action={`${base}/password`}>
            <Csrf w={w} />
            <input type="hidden" name="stamp" value={props.stamp} />
            <PasswordField label="New password" />
            <p class="muted small">{self ? 'Your other sessions end; this one stays.' : 'Their sessions end.'}</p>
            <button type="submit">Reset password</button>
          </form>
        </section>
        {!self && (
          <section class="card" aria-labelledby="end-h">
            <h2 id="end-h">Disable or delete</h2>
            <form method="post" action={`${base}/state`}>
              <Csrf w={w} />
              <input type="hidden" name="disabled" value={u.disabled === null ? '1' : '0'} />
              <p class="muted">{u.disabled === null ? 'Disabling ends their sessions and refuses sign-in; the account stays.' : 'Enabling lets them sign in again.'}</p>
              <button type="submit">{u.disabled === null ? 'Disable' : 'Enable'}</button>
            </form>
            <form method="post" action={`${base}/delete`}>
              <Csrf w={w} />
              <p class="muted">Deleting removes the account and ends its sessions; the audit log keeps what it was.</p>
              <button type="submit" class="danger">Delete user</button>
            </form>
          </section>
        )}
      </div>
    </Layout>
  );
}

function Forbidden(props: { w: Who }) {
  return (
    <Layout title="Not allowed" user={props.w.user}>
      <h1>Not allowed</h1>
      <p class="error" role="alert">Users and tokens are managed by admins. You are signed in as {props.w.user.name} ({props.w.user.role}).</p>
      <p><a href="/">Back to the dashboard</a></p>
    </Layout>
  );
}

/** The service's refusals in words: bad input (400), the last admin or oneself (409). */
function refusal(e: unknown): { status: 400 | 409; message: string } | null {
  if (e instanceof InputError) return { status: 400, message: e.message };
  if (e instanceof UserConflict) return { status: 409, message: e.message };
  return null;
}

export function usersPage(ctx: ConsoleCtx): Hono<Env> {
  const app = new Hono<Env>();
  const users = ctx.users;
  const tokens = ctx.store.tokens;
  const small = bodyLimit({ maxSize: 16 * 1024, onError: (c) => c.text('the form is too large', 413) });
  // Admins only, as the API's /users and /tokens (may(…, 'admin', …)); others get a page saying so.
  const admin: MiddlewareHandler<Env> = async (c, next) => {
    if (!may(c.get('token'), 'admin', c.req.method)) return render(c, <Forbidden w={who(c)} />, 403);
    await next();
  };
  app.use('/users', small, requireSession(ctx), admin);
  app.use('/users/*', small, requireSession(ctx), admin);

  const actor = (w: Who) => `user:${w.user.name}`;
  // The password form carries the current password's stamp: posted twice, it changes it once.
  const stampOf = (u: UserInfo) => users.passwordStamp(u.name) ?? '';
  const list = (c: Context<Env>, w: Who, extra: ListExtra = {}, status: Status = 200) =>
    render(c, <ListPage w={w} users={users.list()} tokens={tokens.list({ all: true })} {...extra} />, status);

  app.get('/users', (c) => list(c, who(c), { done: DONE[c.req.query('done') ?? ''] }));

  app.post('/users', async (c) => {
    const w = who(c);
    const f = await c.req.parseBody();
    const name = str(f.name, 200);
    const role = str(f.role, 20);
    const given = str(f.password);
    const password = given === '' ? generatePassword() : given;
    try {
      const u = await users.create(name, role, password, actor(w));
      if (given !== '') return c.redirect(`/users/u/${encodeURIComponent(u.name)}?done=created`, 303);
      return render(c, <UserPage w={w} u={u} stamp={stampOf(u)} done="User created." secret={<Secret title={`Password for ${u.name}`} value={password} use="Give it to them by a safe channel; they sign in at /login." />} />);
    } catch (e) {
      const r = refusal(e);
      if (!r) throw e;
      return list(c, w, { userForm: { name, role, error: r.message } }, r.status);
    }
  });

  const found = (c: Context<Env>): UserInfo | null => users.get(c.req.param('name') ?? '');
  const missing = (c: Context<Env>, w: Who) =>
    render(c, <Layout title="Not found" user={w.user}><h1>Not found</h1><p>There is no user {(c.req.param('name') ?? '').slice(0, 64)}. <a href="/users">All users</a></p></Layout>, 404);

  app.get('/users/u/:name', (c) => {
    const w = who(c);
    const u = found(c);
    if (!u) return missing(c, w);
    return render(c, <UserPage w={w} u={u} stamp={stampOf(u)} done={DONE[c.req.query('done') ?? '']} />);
  });

  /** Runs a change of one user: 303 back with `done`, or the user's page with the refusal. */
  const change = (done: string, f: (u: UserInfo, w: Who, form: Record<string, unknown>) => Promise<unknown>) => async (c: Context<Env>) => {
    const w = who(c);
    const u = found(c);
    if (!u) return missing(c, w);
    const form = await c.req.parseBody();
    try {
      await f(u, w, form);
    } catch (e) {
      const r = refusal(e);
      if (!r) throw e;
      return render(c, <UserPage w={w} u={users.get(u.name) ?? u} stamp={stampOf(users.get(u.name) ?? u)} error={r.message} />, r.status);
    }
    return c.redirect(done === 'deleted' ? '/users?done=deleted' : `/users/u/${encodeURIComponent(u.name)}?done=${done}`, 303);
  };

  app.post('/users/u/:name/role', change('role', (u, w, form) => users.update(u.name, { role: str(form.role, 20) }, actor(w), { refuseSelf: true })));

  app.post('/users/u/:name/password', async (c) => {
    const w = who(c);
    const u = found(c);
    if (!u) return missing(c, w);
    const form = await c.req.parseBody();
    const given = str(form.password);
    const password = given === '' ? generatePassword() : given;
    try {
      const after = await users.update(u.name, { password }, actor(w), { refuseSelf: true, keepSession: w.session, ifPassword: str(form.stamp, 40) });
      if (!after) return missing(c, w);
      if (given !== '') return c.redirect(`/users/u/${encodeURIComponent(u.name)}?done=password`, 303);
      return render(c, <UserPage w={w} u={after} stamp={stampOf(after)} done={DONE.password} secret={<Secret title={`New password for ${u.name}`} value={password} />} />);
    } catch (e) {
      const r = refusal(e);
      if (!r) throw e;
      return render(c, <UserPage w={w} u={u} stamp={stampOf(u)} error={r.message} />, r.status);
    }
  });

  app.post('/users/u/:name/state', async (c) => {
    const w = who(c);
    const u = found(c);
    if (!u) return missing(c, w);
    const disabled = str((await c.req.parseBody()).disabled, 2) === '1';
    try {
      await users.update(u.name, { disabled }, actor(w), { refuseSelf: true });
    } catch (e) {
      const r = refusal(e);
      if (!r) throw e;
      return render(c, <UserPage w={w} u={u} stamp={stampOf(u)} error={r.message} />, r.status);
    }
    return c.redirect(`/users/u/${encodeURIComponent(u.name)}?done=${disabled ? 'disabled' : 'enabled'}`, 303);
  });

  app.post('/users/u/:name/delete', change('deleted', async (u, w) => users.remove(u.name, actor(w), { refuseSelf: true })));

  app.post('/users/tokens', async (c) => {
    const w = who(c);
    const f = await c.req.parseBody();
    const name = str(f.name, 200);
    const scope = str(f.scope, 20);
    try {
      const { token, info } = tokens.create(name, scope, actor(w));
      // The secret is in this answer only (no-store): no redirect, no URL, nothing kept.
      return list(c, w, {
        done: `Token ${info.name} created (scope ${info.scope}).`,
        secret: <Secret title={`Token ${info.name}`} value={token} use="Send it as: Authorization: Bearer <token>." />,
      });
    } catch (e) {
      const r = refusal(e);
      if (!r) throw e;
      return list(c, w, { tokenForm: { name, scope, error: r.message } }, r.status);
    }
  });

  app.post('/users/tokens/:id/revoke', (c) => {
    const w = who(c);
    const id = c.req.param('id');
    const r = /^[1-9]\d{0,14}$/.test(id) ? tokens.revoke(id, actor(w)) : null;
    if (!r) return list(c, w, { tokenError: `There is no live token #${id.slice(0, 20)} (revoked already?).` }, 404);
    return c.redirect('/users?done=revoked', 303);
  });

  return app;
}
