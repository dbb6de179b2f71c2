// The `quorumbl` command: dispatches to serve, check-config and the rbldnsd drop-in.

import { readFileSync } from 'node:fs';
import { packagePath } from '../core/package-root.ts';
import { createLogger } from '../core/log.ts';
import { ConfigError, loadConfig, configPath, DEFAULT_CONFIG } from '../core/config/load.ts';
import { datasetType } from '../core/datasets/index.ts';
import { loadDataset, LoadError } from '../core/rbldnsd/reader.ts';
import { parseRbldnsdArgs, resolveBind, UsageError, RBLDNSD_USAGE } from './rbldnsd-args.ts';
import { ArgsError, HelpRequest, argsErrorText, parseCommand, SERVE, type CommandSpec } from './args.ts';
import { claimForServe, commandConfig } from './config.ts';
import { ForeignState, configFlag, recordConfigUse } from './state-owner.ts';
import { STATUS, statusCommand } from './status.ts';
import { run, StartupError } from './runtime.ts';
import { syncCommand, dbPath, withResolvedPaths, DEFAULT_WAIT_SECONDS, EXIT_BUSY } from './sync.ts';
import { DbError } from '../core/db.ts';
import { OVERRIDE, overrideCommand } from './override.ts';
import { REPORT, reportCommand } from './report.ts';
import { TOKEN, tokenCommand } from './token.ts';
import { EXPLAIN, explainCommand } from './explain.ts';
import { EXPORT, exportCommand } from './export.ts';
import { SOURCES, sourcesCommand } from './sources.ts';
import { PROVIDERS, providersCommand } from './providers.ts';
import { COLLISIONS, collisionsCommand } from './collisions.ts';
import { BACKUP, RESTORE, backupCommand, restoreCommand } from './backup.ts';
import type { LoadSettings, ZoneSpec } from '../core/zones/spec.ts';
import { VERSION } from './version.ts';
import { specFromConfig } from './spec.ts';
import { serve } from './serve.ts';
import { RELOAD, reloadCommand } from './reload.ts';

const HELP = `quorumbl ${VERSION} - DNSBL mirror and reputation aggregator

Usage: quorumbl <command> [options]

Commands:
  serve [--config FILE]        run the DNS server (default config: ${DEFAULT_CONFIG})
  status [--config FILE] [--json]
                               what the dashboard shows: zones answering or SERVFAIL,
                               sources, provider feeds, the merge, alerts with what to do
  reload [--config FILE] [--wait [--timeout S]]
                               the running serve re-reads its config file (SIGHUP);
                               --wait: exit 1 with the errors when it refused it
  check-config [FILE]          validate a config file without serving; lists its zones
  sync [--config FILE] [--no-wait | --wait SECONDS] [NAME...]
                               fetch upstream sources now (all, or the named ones);
                               exit 1 when any failed or was quarantined; a source
                               another process is syncing is waited for (default
                               ${DEFAULT_WAIT_SECONDS} s), exit ${EXIT_BUSY} when it is still busy
  sources [--config FILE] [--json]
                               sync state of every source
  sources accept|drop NAME     promote or delete a quarantined update
  providers [--config FILE] [--json]
                               provider range feeds: origin (fetched, baseline, static),
                               ranges, age, last check and error, stale (older than max_age)
  collisions [--config FILE] [--json] [--samples N]
                               listed keys of each source inside each provider feed's
                               ranges (exempted), samples, sharp-rise alerts
  explain KEY [--json]         why an IP or domain is, or is not, in bl/wl/dbl
  export --format rbldnsd|zonefile [--out FILE|DIR] [ZONE...]
                               the zones as rbldnsd data files or RFC 1035 zone files
                               (for rbldnsd fleets fed by rsync, any DNS server)
  override add allow|deny KEY --reason R [--expires 2d|ISO] [--author A] [--force]
  override list [--json] | rm ID | expire ID 2d|ISO|never
                               manual allow/deny of an IP, CIDR, domain or *.domain
  report KEY --kind spam|trap|ham|false-positive [--weight W] [--reporter R]
                               record local reputation evidence
  token create --name N --scope reports|overrides|admin | list | revoke N
                               API tokens (shown once, stored hashed)
  backup FILE [--wait SECONDS] online copy of the state database, source copies, provider
                               and merge state and the config into FILE (.tar, .tar.gz)
  restore FILE [--dry-run]     put a backup back (serve stopped); the old state is kept
                               as <state_dir>.before-restore-<time>
  (all take --config FILE; default: $QUORUMBL_CONFIG, else the embedded config)
  rbldnsd [rbldnsd options] zone:type:file[,file...]...
                               drop-in for rbldnsd: same options and data files
                               (-n -b addr[/port] -w dir -t def:min:max -c int -e -q
                                -l file -s file -p file -u user -a -A -v -C -d -4 -6)
  help [COMMAND]               this text, or one command's usage (also COMMAND --help)

Relative paths in a config resolve from the config file's folder.
Environment: QUORUMBL_CONFIG names the config file (--config wins over it);
QUORUMBL_<KEY> overrides a config key, "__" between levels
(e.g. QUORUMBL_SERVER__LISTEN=127.0.0.1:5353, QUORUMBL_LOG__LEVEL=debug).
Signals: SIGHUP re-reads the config file (serve) and re-checks data files now; SIGUSR1 logs query counters (SIGUSR2 also resets).`;

function fail(msg: string, code = 1): never {
  process.stderr.write(msg.endsWith('\n') ? msg : msg + '\n');
  process.exit(code);
}

const SYNC: CommandSpec = {
  name: 'sync', positionals: [0, Infinity], options: { 'no-wait': { type: 'boolean' }, wait: { type: 'string' } },
  usage: `usage: quorumbl sync [--config FILE] [--no-wait | --wait SECONDS] [NAME...]
  fetches the sources now (all, or the named ones); exit 1 when any failed or was quarantined;
  a source another process is syncing is waited for (default ${DEFAULT_WAIT_SECONDS} s), exit ${EXIT_BUSY} when it stays busy.`,
};

async function sync(args: string[]): Promise<number> {
  const { values, positionals, config } = parseCommand(SYNC, args);
  let wait = DEFAULT_WAIT_SECONDS;
  if (values.wait !== undefined) {
    const w = String(values.wait);
    if (!/^\d+$/.test(w)) throw new ArgsError(SYNC, `--wait takes a number of seconds, not "${w}"`);
    if (values['no-wait']) throw new ArgsError(SYNC, '--wait and --no-wait exclude each other');
    wait = Number(w);
  }
  if (values['no-wait']) wait = 0;
  const { cfg, stateDir } = commandConfig(config, 'sync');
  const spec = specFromConfig(cfg);
  const log = createLogger(cfg.config.log.level, false);
  recordConfigUse(stateDir, cfg, 'sync');
  return syncCommand(positionals, cfg, stateDir, spec.settings, log, wait);
}

/** Commands on the local state: overrides, reputation reports, API tokens, explain. */
/** Commands on the local state. Each module parses its own arguments with its spec (cli/args.ts);
 *  the first parse here only finds --config (a flag mistake is the same ArgsError either way). */
async function local(cmd: string, args: string[]): Promise<number> {
  const spec = { override: OVERRIDE, report: REPORT, token: TOKEN, explain: EXPLAIN, export: EXPORT }[cmd as 'override']!;
  let config: string | undefined;
  try {
    config = parseCommand(spec, args).config;
  } catch (e) {
    if (cmd === 'explain' || cmd === 'export' || !(e instanceof ArgsError || e instanceof HelpRequest)) throw e;
    // override/report/token print their own usage (exit 2; --help: exit 0) and open nothing
    return cmd === 'override' ? overrideCommand(args, { dbPath: '' }) : cmd === 'report' ? reportCommand(args, { dbPath: '' }) : tokenCommand(args, { dbPath: '' });
  }
  const { cfg, stateDir } = commandConfig(config, cmd);
  const ctx = { dbPath: dbPath(stateDir) };
  switch (cmd) {
    case 'override': return overrideCommand(args, { ...ctx, limits: cfg.config.policy.override_limits });
    case 'report': return reportCommand(args, { ...ctx, reputation: cfg.config.policy.reputation });
    case 'token': return tokenCommand(args, ctx);
    case 'export': return exportCommand(args, cfg, specFromConfig(cfg));
    default: return explainCommand(args, cfg, specFromConfig(cfg));
  }
}

async function sources(args: string[]): Promise<number> {
  const { config } = parseCommand(SOURCES, args);
  const { cfg, stateDir } = commandConfig(config, 'sources');
  return sourcesCommand(args, { dbPath: dbPath(stateDir), stateDir, sources: cfg.config.sources, configFlag: configFlag(cfg) });
}

function providers(args: string[]): number {
  const { config } = parseCommand(PROVIDERS, args);
  const { cfg, stateDir } = commandConfig(config, 'providers');
  return providersCommand(args, { stateDir, providers: withResolvedPaths(cfg).providers });
}

function collisions(args: string[]): number {
  const { config } = parseCommand(COLLISIONS, args);
  const { cfg, stateDir } = commandConfig(config, 'collisions');
  return collisionsCommand(args, { stateDir, dbPath: dbPath(stateDir), configFlag: configFlag(cfg) });
}

const CHECK_CONFIG: CommandSpec = {
  name: 'check-config', positionals: [0, 1], options: {},
  usage: `usage: quorumbl check-config [FILE | --config FILE]
  validates a config (default: $QUORUMBL_CONFIG, else the embedded one) without serving: every
  error names the key and FILE:LINE; the zones it would serve are listed.`,
};

function checkConfig(args: string[]): void {
  const { positionals, config } = parseCommand(CHECK_CONFIG, args);
  if (positionals[0] !== undefined && config !== undefined) throw new ArgsError(CHECK_CONFIG, 'give FILE or --config FILE, not both');
  const cfg = loadConfig(positionals[0] ?? config);
  const missing = cfg.config.zones.flatMap((z) =>
    z.datasets.flatMap((d) => d.files.map((f) => configPath(cfg, f)).filter((f) => {
      try {
        readFileSync(f, { flag: 'r' }).length;
        return false;
      } catch {
        return true;
      }
    }).map((f) => `zone ${z.name}: data file ${f} cannot be read`)),
  );
  if (missing.length) fail(`${cfg.file}: ${missing.join('\n')}`);
  // What serve answers for: the configured zones, one mirror per source, and bl/wl/dbl.
  const groups: [string, string[]][] = [
    ['configured', cfg.config.zones.map((z) => z.name)],
    ['mirrors', cfg.config.sources.map((s) => `${s.name}.mirror.${cfg.config.base}`)],
    ['merged', ['bl', 'wl', 'dbl'].map((z) => `${z}.${cfg.config.base}`)],
  ];
  const total = groups.reduce((n, [, g]) => n + g.length, 0);
  process.stdout.write(`ok: ${cfg.file} (${total} zones)\n` +
    groups.filter(([, g]) => g.length).map(([what, g]) => `  ${`${what}:`.padEnd(12)}${g.join(', ')}\n`).join(''));
}

async function rbldnsd(args: string[]): Promise<void> {
  const a = parseRbldnsdArgs(args);
  const settings: LoadSettings = { ttl: a.ttl, acceptHostBits: a.acceptHostBits, gunzip: a.gunzip };
  if (a.dump) return dump(a.zones, settings);
  const listen = (await Promise.all(a.binds.map((b) => resolveBind(b, a.family)))).flat();
  const log = createLogger(process.env.QUORUMBL_LOG__LEVEL ?? 'info');
  if (a.ignored.length) log.info({ options: a.ignored }, 'options accepted for compatibility, no effect');
  await run(
    {
      zones: a.zones,
      settings,
      server: {
        listen,
        tcp: { enabled: true, idleTimeoutMs: 10_000, maxConnections: 256 },
        maxUdpPayload: 4096,
        allowQuery: null,
        lazy: a.lazy,
        version: a.hideVersion === 0 ? 'version' : a.hideVersion === 1 ? 'hide' : 'refuse',
        // -v answers the first word only: "rbldnsd", as rbldnsd -v does.
        versionText: `rbldnsd (quorumbl ${VERSION})`,
        skipMisplacedOpt: true, // rbldnsd answers a query with an OPT in its authority section
      },
      checkInterval: a.checkInterval,
      stateDir: process.env.QUORUMBL_STATE_DIR,
      quick: a.quick,
      queryLog: a.queryLog,
      statsFile: a.statsFile,
      pidFile: a.pidFile,
      user: a.user,
    },
    log,
  );
}

/** rbldnsd -d: the zones in BIND master-file format on stdout. */
function dump(zones: ZoneSpec[], settings: LoadSettings): void {
  const out: string[] = [];
  for (const z of zones) {
    for (const d of z.datasets) {
      if (d.type === 'acl') continue; // not data: rbldnsd leaves ACLs out of the dump
      const r = loadDataset(datasetType(d.type)!, d.files, {
        ...settings,
        warn: (at, msg) => process.stderr.write(`${at.file}:${at.line}: ${msg}\n`),
      });
      out.push(`$ORIGIN ${z.name}.`);
      r.dataset.dump(z.name, (line) => out.push(line));
    }
  }
  process.stdout.write(out.join('\n') + '\n');
}

const HELP_SPEC: CommandSpec = { name: 'help', usage: 'usage: quorumbl help [COMMAND]', options: {}, positionals: [0, 1], config: false };

/** `quorumbl help [COMMAND]`: the overview, or one command's usage. */
function help(args: string[]): void {
  const { positionals: [name] } = parseCommand(HELP_SPEC, args);
  if (name === undefined) return void process.stdout.write(HELP + '\n');
  if (name === 'rbldnsd') return void process.stdout.write(RBLDNSD_USAGE + '\n');
  const spec = [SERVE, STATUS, CHECK_CONFIG, SYNC, SOURCES, PROVIDERS, COLLISIONS, EXPLAIN, EXPORT, OVERRIDE, REPORT, TOKEN, BACKUP, RESTORE, RELOAD, HELP_SPEC].find((s) => s.name === name);
  if (!spec) throw new ArgsError(HELP_SPEC, `no command "${name}" (quorumbl help lists them)`);
  process.stdout.write(spec.usage + '\n');
}

async function main(argv: string[]): Promise<void> {
  const [cmd, ...rest] = argv;
  try {
    switch (cmd) {
      // flags, config and the state directory's record first (cli/config.ts); then serve
      case 'serve': claimForServe(rest); return await serve(rest);
      case 'status': process.exitCode = await statusCommand(rest); return;
      case 'reload': process.exitCode = await reloadCommand(rest); return;
      case 'check-config': return checkConfig(rest);
      case 'rbldnsd': return await rbldnsd(rest);
      case 'sync': process.exitCode = await sync(rest); return;
      case 'sources': process.exitCode = await sources(rest); return;
      case 'providers': process.exitCode = providers(rest); return;
      case 'collisions': process.exitCode = collisions(rest); return;
      case 'backup': process.exitCode = await backupCommand(rest, { version: VERSION }); return;
      case 'restore': process.exitCode = await restoreCommand(rest); return;
      case 'override': case 'report': case 'token': case 'explain': case 'export': process.exitCode = await local(cmd, rest); return;
      case undefined: case '--help': case '-h':
        process.stdout.write(HELP + '\n');
        return;
      case 'help': return help(rest);
      case '--config': case '-c':
        fail(`quorumbl: --config goes after the command: quorumbl <command> --config FILE ...\n(or set QUORUMBL_CONFIG=FILE)`, 2);
      default:
        fail(`unknown command "${cmd}"\n\n${HELP}`, 2);
    }
  } catch (e) {
    if (e instanceof HelpRequest) {
      process.stdout.write(e.spec.usage + '\n');
      return;
    }
    if (e instanceof ArgsError) fail(argsErrorText(e), 2);
    if (e instanceof ForeignState) fail(e.message, 2);
    if (e instanceof UsageError) {
      if (e.message === 'help') {
        process.stdout.write(RBLDNSD_USAGE + '\n');
        return;
      }
      fail(`quorumbl rbldnsd: ${e.message}\n${RBLDNSD_USAGE}`, 2);
    }
    if (e instanceof ConfigError) fail(`invalid config:\n${e.problems.map((p) => `  ${p}`).join('\n')}`);
    if (e instanceof StartupError || e instanceof LoadError || e instanceof DbError) fail(e.message);
    throw e;
  }
}

await main(process.argv.slice(2));
