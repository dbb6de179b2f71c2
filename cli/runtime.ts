// Runs the server for `serve` and `rbldnsd`: snapshots first, then text files, then the
// periodic check and SIGHUP reloads; every change is swapped into the server atomically.

import { writeFileSync, appendFileSync, createWriteStream } from 'node:fs';
import { DnsServer, type ServerOptions } from '../server/index.ts';
import { ZoneTable } from '../server/zones.ts';
import type { Logger } from '../core/log.ts';
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
  /** rbldnsd -u: user[:group] to switch to after binding (only when running as root). */
  user?: string;
}

export class StartupError extends Error {}

function toTable(zones: LoadedZone[], log: Logger): ZoneTable {
  return new ZoneTable(
    zones.map((z) => ({ name: z.name, datasets: z.datasets, newestMtime: z.newestMtime, failed: z.failed })),
    (msg) => log.warn(msg),
  );
}

function dropPrivileges(user: string, log: Logger): void {
  if (process.getuid?.() !== 0) return;
  const [u, g] = user.split(':');
  if (g) process.setgid!(/^\d+$/.test(g) ? Number(g) : g);
  else process.setgid!(/^\d+$/.test(u!) ? Number(u) : u!);
  process.setuid!(/^\d+$/.test(u!) ? Number(u) : u!);
  log.info({ user }, 'switched user');
}

export async function run(spec: RuntimeSpec, log: Logger): Promise<DnsServer> {
  let server: DnsServer | undefined;
  let pending: ZoneTable | undefined;
  const store = new ZoneStore(spec.zones, {
    settings: spec.settings,
    stateDir: spec.stateDir,
    log,
    onChange(zones) {
      const table = toTable(zones, log);
      if (server) server.swap(table);
      else pending = table;
    },
  });

  let queryLog: ((line: string) => void) | undefined;
  if (spec.queryLog) {
    const target = spec.queryLog.replace(/^\+/, '');
    if (target === '-') queryLog = (l) => process.stdout.write(l + '\n');
    else {
      const stream = createWriteStream(target, { flags: 'a' });
      queryLog = (l) => stream.write(l + '\n');
    }
  }

  const fromSnapshots = await store.loadSnapshots();
  if (!store.complete && !spec.quick) {
    await store.check();
    const failures = store.failures;
    if (failures.length) {
      throw new StartupError(
        'zone loading errors, aborting:\n' + failures.map((f) => `  ${f.spec.type}:${f.spec.files.join(',')}: ${f.error}`).join('\n'),
      );
    }
  }
  server = new DnsServer({ ...spec.server, logger: log, queryLog }, pending ?? toTable([], log));
  if (!pending) {
    // Nothing loaded yet (-q): serve the zones as failed (SERVFAIL) until data arrives.
    server.swap(toTable(spec.zones.map((z) => ({ name: z.name, datasets: [], newestMtime: 0, failed: true })), log));
  }
  await server.start();
  log.info({ listen: server.addresses, zones: spec.zones.map((z) => z.name), fromSnapshots }, 'serving');
  if (spec.pidFile) writeFileSync(spec.pidFile, `${process.pid}\n`);
  if (spec.user) dropPrivileges(spec.user, log);

  // Snapshots answered first; now compare them with the text files (or do the -q load).
  if (fromSnapshots || spec.quick) void store.check();

  const stats = () => {
    if (spec.statsFile) appendFileSync(spec.statsFile, server!.counters.statsLine() + '\n');
  };
  if (spec.statsFile) appendFileSync(spec.statsFile, `${Math.floor(Date.now() / 1000)}\n`);
  let timer: NodeJS.Timeout | undefined;
  if (spec.checkInterval > 0) {
    timer = setInterval(() => {
      void store.check();
      stats();
    }, spec.checkInterval * 1000);
    timer.unref();
  }
  process.on('SIGHUP', () => {
    log.info('SIGHUP: checking data files');
    void store.check(true);
  });
  process.on('SIGUSR1', () => log.info({ counters: server!.counters.toJSON() }, 'query counters'));
  process.on('SIGUSR2', () => {
    log.info({ counters: server!.counters.toJSON() }, 'query counters (reset)');
    server!.counters.reset();
  });
  const shutdown = (sig: string) => {
    log.info({ signal: sig, counters: server!.counters.toJSON() }, 'shutting down');
    if (timer) clearInterval(timer);
    stats();
    if (spec.statsFile) appendFileSync(spec.statsFile, `${Math.floor(Date.now() / 1000)}\n`);
    void server!.stop().finally(() => process.exit(0));
    setTimeout(() => process.exit(0), 2000).unref();
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
  return server;
}
