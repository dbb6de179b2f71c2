// The Sources page: per source its state in words, entries, last success vs last attempt, the
// guards and intervals that apply, the last runs, and a quarantined update with its reasons and
// what it would change; operators accept or drop it and ask for a sync now. Every action goes
// through the service the CLI and the API use (sync/sources-service.ts, SyncScheduler.requestNow),
// audited as `user:<name>`. Viewers read only. Plain forms (POST + 303), no script; while a
// requested sync runs, the page reloads itself every few seconds (meta refresh) until it ends.
//
//   GET  /sources                  every source
//   GET  /sources/:name            one source and its run history
//   POST /sources/:name/accept     (operator) the quarantined update serves
//   POST /sources/:name/drop       (operator) the quarantined update is deleted
//   POST /sources/:name/sync       (operator) one sync now -> /sources/:name?done=sync&run=ID

import { Hono, type Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { JSX } from 'hono/jsx/jsx-runtime';
import { SourceError, type SourceView } from '../../sync/sources-service.ts';
import type { SyncRun } from '../../sync/state.ts';
import { may, requireScope, requireSession } from '../auth.ts';
import type { Env } from '../http.ts';
import { CSRF_FIELD, type ConsoleCtx } from '../session.ts';
import type { SourcesDeps } from '../routes/sources.ts';
import { ago, fmtInt } from './dashboard-data.ts';
import { Layout, type Viewer } from './layout.tsx';

const HEADERS = {
  'Content-Security-Policy': "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'same-origin',
  'Cache-Control': 'no-store',
};

type Status = 200 | 404 | 409 | 429 | 500;
const render = (c: Context, body: JSX.Element, status: Status = 200) => c.html(body, status, HEADERS);

interface Who { user: Viewer; canAct: boolean }

function who(c: Context<Env>): Who {
  const s = c.get('session')!;
  return { user: { name: s.user.name, role: s.user.role, csrf: s.csrf }, canAct: may(c.get('token'), 'overrides', 'POST') };
}

const when = (ms: number) => new Date(ms).toISOString().slice(0, 16).replace('T', ' ') + ' UTC';
const isoMs = (iso: string | null) => (iso === null ? null : Date.parse(iso));

function duration(s: number): string {
  if (s % 86400 === 0) return `${s / 86400} d`;
  if (s % 3600 === 0) return `${s / 3600} h`;
  if (s % 60 === 0) return `${s / 60} min`;
  return `${s} s`;
}

function pct(x: number): string {
  const p = x * 100;
  const r = Math.abs(p) >= 10 || p === 0 ? Math.round(p) : Number(p.toFixed(1));
  return `${r > 0 ? '+' : r < 0 ? '−' : ''}${Math.abs(r)}%`;
}

const signed = (n: number) => `${n > 0 ? '+' : n < 0 ? '−' : '±'}${fmtInt(Math.abs(n))}`;

/** The start of the current run of failures (newest first in `runs`), or null. */
function failingSince(runs: SyncRun[]): number | null {
  let since: number | null = null;
  for (const r of runs) {
    if (r.outcome === null) continue;
    if (r.outcome !== 'failed') break;
    since = r.started;
  }
  return since;
}

/** The state in words with its class. */
function stateWords(v: SourceView, runs: SyncRun[], now: number): { text: string; cls: string } {
  if (v.quarantine) return { text: `quarantined since ${ago(now - Date.parse(v.quarantine.at))} ago: the last good copy keeps serving`, cls: 'warn' };
  if (v.status === 'failing') {
    const since = failingSince(runs);
    return { text: since === null ? 'failing' : `failing since ${when(since)} (${ago(now - since)})`, cls: 'bad' };
  }
  if (v.status === 'never-synced') return { text: runs.some((r) => r.outcome === null) ? 'never synced: the first sync is running' : 'never synced: nothing to serve yet', cls: 'bad' };
  return { text: v.lastOutcome === 'not-modified' ? 'ok (unchanged upstream)' : 'ok', cls: 'ok-text' };
}

const Csrf = (props: { user: Viewer }) => <input type="hidden" name={CSRF_FIELD} value={props.user.csrf} />;

function Runs(props: { runs: SyncRun[]; now: number; caption: string; highlight?: number }) {
  if (props.runs.length === 0) return <p class="muted">No runs yet.</p>;
  return (
    <div class="scroll">
      <table class="list runs">
        <caption>{props.caption}</caption>
        <thead><tr><th>#</th><th>Started</th><th>Took</th><th>Outcome</th><th class="num">Entries</th><th>Error or note</th></tr></thead>
        <tbody>
          {props.runs.map((r) => (
            <tr class={r.id === props.highlight ? 'requested' : undefined} id={`run-${r.id}`}>
              <td class="num" data-label="#">{r.id}</td>
              <td class="nowrap" data-label="Started"><time datetime={new Date(r.started).toISOString()}>{when(r.started)}</time></td>
              <td class="num" data-label="Took">{r.ended === null ? '–' : `${((r.ended - r.started) / 1000).toFixed(1)} s`}</td>
              <td data-label="Outcome"><span class={`outcome outcome-${r.outcome ?? 'running'}`}>{r.outcome ?? 'running'}</span></td>
              <td class="num" data-label="Entries">{r.entries === null ? '–' : fmtInt(r.entries)}</td>
              <td class="err-text" data-label="Error or note">{r.error ?? r.note ?? ''}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function QuarantineBox(props: { v: SourceView; w: Who; now: number; back: string }) {
  const { v, w, now } = props;
  const q = v.quarantine!;
  const ch = q.change;
  const at = q.atMs;
  return (
    <section class="quarantine" aria-labelledby={`q-${v.name}`}>
      <h3 id={`q-${v.name}`}>Quarantined update, held back {ago(now - at)} ago</h3>
      <p>The guards rejected it because:</p>
      <ul class="reasons">{q.reasons.map((r) => <li>{r}</li>)}</ul>
      <p class="change-h"><strong>What accepting it would change</strong></p>
      {ch ? (
        <dl class="facts change">
          <dt>Entries</dt>
          <dd>
            {ch.entriesBefore === null ? '–' : fmtInt(ch.entriesBefore)} → {fmtInt(ch.entriesAfter)}
            {ch.entriesDelta !== null && <> ({signed(ch.entriesDelta)}{ch.entriesShare !== null && `, ${pct(ch.entriesShare)}`})</>}
          </dd>
          <dt>IPv4 addresses</dt>
          <dd>
            {ch.addresses4Before === null ? '–' : fmtInt(ch.addresses4Before)} → {fmtInt(ch.addresses4After)}
            {ch.addresses4Share !== null && ` (${pct(ch.addresses4Share)})`}
          </dd>
          <dt>Parse errors</dt><dd>{fmtInt(ch.errorsAfter)} in {fmtInt(ch.linesAfter)} lines</dd>
          {q.bytes !== null && <><dt>Download</dt><dd>{fmtInt(q.bytes)} bytes</dd></>}
        </dl>
      ) : <p class="muted">No statistics were recorded for it.</p>}
      <p class="muted small">
        Counts only: which entries were added or removed is not recorded. The file is kept at <code>{q.path}</code>.
      </p>
      {w.canAct ? (
        <div class="buttons decide">
          <form method="post" action={`/sources/${encodeURIComponent(v.name)}/accept`}>
            <Csrf user={w.user} />
            <input type="hidden" name="at" value={String(at)} />
            <input type="hidden" name="back" value={props.back} />
            <button type="submit">Accept: serve this update{ch ? ` (${fmtInt(ch.entriesAfter)} entries)` : ''}</button>
          </form>
          <form method="post" action={`/sources/${encodeURIComponent(v.name)}/drop`}>
            <Csrf user={w.user} />
            <input type="hidden" name="at" value={String(at)} />
            <input type="hidden" name="back" value={props.back} />
            <button type="submit" class="danger">Drop: delete it, keep serving {v.entries === null ? 'the last good copy' : `${fmtInt(v.entries)} entries`}</button>
          </form>
        </div>
      ) : <p class="muted">An operator can accept or drop it.</p>}
    </section>
  );
}

function SourceCard(props: { v: SourceView; runs: SyncRun[]; w: Who; now: number; notBefore: number | null; canSync: boolean; detail: boolean; highlight?: number; error?: string }) {
  const { v, runs, w, now } = props;
  const st = stateWords(v, runs, now);
  const last = isoMs(v.lastAttempt);
  const good = isoMs(v.lastSuccess);
  const g = v.config?.guards;
  const back = props.detail ? 'detail' : 'list';
  return (
    <article class="card source" id={`source-${v.name}`}>
      <h2>{props.detail ? v.name : <a href={`/sources/${encodeURIComponent(v.name)}`}>{v.name}</a>}{!v.configured && <span class="badge warn">not in the config</span>}</h2>
      <p class={`state ${st.cls}`}><strong>{st.text}</strong></p>
      {props.error && <p class="error" role="alert">{props.error}</p>}
      <dl class="facts">
        <dt>Entries</dt><dd>{v.entries === null ? '–' : fmtInt(v.entries)}</dd>
        <dt>Last success</dt><dd>{good === null ? 'never' : <><time datetime={v.lastSuccess!}>{when(good)}</time> ({ago(now - good)} ago)</>}</dd>
        <dt>Last attempt</dt>
        <dd>{last === null ? 'never' : <><time datetime={v.lastAttempt!}>{when(last)}</time> ({ago(now - last)} ago), {v.lastOutcome ?? 'running'}</>}</dd>
        {v.lastError && v.lastOutcome === 'failed' && <><dt>Error</dt><dd class="err-text">{v.lastError}</dd></>}
        {v.config?.kind && <><dt>Kind</dt><dd>{v.config.kind === 'ip' ? 'addresses' : 'domains'}</dd></>}
      </dl>
      {v.quarantine && <QuarantineBox v={v} w={w} now={now} back={back} />}
      <details class="guards" open={props.detail}>
        <summary>Schedule and guards</summary>
        {v.config ? (
          <dl class="facts">
            <dt>Schedule</dt><dd><code>{v.config.schedule ?? '–'}</code> (cron, plus random jitter)</dd>
            <dt>min_interval</dt><dd>{v.config.minInterval === null ? '–' : `${duration(v.config.minInterval)} between fetches`}</dd>
            {g && <>
              <dt>max_shrink</dt><dd>may lose up to {Math.round(g.max_shrink * 100)}% of its entries or addresses</dd>
              <dt>max_grow</dt><dd>may grow up to ×{g.max_grow}</dd>
              <dt>max_error_ratio</dt><dd>up to {Math.round(g.max_error_ratio * 1000) / 10}% unparsable lines</dd>
              <dt>world_share</dt><dd>at most ×{g.world_share} the addresses of the last good copy</dd>
              <dt>test_point</dt><dd>{g.test_point ? 'the RFC 5782 test point must be listed' : 'not required'}</dd>
            </>}
          </dl>
        ) : <p class="muted">Not in the configuration: its state is kept until a decision on its quarantine.</p>}
      </details>
      {w.canAct && v.configured && (
        props.canSync ? (
          runs[0] && runs[0].outcome === null ? (
            <p class="muted small sync">A sync is running (#{runs[0].id}, started {ago(now - runs[0].started)} ago); reload to see how it ends.</p>
          ) : props.notBefore === null ? (
            <form class="sync" method="post" action={`/sources/${encodeURIComponent(v.name)}/sync`}>
              <Csrf user={w.user} />
              <input type="hidden" name="back" value={back} />
              <button type="submit" class="quiet">Sync now</button>
              <span class="muted small"> fetches it once, now (min_interval and a sync already running are respected)</span>
            </form>
          ) : (
            <p class="muted small sync">Sync now: possible from {when(props.notBefore)} (in {ago(props.notBefore - now)}): min_interval {duration(v.config?.minInterval ?? 0)} since the last attempt, the upstream's fetch limit.</p>
          )
        ) : <p class="muted small sync">This server does not sync sources (sync.enabled is false).</p>
      )}
      <Runs runs={props.detail ? runs : runs.slice(0, 5)} now={now} caption={props.detail ? 'Run history, newest first' : 'Last runs'} highlight={props.highlight} />
      {!props.detail && runs.length > 5 && <p class="small"><a href={`/sources/${encodeURIComponent(v.name)}`}>All runs of {v.name}</a></p>}
    </article>
  );
}

interface PageOpts { done?: JSX.Element; error?: { name: string; text: string } }

const DONE: Record<string, string> = { accepted: 'Accepted: the update is now the last good copy and serves.', dropped: 'Dropped: the quarantined update is deleted; the last good copy keeps serving.' };

export function sourcesPage(ctx: ConsoleCtx & { sources?: SourcesDeps }): Hono<Env> {
  const app = new Hono<Env>();
  const small = bodyLimit({ maxSize: 16 * 1024, onError: (c) => c.text('the form is too large', 413) });
  const writer = requireScope('overrides');

  // The scheduler's rule (SyncScheduler.notBefore): min_interval since the last attempt.
  const notBefore = (v: SourceView, _runs: SyncRun[], now: number): number | null => {
    const last = isoMs(v.lastAttempt);
    const min = v.config?.minInterval;
    return last == null || min == null || now - last >= min * 1000 ? null : last + min * 1000;
  };

  const listPage = (c: Context<Env>, deps: SourcesDeps, o: PageOpts = {}, status: Status = 200) => {
    const w = who(c);
    const now = Date.now();
    const all = deps.service.list();
    const quarantined = all.filter((v) => v.quarantine).length;
    const failing = all.filter((v) => v.status === 'failing' || v.status === 'never-synced').length;
    return render(c, (
      <Layout title="Sources" user={w.user}>
        <h1>Sources</h1>
        <p class="muted">Each source's last good copy serves until a new download passes its guards; a download that fails them is quarantined for a decision.</p>
        {o.done}
        <p class="summary">{all.length} {all.length === 1 ? 'source' : 'sources'}{quarantined > 0 && <>, <span class="warn">{quarantined} quarantined</span></>}{failing > 0 && <>, <span class="bad">{failing} failing or never synced</span></>}.</p>
        {all.length === 0 ? <p class="muted">No sources are configured.</p> : (
          <div class="sources">
            {all.map((v) => {
              const runs = deps.service.runs(v.name, 6);
              return <SourceCard v={v} runs={runs} w={w} now={now} notBefore={notBefore(v, runs, now)} canSync={!!deps.syncNow} detail={false} error={o.error?.name === v.name ? o.error.text : undefined} />;
            })}
          </div>
        )}
      </Layout>
    ), status);
  };

  const detailPage = (c: Context<Env>, deps: SourcesDeps, name: string, o: PageOpts & { highlight?: number; refresh?: boolean } = {}, status: Status = 200) => {
    const w = who(c);
    const now = Date.now();
    const { view: v } = deps.service.get(name);
    const runs = deps.service.runs(name, 50);
    return render(c, (
      <Layout title={`Source ${name}`} user={w.user} refresh={o.refresh ? 3 : undefined}>
        <p class="small"><a href="/sources">All sources</a></p>
        {o.done}
        <SourceCard v={v} runs={runs} w={w} now={now} notBefore={notBefore(v, runs, now)} canSync={!!deps.syncNow} detail highlight={o.highlight} error={o.error?.text} />
      </Layout>
    ), status);
  };

  const unknown = (c: Context<Env>, e: SourceError) => render(c, (
    <Layout title="Not found" user={who(c).user}>
      <h1>Not found</h1>
      <p>{e.message}. <a href="/sources">All sources</a></p>
    </Layout>
  ), 404);

  const depsOf = (c: Context<Env>) => ctx.sources;

  app.get('/sources', requireSession(ctx), (c) => {
    const deps = depsOf(c);
    if (!deps) return c.notFound();
    const d = DONE[c.req.query('done') ?? ''];
    return listPage(c, deps, { done: d ? <p class="ok" role="status">{d}</p> : undefined });
  });

  app.get('/sources/:name', requireSession(ctx), (c) => {
    const deps = depsOf(c);
    if (!deps) return c.notFound();
    const name = c.req.param('name').slice(0, 100);
    try {
      deps.service.get(name);
    } catch (e) {
      if (e instanceof SourceError) return unknown(c, e);
      throw e;
    }
    let done: JSX.Element | undefined;
    let refresh = false;
    let highlight: number | undefined;
    const key = c.req.query('done') ?? '';
    const runId = c.req.query('run');
    if (key === 'sync' && runId && /^[1-9]\d{0,14}$/.test(runId)) {
      const r = deps.service.state.run(Number(runId));
      if (r && r.source === name) {
        highlight = r.id;
        if (r.outcome === null) {
          refresh = true;
          done = <p class="notice" role="status">Sync #{r.id} is running (started {ago(Date.now() - r.started)} ago). This page reloads itself until it ends.</p>;
        } else {
          const cls = r.outcome === 'ok' || r.outcome === 'not-modified' ? 'ok' : 'error';
          const what = r.outcome === 'ok' ? `ok, ${r.entries === null ? '' : `${fmtInt(r.entries)} entries, `}now serving`
            : r.outcome === 'not-modified' ? 'not modified upstream; the last good copy is current'
            : r.outcome === 'quarantined' ? 'quarantined: see the reasons below'
            : `failed: ${r.error ?? 'no error recorded'}`;
          done = <p class={cls} role="status">Sync #{r.id} ended: {what}</p>;
        }
      }
    } else if (DONE[key]) {
      done = <p class="ok" role="status">{DONE[key]}</p>;
    }
    return detailPage(c, deps, name, { done, refresh, highlight });
  });

  // A refusal (busy, too soon, no or a changed quarantine) is shown on the page it came from.
  const act = (what: 'accept' | 'drop' | 'sync') => async (c: Context<Env>) => {
    const deps = depsOf(c);
    if (!deps) return c.notFound();
    const name = c.req.param('name')!.slice(0, 100);
    const form = await c.req.parseBody();
    const detail = form.back === 'detail';
    const actor = `user:${who(c).user.name}`;
    const here = `/sources/${encodeURIComponent(name)}`;
    try {
      deps.service.get(name);
      if (what === 'sync') {
        if (!deps.syncNow) throw new SourceError(409, 'this server does not sync sources (sync.enabled is false)');
        const { run } = await deps.syncNow(name, actor);
        return c.redirect(`${here}?done=sync&run=${run.id}`, 303); // no #fragment: the meta refresh would not reload
      }
      const at = typeof form.at === 'string' && /^\d{1,15}$/.test(form.at) ? Number(form.at) : undefined;
      deps.service.decide(name, what, actor, { quarantinedAt: at });
      const done = what === 'accept' ? 'accepted' : 'dropped';
      return c.redirect(detail ? `${here}?done=${done}` : `/sources?done=${done}#source-${encodeURIComponent(name)}`, 303);
    } catch (e) {
      if (!(e instanceof SourceError)) throw e;
      if (e.status === 404) return unknown(c, e);
      const status = (e.status === 400 ? 409 : e.status) as Status;
      const error = { name, text: `${what === 'sync' ? 'Not synced' : what === 'accept' ? 'Not accepted' : 'Not dropped'}: ${e.message}.` };
      return detail ? detailPage(c, deps, name, { error }, status) : listPage(c, deps, { error }, status);
    }
  };

  app.post('/sources/:name/accept', small, requireSession(ctx), writer, act('accept'));
  app.post('/sources/:name/drop', small, requireSession(ctx), writer, act('drop'));
  app.post('/sources/:name/sync', small, requireSession(ctx), writer, act('sync'));
  return app;
}
