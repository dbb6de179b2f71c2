// The console's home (GET /): alerts in words with what to do, zones and their entries, queries
// per second by zone and rcode, the merge, each source's last success vs last attempt, provider
// feeds' freshness. Read-only: every role sees the same page. All data is read at page load from
// the getters in DashboardDeps (dashboard-data.ts); hono JSX escapes every text.

import { Layout, type Viewer } from './layout.tsx';
import { ago, alertsOf, fmtInt, fmtRate, type DashboardDeps, type QueryRate } from './dashboard-data.ts';

const RCODES = ['noerror', 'nxdomain', 'servfail', 'refused'] as const;

export function DashboardPage(props: { user: Viewer; deps: DashboardDeps; rate?: QueryRate }) {
  const d = props.deps;
  const now = (d.now ?? Date.now)();
  const alerts = alertsOf(d, now);
  const zones = d.zones();
  const m = d.merge();
  const sources = d.sources();
  const feeds = d.providers();
  const r = props.rate?.rate();
  const when = (t: number | null) => (t === null ? 'never' : `${ago(now - t)} ago`);
  const iso = (t: number | null) => (t === null ? undefined : new Date(t).toISOString());
  return (
    <Layout title="Dashboard" user={props.user}>
      <h1>Dashboard</h1>
      <p class="muted">
        Signed in as <strong>{props.user.name}</strong> ({props.user.role}).
      </p>

      <section aria-labelledby="alerts-h">
        <h2 id="alerts-h">Alerts</h2>
        {alerts.length === 0 ? (
          <p class="ok" id="no-alerts">No alerts: every zone answers from data, sources and provider feeds are fresh, the state disk is writable.</p>
        ) : (
          <ul class="alerts">
            {alerts.map((a) => (
              <li class={`alert ${a.level}`}>
                <span class="what">{a.what}</span>
                <span class="todo">{a.todo}</span>
              </li>
            ))}
          </ul>
        )}
      </section>

      <section aria-labelledby="zones-h">
        <h2 id="zones-h">Zones</h2>
        <div class="scroll">
          <table id="zones">
            <thead><tr><th>Zone</th><th>Answers</th><th class="num">Entries</th></tr></thead>
            <tbody>
              {zones.map((z) => (
                <tr>
                  <td><code>{z.name}</code></td>
                  <td>{z.failed ? <span class="bad">SERVFAIL</span> : 'from data'}</td>
                  <td class="num">{z.entries === null ? '–' : fmtInt(z.entries)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        <p class="muted">Entries of bl/wl: ranges of the merged evidence (they share it); dbl: domains.</p>
      </section>

      {r && (
        <section aria-labelledby="qps-h">
          <h2 id="qps-h">Queries per second</h2>
          <p class="muted">Over the last {Math.round(r.seconds)} s (counters since start or the last SIGUSR2).</p>
          <div class="scroll">
            <table id="qps">
              <thead>
                <tr><th>Zone</th><th class="num">All</th>{RCODES.map((c) => <th class="num">{c.toUpperCase()}</th>)}<th class="num">Other</th></tr>
              </thead>
              <tbody>
                {[...r.zones, r.total].map((z) => {
                  const other = Object.entries(z.rcodes).filter(([k]) => !(RCODES as readonly string[]).includes(k)).reduce((s, [, v]) => s + v, 0);
                  return (
                    <tr class={z === r.total ? 'total' : undefined}>
                      <td>{z === r.total ? 'all zones' : <code>{z.zone}</code>}</td>
                      <td class="num">{fmtRate(z.qps)}</td>
                      {RCODES.map((c) => <td class="num">{fmtRate(z.rcodes[c] ?? 0)}</td>)}
                      <td class="num">{fmtRate(other)}</td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
        </section>
      )}

      <section aria-labelledby="merge-h">
        <h2 id="merge-h">Merge</h2>
        <dl class="facts">
          <dt>bl/wl/dbl</dt><dd>{m.ready ? 'answer from evidence' : <span class="bad">SERVFAIL until the first merge</span>}</dd>
          <dt>SOA serial</dt><dd>{m.soaSerial}</dd>
          <dt>Evidence</dt><dd>{m.ready ? <>serial {m.evidenceSerial}, built <time datetime={iso(m.builtAt)}>{when(m.builtAt)}</time></> : 'none yet'}</dd>
          <dt>Last merge here</dt><dd>{m.lastMergeAt === null ? 'none since start' : <time datetime={iso(m.lastMergeAt)}>{when(m.lastMergeAt)}</time>}</dd>
        </dl>
      </section>

      <section aria-labelledby="sources-h">
        <h2 id="sources-h">Sources</h2>
        {sources.length === 0 ? <p class="muted">No sources configured.</p> : (
          <div class="scroll">
            <table id="sources">
              <thead><tr><th>Source</th><th>Last success</th><th>Last attempt</th><th class="num">Entries</th><th>State</th></tr></thead>
              <tbody>
                {sources.map((s) => (
                  <tr>
                    <td>{s.name}</td>
                    <td><time datetime={iso(s.lastSuccess)}>{when(s.lastSuccess)}</time></td>
                    <td>{s.lastAttempt === null ? 'never' : <><time datetime={iso(s.lastAttempt)}>{when(s.lastAttempt)}</time>{s.lastOutcome ? `, ${s.lastOutcome}` : ', running'}</>}</td>
                    <td class="num">{s.entries === null ? '–' : fmtInt(s.entries)}</td>
                    <td>{s.quarantine ? <span class="warn">quarantined</span> : s.lastOutcome === 'failed' ? <span class="bad">failing</span> : s.lastSuccess === null ? <span class="bad">never synced</span> : now - s.lastSuccess > s.staleAfterMs ? <span class="warn">stale</span> : 'ok'}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>

      <section aria-labelledby="feeds-h">
        <h2 id="feeds-h">Provider feeds</h2>
        {feeds.length === 0 ? <p class="muted">No provider feeds configured.</p> : (
          <div class="scroll">
            <table id="feeds">
              <thead><tr><th>Feed</th><th>Data</th><th class="num">Ranges</th><th>Age</th><th>State</th></tr></thead>
              <tbody>
                {feeds.map((f) => (
                  <tr>
                    <td>{f.provider}/{f.feed}</td>
                    <td>{f.origin === 'baseline' ? `shipped baseline dated ${f.baseline?.date ?? f.dataAt?.slice(0, 10) ?? '?'}` : f.origin === 'fetched' ? `fetched ${f.dataAt ? ago(now - Date.parse(f.dataAt)) + ' ago' : ''}` : f.origin === 'static' ? 'static list' : 'none'}</td>
                    <td class="num">{fmtInt(f.ranges)}</td>
                    <td>{f.ageSeconds === null ? '–' : ago(f.ageSeconds * 1000)}</td>
                    <td>{!f.active ? 'inactive' : f.stale ? <span class="warn">stale</span> : 'fresh'}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
        <p><a href="/exemptions">Exemptions: provider ranges and collisions</a></p>
      </section>
    </Layout>
  );
}
