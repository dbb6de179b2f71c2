// `quorumbl token create|list|revoke`: API tokens. The secret is printed once at creation; the
// database keeps only its SHA-256.

import { ArgsError, HelpRequest, parseCommand, type CommandSpec } from './args.ts';
import { Tokens, SCOPES, type TokenInfo } from '../sync/local/tokens.ts';
import { cliActor, osUser, withDb, type LocalCliContext } from './override.ts';

const USAGE = `usage: quorumbl token create --name NAME --scope ${SCOPES.join('|')}
       quorumbl token list [--all] [--json]
       quorumbl token revoke NAME|ID
Every form takes --config FILE.`;

export const TOKEN: CommandSpec = {
  name: 'token', usage: USAGE, positionals: [0, Infinity],
  options: { name: { type: 'string' }, scope: { type: 'string' }, all: { type: 'boolean' }, json: { type: 'boolean' } },
};

export async function tokenCommand(args: string[], ctx: LocalCliContext): Promise<number> {
  const out = ctx.out ?? ((s: string) => void process.stdout.write(s));
  const err = ctx.err ?? ((s: string) => void process.stderr.write(s));
  let parsed;
  try {
    parsed = parseCommand(TOKEN, args);
  } catch (e) {
    if (e instanceof HelpRequest) {
      out(USAGE + '\n');
      return 0;
    }
    if (e instanceof ArgsError) return usage(err, e.message);
    throw e;
  }
  const { positionals: [cmd, ...rest] } = parsed;
  const v = parsed.values as { name?: string; scope?: string; all?: boolean; json?: boolean };
  if (cmd === 'help') {
    out(USAGE + '\n');
    return 0;
  }
  const user = ctx.user ?? osUser();
  const run = (f: (t: Tokens) => number) => withDb(ctx.dbPath, err, (db) => f(new Tokens(db, ctx.now ?? Date.now)));
  switch (cmd) {
    case 'create':
      if (rest.length) return usage(err, `unexpected argument '${rest[0]}'`);
      if (v.name === undefined || v.scope === undefined) return usage(err, `'token create' needs --name and --scope`);
      return run((t) => {
        const { token, info } = t.create(v.name!, v.scope, cliActor(user));
        if (v.json) out(JSON.stringify({ token, ...info }) + '\n');
        else {
          err(`created token '${info.name}' (scope ${info.scope}); it is shown only this once:\n`);
          out(token + '\n');
        }
        return 0;
      });
    case 'list':
    case undefined:
      if (rest.length) return usage(err, `unexpected argument '${rest[0]}'`);
      return run((t) => {
        const list = t.list({ all: v.all === true });
        out(v.json ? JSON.stringify(list, null, 2) + '\n' : table(list));
        return 0;
      });
    case 'revoke':
      if (rest.length !== 1) return usage(err, `'token revoke' takes one token name or id`);
      return run((t) => {
        const r = t.revoke(rest[0]!, cliActor(user));
        if (!r) {
          err(`there is no live token '${rest[0]}'\n`);
          return 1;
        }
        out(`revoked token '${r.name}'\n`);
        return 0;
      });
    default:
      return usage(err, `unknown token command '${cmd}'`);
  }
}

function table(list: TokenInfo[]): string {
  if (list.length === 0) return 'no tokens\n';
  const t = (x: number | null) => (x === null ? '-' : new Date(x).toISOString().replace(/\.\d{3}Z$/, 'Z'));
  const rows = [['ID', 'NAME', 'SCOPE', 'CREATED', 'LAST USED', 'REVOKED']];
  for (const i of list) rows.push([String(i.id), i.name, i.scope, t(i.created), t(i.lastUsed), t(i.revoked)]);
  const w = rows[0]!.map((_, k) => Math.max(...rows.map((r) => r[k]!.length)));
  return rows.map((r) => r.map((c, k) => (k === r.length - 1 ? c : c.padEnd(w[k]!))).join('  ')).join('\n') + '\n';
}

function usage(err: (s: string) => void, msg: string): number {
  err(`quorumbl token: ${msg}\n${USAGE}\n`);
  return 2;
}
