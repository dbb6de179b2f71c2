// The `quorumbl` command: dispatches to serve, check-config and the rbldnsd drop-in.

import { parseArgs } from 'node:util';
import { readFileSync } from 'node:fs';
import { packagePath } from '../core/package-root.ts';
import { createLogger } from '../core/log.ts';
import { ConfigError, loadConfig, configPath, DEFAULT_CONFIG } from '../core/config/load.ts';
import { datasetType } from '../core/datasets/index.ts';
import { loadDataset, LoadError } from '../core/rbldnsd/reader.ts';
import { parseRbldnsdArgs, resolveBind, UsageError } from './rbldnsd-args.ts';
import { run, StartupError, type RuntimeSpec } from './runtime.ts';
import type { LoadedConfig } from '../core/config/load.ts';
import { mirrorZones, setupSync, syncCommand, dbPath, ownSoa, ownNs, withResolvedPaths, DEFAULT_WAIT_SECONDS, EXIT_BUSY } from './sync.ts';
import { MergeService } from '../sync/merge-service.ts';
import { LocalStore } from '../sync/local/store.ts';
import { DbError, openDb, readOnlyReason } from '../core/db.ts';
import { DiskHealth } from '../core/disk-health.ts';
import { cleanPartials } from '../sync/cleanup.ts';
import { SyncLeases } from '../sync/lease.ts';
import { createApp } from '../web/app.ts';
import { startWeb } from '../web/server.ts';
import { publicApp, type PublicOptions } from '../web/public/routes.tsx';
import { Removals } from '../sync/local/removals.ts';
import { createMetricsRegistry } from '../web/metrics/collect.ts';
import { sourceMetricsOf } from '../web/metrics/sources.ts';
import { dashSourcesOf } from '../web/console/dashboard-data.ts';
import type { LoadedZone } from '../core/zones/store.ts';
import { bootstrapAdmin } from '../web/console/bootstrap.ts';
import { Users } from '../sync/local/users.ts';
import { overrideCommand } from './override.ts';
import { reportCommand } from './report.ts';
import { tokenCommand } from './token.ts';
import { explainCommand, recentEvents } from './explain.ts';
import { sourcesCommand } from './sources.ts';
import { providersCommand } from './providers.ts';
import { collisionsCommand } from './collisions.ts';
import { SyncScheduler } from '../sync/scheduler.ts';
import { SourcesService } from '../sync/sources-service.ts';
import { SyncStateWatch } from '../sync/watch.ts';
import { job, jobFailed, jobsHealth } from '../core/jobs.ts';
import type { LoadSettings, ZoneSpec } from '../core/zones/spec.ts';

const VERSION = (JSON.parse(readFileSync(packagePath('package.json'), 'utf8')) as { version: string }).version;

const HELP = `quorumbl ${VERSION} - DNSBL mirror and reputation aggregator

Usage: quorumbl <command> [options]

Commands:
  serve [--config FILE]        run the DNS server (default config: ${DEFAULT_CONFIG})
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
Signals: SIGHUP re-checks data files now; SIGUSR1 logs query counters (SIGUSR2 also resets).`;

function fail(msg: string, code = 1): never {
  process.stderr.write(msg.endsWith('\n') ? msg : msg + '\n');
  process.exit(code);
}

function specFromConfig(cfg: LoadedConfig): RuntimeSpec {
  const c = cfg.config;
  const stateDir = configPath(cfg, c.state_dir);
  const zones: ZoneSpec[] = c.zones.map((z) => ({
    name: z.name,
    datasets: z.datasets.map((d) => ({ type: d.type, files: d.files.map((f) => configPath(cfg, f)) })),
  }));
  zones.push(...mirrorZones(cfg, stateDir));
  return {
    zones,
    settings: { ttl: { def: c.ttl.default, min: c.ttl.min, max: c.ttl.max }, acceptHostBits: c.load.accept_host_bits, gunzip: c.load.gunzip },
    server: {
      listen: c.server.listen,
      tcp: {
        enabled: c.server.tcp.enabled, idleTimeoutMs: c.server.tcp.idle_timeout * 1000, maxConnections: c.server.tcp.max_connections,
        perClient: c.server.tcp.per_client, messageTimeoutMs: c.server.tcp.message_timeout * 1000,
        maxPendingBytes: c.server.tcp.max_pending_bytes, drainTimeoutMs: c.server.tcp.drain_timeout * 1000,
      },
      maxUdpPayload: c.server.max_udp_payload,
      rrl: {
        enabled: c.server.rrl.enabled, responsesPerSecond: c.server.rrl.responses_per_second,
        nxdomainsPerSecond: c.server.rrl.nxdomains_per_second, errorsPerSecond: c.server.rrl.errors_per_second,
        slip: c.server.rrl.slip, ipv4Prefix: c.server.rrl.ipv4_prefix, ipv6Prefix: c.server.rrl.ipv6_prefix,
        tableSize: c.server.rrl.table_size, exempt: c.server.rrl.exempt,
      },
      allowQuery: c.server.allow_query,
      lazy: c.server.lazy_ns,
      version: c.server.version,
      versionText: `quorumbl ${VERSION}`,
    },
    checkInterval: c.reload.check_interval,
    cpuShare: c.background.cpu_share,
    stateDir,
    quick: false,
    queryLog: c.server.query_log === null ? undefined : c.server.query_log === '-' ? '-' : configPath(cfg, c.server.query_log),
  };
}

async function serve(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { config: { type: 'string', short: 'c' } } });
  const cfg = loadConfig(values.config);
  const log = createLogger(cfg.config.log.level);
  log.info({ config: cfg.file }, `quorumbl ${VERSION} starting`);
  const spec = specFromConfig(cfg);
  let merge: MergeService | undefined;
  // Every reload (a new mirror copy included) re-runs the merge, debounced.
  let loadedZones: readonly LoadedZone[] = []; // entries per zone for the console's dashboard
  spec.onZonesChanged = (zones) => {
    loadedZones = zones;
    merge?.schedule();
  };
  // Disk trouble (full, read-only, I/O errors) never stops DNS: it is watched, writes are
  // refused while it lasts, and leftovers of interrupted jobs go before anything loads.
  const startedAt = Date.now();
  const disk = new DiskHealth({ dir: spec.stateDir!, dbPath: dbPath(spec.stateDir!), log });
  if (disk.probe() === 'writable') {
    // A `quorumbl sync` running from a shell holds its source's lease: its staging files are live.
    try {
      const leaseDb = openDb(dbPath(spec.stateDir!));
      try {
        const leases = new SyncLeases(leaseDb);
        cleanPartials(spec.stateDir!, { log, isBusy: (source) => leases.holderOf(source) !== null });
      } finally {
        leaseDb.close();
      }
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'leftover partial files not removed (the state database cannot be read)');
    }
  }
  const c = cfg.config;
  const stateDir = spec.stateDir!;
  const sources = c.sources;
  let syncSetup!: ReturnType<typeof setupSync>;
  let local!: LocalStore;
  let localDb!: ReturnType<typeof openDb>;
  // bl/wl/dbl with their overlay are in the zone table before the listeners open: the evidence
  // the last merge persisted answers the first packet (sync/merge/persist.ts).
  spec.beforeListen = (store) => {
    // A new last good copy is picked up at once, not at the next file check.
    syncSetup = setupSync(cfg, stateDir, spec.settings, log, job('reload:synced', () => store.check()), undefined, c.background.cpu_share, disk);
    const mirrors = mirrorZones(cfg, stateDir);
    const m = new MergeService({
      config: withResolvedPaths(cfg),
      stateDir,
      store,
      sourceSpecs: new Map(sources.map((s, i) => [s.name, mirrors[i]!.datasets[0]!])),
      state: syncSetup.state,
      log,
      soa: mirrors[0]?.soa ?? ownSoa(cfg),
      ns: mirrors[0]?.ns ?? ownNs(cfg),
      persist: true,
    });
    // Overrides and reputation: an overlay swapped into the merged zones synchronously, so an
    // override is in the next DNS answer; changes from other processes (the CLI) within a second.
    localDb = openDb(dbPath(stateDir), { readOnlyFallback: true });
    const ro = readOnlyReason(localDb);
    if (ro) disk.pinReadOnly(ro.code, `state database ${ro.why}`);
    local = new LocalStore(localDb, {
      reputation: c.policy.reputation,
      overrideLimits: c.policy.override_limits,
      onChange: (o) => m.setOverlay(o),
      onError: (e) => {
        jobFailed('overlay-reload', e);
        log.error({ err: (e as Error).message }, 'overrides/reputation reload failed');
      },
      disk,
    });
    m.setOverlay(local.overlay);
    m.useCollisionHistory(localDb);
    m.restore();
    m.publish(); // before `merge` is set: this publication asks for no merge (start() runs it)
    merge = m;
  };
  const { server, store } = await run(spec, log);
  const { engine, state } = syncSetup;
  // Built here so the API and the console can ask it for a "sync now"; started after the merge.
  const scheduler = sources.length && c.sync.enabled ? new SyncScheduler(sources, { engine, state, log }) : undefined;
  if (!merge) throw new Error('merge service not set up before listening');
  // The probe's database write: the header's user_version, rewritten with its own value.
  const uv = () => localDb.pragma('user_version', { simple: true }) as number;
  disk.sqliteProbe = () => void localDb.pragma(`user_version = ${uv() | 0}`);
  disk.start();
  // Polls PRAGMA data_version (no query unless another process committed): an override or a
  // report from the CLI is in the answers well within a second.
  local.watch(250);
  // `quorumbl sync` / `sources accept` from a shell replace a source's last good copy: reload
  // it (the merge follows) without waiting for the next file check or a SIGHUP.
  new SyncStateWatch(state, {
    onChange: (names) => {
      log.info({ sources: names }, 'sources changed by another process: reloading');
      void job('reload:sources', () => store.check())();
    },
    onError: (e) => {
      jobFailed('sync-state-watch', e);
      log.error({ err: (e as Error).message }, 'sync state not read');
    },
  }).start();
  merge.events = (key) => recentEvents(local, key);
  if (c.web.enabled) {
    // The public lookup page (web.public): its own listener, or under its prefix on web.listen.
    const pub = c.web.public;
    const removals = new Removals(local, { perClientHour: pub.requests_per_hour, globalHour: pub.requests_per_hour_total, maxMessage: pub.message_max, openPerKey: pub.open_per_key });
    const publicOptions: PublicOptions | undefined = !pub.enabled ? undefined : {
      prefix: pub.prefix, explain: (key) => merge!.explain(key), removals, tls: c.web.tls, trustProxy: pub.trust_proxy ?? c.web.trust_proxy,
      lookupsPerMinute: pub.lookups_per_minute, canWrite: () => disk.writable, onError: (e) => log.error({ err: (e as Error).message }, 'public page error'),
    };
    const app = createApp({
      version: VERSION,
      store: local, explain: (key) => merge!.explain(key), providers: () => merge!.providerStates(), collisionReport: () => merge!.collisionReport(), onError: (e) => log.error({ err: (e as Error).message }, 'API error'),
      disk,
      sources: {
        service: new SourcesService(localDb, { stateDir, sources, command: (d, n) => `quorumbl serve (${d} ${n})` }),
        syncNow: scheduler && ((name, actor) => scheduler.requestNow(name, actor)),
      },
      health: {
        startedAt,
        dns: () => ({ listening: server.addresses.length > 0, addresses: server.addresses.map((a) => `${a.proto}/${a.address.includes(':') ? `[${a.address}]` : a.address}:${a.port}`) }),
        zones: () => ({ served: store.published.length, failed: store.published.filter((z) => z.failed).map((z) => z.name) }),
        disk: () => disk.status(),
        jobs: jobsHealth,
      },
      metrics: !c.web.metrics.enabled ? undefined : {
        token: c.web.metrics.token,
        registry: createMetricsRegistry({
          dns: () => server.counters, zones: () => store.published, mergedZones: () => merge!.zoneNames, merge: () => merge!.status,
          sources: () => sourceMetricsOf(state, sources.map((s) => s.name)), providers: () => merge!.providerStates(),
          overrides: () => local.overlay.overrides, jobs: jobsHealth, disk: () => disk.status(),
          collisions: () => merge!.collisionCounts(),
          onError: (metric, e) => log.warn({ metric, err: (e as Error).message }, 'metric not read'),
        }),
      },
      console: {
        tls: c.web.tls, trustProxy: c.web.trust_proxy, canWrite: () => disk.writable,
        explain: (key) => merge!.explain(key),
        onTouchError: (e) => void (disk.report(e) || log.warn({ err: (e as Error).message }, 'session use not recorded')),
        logFailure: (f) => log.warn(f, f.throttled ? 'console sign-in throttled' : 'console sign-in failed'),
        dashboard: {
          dns: () => server.counters, merge: () => merge!.status, providers: () => merge!.providerStates(),
          providerRanges: () => merge!.providerRanges(), collisions: () => merge!.collisionReport(), disk: () => disk.status(), jobs: jobsHealth,
          zones: () => {
            const sizes = new Map(loadedZones.map((z) => [z.name, z.datasets.reduce((n, d) => n + d.size, 0)]));
            return store.published.map((z) => ({ ...z, entries: sizes.get(z.name) ?? null }));
          },
          sources: () => dashSourcesOf(state, sources),
          removals: () => removals.openCount(),
        },
      },
      public: pub.listen ? undefined : publicOptions,
    });
    // The first start creates the console's `admin` (web/console/bootstrap.ts).
    await bootstrapAdmin(new Users(localDb), process.env, log).catch((err) => log.error({ err: (err as Error).message }, 'console admin not created'));
    // DNS matters more than the API: a busy port is logged, DNS keeps answering.
    await startWeb({ app, listen: c.web.listen }).then(
      () => log.info({ listen: c.web.listen }, 'REST API listening'),
      (err) => log.error({ listen: c.web.listen, err: (err as Error).message }, 'REST API not started'),
    );
    if (publicOptions && pub.listen) {
      await startWeb({ app: publicApp(publicOptions), listen: pub.listen, timeouts: { headersMs: 10_000, requestMs: 30_000 } }).then(
        () => log.info({ listen: pub.listen, prefix: pub.prefix }, 'public lookup page listening'),
        (err) => log.error({ listen: pub.listen, err: (err as Error).message }, 'public lookup page not started'),
      );
    } else if (publicOptions) log.info({ prefix: pub.prefix }, 'public lookup page served under its prefix');
  }
  await merge.start();
  log.info({ zones: merge.zoneNames }, 'merged zones served');
  if (scheduler) {
    scheduler.start();
    log.info({ sources: sources.map((s) => `${s.name}.mirror.${c.base}`) }, 'source sync scheduled');
  }
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
