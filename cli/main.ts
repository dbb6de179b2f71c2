// The `quorumbl` command: dispatches to serve, check-config and the rbldnsd drop-in.

import { parseArgs } from 'node:util';
import { readFileSync } from 'node:fs';
import { createLogger } from '../core/log.ts';
import { ConfigError, loadConfig, configPath, DEFAULT_CONFIG } from '../core/config/load.ts';
import { datasetType } from '../core/datasets/index.ts';
import { loadDataset, LoadError } from '../core/rbldnsd/reader.ts';
import { parseRbldnsdArgs, resolveBind, UsageError } from './rbldnsd-args.ts';
import { run, StartupError } from './runtime.ts';
import { syncCommand, dbPath, withResolvedPaths, DEFAULT_WAIT_SECONDS, EXIT_BUSY } from './sync.ts';
import { DbError } from '../core/db.ts';
import { overrideCommand } from './override.ts';
import { reportCommand } from './report.ts';
import { tokenCommand } from './token.ts';
import { explainCommand } from './explain.ts';
import { sourcesCommand } from './sources.ts';
import { providersCommand } from './providers.ts';
import { collisionsCommand } from './collisions.ts';
import type { LoadSettings, ZoneSpec } from '../core/zones/spec.ts';
import { VERSION } from './version.ts';
import { specFromConfig } from './spec.ts';
import { serve } from './serve.ts';
import { reloadCommand } from './reload.ts';

const HELP = `quorumbl ${VERSION} - DNSBL mirror and reputation aggregator

Usage: quorumbl <command> [options]

Commands:
  serve [--config FILE]        run the DNS server (default config: ${DEFAULT_CONFIG})
  reload [--config FILE] [--wait [--timeout S]]
                               the running serve re-reads its config file (SIGHUP);
                               --wait: exit 1 with the errors when it refused it
  check-config FILE            validate a config file without serving
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
  override add allow|deny KEY --reason R [--expires 2d|ISO] [--author A] [--force]
  override list [--json] | rm ID | expire ID 2d|ISO|never
                               manual allow/deny of an IP, CIDR, domain or *.domain
  report KEY --kind spam|trap|ham|false-positive [--weight W] [--reporter R]
                               record local reputation evidence
  token create --name N --scope reports|overrides|admin | list | revoke N
                               API tokens (shown once, stored hashed)
  (all take --config FILE; default: the embedded config)
  rbldnsd [rbldnsd options] zone:type:file[,file...]...
                               drop-in for rbldnsd: same options and data files
                               (-n -b addr[/port] -w dir -t def:min:max -c int -e -q
                                -l file -s file -p file -u user -a -A -v -C -d -4 -6)
  help                         this text

Environment: QUORUMBL_<KEY> overrides a config key, "__" between levels
(e.g. QUORUMBL_SERVER__LISTEN=127.0.0.1:5353, QUORUMBL_LOG__LEVEL=debug).
Signals: SIGHUP re-reads the config file (serve) and re-checks data files now; SIGUSR1 logs query counters (SIGUSR2 also resets).`;

function fail(msg: string, code = 1): never {
  process.stderr.write(msg.endsWith('\n') ? msg : msg + '\n');
  process.exit(code);
}

async function sync(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: {
    config: { type: 'string', short: 'c' }, 'no-wait': { type: 'boolean' }, wait: { type: 'string' } } });
  let wait = DEFAULT_WAIT_SECONDS;
  if (values.wait !== undefined) {
    wait = Number(values.wait);
    if (!/^\d+$/.test(values.wait)) fail(`quorumbl sync: --wait takes a number of seconds, not "${values.wait}"`, 2);
  }
  if (values['no-wait']) wait = 0;
  const cfg = loadConfig(values.config);
  const spec = specFromConfig(cfg);
  const log = createLogger(cfg.config.log.level, false);
  return syncCommand(positionals, cfg, spec.stateDir!, spec.settings, log, wait);
}

/** Commands on the local state: overrides, reputation reports, API tokens, explain. */
async function local(cmd: string, args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, strict: false, options: { config: { type: 'string', short: 'c' } } });
  const cfg = loadConfig(values.config as string | undefined);
  const stateDir = configPath(cfg, cfg.config.state_dir);
  const rest = args.filter((a, i) => a !== '--config' && a !== '-c' && args[i - 1] !== '--config' && args[i - 1] !== '-c');
  void positionals;
  const ctx = { dbPath: dbPath(stateDir) };
  switch (cmd) {
    case 'override': return overrideCommand(rest, { ...ctx, limits: cfg.config.policy.override_limits });
    case 'report': return reportCommand(rest, { ...ctx, reputation: cfg.config.policy.reputation });
    case 'token': return tokenCommand(rest, ctx);
    default: return explainCommand(rest, cfg, specFromConfig(cfg));
  }
}

async function sources(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { config: { type: 'string', short: 'c' }, json: { type: 'boolean' } } });
  const cfg = loadConfig(values.config);
  const stateDir = configPath(cfg, cfg.config.state_dir);
  return sourcesCommand([...positionals, ...(values.json ? ['--json'] : [])], { dbPath: dbPath(stateDir), stateDir, sources: cfg.config.sources });
}

function providers(args: string[]): number {
  const { values } = parseArgs({ args, options: { config: { type: 'string', short: 'c' }, json: { type: 'boolean' } } });
  const cfg = loadConfig(values.config);
  return providersCommand(values.json ? ['--json'] : [], { stateDir: configPath(cfg, cfg.config.state_dir), providers: withResolvedPaths(cfg).providers });
}

function collisions(args: string[]): number {
  const { values } = parseArgs({ args, options: { config: { type: 'string', short: 'c' }, json: { type: 'boolean' }, samples: { type: 'string' } } });
  const cfg = loadConfig(values.config);
  const stateDir = configPath(cfg, cfg.config.state_dir);
  return collisionsCommand([...(values.json ? ['--json'] : []), ...(values.samples !== undefined ? ['--samples', values.samples] : [])], { stateDir, dbPath: dbPath(stateDir) });
}

function checkConfig(args: string[]): void {
  const file = args[0];
  if (!file) fail('usage: quorumbl check-config FILE', 2);
  const cfg = loadConfig(file);
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
  process.stdout.write(`ok: ${cfg.file} (${cfg.config.zones.length} zones)\n`);
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

async function main(argv: string[]): Promise<void> {
  const [cmd, ...rest] = argv;
  try {
    switch (cmd) {
      case 'serve': return await serve(rest);
      case 'reload': process.exitCode = await reloadCommand(rest); return;
      case 'check-config': return checkConfig(rest);
      case 'rbldnsd': return await rbldnsd(rest);
      case 'sync': process.exitCode = await sync(rest); return;
      case 'sources': process.exitCode = await sources(rest); return;
      case 'providers': process.exitCode = providers(rest); return;
      case 'collisions': process.exitCode = collisions(rest); return;
      case 'override': case 'report': case 'token': case 'explain': process.exitCode = await local(cmd, rest); return;
      case undefined: case 'help': case '--help': case '-h':
        process.stdout.write(HELP + '\n');
        return;
      default:
        fail(`unknown command "${cmd}"\n\n${HELP}`, 2);
    }
  } catch (e) {
    if (e instanceof UsageError) fail(e.message === 'help' ? HELP : `quorumbl rbldnsd: ${e.message}`, 2);
    if (e instanceof ConfigError) fail(`invalid config:\n${e.problems.map((p) => `  ${p}`).join('\n')}`);
    if (e instanceof StartupError || e instanceof LoadError || e instanceof DbError) fail(e.message);
    throw e;
  }
}

await main(process.argv.slice(2));
