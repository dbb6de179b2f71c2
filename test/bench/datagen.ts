// Building blocks of the generated benchmark and fuzz-test data: seeded PRNGs (deterministic
// across runs, so cached data sets and fuzz failures reproduce) and a buffered line writer.
import { readFileSync, writeSync } from 'node:fs';

/** sfc32: small, fast, well-distributed; uint32 outputs. */
export function sfc32(seed: number): () => number {
  let a = 0x9e3779b9, b = 0x243f6a88, c = 0xb7e15162, d = seed >>> 0;
  const next = (): number => {
    const t = (((a + b) >>> 0) + d) >>> 0;
    d = (d + 1) >>> 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) >>> 0;
    c = ((c << 21) | (c >>> 11)) >>> 0;
    c = (c + t) >>> 0;
    return t;
  };
  for (let i = 0; i < 16; i++) next();
  return next;
}

/** mulberry32: uint32 outputs. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

/** mulberry32 scaled to [0, 1), a seeded Math.random. */
export function unitRandom(seed: number): () => number {
  const next = mulberry32(seed);
  return () => next() / 4294967296;
}

/** Buffered synchronous writer of ASCII lines; formats dotted quads straight into bytes. */
export class LineWriter {
  private static octets: Buffer[] = Array.from({ length: 256 }, (_, i) => Buffer.from(String(i), 'latin1'));
  private readonly buf: Buffer;
  private pos = 0;
  bytes = 0;
  constructor(private readonly fd: number, bufferSize = 1 << 20) {
    this.buf = Buffer.allocUnsafe(bufferSize);
  }
  private room(n: number): void {
    if (this.pos + n > this.buf.length) this.flush();
  }
  flush(): void {
    if (this.pos > 0) writeSync(this.fd, this.buf, 0, this.pos);
    this.bytes += this.pos;
    this.pos = 0;
  }
  str(s: string): this {
    this.room(s.length * 3 + 1);
    this.pos += this.buf.write(s, this.pos, 'utf8');
    return this;
  }
  ip(x: number): this {
    this.room(16);
    const o = LineWriter.octets;
    for (let sh = 24; sh >= 0; sh -= 8) {
      const oc = o[(x >>> sh) & 255]!;
      oc.copy(this.buf, this.pos);
      this.pos += oc.length;
      if (sh) this.buf[this.pos++] = 46; // '.'
    }
    return this;
  }
  nl(): this {
    this.room(1);
    this.buf[this.pos++] = 10;
    return this;
  }
}

/** A count from the environment: `1000`, `1.5k`, `4M`; `def` when unset. */
export function count(s: string | undefined, def: number): number {
  if (!s) return def;
  const m = /^(\d+(?:\.\d+)?)([kKmM]?)$/.exec(s);
  if (!m) throw new Error(`bad number: ${s}`);
  return Math.round(Number(m[1]) * (m[2]?.toLowerCase() === 'm' ? 1e6 : m[2]?.toLowerCase() === 'k' ? 1e3 : 1));
}

/** Peak (VmHWM) or current (VmRSS) resident memory of this process, MiB. */
export function vm(field: 'VmHWM' | 'VmRSS'): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}
