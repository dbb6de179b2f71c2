// UDP client for the differential suite: many queries in flight, replies matched by ID,
// and a "raw" probe that tells "no reply" apart from a reply for malformed packets.

import dgram from 'node:dgram';
import { buildQuery } from './wire.ts';

export class UdpClient {
  private sock = dgram.createSocket('udp4');
  private pending = new Map<number, (b: Buffer) => void>();
  private nextId = 1;
  private ready: Promise<void>;

  constructor(private port: number, private host = '127.0.0.1') {
    this.sock.on('message', (msg) => {
      if (msg.length < 2) return;
      const cb = this.pending.get(msg.readUInt16BE(0));
      if (cb) cb(msg);
    });
    this.ready = new Promise((res) => this.sock.bind(0, '127.0.0.1', () => res()));
  }

  private allocId(): number {
    for (let i = 0; i < 65536; i++) {
      const id = this.nextId;
      this.nextId = (this.nextId % 65535) + 1;
      if (!this.pending.has(id)) return id;
    }
    throw new Error('no free DNS id');
  }

  /** Sends `build(id)` and resolves with the reply, or null after `tries` timeouts. */
  async exchange(build: (id: number) => Buffer, timeoutMs = 1500, tries = 2): Promise<Buffer | null> {
    await this.ready;
    const id = this.allocId();
    const pkt = build(id);
    try {
      for (let t = 0; t < tries; t++) {
        const got = await new Promise<Buffer | null>((res) => {
          const timer = setTimeout(() => res(null), timeoutMs);
          this.pending.set(id, (b) => {
            clearTimeout(timer);
            res(b);
          });
          this.sock.send(pkt, this.port, this.host);
        });
        if (got) return got;
      }
      return null;
    } finally {
      this.pending.delete(id);
    }
  }

  close(): void {
    this.sock.close();
  }
}

/**
 * Sends a raw (possibly malformed) packet from a fresh socket, then a valid probe query.
 * Whatever arrives before the probe's reply (plus a short grace period for servers that
 * answer out of order) is the raw packet's reply; nothing means "dropped".
 */
export async function rawProbe(port: number, raw: Buffer, graceMs = 150): Promise<Buffer[]> {
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((res) => sock.bind(0, '127.0.0.1', () => res()));
  const probeId = 0xbeef;
  const got: Buffer[] = [];
  try {
    await new Promise<void>((resolve, reject) => {
      let done = false;
      const finish = () => {
        if (done) return;
        done = true;
        setTimeout(resolve, graceMs);
      };
      const overall = setTimeout(() => reject(new Error('probe query got no reply: server dead?')), 4000);
      sock.on('message', (msg) => {
        const isProbe = msg.length >= 12 && msg.readUInt16BE(0) === probeId && msg.readUInt16BE(4) === 1 &&
          msg.subarray(12, 12 + 14).equals(Buffer.from('\x07version\x04bind\x00', 'latin1'));
        if (isProbe && !done) {
          clearTimeout(overall);
          finish();
        } else got.push(msg);
      });
      sock.send(raw, port, '127.0.0.1', () => {
        sock.send(buildQuery(probeId, 'version.bind', 16, 3, { rd: false }), port, '127.0.0.1');
      });
    });
  } finally {
    sock.close();
  }
  return got;
}

/** Runs `fn` over `items` with at most `limit` in flight, keeping result order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (x: T, i: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
