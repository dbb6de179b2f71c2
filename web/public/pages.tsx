// The public lookup page: plain server-rendered HTML, no script, no session. It shows a key's
// public verdict (verdict.ts) and, for a listed key, the removal request form. hono's JSX
// escapes every text and attribute (what a sender typed is shown back as text).

import type { Child } from 'hono/jsx';
import { CSRF_FIELD } from '../session.ts';
import type { PublicVerdict } from './verdict.ts';

export function PublicLayout(props: { prefix: string; title: string; children?: Child }) {
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="robots" content="noindex" />
        <title>{`${props.title} · blocklist lookup`}</title>
        <link rel="stylesheet" href={`${props.prefix}/style.css`} />
      </head>
      <body>
        <a class="skip" href="#main">Skip to content</a>
        <header>
          <a class="brand" href={`${props.prefix}/lookup`}>Blocklist lookup</a>
        </header>
        <main id="main" class="public">
          {props.children}
        </main>
      </body>
    </html>
  );
}

export interface RequestForm {
  contact?: string;
  message?: string;
}

export interface LookupView {
  prefix: string;
  /** What was typed (shown back in the field). */
  input: string;
  /** A bad key, in words. */
  error?: string;
  verdict?: PublicVerdict;
  /** Open removal requests of this key (a pending one is said). */
  pending?: number;
  /** The form is offered while the key has fewer open requests than this. */
  openLimit: number;
  csrf: string;
  messageMax: number;
  /** A request just filed for this key. */
  received?: number;
  /** The removal form's error (bad address, too long, too many requests). */
  formError?: string;
  form?: RequestForm;
}

export function LookupPage(v: LookupView) {
  const x = v.verdict;
  return (
    <PublicLayout prefix={v.prefix} title={x ? `${x.key}: ${x.listed ? 'listed' : 'not listed'}` : 'Lookup'}>
      <h1>Is my mail server listed?</h1>
      <form class="lookup-form" method="get" action={`${v.prefix}/lookup`} role="search">
        <label>
          IP address or domain
          <span class="row">
            <input type="text" name="key" value={v.input} required maxlength={300} autocapitalize="none" spellcheck={false} autofocus={!v.input} placeholder="192.0.2.7 or mail.example.com" aria-describedby={v.error ? 'key-error' : undefined} aria-invalid={v.error ? 'true' : undefined} />
            <button type="submit">Look up</button>
          </span>
        </label>
      </form>
      {!v.input && (
        <p class="muted">
          Enter the address of your outgoing mail server (from the rejection message) or a domain to see whether this
          site's blocklist lists it, and why.
        </p>
      )}
      {v.error && <p class="error" role="alert" id="key-error">{v.error}</p>}
      {v.received !== undefined && x && (
        <p class="notice" role="status" id="received">
          Your removal request #{v.received} for {x.key} was received. The operators of this site will review it and may
          answer you at the address you gave.
        </p>
      )}
      {x && (
        <div id="verdict" class={x.listed ? 'verdict listed' : 'verdict clear'} role="status">
          <strong>{x.key}</strong> is <strong>{x.listed ? 'listed' : 'not listed'}</strong>.
        </div>
      )}
      {x && x.listed && (
        <ul class="plain" id="reasons">
          {x.reasons.map((r) => <li>{r[0]!.toUpperCase() + r.slice(1)}.</li>)}
        </ul>
      )}
      {x && !x.listed && <p class="muted">Mail servers asking this site's blocklist about {x.key} are told it is not listed. Nothing to remove.</p>}
      {x && x.listed && v.received === undefined && <RemovalForm {...v} />}
      {v.formError && !(x && x.listed) && <p class="error" role="alert" id="form-error">{v.formError}</p>}
    </PublicLayout>
  );
}

function RemovalForm(v: LookupView) {
  const x = v.verdict!;
  const pending = v.pending ?? 0;
  return (
    <section class="actions" aria-labelledby="req-h">
      <h2 id="req-h">Request removal</h2>
      {pending > 0 && <p class="muted" id="pending">A removal request for {x.key} is already waiting for review.</p>}
      {v.formError && <p class="error" role="alert" id="form-error">{v.formError}</p>}
      {pending < v.openLimit && (
        <form class="stack removal-form" method="post" action={`${v.prefix}/request`}>
          <input type="hidden" name={CSRF_FIELD} value={v.csrf} />
          <input type="hidden" name="key" value={x.key} />
          <p class="muted">
            Say why the listing is wrong or what you fixed (a compromised account closed, a relay secured). An operator
            reads every request.
          </p>
          <label>
            Your e-mail address
            <input type="email" name="contact" required maxlength={254} autocomplete="email" value={v.form?.contact ?? ''} />
          </label>
          <label>
            Message (at most {v.messageMax} characters)
            <textarea name="message" required rows={6} maxlength={v.messageMax}>{v.form?.message ?? ''}</textarea>
          </label>
          <div class="buttons">
            <button type="submit">Request removal of {x.key}</button>
          </div>
        </form>
      )}
    </section>
  );
}

/** A refusal (too many requests, an expired form, a server problem) with a way back. */
export function NoticePage(props: { prefix: string; title: string; text: string }) {
  return (
    <PublicLayout prefix={props.prefix} title={props.title}>
      <h1>{props.title}</h1>
      <p class="error" role="alert">{props.text}</p>
      <p>
        <a href={`${props.prefix}/lookup`}>Back to the lookup</a>
      </p>
    </PublicLayout>
  );
}
