// UDP listener on the native batch module (server/native/udp_batch.c): recvmmsg/sendmmsg
// move up to BATCH datagrams per syscall and per JS call. Node's dgram costs one syscall and
// one callback per packet, which alone caps a Node server near 0.6x rbldnsd's rate.
// Falls back to dgram (udp.ts) when the module was not built or QUORUMBL_UDP_BATCH=0.

import { createRequire } from 'node:module';
import { isIPv6 } from 'node:net';
import { packagePath } from '../core/package-root.ts';
import type { LatencyHistogram } from './latency.ts';
import type { Responder } from './responder.ts';
import type { Rrl } from './rrl.ts';
import { UdpListener, type PacketHooks } from './udp.ts';

interface NativeUdp {
  open(family: number, address: string, port: number, batch: number, slot: number): [number, number];
  start(id: number, inBuf: Buffer, meta: Int32Array, outBuf: Buffer, outLen: Int32Array, cb: (n: number) => void): void;
  close(id: number): void;
}

const BATCH = 64;
/** Slot size: the largest UDP reply we send (max_udp_payload is capped to it). */
export const SLOT = 4096;

function loadNative(): NativeUdp | null {
  if (process.env.QUORUMBL_UDP_BATCH === '0') return null;
  try {
    return createRequire(import.meta.url)(packagePath('server/native/build/Release/udp_batch.node')) as NativeUdp;
  } catch {
    return null;
  }
}

const native = loadNative();

export const batchAvailable = native !== null;

function clientString(meta: Int32Array, bytes: Uint8Array, i: number): string {
  const o = (i * 8 + 4) * 4;
  if (meta[i * 8 + 1] === 4) return `${bytes[o]}.${bytes[o + 1]}.${bytes[o + 2]}.${bytes[o + 3]}`;
  let s = '';
  for (let g = 0; g < 8; g++) s += (g ? ':' : '') + ((bytes[o + 2 * g]! << 8) | bytes[o + 2 * g + 1]!).toString(16);
  return s;
}

export class BatchUdpListener {
  private id = -1;
  private readonly inBuf = Buffer.alloc(BATCH * SLOT);
  private readonly outBuf = Buffer.alloc(BATCH * SLOT);
  private readonly meta = new Int32Array(BATCH * 8);
  private readonly metaBytes = new Uint8Array(this.meta.buffer);
  private readonly outLen = new Int32Array(BATCH);
  /** One view per slot, made once: no allocation per packet. */
  private readonly views: Buffer[] = [];
  /** Per slot, the client address bytes as 4- and 16-byte views (for rbldnsd ACLs). */
  private readonly peer4: Uint8Array[] = [];
  private readonly peer6: Uint8Array[] = [];

  constructor(
    private readonly responder: () => Responder,
    private readonly hooks: PacketHooks,
    readonly address: string,
    /** Response rate limiting for this listener, or null. */
    private readonly rrl: Rrl | null = null,
    /** Answer latency, recorded once per batch (server/latency.ts). */
    private readonly latency: LatencyHistogram | null = null,
  ) {
    for (let i = 0; i < BATCH; i++) {
      this.views.push(this.inBuf.subarray(i * SLOT, (i + 1) * SLOT));
      const o = (i * 8 + 4) * 4;
      this.peer4.push(this.metaBytes.subarray(o, o + 4));
      this.peer6.push(this.metaBytes.subarray(o, o + 16));
    }
  }

  private onBatch(n: number): void {
    const t0 = performance.now();
    let replies = 0;
    const r = this.responder();
    const meta = this.meta;
    if (this.rrl !== null) this.rrl.tick();
    for (let i = 0; i < n; i++) {
      const len = meta[i * 8]!;
      if (len <= 0) continue; // truncated (larger than a slot): not a DNS query we answer
      try {
        const peer = meta[i * 8 + 1] === 4 ? this.peer4[i]! : this.peer6[i]!;
        let out = r.respond(this.views[i]!, len, clientString(meta, this.metaBytes, i), false, peer);
        if (out > 0 && this.rrl !== null) out = this.rrl.filter(r, out, peer);
        if (out > 0 && out <= SLOT) {
          r.out.copy(this.outBuf, i * SLOT, 0, out);
          this.outLen[i] = out;
          replies++;
        }
      } catch (err) {
        this.hooks.failure(err);
      }
    }
    // The replies leave in one sendmmsg when this returns: each waited for the whole batch.
    if (this.latency !== null) this.latency.record(performance.now() - t0, replies);
  }

  bind(port: number): Promise<number> {
    try {
      const [id, bound] = native!.open(isIPv6(this.address) ? 6 : 4, this.address, port, BATCH, SLOT);
      this.id = id;
      native!.start(id, this.inBuf, this.meta, this.outBuf, this.outLen, (n) => this.onBatch(n));
      return Promise.resolve(bound);
    } catch (err) {
      return Promise.reject(err as Error);
    }
  }

  close(): Promise<void> {
    if (this.id >= 0) native!.close(this.id);
    this.id = -1;
    return Promise.resolve();
  }
}

export type AnyUdpListener = UdpListener | BatchUdpListener;

export function createUdpListener(responder: () => Responder, hooks: PacketHooks, address: string, rrl: Rrl | null = null, latency: LatencyHistogram | null = null): AnyUdpListener {
  return native ? new BatchUdpListener(responder, hooks, address, rrl, latency) : new UdpListener(responder, hooks, address, rrl, latency);
}
