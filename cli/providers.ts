// `quorumbl providers`: the state of every provider range feed (where its ranges come from, how
// old they are, what the last check did), read from <state_dir>/providers (the last good copies
// and the check records a running `serve` writes) and the shipped baselines. Read-only.

import { ArgsError, HelpRequest, parseCommand, type CommandSpec } from './args.ts';
import { loadBaselines, type Baseline } from '../sync/providers/baseline.ts';
import type { ProviderConfig } from '../core/config/providers.ts';
import { fmtAge, readFeedStates, type FeedState } from '../sync/providers/status.ts';

export interface ProvidersContext {
  stateDir: string;
  providers: readonly ProviderConfig[];
  /** default: data/providers */
  baselines?: Baseline[];
  out?: (s: string) => void;
  err?: (s: string) => void;
  now?: () => number;
}

const USAGE = 'usage: quorumbl providers [--config FILE] [--json]';

export const PROVIDERS: CommandSpec = { name: 'providers', usage: USAGE, options: { json: { type: 'boolean' } } };

export function providersCommand(args: string[], ctx: ProvidersContext): number {
  const out = ctx.out ?? ((s: string) => void process.stdout.write(s));
  const err = ctx.err ?? ((s: string) => void process.stderr.write(s));
  let json: boolean;
  try {
    json = parseCommand(PROVIDERS, args).values.json === true;
  } catch (e) {
    if (e instanceof HelpRequest) {
      out(USAGE + '\n');
      return 0;
    }
    if (e instanceof ArgsError) {
      err(`${e.message}\n${USAGE}\n`);
      return 2;
    }
    throw e;
  }
  let baselines: Baseline[];
  try {
    baselines = ctx.baselines ?? loadBaselines();
  } catch (e) {
    err(`${(e as Error).message}\n`);
    baselines = [];
  }
  const states = readFeedStates(ctx.providers, ctx.stateDir, baselines, (ctx.now ?? Date.now)());
  if (json) {
    out(JSON.stringify(states, null, 2) + '\n');
    return 0;
  }
  out(formatStates(states));
  return 0;
}

/** The table and the notes an admin acts on (stale feeds, errors). */
export function formatStates(states: readonly FeedState[]): string {
  if (states.length === 0) return 'no provider feeds are configured (providers: [])\n';
  const header = ['PROVIDER/FEED', 'ORIGIN', 'RANGES', 'AGE', 'LAST CHECK', 'STALE'];
  const rows = states.map((s) => [
    `${s.provider}/${s.feed}${s.active ? '' : ' (not used)'}`,
    s.origin === 'baseline' ? `baseline ${s.baseline?.date ?? ''}`.trim() : s.origin,
    `${s.ranges} (${s.ranges4} v4, ${s.ranges6} v6)`,
    s.ageSeconds === null ? '-' : fmtAge(s.ageSeconds),
    s.lastAttempt ? `${s.lastStatus ?? '?'} ${s.lastAttempt}` : 'never',
    s.active && s.origin !== 'static' ? (s.stale ? `yes (max ${fmtAge(s.maxAgeSeconds)})` : 'no') : '-',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd();
  const text = [line(header), ...rows.map(line)];
  const notes: string[] = [];
  for (const s of states) {
    if (!s.active) continue;
    const name = `${s.provider}/${s.feed}`;
    if (s.origin === 'none') notes.push(`${name}: NO RANGES (never fetched, no shipped baseline): public lists can block its senders`);
    else if (s.origin === 'baseline') notes.push(`${name}: on the shipped baseline data/providers/${s.baseline!.file} dated ${s.baseline!.date} (${s.baseline!.source}); never fetched`);
    else if (s.stale) notes.push(`${name}: stale: last confirmed ${fmtAge(s.ageSeconds!)} ago, max_age ${fmtAge(s.maxAgeSeconds)}`);
    const errorIsNews = s.lastError && (!s.lastSuccess || (s.lastErrorAt ?? '') >= s.lastSuccess);
    if (errorIsNews) notes.push(`${name}: last check ${s.lastStatus} at ${s.lastErrorAt}: ${s.lastError}`);
    for (const w of s.warnings) notes.push(`${name}: warning: ${w}`);
  }
  if (notes.length) text.push('', ...notes);
  return text.join('\n') + '\n';
}
