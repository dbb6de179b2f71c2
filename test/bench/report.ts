// Comparison table (quorumbl vs rbldnsd) and target verdicts for one dataset size.
import type { ServerResult } from './run.ts';

export const TARGETS = { qpsMinRatio: 0.8, rssMaxRatio: 1.5, rssTargetSize: 10_000_000 };

export interface Verdicts {
  qpsRatio?: number;
  rssRatio?: number;
  qpsMet?: boolean;
  rssMet?: boolean;
  rssTargetApplies: boolean; // the RSS target is defined for the 10M set
}

const ratio = (q?: number, r?: number): number | undefined =>
  q !== undefined && r !== undefined && r > 0 ? Math.round((q / r) * 100) / 100 : undefined;

export function verdicts(entries: number, r?: ServerResult, q?: ServerResult): Verdicts {
  const qpsRatio = ratio(q?.throughput?.qps, r?.throughput?.qps);
  const rssRatio = ratio(q?.rssAfterLoadMiB, r?.rssAfterLoadMiB);
  return {
    qpsRatio, rssRatio,
    qpsMet: qpsRatio === undefined ? undefined : qpsRatio >= TARGETS.qpsMinRatio,
    rssMet: rssRatio === undefined ? undefined : rssRatio <= TARGETS.rssMaxRatio,
    rssTargetApplies: entries >= TARGETS.rssTargetSize,
  };
}

type Row = [label: string, get: (s: ServerResult) => number | undefined, digits: number, note?: (v: Verdicts) => string, noRatio?: boolean];

export function formatTable(title: string, results: ServerResult[], v: Verdicts): string {
  const r = results.find((x) => x.server === 'rbldnsd');
  const q = results.find((x) => x.server === 'quorumbl');
  const mark = (met?: boolean): string => (met === undefined ? '' : met ? 'met' : 'NOT MET');
  const latQps = (r ?? q)?.latency?.qps;
  const rows: Row[] = [
    ['qps', (s) => s.throughput?.qps, 0, (x) => `>= ${TARGETS.qpsMinRatio}x  ${mark(x.qpsMet)}`],
    ['avg latency ms (saturated)', (s) => s.throughput?.avgLatencyMs, 3],
    ['max latency ms (saturated)', (s) => s.throughput?.maxLatencyMs, 3],
    [`p50 latency ms @${latQps} qps`, (s) => s.latency?.p50Ms, 3],
    [`p99 latency ms @${latQps} qps`, (s) => s.latency?.p99Ms, 3],
    [`p99.9 latency ms @${latQps} qps`, (s) => s.latency?.p999Ms, 3],
    ['lost queries', (s) => s.throughput?.lost, 0, undefined, true],
    ['RSS after load MiB', (s) => s.rssAfterLoadMiB, 1,
      (x) => `<= ${TARGETS.rssMaxRatio}x  ${x.rssTargetApplies ? mark(x.rssMet) : `(${mark(x.rssMet) || '-'}; target is at 10M)`}`],
    ['peak RSS MiB (VmHWM)', (s) => s.peakRssMiB, 1],
    ['first answer s', (s) => (s.firstAnswerMs === undefined ? undefined : s.firstAnswerMs / 1000), 2],
    ['server CPU us/query', (s) => s.serverCpuUsPerQuery, 2],
    ['server / dnsperf cores', (s) => s.serverCores, 2],
    ['other load on box, cores', (s) => s.otherCores, 2, undefined, true],
  ];
  const fmt = (n: number | undefined, d: number): string =>
    n === undefined ? (d === -1 ? '' : '-') : n.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d });
  const out: string[] = [title];
  const w = [32, 12, 12, 8];
  const line = (cells: string[]): string =>
    cells.map((c, i) => (i === 0 ? c.padEnd(w[0]!) : i < 4 ? c.padStart(w[i]!) : '  ' + c)).join(' ').trimEnd();
  out.push(line(['', 'rbldnsd', 'quorumbl', 'q/r', 'target']));
  for (const [label, get, d, note, noRatio] of rows) {
    let rv = r ? get(r) : undefined;
    let qv = q ? get(q) : undefined;
    let rs = fmt(rv, d), qs = fmt(qv, d);
    if (label.startsWith('server / dnsperf')) {
      rs = r?.serverCores === undefined ? '-' : `${fmt(r.serverCores, 2)}/${fmt(r.dnsperfCores, 2)}`;
      qs = q?.serverCores === undefined ? '-' : `${fmt(q.serverCores, 2)}/${fmt(q.dnsperfCores, 2)}`;
      rv = qv = undefined;
    }
    const rat = noRatio ? undefined : ratio(qv, rv);
    out.push(line([label, rs, qs, rat === undefined ? '' : `${rat.toFixed(2)}x`, note ? note(v) : '']));
  }
  for (const s of results) if (!s.ok) out.push(`  ${s.server} FAILED: ${s.error}`);
  const codes = results.filter((s) => s.throughput).map((s) => `${s.server} ${rcodeShare(s)}`);
  if (codes.length) out.push(`  response codes (sanity check, should match): ${codes.join(' | ')}`);
  const busy = Math.max(...results.map((s) => s.otherCores ?? 0));
  if (busy > 0.25) {
    out.push(`  WARNING: other processes used up to ${busy.toFixed(2)} cores during these runs: absolute qps/latency are`);
    out.push('  depressed and noisy; trust the ratios and CPU us/query more, or re-run on an idle box.');
  }
  return out.join('\n');
}

function rcodeShare(s: ServerResult): string {
  const t = s.throughput!;
  return Object.entries(t.rcodes).map(([k, n]) => `${k} ${((100 * n) / Math.max(1, t.completed)).toFixed(2)}%`).join(', ');
}
