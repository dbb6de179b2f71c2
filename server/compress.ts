// Pre-encoded reply fragments ("blocks": the SOA record, the NS RRset, the NS RRset plus its
// glue) with rbldnsd's name compression. rbldnsd compresses each such fragment on its own:
// a name points at an earlier name of the same fragment or at a suffix of the zone name as it
// appears in the question (so it takes the query's case), never at other parts of the reply.
// A block is built once per zone (and NS rotation); writing it is a copy plus a few pointer
// patches, because the block's position and the zone suffix's position vary per reply.

import { C_IN } from './wire.ts';

export interface Block {
  /** The records, with zero placeholders where pointers go. */
  readonly bytes: Buffer;
  /** Pairs (position in `bytes`, target): target >= 0 is an offset inside the block, target < 0
   *  is `-1 - offset` inside the zone name's wire form (as found in the question). */
  readonly fix: Int32Array;
  /** Number of records. */
  readonly count: number;
  /** The same records without pointers into the block (zone pointers only), for a block that
   *  starts too far into a big TCP reply for 14-bit pointers. */
  readonly flat: Block | null;
}

/** Largest offset a compression pointer can reach. */
export const MAX_POINTER = 0x3fff;

/** The variant of `b` that can be written at `pos`: `b.flat` when block-internal pointers
 *  could not reach. */
export function pick(b: Block, pos: number): Block {
  return b.flat !== null && pos + b.bytes.length > MAX_POINTER ? b.flat : b;
}

/** Writes `b` (chosen with `pick`) at `pos` of `out`, the zone name's wire form being at
 *  `zoneAt`; returns the end. */
export function writeBlock(out: Buffer, pos: number, b: Block, zoneAt: number): number {
  const bytes = b.bytes;
  const n = bytes.length;
  if (n < 40) for (let i = 0; i < n; i++) out[pos + i] = bytes[i]!;
  else bytes.copy(out, pos);
  const fix = b.fix;
  for (let i = 0; i < fix.length; i += 2) {
    const t = fix[i + 1]!;
    const to = t >= 0 ? pos + t : zoneAt - 1 - t;
    const at = pos + fix[i]!;
    out[at] = 0xc0 | (to >> 8);
    out[at + 1] = to & 0xff;
  }
  return pos + n;
}

/** Builds one block: names are added in writing order and compressed against the zone name's
 *  suffixes and the names written before them in this block (case-insensitively; the labels
 *  written keep their case). */
export class BlockBuilder {
  private readonly parts: number[] = [];
  private readonly fix: number[] = [];
  /** Lowercase dotted suffix -> target (as in Block.fix). */
  private readonly table = new Map<string, number>();
  private count = 0;

  /** `zone`: the zone name (any case, no trailing dot, '' = root). `internal`: also point at
   *  names earlier in the block. */
  constructor(zone: string, private readonly internal = true) {
    const labels = zone === '' ? [] : zone.split('.');
    let off = 0;
    for (let i = 0; i < labels.length; i++) {
      this.table.set(labels.slice(i).join('.').toLowerCase(), -1 - off);
      off += 1 + Buffer.byteLength(labels[i]!, 'latin1');
    }
  }

  get length(): number {
    return this.parts.length;
  }

  /** A pointer to the zone name (record owners). */
  zonePointer(): void {
    this.pointer(-1);
  }

  /** Appends a name; returns its target (for a later pointer to the whole name). */
  name(name: string): number {
    const labels = name === '' || name === '.' ? [] : name.replace(/\.$/, '').split('.');
    const keys = labels.map((_, i) => labels.slice(i).join('.').toLowerCase());
    let whole: number | null = null;
    for (let i = 0; i < labels.length; i++) {
      const hit = this.table.get(keys[i]!);
      if (hit !== undefined) {
        this.pointer(hit);
        return whole ?? hit;
      }
      const at = this.parts.length;
      whole ??= at;
      if (this.internal) this.table.set(keys[i]!, at);
      const bytes = Buffer.from(labels[i]!, 'latin1');
      if (bytes.length === 0 || bytes.length > 63) throw new Error(`invalid DNS name "${name}"`);
      this.parts.push(bytes.length, ...bytes);
    }
    whole ??= this.parts.length;
    this.parts.push(0);
    return whole;
  }

  pointer(target: number): void {
    this.fix.push(this.parts.length, target);
    this.parts.push(0, 0);
  }

  /** TYPE, CLASS IN, TTL, and a placeholder RDLENGTH; returns the RDLENGTH position. */
  rrHead(type: number, ttl: number): number {
    this.u16(type);
    this.u16(C_IN);
    this.u32(ttl);
    const at = this.parts.length;
    this.u16(0);
    this.count++;
    return at;
  }

  /** Fills in the RDLENGTH written by `rrHead`. */
  rdEnd(at: number): void {
    const len = this.parts.length - at - 2;
    this.parts[at] = len >> 8;
    this.parts[at + 1] = len & 0xff;
  }

  u16(v: number): void {
    this.parts.push((v >> 8) & 0xff, v & 0xff);
  }

  u32(v: number): void {
    v >>>= 0;
    this.parts.push(v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff);
  }

  build(flat: Block | null = null): Block {
    if (this.parts.length > 0xffff) throw new Error('block too long');
    return { bytes: Buffer.from(this.parts), fix: Int32Array.from(this.fix), count: this.count, flat };
  }
}
