// The zones the server answers for, compiled once per load: the lowercase wire form of each
// zone name for a cheap suffix match on the packet bytes, the SOA and NS records pre-encoded
// (the owner is written as a pointer into the question), and the glue A records of NS names
// that lie inside any served zone, found through the datasets like rbldnsd does at reload.

import type { Dataset } from '../core/datasets/types.ts';
import { makeQuery } from '../core/query.ts';
import { AnswerSink } from './sink.ts';
import { C_IN, T_A, T_NS, T_SOA, encodeName, normalizeName, type ParsedQuery } from './wire.ts';

export interface ZoneSource {
  /** Zone name, any case, trailing dot optional. */
  name: string;
  /** Datasets in command-line order. */
  datasets: Dataset[];
  /** Unix seconds: SOA serial 0 means this. */
  newestMtime: number;
  /** Not loaded / `$TIMESTAMP` expired: SERVFAIL (AA clear). */
  failed?: boolean;
}

function u32(b: Buffer, o: number, v: number): void {
  b.writeUInt32BE(v >>> 0, o);
}

/** TYPE CLASS TTL RDLENGTH RDATA: everything of an RR after its owner name. */
function rrTail(type: number, ttl: number, rdata: Buffer): Buffer {
  const b = Buffer.alloc(10 + rdata.length);
  b.writeUInt16BE(type, 0);
  b.writeUInt16BE(C_IN, 2);
  u32(b, 4, ttl);
  b.writeUInt16BE(rdata.length, 8);
  rdata.copy(b, 10);
  return b;
}

export class Zone {
  /** Lowercase, no trailing dot. */
  readonly name: string;
  /** Lowercase wire form, root byte included. */
  readonly wire: Buffer;
  readonly labelCount: number;
  readonly datasets: Dataset[];
  readonly failed: boolean;
  /** SOA RR tails: in the answer (SOA ttl) and in the authority of negative answers (minimum). */
  soaAnswer: Buffer | null = null;
  soaAuthority: Buffer | null = null;
  /** NS RR tails in `$NS` order, and the offset of the name inside each (for glue pointers). */
  ns: Buffer[] = [];
  /** Wire form of each NS name (for glue owners that cannot be compressed). */
  nsNames: Buffer[] = [];
  /** Glue per NS name (same index as `ns`): A addresses; all glue shares `glueTtl`. */
  glue: number[][] = [];
  glueCount = 0;
  glueTtl = 0;
  /** Rotation of the NS RRset: advanced every time it is written (rbldnsd does the same). */
  nsRotation = 0;
  /** Position in the table (counters are kept per index). */
  index = 0;

  constructor(src: ZoneSource) {
    this.name = normalizeName(src.name);
    this.wire = encodeName(this.name);
    this.labelCount = this.name === '' ? 0 : this.name.split('.').length;
    this.datasets = src.datasets.slice();
    this.failed = !!src.failed;
    const soa = this.datasets.find((d) => d.meta.soa)?.meta.soa;
    if (soa) {
      const mname = encodeName(soa.mname);
      const rname = encodeName(soa.rname);
      const rdata = Buffer.alloc(mname.length + rname.length + 20);
      mname.copy(rdata, 0);
      rname.copy(rdata, mname.length);
      let o = mname.length + rname.length;
      u32(rdata, o, soa.serial === 0 ? src.newestMtime : soa.serial);
      u32(rdata, o + 4, soa.refresh);
      u32(rdata, o + 8, soa.retry);
      u32(rdata, o + 12, soa.expire);
      u32(rdata, o + 16, soa.minimum);
      this.soaAnswer = rrTail(T_SOA, soa.ttl, rdata);
      this.soaAuthority = rrTail(T_SOA, soa.minimum, rdata);
    }
    const ns = this.datasets.find((d) => d.meta.ns)?.meta.ns;
    if (ns) {
      for (const n of ns.names) {
        const w = encodeName(n);
        this.nsNames.push(w);
        this.ns.push(rrTail(T_NS, ns.ttl, w));
        this.glue.push([]);
      }
    }
  }

  /** True when `name` (normalized) is this zone or below it. */
  contains(name: string): boolean {
    return this.name === '' || name === this.name || name.endsWith('.' + this.name);
  }
}

export class ZoneTable {
  /** Longest names (most labels) first, so the first match is the longest suffix. */
  readonly zones: Zone[];
  private readonly sink = new AnswerSink();

  constructor(sources: ZoneSource[], warn: (msg: string) => void = () => {}) {
    // Repeated zone names add datasets to the same zone (rbldnsd's rule).
    const merged = new Map<string, ZoneSource>();
    for (const s of sources) {
      const key = normalizeName(s.name);
      const prev = merged.get(key);
      if (prev) {
        merged.set(key, {
          ...prev,
          datasets: [...prev.datasets, ...s.datasets],
          newestMtime: Math.max(prev.newestMtime, s.newestMtime),
          failed: prev.failed || s.failed,
        });
      } else merged.set(key, s);
    }
    this.zones = [...merged.values()].map((s) => new Zone(s));
    this.zones.sort((a, b) => b.labelCount - a.labelCount);
    this.zones.forEach((z, i) => (z.index = i));
    for (const z of this.zones) this.computeGlue(z, warn);
  }

  /** The zone serving a normalized name (longest suffix), or undefined. */
  zoneOf(name: string): Zone | undefined {
    const n = normalizeName(name);
    return this.zones.find((z) => z.contains(n));
  }

  /** Finds the zone of a parsed question; returns its index or -1. The number of labels
   *  below the zone is `q.nLabels - zone.labelCount`. */
  find(q: ParsedQuery): number {
    const b = q.buf;
    const nameLen = q.nameEnd - 12;
    const zones = this.zones;
    for (let i = 0; i < zones.length; i++) {
      const z = zones[i]!;
      const k = q.nLabels - z.labelCount;
      if (k < 0) continue;
      const w = z.wire;
      const zl = w.length;
      const start = 12 + nameLen - zl;
      if (k === 0 ? start !== 12 : k < q.nLabels && q.labelOff[k] !== start) continue;
      let j = 0;
      for (; j < zl; j++) {
        let c = b[start + j]!;
        if (c >= 65 && c <= 90) c |= 32;
        if (c !== w[j]) break;
      }
      if (j === zl) return i;
    }
    return -1;
  }

  private computeGlue(zone: Zone, warn: (msg: string) => void): void {
    const sink = this.sink;
    zone.glueTtl = 0x7fffffff;
    zone.nsNames.forEach((wire, i) => {
      const name = wireToName(wire);
      const target = this.zoneOf(name);
      if (!target) return; // outside our zones: the resolver finds the address elsewhere
      if (target.failed) return;
      const below = name === target.name ? [] : name.slice(0, name.length - target.name.length - (target.name ? 1 : 0)).split('.');
      sink.reset(T_A);
      const q = makeQuery(below, T_A);
      for (const d of target.datasets) d.query(q, sink);
      const addrs: number[] = [];
      for (let r = 0; r < sink.count; r++) if (sink.types[r] === T_A) addrs.push(sink.nums[r]!);
      if (addrs.length === 0) {
        warn(`zone ${zone.name || '.'}: no glue A record found for NS ${name} inside zone ${target.name || '.'}`);
        return;
      }
      zone.glue[i] = addrs;
      zone.glueCount += addrs.length;
      if (sink.minA < zone.glueTtl) zone.glueTtl = sink.minA;
    });
    if (zone.glueCount === 0) zone.glueTtl = 0;
  }
}

function wireToName(w: Buffer): string {
  const parts: string[] = [];
  let o = 0;
  while (w[o]) {
    parts.push(w.toString('latin1', o + 1, o + 1 + w[o]!));
    o += w[o]! + 1;
  }
  return parts.join('.');
}
