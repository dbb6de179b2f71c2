// `quorumbl override add|list|rm|expire`: manual allow/deny entries in the state database.
// A running server picks the change up within its watch interval (LocalStore.watch); through the
// API (POST /api/v1/overrides) it is in the very next DNS answer.

import { userInfo } from 'node:os';
import { ArgsError, HelpRequest, parseCommand, type CommandSpec } from './args.ts';
import { openDb, type Db } from '../core/db.ts';
import { InputError } from '../sync/local/keys.ts';
import { OverrideConflict, OverrideGuard, Overrides, type Override } from '../sync/local/overrides.ts';
import type { OverrideLimits } from '../sync/local/width.ts';

export interface LocalCliContext {
  dbPath: string;
  /** Output sinks, clock and user (tests); default stdout, stderr, Date.now and the OS user. */
  out?: (s: string) => void;
  err?: (s: string) => void;
  now?: () => number;
  user?: string;
}

export interface OverrideCliContext extends LocalCliContext {
  /** policy.override_limits from the config; default /16 IPv4, /32 IPv6. */
  limits?: OverrideLimits;
}

const USAGE = `usage: quorumbl override add allow|deny KEY --reason TEXT [--expires 2d|ISO-TIME] [--author NAME] [--replace] [--force]
       quorumbl override list [--all] [--json]
       quorumbl override rm ID
       quorumbl override expire ID 2d|ISO-TIME|never [--force]
KEY: an IPv4/IPv6 address or CIDR, a domain, or *.domain (everything strictly below it).
--force: a KEY wider than policy.override_limits (default /16 IPv4, /32 IPv6) or on a public
suffix (*.com, co.uk) is refused without it; the audit log records it as forced.
Every form takes --config FILE.`;

export const OVERRIDE: CommandSpec = {
  name: 'override', usage: USAGE, positionals: [0, Infinity],
  options: {
    reason: { type: 'string', short: 'r' }, expires: { type: 'string', short: 'e' }, author: { type: 'string', short: 'a' },
    replace: { type: 'boolean' }, force: { type: 'boolean' }, json: { type: 'boolean' }, all: { type: 'boolean' },
  },
};

/** The audit log's "who" for the CLI: `cli:<OS user>`. */
export function cliActor(user: string): string {
  return `cli:${user}`;
}

/** The OS user running the command. */
export function osUser(): string {
  try {
    return userInfo().username || process.env.USER || 'unknown';
  } catch {
    return process.env.USER || 'unknown';
  }
}

export async function overrideCommand(args: string[], ctx: OverrideCliContext): Promise<number> {
  const out = ctx.out ?? ((s: string) => void process.stdout.write(s));
  const err = ctx.err ?? ((s: string) => void process.stderr.write(s));
  const now = ctx.now ?? Date.now;
  const user = ctx.user ?? osUser();
  let parsed;
  try {
    parsed = parseCommand(OVERRIDE, args);
  } catch (e) {
    if (e instanceof HelpRequest) return usage(out, null);
    if (e instanceof ArgsError) return usage(err, e.message);
    throw e;
  }
  const { positionals: [cmd, ...rest] } = parsed;
  const v = parsed.values as { reason?: string; expires?: string; author?: string; replace?: boolean; force?: boolean; json?: boolean; all?: boolean };
  if (cmd === 'help') {
    out(USAGE + '\n');
    return 0;
  }
  const run = (f: (o: Overrides) => number): number => withDb(ctx.dbPath, err, (db) => f(new Overrides(db, now, ctx.limits)));
  const actor = cliActor(user);
  // The CLI runs with the state database's owner's rights: the local admin.
  const guard = { force: v.force === true, admin: true };
  switch (cmd) {
    case 'add': {
      const [action, key, extra] = rest;
      if (action === undefined || key === undefined) return usage(err, `'override add' needs allow|deny and a KEY`);
      if (extra !== undefined) return usage(err, `unexpected argument '${extra}' (quote a reason with blanks)`);
      if (v.reason === undefined) return usage(err, `'override add' needs --reason`);
      return run((o) => {
        const r = o.add({ action, key, reason: v.reason, author: v.author ?? user, expires: v.expires }, { actor, replace: v.replace === true, ...guard });
        out(v.json ? JSON.stringify(r) + '\n' : `added override #${r.id}: ${describe(r)}\n`);
        return 0;
      });
    }
    case 'list':
    case undefined: {
      if (rest.length) return usage(err, `unexpected argument '${rest[0]}'`);
      return run((o) => {
        const list = o.list({ expired: v.all === true });
        if (v.json) out(JSON.stringify(list, null, 2) + '\n');
        else out(table(list, now()));
        return 0;
      });
    }
    case 'rm':
    case 'remove': {
      const id = idArg(rest);
      if (id === null) return usage(err, `'override rm' takes one override id (see 'override list')`);
      return run((o) => {
        const r = o.remove(id, actor);
        out(`removed override #${r.id}: ${describe(r)}\n`);
        return 0;
      });
    }
    case 'expire': {
      const id = idArg(rest.slice(0, 1));
      if (id === null || rest.length !== 2) return usage(err, `'override expire' takes an override id and 2d|ISO-TIME|never`);
      return run((o) => {
        const r = o.setExpiry(id, rest[1], actor, guard);
        out(`override #${r.id} ${r.expires === null ? 'never expires' : `expires ${new Date(r.expires).toISOString()}`}\n`);
        return 0;
      });
    }
    default:
      return usage(err, `unknown override command '${cmd}'`);
  }
}

function idArg(rest: string[]): number | null {
  return rest.length === 1 && /^[1-9]\d{0,14}$/.test(rest[0]!) ? Number(rest[0]) : null;
}

function describe(o: Override): string {
  const exp = o.expires === null ? '' : `, expires ${new Date(o.expires).toISOString()}`;
  return `${o.action} ${o.key} (${o.reason}; by ${o.author}${exp})`;
}

function table(list: Override[], now: number): string {
  if (list.length === 0) return 'no overrides\n';
  const rows = [['ID', 'ACTION', 'KEY', 'EXPIRES', 'AUTHOR', 'CREATED', 'REASON']];
  for (const o of list) {
    const exp = o.expires === null ? 'never' : o.expires <= now ? `expired ${iso(o.expires)}` : iso(o.expires);
    rows.push([String(o.id), o.action, o.key, exp, o.author, iso(o.created), o.reason]);
  }
  const w = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(w[i]!))).join('  ')).join('\n') + '\n';
}

function iso(t: number): string {
  return new Date(t).toISOString().replace(/:\d\d\.\d{3}Z$/, 'Z');
}

/** msg null: the usage asked for (--help), exit 0. */
function usage(sink: (s: string) => void, msg: string | null): number {
  sink(msg === null ? `${USAGE}\n` : `quorumbl override: ${msg}\n${USAGE}\n`);
  return msg === null ? 0 : 2;
}

/** Opens the DB, runs f; input errors and conflicts are printed (exit 1), not thrown. */
export function withDb(dbPath: string, err: (s: string) => void, f: (db: Db) => number): number {
  let db: Db;
  try {
    db = openDb(dbPath);
  } catch (e) {
    err(`${e instanceof Error ? e.message : String(e)}\n`);
    return 1;
  }
  try {
    return f(db);
  } catch (e) {
    if (e instanceof InputError || e instanceof OverrideConflict || e instanceof OverrideGuard) {
      err(`${e.message}\n`);
      return 1;
    }
    throw e;
  } finally {
    db.close();
  }
}
