// `quorumbl collisions`: what serve computed after its last merge: for each source x provider
// feed, how many listed keys and ranges fall inside the feed's ranges (exempted), sample pieces,
// and the sharp-rise alerts (recomputed from the history at the time of asking). Read-only:
// <state_dir>/merge/collisions.json and the collision_history table of the state database.

import { existsSync } from 'node:fs';
import { openDb } from '../core/db.ts';
import { ArgsError, HelpRequest, parseCommand, type CommandSpec } from './args.ts';
import { alertsOf, collisionsPath, CollisionHistory, readCollisionsFile, type CollisionReport } from '../sync/collisions-store.ts';
import { riseThreshold } from '../sync/merge/collisions.ts';

export interface CollisionsContext {
  stateDir: string;
  dbPath: string;
  out?: (s: string) => void;
  err?: (s: string) => void;
  now?: () => number;
  /** ` --config FILE` when one was given: hints name the same config. */
  configFlag?: string;
}

const USAGE = 'usage: quorumbl collisions [--config FILE] [--json] [--samples N]';

export const COLLISIONS: CommandSpec = { name: 'collisions', usage: USAGE, options: { json: { type: 'boolean' }, samples: { type: 'string' } } };

export function collisionsCommand(args: string[], ctx: CollisionsContext): number {
  const out = ctx.out ?? ((s: string) => void process.stdout.write(s));
  const err = ctx.err ?? ((s: string) => void process.stderr.write(s));
  let v;
  try {
    v = parseCommand(COLLISIONS, args).values;
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
  let samples = 5;
  if (v.samples !== undefined) {
    if (!/^\d+$/.test(String(v.samples))) {
      err(`--samples takes a number, not "${String(v.samples)}"\n${USAGE}\n`);
      return 2;
    }
    samples = Number(v.samples);
  }
  let r: CollisionReport | null;
  try {
    r = readCollisionsFile(collisionsPath(ctx.stateDir));
  } catch (e) {
    err(`${(e as Error).message}\n`);
    return 1;
  }
  if (!r) {
    err(`no collisions yet: \`quorumbl serve${ctx.configFlag ?? ''}\` computes them after each merge (${collisionsPath(ctx.stateDir)})\n`);
    return 1;
  }
  // alerts as of now: they age out of the 24 h window without a merge
  if (existsSync(ctx.dbPath)) {
    try {
      const db = openDb(ctx.dbPath, { readOnlyFallback: true });
      try {
        r = { ...r, alerts: alertsOf(r.pairs, new CollisionHistory(db), (ctx.now ?? Date.now)()) };
      } finally {
        db.close();
      }
    } catch (e) {
      err(`warning: collision history not read (${(e as Error).message}): alerts as of ${r.computedAt}\n`);
    }
  }
  if (v.json) {
    out(JSON.stringify(r, null, 2) + '\n');
    return 0;
  }
  out(formatReport(r, samples));
  return 0;
}

/** The table, the alerts and a few samples per colliding pair. */
export function formatReport(r: CollisionReport, samples = 5): string {
  const text = [`computed ${r.computedAt} (evidence serial ${r.serial}, ${r.ms} ms)`];
  const hit = r.pairs.filter((p) => p.keys > 0);
  if (r.pairs.length === 0) text.push('no source x provider pairs (no sources or no provider feeds)');
  else if (hit.length === 0) text.push(`no source lists anything inside a provider range (${r.pairs.length} pairs checked)`);
  else {
    const header = ['SOURCE', 'PROVIDER', 'KEYS', 'RANGES', 'IPV4 ADDRESSES', 'IPV6 RANGES'];
    const rows = hit.map((p) => [p.source, p.provider, String(p.keys), String(p.ranges), String(p.addresses4), String(p.ranges6)]);
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((x) => x[i]!.length)));
    const line = (x: string[]) => x.map((c, i) => (i === x.length - 1 ? c : c.padEnd(widths[i]!))).join('  ');
    text.push('', line(header), ...rows.map(line));
    text.push('', 'Listings inside provider ranges lose their public reasons in bl while policy.provider_exempt is on (the default); `quorumbl explain KEY` shows one.');
  }
  if (r.alerts.length) {
    text.push('', 'ALERTS (a sharp rise within 24 h):');
    for (const a of r.alerts) text.push(`  ${a.source} in ${a.provider}: ${a.before} -> ${a.now} keys since ${a.since} (alert at +${riseThreshold(a.before)})`);
  }
  if (samples > 0) {
    for (const p of hit) {
      text.push('', `${p.source} in ${p.provider}${p.truncated || p.samples.length > samples ? ` (first ${Math.min(samples, p.samples.length)})` : ''}:`);
      for (const s of p.samples.slice(0, samples)) text.push(`  ${s.listed} in ${s.providerRange}${s.detail ? ` (${s.detail})` : ''}`);
    }
  }
  return text.join('\n') + '\n';
}
