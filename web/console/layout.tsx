// The console's page frame: header (signed-in user, logout), main, the one stylesheet. Every page
// renders through it; hono's JSX escapes all text and attribute values.

import type { Child } from 'hono/jsx';
import { CSRF_FIELD } from '../session.ts';

export interface Viewer {
  name: string;
  role: string;
  csrf: string;
}

export function Layout(props: { title: string; user?: Viewer; narrow?: boolean; refresh?: number; children?: Child }) {
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>{`${props.title} · quorumbl`}</title>
        <link rel="stylesheet" href="/console/console.css" />
        {props.user && <meta name="csrf-token" content={props.user.csrf} />}
        {props.refresh !== undefined && <meta http-equiv="refresh" content={String(props.refresh)} />}
      </head>
      <body>
        <a class="skip" href="#main">Skip to content</a>
        <header>
          <a class="brand" href="/">quorumbl</a>
          {props.user && (
            <nav class="main-nav" aria-label="Console">
              <a href="/">Dashboard</a>
              <a href="/lookup">Lookup</a>
              <a href="/overrides">Overrides</a>
              <a href="/sources">Sources</a>
              <a href="/exemptions">Exemptions</a>
              <a href="/reputation">Reputation</a>
              <a href="/requests">Requests</a>
              {props.user.role === 'admin' && <a href="/audit">Audit</a>}
              {props.user.role === 'admin' && <a href="/users">Users</a>}
            </nav>
          )}
          {props.user && (
            <div class="who">
              <span>
                signed in as <strong>{props.user.name}</strong> ({props.user.role})
              </span>
              <form class="inline" method="post" action="/logout">
                <input type="hidden" name={CSRF_FIELD} value={props.user.csrf} />
                <button class="quiet" type="submit">Log out</button>
              </form>
            </div>
          )}
        </header>
        <main id="main" class={props.narrow ? 'narrow' : undefined}>
          {props.children}
        </main>
      </body>
    </html>
  );
}
