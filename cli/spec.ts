// The runtime spec (cli/runtime.ts) a config file describes: zones, load settings, listeners.

import { configPath, type LoadedConfig } from '../core/config/load.ts';
import type { ZoneSpec } from '../core/zones/spec.ts';
import type { RuntimeSpec } from './runtime.ts';
import { mirrorZones } from './sync.ts';
import { VERSION } from './version.ts';

/** The zones of the config file (data files resolved) followed by one mirror zone per source. */
export function zonesFromConfig(cfg: LoadedConfig, stateDir: string): ZoneSpec[] {
  const zones: ZoneSpec[] = cfg.config.zones.map((z) => ({
    name: z.name,
    datasets: z.datasets.map((d) => ({ type: d.type, files: d.files.map((f) => configPath(cfg, f)) })),
  }));
  zones.push(...mirrorZones(cfg, stateDir));
  return zones;
}

export function specFromConfig(cfg: LoadedConfig): RuntimeSpec {
  const c = cfg.config;
  const stateDir = configPath(cfg, c.state_dir);
  return {
    zones: zonesFromConfig(cfg, stateDir),
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
