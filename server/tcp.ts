// TCP listener (RFC 7766): 2-byte length-prefixed messages, several queries per connection
// answered in order. Guarded so no client can exhaust it:
// - backpressure: a connection whose unsent replies exceed maxPendingBytes is not read any
//   more (the kernel buffers fill and the client's sends block); it is closed when it has not
//   drained within drainTimeoutMs. Memory per connection stays under maxPendingBytes + one
//   reply + one read chunk, whatever the client pipelines.
// - a whole message must arrive within messageTimeoutMs of its first byte: single bytes do not
//   extend it (slowloris); a connection without a message in progress is closed after
//   idleTimeoutMs without a query.
// - perClient connections per client (an IPv4 address, an IPv6 /64); when the table is full, a
//   newcomer takes the slot of the least recently active connection of the client holding the
//   most, if that client holds at least two more than the newcomer: slots stay free for others
//   and no client keeps more than its share while others wait.
// All timers are one sweep per listener (no timer per connection or message).

import net from 'node:net';
import type { Counters } from './counters.ts';
import { parseIp6Text } from './peer.ts';
import type { Responder } from './responder.ts';
import type { PacketHooks } from './udp.ts';
import { isTransferQuery, type TransferHandler, type TransferOut } from './xfr/transfer.ts';

export interface TcpOptions {
  idleTimeoutMs: number;
  maxConnections: number;
  /** Connections one client (IPv4 address, IPv6 /64) may hold. */
  perClient?: number;
  /** A message must be complete this long after its first byte arrived. */
  messageTimeoutMs?: number;
  /** Unsent reply bytes above which the connection is not read until it drains. */
  maxPendingBytes?: number;
  /** A connection not read from (replies unsent) for this long is closed. */
  drainTimeoutMs?: number;
}

export const TCP_DEFAULTS = {
  perClient: 16,
  messageTimeoutMs: 5_000,
  maxPendingBytes: 64 * 1024,
  drainTimeoutMs: 10_000,
};

/** Below Node's default write high-water mark a full buffer would not emit 'drain'. */
const MIN_PENDING = 16 * 1024;

class Conn {
  /** Unprocessed bytes: a partial message, or queries held back while paused. */
  buf: Buffer | null = null;
  /** When the first byte of the message in progress arrived (0 = none in progress). */
  partialSince = 0;
  /** Connection opened, last complete query, or last drain. */
  lastActive: number;
  paused = false;
  pausedSince = 0;
  /** A zone transfer is streaming: not read, not idle; the transfer waits for drains itself. */
  transfer = false;

  constructor(
    readonly socket: net.Socket,
    readonly client: string,
    readonly key: string,
    now: number,
  ) {
    this.lastActive = now;
  }
}

/** The per-client key: the IPv4 address, or the /64 of an IPv6 one. */
export function clientKey(address: string): string {
  if (!address.includes(':')) return address;
  const b = new Uint8Array(16);
  if (!parseIp6Text(address, b)) return address;
  let mapped = true;
  for (let i = 0; i < 10; i++) if (b[i] !== 0) mapped = false;
  if (mapped && b[10] === 0xff && b[11] === 0xff) return `${b[12]}.${b[13]}.${b[14]}.${b[15]}`;
  return Buffer.from(b.subarray(0, 8)).toString('hex') + '/64';
}

export class TcpListener {
  readonly server: net.Server;
  private readonly open = new Set<Conn>();
  private readonly perClient = new Map<string, number>();
  private readonly o: Required<TcpOptions>;
  private sweepTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly responder: () => Responder,
    private readonly hooks: PacketHooks,
    readonly address: string,
    opts: TcpOptions,
    private readonly counters: Counters | null = null,
    /** AXFR/IXFR go here (server/xfr) when set; else the responder answers them (REFUSED). */
    private readonly transfer: { handler: TransferHandler | null } | null = null,
  ) {
    this.o = { ...TCP_DEFAULTS, ...stripUndefined(opts) } as Required<TcpOptions>;
    if (this.o.maxPendingBytes < MIN_PENDING) this.o.maxPendingBytes = MIN_PENDING;
    this.server = net.createServer({ noDelay: true }, (s) => this.onConnection(s));
    this.server.on('error', (err) => this.hooks.socketError(err));
  }

  get connections(): number {
    return this.open.size;
  }

  private onConnection(socket: net.Socket): void {
    socket.on('error', () => {}); // resets by clients are normal
    const client = socket.remoteAddress ?? '';
    const key = clientKey(client);
    const mine = this.perClient.get(key) ?? 0;
    if (mine >= this.o.perClient) {
      if (this.counters) this.counters.tcpRefused++;
      socket.destroy();
      return;
    }
    if (this.open.size >= this.o.maxConnections && !this.evictFor(mine)) {
      if (this.counters) this.counters.tcpRefused++;
      socket.destroy();
      return;
    }
    const now = performance.now();
    const c = new Conn(socket, client, key, now);
    this.open.add(c);
    this.perClient.set(key, mine + 1);
    socket.on('close', () => this.forget(c));
    socket.on('data', (chunk: Buffer) => {
      c.buf = c.buf ? Buffer.concat([c.buf, chunk]) : chunk;
      if (!c.paused && !c.transfer) this.process(c);
    });
    socket.on('drain', () => this.onDrain(c));
  }

  private forget(c: Conn): void {
    if (!this.open.delete(c)) return;
    const n = (this.perClient.get(c.key) ?? 1) - 1;
    if (n > 0) this.perClient.set(c.key, n);
    else this.perClient.delete(c.key);
  }

  /** The table is full: frees a slot for a client holding `mine` connections by closing the
   *  least recently active connection of the heaviest client, when that client holds at
   *  least two more. Returns whether a slot was freed. */
  private evictFor(mine: number): boolean {
    let heavyKey = '';
    let heavy = 0;
    for (const [k, n] of this.perClient) {
      if (n > heavy) {
        heavy = n;
        heavyKey = k;
      }
    }
    if (heavy < mine + 2) return false;
    let victim: Conn | null = null;
    for (const c of this.open) {
      if (c.key === heavyKey && (victim === null || c.lastActive < victim.lastActive)) victim = c;
    }
    if (victim === null) return false;
    if (this.counters) this.counters.tcpEvicted++;
    victim.socket.destroy();
    this.forget(victim); // 'close' comes later; the slot is free now
    return true;
  }

  /** Answers every complete message in c.buf, in order, until the unsent replies pass the
   *  bound (then stops reading until 'drain'). */
  private process(c: Conn): void {
    const s = c.socket;
    let buf = c.buf;
    c.buf = null;
    if (buf === null || s.destroyed) return;
    const now = performance.now();
    let done = false;
    let corked = false;
    let replies = 0;
    while (buf.length >= 2) {
      const len = (buf[0]! << 8) | buf[1]!;
      if (buf.length < 2 + len) break;
      const msg = buf.subarray(2, 2 + len);
      buf = buf.subarray(2 + len);
      done = true;
      const xfr = this.transfer?.handler;
      if (xfr && isTransferQuery(msg)) {
        // Replies before it go first; queries after it wait until it is done.
        c.buf = buf.length ? Buffer.from(buf) : null;
        buf = Buffer.alloc(0);
        if (corked) s.uncork();
        corked = false;
        this.startTransfer(c, xfr, Buffer.from(msg));
        break;
      }
      const reply = this.answer(msg, c.client);
      if (reply) {
        replies++;
        if (!corked) {
          s.cork();
          corked = true;
        }
        s.write(reply);
        if (s.writableLength > this.o.maxPendingBytes) {
          // Replies are not being read: stop reading queries until they are.
          c.paused = true;
          c.pausedSince = now;
          s.pause();
          break;
        }
      }
    }
    if (corked) s.uncork();
    // The replies of one read go out together at uncork: each waited for all of them.
    if (replies > 0 && this.counters) this.counters.latencyTcp.record(performance.now() - now, replies);
    if (done) c.lastActive = now;
    if (c.transfer) return;
    if (buf.length === 0) {
      c.partialSince = 0;
      return;
    }
    // Keep the rest (copied when partial, so the chunk it came from can be freed).
    if (c.paused) {
      c.buf = buf;
      c.partialSince = 0;
    } else {
      c.buf = Buffer.from(buf);
      if (done || c.partialSince === 0) c.partialSince = now;
    }
  }

  /** Streams a transfer on `c`; the connection is not read meanwhile (pipelined queries stay
   *  in the kernel buffers). A write that does not drain within drainTimeoutMs closes it. */
  private startTransfer(c: Conn, xfr: TransferHandler, msg: Buffer): void {
    const s = c.socket;
    c.transfer = true;
    c.partialSince = 0;
    s.pause();
    const out: TransferOut = {
      write: (m) =>
        new Promise<boolean>((resolve) => {
          if (s.destroyed) return resolve(false);
          const frame = Buffer.allocUnsafe(2);
          frame.writeUInt16BE(m.length, 0);
          s.write(frame);
          s.write(m);
          if (s.writableLength <= this.o.maxPendingBytes) return resolve(true);
          const finish = (ok: boolean) => {
            clearTimeout(timer);
            s.off('drain', onDrain);
            s.off('close', onClose);
            if (ok) c.lastActive = performance.now();
            resolve(ok);
          };
          const onDrain = () => finish(true);
          const onClose = () => finish(false);
          const timer = setTimeout(() => {
            if (this.counters) this.counters.tcpStalled++;
            s.destroy();
            finish(false);
          }, this.o.drainTimeoutMs);
          s.once('drain', onDrain);
          s.once('close', onClose);
        }),
    };
    xfr.serve(msg, c.client, out).then(
      (keep) => {
        c.transfer = false;
        c.lastActive = performance.now();
        if (!keep) return void s.destroy();
        if (s.destroyed) return;
        this.process(c); // what the client sent after the transfer query
        if (!c.paused && !c.transfer && !s.destroyed) s.resume();
      },
      (err) => {
        this.hooks.failure(err);
        s.destroy();
      },
    );
  }

  private onDrain(c: Conn): void {
    c.lastActive = performance.now();
    if (!c.paused) return;
    this.resume(c);
  }

  private resume(c: Conn): void {
    c.paused = false;
    this.process(c); // the queries held back; may pause again
    if (!c.paused && !c.socket.destroyed) c.socket.resume();
  }

  /** Closes connections past a deadline (one pass over the table, a few times a second). */
  private sweep(): void {
    const now = performance.now();
    const o = this.o;
    for (const c of this.open) {
      if (c.transfer) continue;
      if (c.paused) {
        if (c.socket.writableLength <= o.maxPendingBytes >> 1) this.resume(c);
        else if (now - c.pausedSince > o.drainTimeoutMs) {
          if (this.counters) this.counters.tcpStalled++;
          c.socket.destroy();
        }
        continue;
      }
      if (c.partialSince !== 0 && now - c.partialSince > o.messageTimeoutMs) {
        if (this.counters) this.counters.tcpTimedOut++;
        c.socket.destroy();
      } else if (now - c.lastActive > o.idleTimeoutMs && c.partialSince === 0) {
        c.socket.destroy();
      }
    }
  }

  private answer(msg: Buffer, client: string): Buffer | null {
    const r = this.responder();
    let n: number;
    try {
      n = r.respond(msg, msg.length, client, true);
    } catch (err) {
      this.hooks.failure(err);
      return null;
    }
    if (n === 0) return null;
    const reply = Buffer.allocUnsafe(n + 2);
    reply[0] = n >> 8;
    reply[1] = n & 0xff;
    r.out.copy(reply, 2, 0, n);
    return reply;
  }

  listen(port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      this.server.once('error', onError);
      this.server.listen({ port, host: this.address, ipv6Only: net.isIPv6(this.address), exclusive: true }, () => {
        this.server.off('error', onError);
        const o = this.o;
        const every = Math.max(25, Math.min(1000, Math.min(o.idleTimeoutMs, o.messageTimeoutMs, o.drainTimeoutMs) / 4));
        this.sweepTimer = setInterval(() => this.sweep(), every);
        this.sweepTimer.unref();
        resolve((this.server.address() as net.AddressInfo).port);
      });
    });
  }

  close(): Promise<void> {
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.sweepTimer = null;
    for (const c of this.open) c.socket.destroy();
    return new Promise((resolve) => {
      if (!this.server.listening) return resolve();
      this.server.close(() => resolve());
    });
  }
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  const r: Partial<T> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) (r as Record<string, unknown>)[k] = v;
  return r;
}
