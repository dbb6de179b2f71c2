// Runs the server for `serve` and `rbldnsd`: snapshots first, then text files, then the
// periodic check and SIGHUP reloads; every change is swapped into the server atomically.

import { writeFileSync, appendFileSync, createWriteStream, readFileSync, openSync } from 'node:fs';
import { DnsServer, type ServerOptions } from '../server/index.ts';
import { ZoneTable } from '../server/zones.ts';
import { isAcl } from '../core/datasets/acl.ts';
import type { Logger } from '../core/log.ts';
import { installProcessGuards, job, runJob, setJobLogger } from '../core/jobs.ts';
import { ZoneStore, type LoadedZone } from '../core/zones/store.ts';
import type { LoadSettings, ZoneSpec } from '../core/zones/spec.ts';

export interface RuntimeSpec {
  zones: ZoneSpec[];
  settings: LoadSettings;
  server: Omit<ServerOptions, 'logger' | 'queryLog'>;
  /** Seconds between file checks; 0 = only SIGHUP. */
  checkInterval: number;
  stateDir?: string;
  /** rbldnsd -q: start answering before data is loaded; load errors are not fatal. */
  quick: boolean;
  /** rbldnsd -l: query log file ('-' = stdout; a leading '+' = unbuffered in rbldnsd). */
  queryLog?: string;
  /** rbldnsd -s: statistics file appended every check interval. */
  statsFile?: string;
  pidFile?: string;
  /** A pid file that cannot be written is a warning, not a start-up failure (serve). */
  pidFileOptional?: boolean;
  /** Called after every swap of the zone table (a reload, a new mirror copy). */
  onZonesChanged?: (zones: readonly LoadedZone[]) => void;
  /** rbldnsd -u: user[:group] to switch to after binding (only when running as root). */
  user?: string;
  /** Share of one core a reload of data already served may use (background.cpu_share). */
  cpuShare?: number;
  /** Called with the loaded store before the listeners open (serve: restores the merged
   *  zones' persisted evidence and overlay, so they answer from the first packet). */
  beforeListen?: (store: ZoneStore) => void | Promise<void>;
  /** serve: SIGHUP also re-reads the config file (cli/serve/reload.ts), before the data check.
   *  Read at signal time: set once the server is ready for it. */
  onHangup?: () => Promise<unknown>;
  /** serve: zones appended to every published list (the catalog zone, cli/serve/catalog.ts). */
  extendZones?: (zones: LoadedZone[]) => LoadedZone[];
}

export class StartupError extends Error {}

/** rbldnsd ACLs: a zone's acl goes with the zone; the acl of the empty zone name (`:acl:file`)
 *  is the global one and that pseudo-zone is not served. */
function toTable(zones: LoadedZone[], log: Logger): ZoneTable {
  const globalAcl = zones.find((z) => z.name === '' && isAcl(z.acl))?.acl;
  return new ZoneTable(
    zones
      .filter((z) => z.name !== '' || z.datasets.length)
      .map((z) => ({
        name: z.name, datasets: z.datasets, newestMtime: z.newestMtime, failed: z.failed,
        acl: z.name !== '' && isAcl(z.acl) ? z.acl : null,
      })),
    (msg) => log.warn(msg),
    { globalAcl: isAcl(globalAcl) ? globalAcl : null },
  );
}

/** Looks a user or group up in /etc/passwd or /etc/group: [id, primary gid (users only)]. */
function lookupId(file: string, name: string): [number, number] | undefined {
  if (/^\d+$/.test(name)) return [Number(name), Number(name)];
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const f = line.split(':');
    if (f[0] === name) return [Number(f[2]), Number(f[3])];
  }
  return undefined;
}

/** rbldnsd -u user[:group]: without a group, the user's primary group. */
function dropPrivileges(user: string, log: Logger): void {
  if (process.getuid?.() !== 0) {
    log.info({ user }, 'not running as root: -u ignored');
    return;
  }
  const [u, g] = user.split(':');
  const pw = lookupId('/etc/passwd', u!);
  if (!pw) throw new StartupError(`-u ${user}: unknown user "${u}"`);
  const gid = g ? lookupId('/etc/group', g)?.[0] : /^\d+$/.test(u!) ? pw[0] : pw[1];
  if (gid === undefined) throw new StartupError(`-u ${user}: unknown group "${g}"`);
  process.setgroups?.([gid]);
  process.setgid!(gid);
  process.setuid!(pw[0]);
  log.info({ user, uid: pw[0], gid }, 'switched user');
}

export async function run(spec: RuntimeSpec, log: Logger): Promise<{ server: DnsServer; store: ZoneStore }> {
  // A long-running server: background failures are logged and counted (core/jobs.ts), an
  // unhandled rejection never ends the process.
  setJobLogger(log);
  installProcessGuards();
  let server: DnsServer | undefined;
  let pending: ZoneTable | undefined;
  const store = new ZoneStore(spec.zones, {
    settings: spec.settings,
    stateDir: spec.stateDir,
    log,
    cpuShare: spec.cpuShare,
    onChange(loaded) {
      const zones = spec.extendZones ? spec.extendZones(loaded) : loaded;
      const table = toTable(zones, log);
      if (server) server.swap(table);
      else pending = table;
      spec.onZonesChanged?.(zones);
    },
  });

  let queryLog: ((line: string) => void) | undefined;
  if (spec.queryLog) {
    const target = spec.queryLog.replace(/^\+/, '');
    if (target === '-') queryLog = (l) => process.stdout.write(l + '\n');
    else {
      // Opened now (synchronously), before any switch of user, like the stats file.
      const stream = createWriteStream('', { fd: openSync(target, 'a') });
      queryLog = (l) => stream.write(l + '\n');
    }
  }

  const fromSnapshots = await store.loadSnapshots();
  let checked = false;
  if (!store.complete && !spec.quick) {
    await store.check();
    checked = true;
    const failures = store.failures;
    if (failures.length) {
      throw new StartupError(
        'zone loading errors, aborting:\n' + failures.map((f) => `  ${f.spec.type}:${f.spec.files.join(',')}: ${f.error}`).join('\n'),
      );
    }
  }
  await spec.beforeListen?.(store);
  server = new DnsServer({ ...spec.server, logger: log, queryLog }, pending ?? toTable([], log));
  if (!pending) {
    // Nothing loaded yet (-q): serve the zones as failed (SERVFAIL) until data arrives.
    server.swap(toTable(spec.zones.map((z) => ({ name: z.name, datasets: [], newestMtime: 0, failed: true })), log));
  }
  await server.start();
  log.info({ listen: server.addresses, zones: spec.zones.map((z) => z.name).filter(Boolean), fromSnapshots }, 'serving');
  if (spec.pidFile) {
    try {
      writeFileSync(spec.pidFile, `${process.pid}\n`);
    } catch (err) {
      // serve's pid file only lets `quorumbl reload` find it: a read-only or full state disk
      // must not stop the start (DNS already answers; the merge and the API come next).
      if (!spec.pidFileOptional) throw err;
      log.warn({ file: spec.pidFile, err: (err as Error).message }, 'pid file not written: `quorumbl reload` cannot find this serve (SIGHUP still works)');
    }
  }

  // Snapshots (or nothing, with -q or only not-yet-synced mirrors) answered first; now read
  // the files.
  if (!checked) void runJob('reload:check', () => store.check());

  const statsFd = spec.statsFile ? openSync(spec.statsFile, 'a') : -1;
  const statsWrite = (text: string) => {
    if (statsFd < 0) return;
    try {
      appendFileSync(statsFd, text + '\n');
    } catch (err) {
      log.warn({ file: spec.statsFile, err: (err as Error).message }, 'statistics not written');
    }
  };
  const stats = () => statsWrite(server!.counters.statsLine());
  statsWrite(`${Math.floor(Date.now() / 1000)}`);
  if (spec.user) dropPrivileges(spec.user, log);
  let timer: NodeJS.Timeout | undefined;
  if (spec.checkInterval > 0) {
    timer = setInterval(job('reload:check', () => {
      stats();
      return store.check();
    }), spec.checkInterval * 1000);
    timer.unref();
  }
  process.on('SIGHUP', job('signal:SIGHUP', async () => {
    if (spec.onHangup) {
      log.info('SIGHUP: reloading the config file, checking data files');
      await spec.onHangup();
    } else log.info('SIGHUP: checking data files');
    return store.check(true);
  }));
  process.on('SIGUSR1', job('signal:SIGUSR1', () => log.info({ counters: server!.counters.toJSON() }, 'query counters')));
  process.on('SIGUSR2', job('signal:SIGUSR2', () => {
    log.info({ counters: server!.counters.toJSON() }, 'query counters (reset)');
    server!.counters.reset();
  }));
  const shutdown = (sig: string) => {
    log.info({ signal: sig, counters: server!.counters.toJSON() }, 'shutting down');
    if (timer) clearInterval(timer);
    stats();
    statsWrite(`${Math.floor(Date.now() / 1000)}`);
    void server!.stop().finally(() => process.exit(0));
    setTimeout(() => process.exit(0), 2000).unref();
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
  return { server, store };
}
