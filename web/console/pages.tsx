// The sign-in page and the console's home.

import { CSRF_FIELD } from '../session.ts';
import { Layout, type Viewer } from './layout.tsx';

export function LoginPage(props: { csrf: string; name?: string; error?: string }) {
  return (
    <Layout title="Sign in" narrow>
      <h1>Sign in</h1>
      {props.error && <p class="error" role="alert" id="login-error">{props.error}</p>}
      <form class="stack" method="post" action="/login">
        <input type="hidden" name={CSRF_FIELD} value={props.csrf} />
        <label>
          User name
          <input type="text" name="name" value={props.name ?? ''} autocomplete="username" autocapitalize="none" spellcheck={false} required autofocus maxlength={64} aria-describedby={props.error ? 'login-error' : undefined} />
        </label>
        <label>
          Password
          <input type="password" name="password" autocomplete="current-password" required maxlength={1024} />
        </label>
        <button type="submit">Sign in</button>
      </form>
    </Layout>
  );
}

export function HomePage(props: { user: Viewer }) {
  return (
    <Layout title="Console" user={props.user}>
      <h1>Console</h1>
      <p>
        Signed in as <strong>{props.user.name}</strong> ({props.user.role}).
      </p>
      <p class="muted">
        The REST API under <code>/api/v1</code> accepts this session as well as bearer tokens.
      </p>
    </Layout>
  );
}
