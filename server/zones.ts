// The zones the server answers for, compiled once per load: the lowercase wire form of each
// zone name for a cheap suffix match on the packet bytes, the SOA and NS records pre-encoded
// as compressed blocks (compress.ts), and the glue A records of NS names that lie inside any
// served zone, found through the datasets like rbldnsd does at reload.

import type { Dataset } from '../core/datasets/types.ts';
import type { AclDataset } from '../core/datasets/acl.ts';
import { makeQuery } from '../core/query.ts';
import { AnswerSink } from './sink.ts';
import { BlockBuilder, type Block } from './compress.ts';
import { T_A, T_NS, T_SOA, encodeName, normalizeName, type ParsedQuery } from './wire.ts';

export interface ZoneSource {
  /** Zone name, any case, trailing dot optional. */
  name: string;
  /** Datasets in command-line order. */
  datasets: Dataset[];
  /** Unix seconds: SOA serial 0 means this. */
  newestMtime: number;
  /** Not loaded / `$TIMESTAMP` expired: SERVFAIL (AA clear). */
  failed?: boolean;
  /** rbldnsd `zone:acl:file`: consulted for the client after zone selection; never asked for
   *  data, and not part of `datasets`. */
  acl?: AclDataset | null;
}

export interface ZoneTableOptions {
  /** rbldnsd `:acl:file`: consulted for every packet before it is parsed. */
  globalAcl?: AclDataset | null;
}

/** Dataset types that make a zone map 32-nibble v4-mapped/6to4 names to IPv4 (rbldnsd: only
 *  plain IPv4 datasets count; a combined dataset maps names per subzone by itself). */
const IP4_TYPES = new Set(['ip4set', 'ip4tset', 'ip4trie']);

export class Zone {
  /** Lowercase, no trailing dot. */
  readonly name: string;
  /** Lowercase wire form, root byte included. */
  readonly wire: Buffer;
  readonly labelCount: number;
  readonly datasets: Dataset[];
  readonly failed: boolean;
  readonly acl: AclDataset | null;
  /** Whether 32-nibble names are also looked up as IPv4 (core/query.ts makeQuery). */
  readonly hasIp4: boolean;
  /** SOA record blocks: in the answer (SOA ttl) and in the authority of negative answers (minimum). */
  soaAnswer: Block | null = null;
  soaAuthority: Block | null = null;
  /** The SOA serial when it changes without a new table (merged zones): the responder writes
   *  it over the pre-encoded one (the last 20 bytes of an SOA block are serial .. minimum). */
  readonly liveSerial: { readonly serial: number } | null;
  /** The SOA serial the table was built with (0 in `$SOA` = the newest mtime); 0 without SOA.
   *  Zone transfers read `liveSerial` first (server/xfr). */
  readonly soaSerial: number = 0;
  /** `$NS` names as written (rbldnsd keeps their case), duplicates removed. */
  readonly nsNames: string[] = [];
  nsTtl = 0;
  /** Per rotation (index = first NS written): the NS RRset, and the NS RRset plus glue. */
  nsBlocks: Block[] = [];
  nsGlueBlocks: Block[] = [];
  /** Glue per NS name (same index as `nsNames`): A addresses, deduplicated across the zone. */
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
    this.acl = src.acl ?? null;
    this.hasIp4 = this.datasets.some((d) => IP4_TYPES.has(d.type));
    const soaMeta = this.datasets.find((d) => d.meta.soa)?.meta;
    const soa = soaMeta?.soa;
    this.liveSerial = soaMeta?.liveSerial ?? null;
    if (soa) {
      const serial = soa.serial === 0 ? src.newestMtime : soa.serial;
      this.soaSerial = serial;
      const build = (ttl: number, internal: boolean): Block => {
        const b = new BlockBuilder(this.name, internal);
        b.zonePointer();
        const at = b.rrHead(T_SOA, ttl);
        b.name(soa.mname);
        b.name(soa.rname);
        for (const v of [serial, soa.refresh, soa.retry, soa.expire, soa.minimum]) b.u32(v);
        b.rdEnd(at);
        return b.build(internal ? build(ttl, false) : null);
      };
      this.soaAnswer = build(soa.ttl, true);
      this.soaAuthority = build(soa.minimum, true);
    }
    const ns = this.datasets.find((d) => d.meta.ns)?.meta.ns;
    if (ns) {
      this.nsTtl = ns.ttl;
      const seen = new Set<string>();
      for (const n of ns.names) {
        const key = normalizeName(n);
        if (seen.has(key)) continue;
        seen.add(key);
        this.nsNames.push(n.replace(/\.$/, ''));
        this.glue.push([]);
      }
    }
  }

  /** True when `name` (normalized) is this zone or below it. */
  contains(name: string): boolean {
    return this.name === '' || name === this.name || name.endsWith('.' + this.name);
  }

  /** Builds the NS blocks, once the glue is known. */
  buildNs(): void {
    const n = this.nsNames.length;
    this.nsBlocks = [];
    this.nsGlueBlocks = [];
    for (let s = 0; s < n; s++) {
      this.nsBlocks.push(this.nsBlock(s, false, true, this.nsBlock(s, false, false, null)));
      this.nsGlueBlocks.push(
        this.glueCount ? this.nsBlock(s, true, true, this.nsBlock(s, true, false, null)) : this.nsBlocks[s]!,
      );
    }
  }

  /** The NS RRset starting at `start`, then (with `glue`) the glue in `$NS` order, its owners
   *  pointing at the NS names (rbldnsd's layout). */
  private nsBlock(start: number, glue: boolean, internal: boolean, flat: Block | null): Block {
    const names = this.nsNames;
    const n = names.length;
    const b = new BlockBuilder(this.name, internal);
    const whole = new Array<number>(n);
    for (let j = 0; j < n; j++) {
      const i = (start + j) % n;
      b.zonePointer();
      const at = b.rrHead(T_NS, this.nsTtl);
      whole[i] = b.name(names[i]!);
      b.rdEnd(at);
    }
    if (glue) {
      for (let i = 0; i < n; i++) {
        for (const ip of this.glue[i]!) {
          if (internal) b.pointer(whole[i]!);
          else b.name(names[i]!);
          const at = b.rrHead(T_A, this.glueTtl);
          b.u32(ip);
          b.rdEnd(at);
        }
      }
    }
    return b.build(flat);
  }
}

export class ZoneTable {
  /** Longest names (most labels) first, so the first match is the longest suffix. */
  readonly zones: Zone[];
  readonly globalAcl: AclDataset | null;
  /** Some ACL (global or zone) exists: the responder looks at ACLs only then. */
  readonly aclInUse: boolean;
  private readonly sink = new AnswerSink();

  constructor(sources: ZoneSource[], warn: (msg: string) => void = () => {}, options: ZoneTableOptions = {}) {
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
          acl: prev.acl ?? s.acl,
        });
      } else merged.set(key, s);
    }
    this.zones = [...merged.values()].map((s) => new Zone(s));
    this.zones.sort((a, b) => b.labelCount - a.labelCount);
    this.zones.forEach((z, i) => (z.index = i));
    this.globalAcl = options.globalAcl ?? null;
    this.aclInUse = this.globalAcl !== null || this.zones.some((z) => z.acl !== null);
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
    // rbldnsd keeps an address once per zone: a later NS name whose A records were all given
    // to an earlier NS name gets no glue.
    const seen = new Set<number>();
    zone.nsNames.forEach((written, i) => {
      const name = normalizeName(written);
      const target = this.zoneOf(name);
      if (!target) return; // outside our zones: the resolver finds the address elsewhere
      if (target.failed) return;
      const below = name === target.name ? [] : name.slice(0, name.length - target.name.length - (target.name ? 1 : 0)).split('.');
      sink.reset(T_A);
      const q = makeQuery(below, T_A, target.hasIp4);
      for (const d of target.datasets) d.query(q, sink);
      const addrs: number[] = [];
      let any = false;
      for (let r = 0; r < sink.count; r++) {
        if (sink.types[r] !== T_A) continue;
        any = true;
        const ip = sink.nums[r]!;
        if (!seen.has(ip)) {
          seen.add(ip);
          addrs.push(ip);
        }
      }
      // The TTL of records left out as duplicates still lowers the glue TTL (rbldnsd).
      if (any && sink.minA < zone.glueTtl) zone.glueTtl = sink.minA;
      if (addrs.length === 0) {
        warn(`zone ${zone.name || '.'}: no glue A record found for NS ${name} inside zone ${target.name || '.'}`);
        return;
      }
      zone.glue[i] = addrs;
      zone.glueCount += addrs.length;
    });
    if (zone.glueCount === 0) zone.glueTtl = 0;
    zone.buildNs();
  }
}
