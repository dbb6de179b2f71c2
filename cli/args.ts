// Command-line parsing shared by every `quorumbl` command: each command declares its options and
// usage once; an unknown or misplaced flag, a missing value or a wrong number of arguments is an
// ArgsError (main prints the message and the command's usage, exit 2), never a Node stack trace.
// `--config FILE` (-c) and `--help` (-h) are accepted by every command that reads a config.

import { parseArgs, type ParseArgsConfig } from 'node:util';
import { parseHostPort, parseTsigSpec } from '../core/config/replica.ts';

export type Options = NonNullable<ParseArgsConfig['options']>;

export interface CommandSpec {
  /** as typed after `quorumbl`: "sync", "sources" */
  name: string;
  usage: string;
  options: Options;
  /** allowed number of positional arguments [min, max]; default [0, 0] */
  positionals?: [number, number];
  /** what too few positionals lack, for the message: "a KEY" */
  needs?: string;
  /** false: the command takes no --config (rbldnsd, help); default true */
  config?: boolean;
}

/** A usage mistake: printed with the command's usage, exit 2. */
export class ArgsError extends Error {
  constructor(readonly spec: CommandSpec, message: string) {
    super(message);
  }
}

/** `--help` / `-h`: the usage on stdout, exit 0. */
export class HelpRequest extends Error {
  constructor(readonly spec: CommandSpec) {
    super('help');
  }
}

const CONFIG: Options = { config: { type: 'string', short: 'c' } };
const HELP: Options = { help: { type: 'boolean', short: 'h' } };

export interface Parsed {
  values: Record<string, string | boolean | undefined>;
  positionals: string[];
  /** --config as given (QUORUMBL_CONFIG and the embedded default are loadConfig's) */
  config: string | undefined;
}

/** Node's parseArgs messages without their advice on '--' (it does not apply here). */
function plain(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  const msg = err.message ?? String(e);
  switch (err.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION': {
      const opt = /'([^']+)'/.exec(msg)?.[1] ?? msg;
      return `unknown option '${opt}'`;
    }
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE': {
      const m = /Option '(?:-\w, )?(--[\w-]+)(?: <value>)?' (argument missing|does not take an argument)/.exec(msg);
      if (m) return m[2] === 'argument missing' ? `${m[1]} needs a value` : `${m[1]} takes no value`;
      const amb = /Option '(?:-\w, )?(--[\w-]+)' argument is ambiguous/.exec(msg);
      if (amb) return `${amb[1]} needs a value (to give one starting with '-': ${amb[1]}=VALUE)`;
      return msg;
    }
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL': {
      const arg = /'([^']+)'/.exec(msg)?.[1];
      return arg ? `unexpected argument '${arg}'` : msg;
    }
    default:
      return msg;
  }
}

export function parseCommand(spec: CommandSpec, args: string[]): Parsed {
  const options: Options = { ...(spec.config === false ? {} : CONFIG), ...HELP, ...spec.options };
  let r;
  try {
    r = parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (e) {
    throw new ArgsError(spec, plain(e));
  }
  const values = r.values as Parsed['values'];
  if (values.help) throw new HelpRequest(spec);
  const [min, max] = spec.positionals ?? [0, 0];
  const n = r.positionals.length;
  if (n > max) throw new ArgsError(spec, `unexpected argument '${r.positionals[max]}'`);
  if (n < min) throw new ArgsError(spec, `'${spec.name}' needs ${spec.needs ?? `${min} argument${min > 1 ? 's' : ''}`}`);
  return { values, positionals: r.positionals, config: values.config as string | undefined };
}

/** What main prints for an ArgsError: the message, then the usage. */
export function argsErrorText(e: ArgsError): string {
  return `quorumbl ${e.spec.name}: ${e.message}\n${e.spec.usage}\n`;
}

// ---- serve: its body lives in cli/serve.ts; its flags are declared here with the others ---------

export const SERVE: CommandSpec = {
  name: 'serve',
  usage: `usage: quorumbl serve [--config FILE] [--replica-of HOST[:PORT] [--tsig [ALGORITHM:]NAME:SECRET]]
  runs the DNS server, the source sync, the merge and the web listener.
  FILE: the YAML config (default: $QUORUMBL_CONFIG, else the embedded data/default.yaml).
  --replica-of: replica mode: serve copies of that primary's zones, kept current by zone
    transfers (no sync, no merge, no console); the config's replica: section says which zones.
  --tsig: the key the transfers are signed with, as dig -y writes it (default hmac-sha256).`,
  options: { 'replica-of': { type: 'string' }, tsig: { type: 'string' } },
};

/** `quorumbl serve` flags: { config } (undefined: QUORUMBL_CONFIG or the embedded default,
 *  which loadConfig picks), and the replica flags. Throws ArgsError / HelpRequest like every command. */
export function parseServeArgs(args: string[]): { config: string | undefined; replicaOf?: string; tsig?: string } {
  const p = parseCommand(SERVE, args);
  const replicaOf = p.values['replica-of'] as string | undefined;
  const tsig = p.values.tsig as string | undefined;
  if (tsig !== undefined && replicaOf === undefined) throw new ArgsError(SERVE, '--tsig needs --replica-of');
  const hp = replicaOf === undefined ? null : parseHostPort(replicaOf);
  if (typeof hp === 'string') throw new ArgsError(SERVE, `--replica-of: ${hp}`);
  const key = tsig === undefined ? null : parseTsigSpec(tsig);
  if (typeof key === 'string') throw new ArgsError(SERVE, `--tsig: ${key}`);
  return { config: p.config, ...(replicaOf !== undefined ? { replicaOf } : {}), ...(tsig !== undefined ? { tsig } : {}) };
}
