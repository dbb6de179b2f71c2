// `quorumbl serve` in replica mode (`--replica-of` or `replica.primary`): the DNS server answers
// from copies of a primary's zones that sync/replica/ keeps current. No source sync, no merge,
// no console: the config's `server`, `state_dir`, `log`, `base` and `replica` apply.

import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { LoadedConfig } from '../../core/config/load.ts';
import { parseHostPort, parseTsigSpec } from '../../core/config/replica.ts';
import { RecordsDataset } from '../../core/datasets/records.ts';
import { prepareKey } from '../../core/dns/tsig.ts';
import { installProcessGuards, job, setJobLogger } from '../../core/jobs.ts';
import type { Logger } from '../../core/log.ts';
import { DnsServer, ZoneTable } from '../../server/index.ts';
import { Replica, type ServedZone } from '../../sync/replica/replica.ts';
import { removePidFile, servePidFile } from '../reload.ts';
import { StartupError } from '../runtime.ts';
import { specFromConfig } from '../spec.ts';

const MAX_TRANSFER_BYTES = 4 * 1024 ** 3;

export function replicaWanted(cfg: LoadedConfig, flags: { replicaOf?: string }): boolean {
  return flags.replicaOf !== undefined || cfg.config.replica.primary !== null;
}

function table(zones: readonly ServedZone[], log: Logger): ZoneTable {
  return new ZoneTable(
    zones.map((z) => ({ name: z.name, datasets: z.dataset ? [z.dataset] : [], newestMtime: 0, failed: z.dataset === null })),
    (msg) => log.warn(msg),
  );
}

export async function serveReplica(cfg: LoadedConfig, flags: { replicaOf?: string; tsig?: string }, log: Logger): Promise<void> {
  setJobLogger(log);
  installProcessGuards();
  const rc = cfg.config.replica;
  const hp = parseHostPort(flags.replicaOf ?? rc.primary!);
  if (typeof hp === 'string') throw new StartupError(`replica primary: ${hp}`);
  const tsig = flags.tsig !== undefined ? parseTsigSpec(flags.tsig) : rc.tsig;
  if (typeof tsig === 'string') throw new StartupError(`--tsig: ${tsig}`);
  let key;
  try {
    key = tsig ? prepareKey(tsig) : null;
  } catch (err) {
    throw new StartupError(`replica TSIG key: ${(err as Error).message}`);
  }
  // NOTIFY is accepted from the primary's addresses (and replica.notify_from).
  const notifyFrom = [...rc.notify_from];
  if (isIP(hp.host)) notifyFrom.push(hp.host);
  else {
    try {
      for (const a of await lookup(hp.host, { all: true })) notifyFrom.push(a.address);
    } catch (err) {
      log.warn({ primary: hp.host, err: (err as Error).message }, 'replica: primary name does not resolve now; NOTIFY only from replica.notify_from');
    }
  }
  const spec = specFromConfig(cfg);
  const stateDir = spec.stateDir!;
  const zones = rc.zones.length ? rc.zones : null;
  const catalog = zones ? null : (rc.catalog ?? `catalog.${cfg.config.base}`);
  let server: DnsServer | null = null;
  let pending: ZoneTable = table([], log);
  const replica = new Replica({
    primary: { host: hp.host, port: hp.port, key, connectTimeoutMs: 10_000, timeoutMs: rc.timeout * 1000, maxBytes: MAX_TRANSFER_BYTES },
    zones,
    catalog,
    dir: resolve(stateDir, rc.dir),
    log,
    notifyFrom,
    keyName: tsig?.name ?? null,
    firstRetry: rc.first_retry,
    makeDataset: (records, meta) => new RecordsDataset(records, meta),
    onChange: (served) => {
      const t = table(served, log);
      if (server) server.swap(t);
      else pending = t;
    },
  });
  log.info({ primary: `${hp.host}:${hp.port}`, tsig: tsig?.name ?? null, zones: zones ?? `members of ${catalog}` }, 'replica mode');
  replica.start(); // the saved copies are in `pending` now: the first packet is answered from them
  server = new DnsServer({ ...spec.server, logger: log, onNotify: (zone, client, query) => replica.notify(zone, client, query) }, pending);
  await server.start();
  log.info({ listen: server.addresses, zones: replica.zoneNames }, 'serving (replica)');
  const pidFile = servePidFile(stateDir);
  try {
    writeFileSync(pidFile, `${process.pid}\n`);
    process.on('exit', () => removePidFile(pidFile));
  } catch (err) {
    log.warn({ file: pidFile, err: (err as Error).message }, 'pid file not written');
  }
  const s = server;
  process.on('SIGHUP', () => log.info('SIGHUP: a replica does not re-read its config; restart it to change the primary or zones'));
  process.on('SIGUSR1', job('signal:SIGUSR1', () => log.info({ counters: s.counters.toJSON(), replica: replica.status() }, 'query counters')));
  process.on('SIGUSR2', job('signal:SIGUSR2', () => {
    log.info({ counters: s.counters.toJSON() }, 'query counters (reset)');
    s.counters.reset();
  }));
  const shutdown = (sig: string) => {
    log.info({ signal: sig }, 'shutting down');
    replica.stop();
    void s.stop().finally(() => process.exit(0));
    setTimeout(() => process.exit(0), 2000).unref();
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
}
