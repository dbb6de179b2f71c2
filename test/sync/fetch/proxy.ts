// A TCP relay for fault injection between a client and a real server: it can throttle or cut
// the server->client stream, rewrite DNS-over-TCP frames, or kill everything when told.

import { connect, createServer, type Server, type Socket } from 'node:net';

export interface RelayOptions {
  /** server->client bytes per 50 ms tick (unlimited when absent) */
  bytesPerTick?: number;
  /** forward only this many server->client bytes, then drop both connections */
  cutAfter?: number;
  /** rewrite server->client DNS TCP frames (length prefix handled here) */
  frame?: (msg: Buffer, index: number) => Buffer;
}

export class Relay {
  port = 0;
  private server: Server;
  private socks = new Set<Socket>();
  private timers = new Set<NodeJS.Timeout>();

  constructor(private targetPort: number, private opts: RelayOptions = {}, private host = '127.0.0.1') {
    this.server = createServer((client) => this.pair(client));
  }

  async start(): Promise<this> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as { port: number }).port;
    return this;
  }

  async stop(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    for (const s of this.socks) s.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  private track(s: Socket): Socket {
    this.socks.add(s);
    s.on('close', () => this.socks.delete(s));
    s.on('error', () => {});
    return s;
  }

  private pair(client: Socket): void {
    this.track(client);
    const upstream = this.track(connect({ host: this.host, port: this.targetPort }));
    client.pipe(upstream);
    const { bytesPerTick, cutAfter, frame } = this.opts;
    let sent = 0;
    const queue: Buffer[] = [];
    let upstreamDone = false;
    let queued = 0;
    const dropBoth = () => {
      client.destroy();
      upstream.destroy();
    };
    // upstream gone: what was already relayed still arrives (as from kernel buffers), then EOF
    upstream.on('close', () => {
      upstreamDone = true;
      if (!bytesPerTick) client.end();
    });
    client.on('close', () => upstream.destroy());
    const emit = (b: Buffer) => {
      if (cutAfter !== undefined) {
        if (sent + b.length >= cutAfter) {
          client.write(b.subarray(0, cutAfter - sent), dropBoth);
          sent = cutAfter;
          return;
        }
      }
      sent += b.length;
      client.write(b);
    };
    let pending = Buffer.alloc(0);
    let frames = 0;
    upstream.on('data', (d: Buffer) => {
      if (frame) {
        pending = Buffer.concat([pending, d]);
        while (pending.length >= 2 && pending.length >= 2 + pending.readUInt16BE(0)) {
          const n = pending.readUInt16BE(0);
          const out = frame(Buffer.from(pending.subarray(2, 2 + n)), frames++);
          const len = Buffer.alloc(2);
          len.writeUInt16BE(out.length, 0);
          emit(Buffer.concat([len, out]));
          pending = pending.subarray(2 + n);
        }
        return;
      }
      if (bytesPerTick) {
        queue.push(d);
        queued += d.length;
        if (queued > 256 * 1024) upstream.pause(); // the server really is mid-transfer
      } else emit(d);
    });
    if (bytesPerTick) {
      const t = setInterval(() => {
        let budget = bytesPerTick;
        while (budget > 0 && queue.length) {
          const b = queue[0]!;
          const take = b.subarray(0, budget);
          if (take.length === b.length) queue.shift();
          else queue[0] = b.subarray(budget);
          budget -= take.length;
          queued -= take.length;
          emit(take);
        }
        if (queued < 64 * 1024) upstream.resume();
        if (upstreamDone && !queue.length) client.end();
      }, 50);
      this.timers.add(t);
      client.on('close', () => clearInterval(t));
    }
  }
}
