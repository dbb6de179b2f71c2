// UDP listener: one socket per address; every datagram goes through the shared responder
// and the reply leaves with one send. Handling is wrapped so no packet can stop the socket.

import dgram from 'node:dgram';
import { isIPv6 } from 'node:net';
import type { LatencyHistogram } from './latency.ts';
import type { Responder } from './responder.ts';
import type { Rrl } from './rrl.ts';

export interface PacketHooks {
  /** A packet whose handling threw: count and log it (the packet is dropped). */
  failure(err: unknown): void;
  /** A socket-level error (send failures, ...): log it. */
  socketError(err: Error): void;
}

export class UdpListener {
  readonly socket: dgram.Socket;

  constructor(
    private readonly responder: () => Responder,
    private readonly hooks: PacketHooks,
    readonly address: string,
    /** Response rate limiting for this listener, or null. */
    private readonly rrl: Rrl | null = null,
    /** Answer latency (server/latency.ts); this fallback records each packet as a batch of one. */
    private readonly latency: LatencyHistogram | null = null,
  ) {
    const v6 = isIPv6(address);
    this.socket = dgram.createSocket({
      type: v6 ? 'udp6' : 'udp4',
      ipv6Only: v6,
      recvBufferSize: 4 << 20,
      sendBufferSize: 4 << 20,
    });
    const socket = this.socket;
    socket.on('message', (msg, rinfo) => this.onMessage(msg, rinfo));
    socket.on('error', (err) => this.hooks.socketError(err));
  }

  private onMessage(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    const t0 = performance.now();
    const r = this.responder();
    let n: number;
    try {
      n = r.respond(msg, msg.length, rinfo.address, false);
      if (n > 0 && this.rrl !== null) {
        this.rrl.tick();
        n = this.rrl.filterText(r, n, rinfo.address);
      }
    } catch (err) {
      this.hooks.failure(err);
      return;
    }
    if (n === 0) return;
    // The reply buffer is reused for the next packet, the send may still be queued: copy.
    const reply = Buffer.allocUnsafe(n);
    r.out.copy(reply, 0, 0, n);
    this.socket.send(reply, rinfo.port, rinfo.address);
    if (this.latency !== null) this.latency.record(performance.now() - t0, 1);
  }

  bind(port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      this.socket.once('error', onError);
      this.socket.bind({ port, address: this.address, exclusive: true }, () => {
        this.socket.off('error', onError);
        resolve(this.socket.address().port);
      });
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      try {
        this.socket.close(() => resolve());
      } catch {
        resolve(); // never bound or already closed
      }
    });
  }
}
