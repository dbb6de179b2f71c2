// A mirror zone's dataset for sources that are not rbldnsd files (plain lists, Spamhaus DROP,
// DShield, netsets, CSV, domain lists): merged address ranges or domain names, all answered
// with the source's configured A and TXT (`$` = the queried address or name).
// Built by the loader thread from a ParsedSource, restored from snapshots like the others.

import type { Dataset, DatasetMeta, DatasetType, Query, RecordSink, SnapshotPart } from './types.ts';
import { contains4, contains6, type RangeSet4, type RangeSet6 } from '../ranges.ts';
import { expandTxt } from '../rbldnsd/value.ts';
import { ip4Dotted, ip4ReverseName } from '../ip4.ts';
import { formatIp6 } from '../ip6.ts';
import type { MaterialiseOptions, ZoneRecord } from '../zones/records.ts';
import { bigWords6, names4, names6, type AddressName } from '../zones/blocks.ts';
import { answerRecords, domainRecords } from '../zones/domains.ts';

export interface SourceAnswer {
  /** A record as uint32 (a 127.0.0.0/8 code). */
  a: number;
  /** TXT template, `$` = the listed key; null = no TXT. */
  txt: string | null;
  ttl: number;
}

interface SourceMeta {
  answer: SourceAnswer;
  meta: DatasetMeta;
  /** Domain names, sorted; '*.x' entries list every name strictly below x. */
  domains: string[];
}

const NO_SUBST = { subst: new Array<string | null>(10).fill(null), base: null };

function bsearch(list: readonly string[], key: string): boolean {
  let lo = 0;
  let hi = list.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const v = list[mid]!;
    if (v === key) return true;
    if (v < key) lo = mid + 1;
    else hi = mid - 1;
  }
  return false;
}

export class SourceDataset implements Dataset {
  readonly type = 'source';
  readonly ttl: number;

  constructor(
    readonly v4: RangeSet4,
    readonly v6: RangeSet6,
    readonly domains: string[],
    readonly answer: SourceAnswer,
    readonly meta: DatasetMeta = {},
  ) {
    this.ttl = answer.ttl;
  }

  get size(): number {
    return this.v4.start.length + this.v6.start.length / 4 + this.domains.length;
  }

  private emit(subject: string, out: RecordSink): void {
    if (out.wantA) out.a(this.answer.a, this.ttl);
    if (out.wantTxt) {
      const t = expandTxt(this.answer.txt, subject, NO_SUBST);
      if (t !== null) out.txt(t, this.ttl);
    }
  }

  /** The listed entry covering a domain name: the name itself or the nearest '*.' parent. */
  private domainMatch(labels: readonly string[]): string | null {
    if (!labels.length || !this.domains.length) return null;
    const name = labels.join('.');
    if (bsearch(this.domains, name)) return name;
    for (let i = 1; i < labels.length; i++) {
      const parent = labels.slice(i).join('.');
      if (bsearch(this.domains, '*.' + parent)) return parent;
    }
    return null;
  }

  query(q: Query, out: RecordSink): boolean {
    if (q.ip4 >= 0 && this.v4.start.length && contains4(this.v4, q.ip4)) {
      this.emit(ip4Dotted(q.ip4), out);
      return true;
    }
    if (q.ip6 && this.v6.start.length && contains6(this.v6, q.ip6)) {
      this.emit(formatIp6(q.ip6), out);
      return true;
    }
    const d = q.ip4 < 0 && !q.ip6 ? this.domainMatch(q.labels) : null;
    if (d === null) return false;
    this.emit(d, out);
    return true;
  }

  dump(_zone: string, write: (line: string) => void): void {
    write(`$TTL ${this.ttl}`);
    const a = ip4Dotted(this.answer.a);
    const { start, end } = this.v4;
    for (let i = 0; i < start.length; i++) {
      // Whole ranges are written as their first address with a comment (dump is informational).
      write(`${ip4ReverseName(start[i]!, 4)}\tA\t${a}\t; ${ip4Dotted(start[i]!)}-${ip4Dotted(end[i]!)}`);
    }
    for (const d of this.domains) write(`${d}\tA\t${a}`);
  }

  /** Ranges as names (core/zones/blocks.ts), domains with their wildcards (core/zones/domains.ts).
   *  TXT `$` is the address of an exact name, the CIDR of an address wildcard, and for domains
   *  what query() says (the listed name, or the parent x of a matching `*.x`). */
  *records(opts: MaterialiseOptions): Generator<ZoneRecord> {
    const ttl = this.ttl;
    const a = [this.answer.a];
    const write = function* (this: SourceDataset, names: readonly AddressName[] | null): Generator<ZoneRecord> {
      if (names) for (const n of names) yield* answerRecords(n.name, { a, txt: expandTxt(this.answer.txt, n.key, NO_SUBST) }, ttl);
    };
    const { start, end } = this.v4;
    for (let i = 0; i < start.length; i++) yield* write.call(this, names4(start[i]!, end[i]!, opts));
    const s6 = this.v6.start;
    const e6 = this.v6.end;
    for (let i = 0; i < s6.length; i += 4) yield* write.call(this, names6(bigWords6(s6, i), bigWords6(e6, i), opts));
    if (!this.domains.length) return;
    const of = (subject: string | null) => (subject === null ? null : { a, txt: expandTxt(this.answer.txt, subject, NO_SUBST) });
    yield* domainRecords({
      nodes: this.domains.map((d) => (d.startsWith('*.') ? d.slice(2) : d)),
      at: (name) => of(this.domainMatch(name.split('.'))),
      below: (name) => of(this.domainMatch(['\u0000', ...name.split('.')])),
      ttl,
    });
  }

  /** Already in merged form: its own ranges and names. */
  coverage(): { v4: RangeSet4; v6: RangeSet6; domains: string[] } {
    return { v4: this.v4, v6: this.v6, domains: this.domains };
  }

  snapshot(): SnapshotPart {
    const meta: SourceMeta = { answer: this.answer, meta: this.meta, domains: this.domains };
    return { type: this.type, meta, arrays: [this.v4.start, this.v4.end, this.v6.start, this.v6.end] };
  }
}

export const source: DatasetType = {
  name: 'source',
  createLoader() {
    throw new Error('source datasets are built from parsed upstream data, not from rbldnsd lines');
  },
  fromSnapshot(part: SnapshotPart): Dataset {
    const m = part.meta as SourceMeta;
    const [s4, e4, s6, e6] = part.arrays as Uint32Array<ArrayBuffer>[];
    return new SourceDataset({ start: s4!, end: e4! }, { start: s6!, end: e6! }, m.domains, m.answer, m.meta);
  },
};
