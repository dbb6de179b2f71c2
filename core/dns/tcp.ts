// DNS over TCP for clients (RFC 7766): 2-byte length-prefixed messages, with back-pressure (a
// reader behind the sender pauses the socket) and a byte cap. Used by the AXFR source fetcher
// (sync/fetch/axfr.ts) and the replica's zone transfers (sync/replica/).

import { connect, type Socket } from 'node:net';

export interface DnsTcpOptions {
  connectTimeoutMs: number;
  /** Most bytes the peer may send on this connection; more closes it with an error. */
  maxBytes: number;
  /** Aborting destroys the socket with the signal's reason. */
  signal?: AbortSignal;
  /** The caller's error type for a connect timeout or the byte cap (retryable or not). */
  error?: (message: string, retryable: boolean) => Error;
}

export class DnsTcp {
  private buf: Buffer = Buffer.alloc(0);
  private queue: Buffer[] = [];
  private ended = false;
  private failure: Error | null = null;
  private wake: (() => void) | null = null;
  private received = 0;

  private constructor(private sock: Socket, private opts: DnsTcpOptions) {}

  static open(host: string, port: number, opts: DnsTcpOptions): Promise<DnsTcp> {
    const error = opts.error ?? ((m: string) => new Error(m));
    return new Promise((resolve, reject) => {
      const sock = connect({ host, port });
      const c = new DnsTcp(sock, opts);
      const timer = setTimeout(() => sock.destroy(error(`connect timed out after ${opts.connectTimeoutMs} ms`, true)), opts.connectTimeoutMs);
      const onAbort = () => sock.destroy(opts.signal!.reason);
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      sock.once('connect', () => {
        clearTimeout(timer);
        resolve(c);
      });
      sock.on('error', (err) => {
        clearTimeout(timer);
        c.fail(err);
        reject(err);
      });
      sock.on('data', (d: Buffer) => c.onData(d));
      sock.on('close', () => {
        clearTimeout(timer);
        opts.signal?.removeEventListener('abort', onAbort);
        c.ended = true;
        c.poke();
      });
    });
  }

  private fail(err: Error): void {
    this.failure ??= err;
    this.poke();
  }

  private poke(): void {
    const w = this.wake;
    this.wake = null;
    w?.();
  }

  private onData(d: Buffer): void {
    this.received += d.length;
    if (this.received > this.opts.maxBytes) {
      const error = this.opts.error ?? ((m: string) => new Error(m));
      this.sock.destroy(error(`transfer exceeds the size cap of ${this.opts.maxBytes} bytes`, false));
      return;
    }
    this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
    while (this.buf.length >= 2) {
      const n = this.buf.readUInt16BE(0);
      if (this.buf.length < 2 + n) break;
      this.queue.push(this.buf.subarray(2, 2 + n));
      this.buf = this.buf.subarray(2 + n);
    }
    if (this.queue.length > 64) this.sock.pause(); // the reader is behind: let TCP push back
    this.poke();
  }

  send(msg: Buffer): void {
    const len = Buffer.alloc(2);
    len.writeUInt16BE(msg.length, 0);
    this.sock.write(Buffer.concat([len, msg]));
  }

  /** Next message; null when the peer closed the connection (a partial message is dropped). */
  async next(): Promise<Buffer | null> {
    for (;;) {
      if (this.queue.length) {
        const m = this.queue.shift()!;
        if (this.queue.length < 16) this.sock.resume();
        return m;
      }
      if (this.failure) throw this.failure;
      if (this.ended) return null;
      await new Promise<void>((r) => (this.wake = r));
    }
  }

  close(): void {
    this.sock.destroy();
  }
}
