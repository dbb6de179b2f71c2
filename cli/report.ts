// `quorumbl report KEY --kind spam|trap|ham|false-positive [--weight W] [--reporter R] [--note TEXT]`:
// one local reputation event; prints the key's score after it.

import { ArgsError, HelpRequest, parseCommand, type CommandSpec } from './args.ts';
import { Reputation, DEFAULT_REPUTATION, type ReputationConfig } from '../sync/local/reputation.ts';
import { cliActor, osUser, withDb, type LocalCliContext } from './override.ts';

export interface ReportCliContext extends LocalCliContext {
  /** policy.reputation from the config (half_life in seconds, cap); default 7d and 10. */
  reputation?: ReputationConfig;
}

const USAGE = `usage: quorumbl report KEY --kind spam|trap|ham|false-positive [--weight W] [--reporter NAME] [--note TEXT] [--json]
KEY: one IPv4/IPv6 address or a domain. Takes --config FILE.`;

export const REPORT: CommandSpec = {
  name: 'report', usage: USAGE, positionals: [0, 1],
  options: {
    kind: { type: 'string', short: 'k' }, weight: { type: 'string', short: 'w' }, reporter: { type: 'string', short: 'r' },
    note: { type: 'string', short: 'n' }, json: { type: 'boolean' },
  },
};

export async function reportCommand(args: string[], ctx: ReportCliContext): Promise<number> {
  const out = ctx.out ?? ((s: string) => void process.stdout.write(s));
  const err = ctx.err ?? ((s: string) => void process.stderr.write(s));
  let parsed;
  try {
    parsed = parseCommand(REPORT, args);
  } catch (e) {
    if (e instanceof HelpRequest) {
      out(USAGE + '\n');
      return 0;
    }
    if (e instanceof ArgsError) return usage(err, e.message);
    throw e;
  }
  const { positionals } = parsed;
  const v = parsed.values as { kind?: string; weight?: string; reporter?: string; note?: string; json?: boolean };
  if (positionals.length !== 1) return usage(err, `'report' needs a KEY`);
  if (v.kind === undefined) return usage(err, `'report' needs --kind`);
  const user = ctx.user ?? osUser();
  return withDb(ctx.dbPath, err, (db) => {
    const rep = new Reputation(db, ctx.reputation ?? DEFAULT_REPUTATION, ctx.now ?? Date.now);
    rep.syncConfig();
    const r = rep.report({ key: positionals[0], kind: v.kind, weight: v.weight, reporter: v.reporter ?? user, note: v.note }, cliActor(user));
    if (v.json) out(JSON.stringify({ event: r.event, score: r.score }) + '\n');
    else out(`reported ${r.event.kind} for ${r.event.key} (weight ${r.event.weight}); score ${r.before.toFixed(2)} -> ${r.score.toFixed(2)}\n`);
    return 0;
  });
}

function usage(err: (s: string) => void, msg: string): number {
  err(`quorumbl report: ${msg}\n${USAGE}\n`);
  return 2;
}
