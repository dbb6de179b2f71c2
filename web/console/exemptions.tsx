// GET /exemptions: provider ranges with their provenance (provider, feed, fetched at or the
// shipped baseline's date, version; the ranges in a <details> per feed) and the collisions: per
// source x provider feed, how many listed keys and ranges fall inside the feed's ranges (exempted
// from bl), with the samples, rise alerts first. Read-only, every role. hono JSX escapes all text.

import { Hono, type Context } from 'hono';
import type { JSX } from 'hono/jsx/jsx-runtime';
import type { Env } from '../http.ts';
import { requireSession } from '../auth.ts';
import type { ConsoleCtx } from '../session.ts';
import { Layout, type Viewer } from './layout.tsx';
import { ago, fmtInt, type DashboardDeps } from './dashboard-data.ts';
import type { PairCollision } from '../../sync/merge/collisions.ts';

/** "spamcop lists 120 addresses in microsoft365/m365-worldwide ranges: exempted". */
export function collisionSentence(p: PairCollision): string {
  const what = p.ranges6 > 0
    ? `${fmtInt(p.keys)} ${p.keys === 1 ? 'address' : 'addresses'} (${fmtInt(p.addresses4)} IPv4, ${fmtInt(p.ranges6)} IPv6 ${p.ranges6 === 1 ? 'range' : 'ranges'})`
    : `${fmtInt(p.keys)} ${p.keys === 1 ? 'address' : 'addresses'}`;
  return `${p.source} lists ${what} in ${p.provider} ranges: exempted`;
}

export function ExemptionsPage(props: { user: Viewer; deps: DashboardDeps }) {
  const d = props.deps;
  const now = (d.now ?? Date.now)();
  const feeds = d.providers();
  const ranges = new Map((d.providerRanges?.() ?? []).map((f) => [`${f.provider}/${f.feed}`, f.ranges]));
  const rep = d.collisions();
  const rising = new Set((rep?.alerts ?? []).map((a) => `${a.source}\0${a.provider}`));
  const hits = (rep?.pairs ?? []).filter((p) => p.keys > 0 || p.ranges > 0)
    .sort((a, b) => Number(rising.has(`${b.source}\0${b.provider}`)) - Number(rising.has(`${a.source}\0${a.provider}`)) || b.keys - a.keys);
  const clean = (rep?.pairs ?? []).filter((p) => p.keys === 0 && p.ranges === 0);
  return (
    <Layout title="Exemptions" user={props.user}>
      <h1>Exemptions</h1>
      <p class="muted">Addresses inside a provider's ranges (large mail senders) are never in bl, whatever a source lists: these are the ranges and what they exempt.</p>

      <section aria-labelledby="coll-h">
        <h2 id="coll-h">Collisions</h2>
        {!rep ? <p class="muted">Not computed yet: collisions come after the first merge.</p> : (
          <>
            <p class="muted">Computed <time datetime={rep.computedAt}>{ago(now - Date.parse(rep.computedAt))} ago</time> with evidence serial {rep.serial}.</p>
            {(rep.alerts ?? []).map((a) => (
              <p class="alert warn rise">
                <span class="what">Sharp rise: {a.source} lists {fmtInt(a.now)} addresses in {a.provider} ranges, was {fmtInt(a.before)} {ago(now - Date.parse(a.beforeAt))} ago (since {ago(now - Date.parse(a.since))} ago).</span>
                <span class="todo">An incident at {a.source}? The exemption keeps those senders out of bl; check the source.</span>
              </p>
            ))}
            {hits.length === 0 ? <p class="ok">No source lists anything inside a provider's ranges.</p> : (
              <ul class="collisions">
                {hits.map((p) => {
                  const up = rising.has(`${p.source}\0${p.provider}`);
                  return (
                    <li class={up ? 'rising' : undefined}>
                      <p class="sentence"><strong>{collisionSentence(p)}</strong>{up && <span class="badge warn">rising</span>}</p>
                      <p class="muted">{fmtInt(p.ranges)} listed {p.ranges === 1 ? 'range' : 'ranges'} touch the provider's ranges.</p>
                      <details>
                        <summary>{p.truncated ? `The first ${p.samples.length} pieces` : `${p.samples.length} ${p.samples.length === 1 ? 'piece' : 'pieces'}`}: which listed addresses, in which provider range</summary>
                        <div class="scroll">
                          <table>
                            <thead><tr><th>Listed by {p.source}</th><th>Provider range</th><th>Provenance</th></tr></thead>
                            <tbody>
                              {p.samples.map((s) => (
                                <tr><td><code>{s.listed}</code></td><td><code>{s.providerRange}</code></td><td class="prov">{s.detail ?? ''}</td></tr>
                              ))}
                            </tbody>
                          </table>
                        </div>
                      </details>
                    </li>
                  );
                })}
              </ul>
            )}
            {clean.length > 0 && <p class="muted">Nothing inside provider ranges: {clean.map((p) => `${p.source} × ${p.provider}`).join(', ')}.</p>}
          </>
        )}
      </section>

      <section aria-labelledby="ranges-h">
        <h2 id="ranges-h">Provider ranges</h2>
        {feeds.length === 0 ? <p class="muted">No provider feeds configured.</p> : (
          <ul class="feeds">
            {feeds.map((f) => {
              const list = ranges.get(`${f.provider}/${f.feed}`) ?? [];
              return (
                <li>
                  <h3>{f.provider}/{f.feed}</h3>
                  <dl class="facts">
                    <dt>Data</dt>
                    <dd>
                      {f.origin === 'baseline' ? `shipped baseline dated ${f.baseline?.date ?? f.dataAt?.slice(0, 10) ?? '?'}${f.baseline?.source ? ` (${f.baseline.source})` : ''}`
                        : f.origin === 'fetched' ? <>fetched <time datetime={f.dataAt ?? undefined}>{f.dataAt ? `${ago(now - Date.parse(f.dataAt))} ago` : '?'}</time></>
                        : f.origin === 'static' ? 'static list' : <span class="bad">none</span>}
                    </dd>
                    <dt>Version</dt><dd>{f.version ?? '–'}</dd>
                    <dt>Ranges</dt><dd>{fmtInt(f.ranges4)} IPv4, {fmtInt(f.ranges6)} IPv6</dd>
                    <dt>State</dt>
                    <dd>{!f.active ? 'inactive (not exempting)' : f.stale ? <span class="warn">stale (older than {ago(f.maxAgeSeconds * 1000)})</span> : 'in use'}{f.lastError && <> · last check failed: <span class="err-text">{f.lastError}</span></>}</dd>
                  </dl>
                  {list.length > 0 && (
                    <details>
                      <summary>{fmtInt(list.length)} ranges</summary>
                      <div class="scroll">
                        <table>
                          <thead><tr><th>Range</th><th>Provenance</th></tr></thead>
                          <tbody>
                            {list.map((x) => <tr><td><code>{x.cidr}</code></td><td class="prov">{x.detail}{x.lowConfidence ? ` (low confidence${x.confidenceNote ? `: ${x.confidenceNote}` : ''})` : ''}</td></tr>)}
                          </tbody>
                        </table>
                      </div>
                    </details>
                  )}
                </li>
              );
            })}
          </ul>
        )}
      </section>
    </Layout>
  );
}

/** GET /exemptions (signed-in, any role); 404 when serve did not wire the data. */
export function exemptionsRoutes(ctx: ConsoleCtx & { dashboard?: DashboardDeps }, page: (c: Context, body: JSX.Element) => Response | Promise<Response>): Hono<Env> {
  const app = new Hono<Env>();
  app.get('/exemptions', requireSession(ctx), (c) => {
    const deps = ctx.dashboard;
    if (!deps) return c.notFound();
    const s = c.get('session')!;
    return page(c, <ExemptionsPage user={{ name: s.user.name, role: s.user.role, csrf: s.csrf }} deps={deps} />);
  });
  return app;
}
