// The explain trace (sync/merge/explain.ts, the same object as GET /api/v1/explain/:key) in an
// operator's words: the verdict and what each return code means, each listing source with its
// entry and data age, provider ranges with their provenance, the override, reputation events
// and the score against the bar, and the policy arithmetic. All text goes through hono JSX
// (escaped): source names, reasons and TXT come from lists and people.

import type { Explanation } from '../../sync/merge/explain.ts';
import { ALLOW, REASON } from '../../sync/merge/policy.ts';

const BLOCK_MEANING: Record<number, string> = {
  [REASON.policy]: 'listed by policy: the weighted sum of the listing sources reached the threshold',
  [REASON.consensus]: 'consensus: enough independent sources list it',
  [REASON.reputation]: 'local reputation: reports from this site put its score over the bar',
  [REASON.deny]: 'manual deny override',
};

const WL_MEANING: Record<number, string> = {
  0: 'RFC 5782 test point',
  [ALLOW.manual]: 'manual allow override',
  [ALLOW.provider]: 'inside a known mail provider range (exempt from public lists)',
  [ALLOW.both]: 'manual allow override and a mail provider range',
};

/** A unix-ms or ISO time as 'YYYY-MM-DD HH:MM UTC'. */
export function when(t: number | string | null | undefined): string {
  if (t === null || t === undefined || t === '' || t === 0) return 'unknown';
  const d = new Date(t);
  return Number.isNaN(d.getTime()) ? String(t) : `${d.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

export function age(s: number | null): string {
  if (s === null) return 'age unknown';
  if (s < 120) return `${s} s old`;
  if (s < 7200) return `${Math.round(s / 60)} min old`;
  if (s < 172800) return `${Math.round(s / 3600)} h old`;
  return `${Math.round(s / 86400)} days old`;
}

const lastOctet = (a: string) => Number(a.slice(a.lastIndexOf('.') + 1));

function Headline(props: { x: Explanation }) {
  const x = props.x;
  const zone = x.answer.zone;
  if (x.block) {
    return (
      <p class="verdict listed" id="verdict">
        <strong>Listed</strong> in {zone}: {x.key} is blocked{x.test ? ' (RFC 5782 test point)' : ''}.
      </p>
    );
  }
  if (x.answer.wl) {
    return (
      <p class="verdict allowed" id="verdict">
        <strong>Not listed</strong> in {zone}, and <strong>allowed</strong> in wl: {x.key} is vouched for.
      </p>
    );
  }
  return (
    <p class="verdict clear" id="verdict">
      <strong>Not listed</strong> in {zone}: {x.key} gets NXDOMAIN.
    </p>
  );
}

function Answers(props: { x: Explanation }) {
  const { x } = props;
  const zone = x.answer.zone;
  return (
    <table class="answers cards">
      <caption>What the DNS answers now</caption>
      <thead>
        <tr><th scope="col">Zone</th><th scope="col">Answer</th><th scope="col">Meaning</th></tr>
      </thead>
      <tbody>
        {x.answer.a.length
          ? x.answer.a.map((a) => (
              <tr><td data-label="Zone">{zone}</td><td data-label="Answer"><code>{a}</code></td><td data-label="Meaning">{BLOCK_MEANING[lastOctet(a)] ?? `return code .${lastOctet(a)}`}</td></tr>
            ))
          : <tr><td data-label="Zone">{zone}</td><td data-label="Answer"><code>NXDOMAIN</code></td><td data-label="Meaning">not listed: mail servers accept it as far as this list goes</td></tr>}
        {x.answer.txt && <tr><td data-label="Zone">{zone} TXT</td><td data-label="Text" colspan={2} class="txt">“{x.answer.txt}”</td></tr>}
        {x.kind !== 'domain' && (x.answer.wl
          ? <tr><td data-label="Zone">wl</td><td data-label="Answer"><code>{x.answer.wl}</code></td><td data-label="Meaning">{WL_MEANING[lastOctet(x.answer.wl)] ?? `return code .${lastOctet(x.answer.wl)}`}{x.answer.wlTxt ? ` — “${x.answer.wlTxt}”` : ''}</td></tr>
          : <tr><td data-label="Zone">wl</td><td data-label="Answer"><code>NXDOMAIN</code></td><td data-label="Meaning">not in the allow list</td></tr>)}
      </tbody>
    </table>
  );
}

function Sources(props: { x: Explanation }) {
  const { x } = props;
  if (!x.sources.length) return <p class="muted">No public source lists {x.key}.</p>;
  return (
    <table class="sources cards">
      <caption>Public sources listing it</caption>
      <thead>
        <tr><th scope="col">Source</th><th scope="col">Weight</th><th scope="col">Its entry</th><th scope="col">Data</th></tr>
      </thead>
      <tbody>
        {x.sources.map((s) => (
          <tr>
            <td class="source-name" data-label="Source"><strong>{s.name}</strong></td>
            <td data-label="Weight">{s.weight}</td>
            <td data-label="Its entry">{s.entry ? <code>{s.entry}</code> : <span class="muted">not in the current copy</span>}</td>
            <td data-label="Data">{s.ageSeconds === null ? 'age unknown' : <span>{age(s.ageSeconds)}<br /><span class="muted">fetched {when(s.lastSuccess)}</span></span>}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function Providers(props: { x: Explanation }) {
  const { x } = props;
  if (!x.providers.length) return null;
  return (
    <section aria-labelledby="prov-h">
      <h3 id="prov-h">Mail provider ranges</h3>
      <ul class="plain">
        {x.providers.map((p) => (
          <li>
            <strong>{p.name}</strong>{p.range ? <> owns <code>{p.range}</code></> : ''}, {p.fetchedAt ? `fetched ${when(p.fetchedAt)}` : 'fetch time unknown'}.
            {p.detail.length > 0 && (
              <ul>
                {p.detail.map((d) => (
                  <li>
                    <code>{d.cidr}</code>: {/baseline/i.test(d.detail) ? 'shipped baseline' : 'fetched'} — {d.detail}
                    {d.lowConfidence && <span class="warn"> low confidence: {d.confidenceNote}</span>}
                  </li>
                ))}
              </ul>
            )}
          </li>
        ))}
      </ul>
    </section>
  );
}

function Reputation(props: { x: Explanation }) {
  const { x } = props;
  const bar = x.arithmetic.find((l) => /^local score .* (provider bar|bar) /.test(l));
  if (!x.reputation.score && !x.reputation.events.length && !bar) return <p class="muted">No local reputation reports.</p>;
  return (
    <section aria-labelledby="rep-h">
      <h3 id="rep-h">Local reputation</h3>
      <p>
        Score <strong>{x.reputation.score.toFixed(2)}</strong>{bar ? <> — {bar.replace(/^local score \S+ /, '')}</> : ''}
        <span class="muted"> (positive: spam evidence; it decays over time)</span>
      </p>
      {x.reputation.events.length > 0 && (
        <table class="events cards">
          <caption>Recent reports</caption>
          <thead>
            <tr><th scope="col">When</th><th scope="col">Kind</th><th scope="col">Weight</th><th scope="col">By</th><th scope="col">Note</th></tr>
          </thead>
          <tbody>
            {x.reputation.events.map((e) => (
              <tr>
                <td data-label="When">{when(e.at)}</td><td data-label="Kind">{e.kind}</td><td data-label="Weight">{e.weight}</td><td data-label="By">{e.reporter}</td><td data-label="Note">{typeof e.note === 'string' ? e.note : ''}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

/** The stored override behind x.override (author, times), when the page found it. */
export interface OverrideDetail {
  author: string;
  created: number;
  expires: number | null;
}

export function Trace(props: { x: Explanation; override?: OverrideDetail | null }) {
  const { x } = props;
  const od = props.override;
  return (
    <section class="trace" aria-labelledby="why-h">
      <Headline x={x} />
      <Answers x={x} />
      <h2 id="why-h">Why</h2>
      {x.test && <p>{x.key} is an RFC 5782 test point: it is always answered this way.</p>}
      <Sources x={x} />
      <Providers x={x} />
      {x.protectedBy && <p>Protected domain: public sources can never put names under <strong>{x.protectedBy}</strong> into dbl.</p>}
      {x.override
        ? (
          <p class="override" id="override">
            Manual <strong>{x.override.action}</strong> override #{x.override.id} on <code>{x.override.key}</code>: “{x.override.reason}”
            {od && <span class="muted"> — by {od.author}, {when(od.created)}, {od.expires === null ? 'no expiry' : `expires ${when(od.expires)}`}</span>}
          </p>
        )
        : <p class="muted">No manual override covers it.</p>}
      <Reputation x={x} />
      <h3>How the verdict was reached</h3>
      <ol class="arithmetic">
        {x.arithmetic.map((a) => <li>{a}</li>)}
      </ol>
      <p class="muted small">
        Merged data serial {x.serial}, built {when(x.builtAt)}. The same trace: <code>quorumbl explain {x.key}</code>.
      </p>
    </section>
  );
}
