// TCP listener (RFC 7766): 2-byte length-prefixed messages, several queries per connection
// answered in order, an idle timeout and a cap on open connections (extra ones are closed).

import net from 'node:net';
import type { Responder } from './responder.ts';
import type { PacketHooks } from './udp.ts';

export interface TcpOptions {
  idleTimeoutMs: number;
  maxConnections: number;
}

export class TcpListener {
  readonly server: net.Server;
  private readonly open = new Set<net.Socket>();

  constructor(
    private readonly responder: () => Responder,
    private readonly hooks: PacketHooks,
    readonly address: string,
    private readonly opts: TcpOptions,
  ) {
    this.server = net.createServer({ noDelay: true }, (s) => this.onConnection(s));
    this.server.on('error', (err) => this.hooks.socketError(err));
  }

  get connections(): number {
    return this.open.size;
  }

  private onConnection(socket: net.Socket): void {
    socket.on('error', () => {}); // resets by clients are normal
    if (this.open.size >= this.opts.maxConnections) {
      socket.destroy();
      return;
    }
    this.open.add(socket);
    socket.on('close', () => this.open.delete(socket));
    socket.setTimeout(this.opts.idleTimeoutMs, () => socket.destroy());
    const client = socket.remoteAddress ?? '';
    let pending: Buffer | null = null;
    socket.on('data', (chunk: Buffer) => {
      let buf: Buffer = pending ? Buffer.concat([pending, chunk]) : chunk;
      pending = null;
      let corked = false;
      while (buf.length >= 2) {
        const len = (buf[0]! << 8) | buf[1]!;
        if (buf.length < 2 + len) break;
        const msg = buf.subarray(2, 2 + len);
        buf = buf.subarray(2 + len);
        const reply = this.answer(msg, client);
        if (reply) {
          if (!corked) {
            socket.cork();
            corked = true;
          }
          socket.write(reply);
        }
      }
      if (corked) socket.uncork();
      // Keep a partial message (copied, so the chunk it came from can be freed).
      if (buf.length) pending = Buffer.from(buf);
    });
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
        resolve((this.server.address() as net.AddressInfo).port);
      });
    });
  }

  close(): Promise<void> {
    for (const s of this.open) s.destroy();
    return new Promise((resolve) => {
      if (!this.server.listening) return resolve();
      this.server.close(() => resolve());
    });
  }
}
