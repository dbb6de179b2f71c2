// The DNS server: UDP (+TCP) listeners on every configured address, one shared responder,
// atomic swaps of the zone table, counters. See server/README.md.

import { isIP } from 'node:net';
import type { Logger } from 'pino';
import { ClientAcl } from './acl.ts';
import { Counters } from './counters.ts';
import { Responder, type ResponderOptions, type VersionMode } from './responder.ts';
import { isPrivateAddress, Rrl, type RrlOptions } from './rrl.ts';
import { TcpListener, type TcpOptions } from './tcp.ts';
import type { PacketHooks } from './udp.ts';
import { batchAvailable, createUdpListener, SLOT, type AnyUdpListener } from './udp-batch.ts';
import type { ZoneTable } from './zones.ts';
import type { TransferHandler } from './xfr/transfer.ts';

export { Counters } from './counters.ts';
export { ZoneTable, type ZoneSource } from './zones.ts';

export interface ServerOptions {
  /** IPv4 and IPv6 addresses; each gets UDP (+TCP when tcp.enabled). Port 0 = pick one. */
  listen: { address: string; port: number }[];
  tcp: { enabled: boolean } & TcpOptions;
  /** EDNS ceiling, default 1232 (DNS flag day 2020). */
  maxUdpPayload: number;
  /** Response rate limiting on UDP: 'auto' = only on listeners with a public (or wildcard)
   *  address. Absent = off (rbldnsd mode). */
  rrl?: { enabled: boolean | 'auto' } & Partial<RrlOptions>;
  /** CIDR list (v4/v6); others get REFUSED; null = everyone. */
  allowQuery: string[] | null;
  /** rbldnsd -a: no NS in AUTHORITY of positive answers. */
  lazy: boolean;
  /** CH TXT version.bind/version.server: real version / plain name / REFUSED (-v, -vv). */
  version: VersionMode;
  versionText: string;
  /** rbldnsd -l line format. */
  queryLog?: (line: string) => void;
  /** rbldnsd mode: an OPT outside the additional section is ignored, not FORMERR. */
  skipMisplacedOpt?: boolean;
  /** Replica mode: NOTIFY handler (responder.ts ResponderOptions.onNotify). */
  onNotify?: ResponderOptions['onNotify'];
  logger: Logger;
}

export interface BoundAddress {
  address: string;
  port: number;
  proto: 'udp' | 'tcp';
}

const FAILURE_LOG_EVERY_MS = 10_000;

export class DnsServer {
  readonly counters = new Counters();
  readonly addresses: BoundAddress[] = [];
  private readonly responder: Responder;
  private readonly udp: AnyUdpListener[] = [];
  private readonly tcp: TcpListener[] = [];
  private readonly hooks: PacketHooks;
  /** One table for every listener that rate-limits; null when none may. */
  private readonly rrl: Rrl | null;
  /** AXFR/IXFR over TCP go to this handler (server/xfr) when set; shared by the TCP listeners. */
  private readonly transferSlot: { handler: TransferHandler | null } = { handler: null };
  private lastFailureLog = 0;
  private suppressedFailures = 0;

  constructor(
    private readonly options: ServerOptions,
    zones: ZoneTable,
  ) {
    const max = Math.max(512, Math.min(SLOT, options.maxUdpPayload || 1232));
    this.responder = new Responder(
      {
        lazy: options.lazy,
        version: options.version,
        versionText: options.versionText,
        maxUdpPayload: max,
        acl: options.allowQuery ? new ClientAcl(options.allowQuery) : null,
        counters: this.counters,
        queryLog: options.queryLog,
        skipMisplacedOpt: options.skipMisplacedOpt,
        onNotify: options.onNotify,
      },
      zones,
    );
    const rrl = options.rrl;
    // auto: on for public listeners, and private clients of a wildcard listener are exempt.
    this.rrl = rrl && rrl.enabled !== false ? new Rrl({ ...rrl, exemptPrivate: rrl.enabled === 'auto' }, this.counters) : null;
    this.hooks = {
      failure: (err) => this.onFailure(err),
      socketError: (err) => this.options.logger.warn({ err }, 'DNS socket error'),
    };
  }

  /** Binds every listener; rejects with an error naming the address:port that failed. */
  async start(): Promise<void> {
    const get = () => this.responder;
    this.options.logger.info({ udp: batchAvailable ? 'recvmmsg/sendmmsg batches (native)' : 'node:dgram (native module not built)' }, 'UDP I/O');
    try {
      for (const { address, port } of this.options.listen) {
        if (!isIP(address)) throw new Error(`cannot listen on ${address}:${port}: not an IP address`);
        await this.bindPair(get, address, port);
      }
    } catch (err) {
      await this.stop();
      throw err;
    }
  }

  /** UDP first, then TCP on the same port (with port 0 both must agree: retry a few times). */
  private async bindPair(get: () => Responder, address: string, port: number): Promise<void> {
    const shown = address.includes(':') ? `[${address}]` : address;
    for (let attempt = 0; ; attempt++) {
      const udp = createUdpListener(get, this.hooks, address, this.rrlFor(address), this.counters.latencyUdp);
      let udpPort: number;
      try {
        udpPort = await udp.bind(port);
      } catch (err) {
        await udp.close();
        throw new Error(`cannot listen on ${shown}:${port}/udp: ${(err as Error).message}`, { cause: err });
      }
      if (!this.options.tcp.enabled) {
        this.udp.push(udp);
        this.addresses.push({ address, port: udpPort, proto: 'udp' });
        return;
      }
      const tcp = new TcpListener(get, this.hooks, address, this.options.tcp, this.counters, this.transferSlot);
      try {
        const tcpPort = await tcp.listen(udpPort);
        this.udp.push(udp);
        this.tcp.push(tcp);
        this.addresses.push({ address, port: udpPort, proto: 'udp' }, { address, port: tcpPort, proto: 'tcp' });
        return;
      } catch (err) {
        await udp.close();
        await tcp.close();
        if (port === 0 && attempt < 20) continue; // the random UDP port is taken for TCP
        throw new Error(`cannot listen on ${shown}:${udpPort}/tcp: ${(err as Error).message}`, { cause: err });
      }
    }
  }

  /** The RRL of a UDP listener on `address`: always, never, or (auto) unless it is private. */
  private rrlFor(address: string): Rrl | null {
    if (this.rrl === null) return null;
    const on = this.options.rrl!.enabled === true || !isPrivateAddress(address);
    this.options.logger.info({ address, rrl: on }, on ? 'response rate limiting on' : 'response rate limiting off (private address)');
    return on ? this.rrl : null;
  }

  /** Atomic: the next query sees the new table. */
  swap(zones: ZoneTable): void {
    this.responder.setTable(zones);
  }

  /** The zone table answered from now. */
  get zones(): ZoneTable {
    return this.responder.zoneTable;
  }

  /** Zone transfers: a handler takes AXFR/IXFR over TCP; null = REFUSED (the default).
   *  `signAnswer` signs the answers to queries signed with a transfer key (Responder.signAnswer). */
  setTransferHandler(handler: TransferHandler | null, signAnswer: Responder['signAnswer'] = null): void {
    this.transferSlot.handler = handler;
    this.responder.transfersOn = handler !== null;
    this.responder.signAnswer = handler !== null ? signAnswer : null;
  }

  async stop(): Promise<void> {
    const all = [...this.udp.map((u) => u.close()), ...this.tcp.map((t) => t.close())];
    this.udp.length = 0;
    this.tcp.length = 0;
    await Promise.all(all);
  }

  /** Open TCP connections (all listeners). */
  get tcpConnections(): number {
    return this.tcp.reduce((s, t) => s + t.connections, 0);
  }

  private onFailure(err: unknown): void {
    this.counters.failures++;
    const now = Date.now();
    if (now - this.lastFailureLog < FAILURE_LOG_EVERY_MS) {
      this.suppressedFailures++;
      return;
    }
    this.options.logger.error({ err, suppressed: this.suppressedFailures }, 'query handling failed; packet dropped');
    this.lastFailureLog = now;
    this.suppressedFailures = 0;
  }
}
