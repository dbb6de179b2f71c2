// The merged zones bl, wl and dbl (DESIGN section 2): each answer is the verdict of the shared
// evaluation (evaluate.ts) for the key; bl/dbl answer one A per reason when the
// verdict blocks, wl answers the allow code. The MergeView behind them is swapped in place
// (new evidence, overlay or policy), so these objects live as long as the zone.
// Hot path: a neutral IPv4 A query is a binary search plus a memo read, no allocation.

import type { Dataset, DatasetMeta, Query, RecordSink, SnapshotPart } from '../../core/datasets/types.ts';
import type { MergeView } from './evaluate.ts';
import { allowTxt, blockTxt, type TxtOptions } from './answer.ts';
import { evidenceSnapshot } from './evidence.ts';
import type { Verdict } from './policy.ts';
import { ip4Dotted, ip4ReverseName } from '../../core/ip4.ts';
import { formatIp6 } from '../../core/ip6.ts';
import type { MaterialiseOptions, ZoneRecord } from '../../core/zones/records.ts';
import { mergedRecords } from './materialise.ts';

export type MergedKind = 'bl' | 'wl' | 'dbl';

export interface MergedOptions extends TxtOptions {
  /** TTL of A and TXT answers (seconds). */
  ttl: number;
  /** SOA / NS of the zone, when this dataset provides them. */
  meta?: DatasetMeta;
}

export class MergedDataset implements Dataset {
  readonly type: string;
  readonly ttl: number;
  readonly meta: DatasetMeta;

  constructor(readonly kind: MergedKind, readonly view: MergeView, readonly options: MergedOptions) {
    this.type = `merged-${kind}`;
    this.ttl = options.ttl;
    // The view's serial rises with every merge and overlay/policy swap: the SOA carries it.
    this.meta = options.meta ? { ...options.meta, liveSerial: view } : {};
  }

  get size(): number {
    const e = this.view.evidence;
    return this.kind === 'dbl' ? e.domains.length : e.cls4.length + e.cls6.length;
  }

  /** The verdict for the query's key (the same call explain makes). */
  private verdictOf(q: Query): Verdict | null {
    if (this.kind === 'dbl') return q.labels.length ? this.view.evalDomain(q.labels) : null;
    if (q.ip4 >= 0) return this.view.eval4(q.ip4);
    if (q.ip6) return this.view.eval6(q.ip6);
    return null;
  }

  private keyText(q: Query): string {
    if (this.kind === 'dbl') return q.labels.join('.');
    return q.ip4 >= 0 ? ip4Dotted(q.ip4) : formatIp6(q.ip6!);
  }

  /** An empty non-terminal (RFC 8020: NODATA, not NXDOMAIN, or a strict QNAME-minimising
   *  resolver never asks for the key below it): bl and wl cover the whole address space, so
   *  every proper prefix of an address name is one; in dbl, a parent of a name the sources
   *  list or of an overlay key (MergeView.hasDomainBelow). */
  private nonTerminal(q: Query): boolean {
    if (this.kind !== 'dbl') return q.ipPrefix === true;
    const l = q.labels;
    return l.length > 0 && this.view.hasDomainBelow(l.length === 1 ? l[0]! : l.join('.'));
  }

  query(q: Query, out: RecordSink): boolean {
    const v = this.verdictOf(q);
    if (v === null) return this.nonTerminal(q);
    const ttl = this.ttl;
    if (this.kind === 'wl') {
      if (v.wl === 0) return this.nonTerminal(q);
      if (out.wantA) out.a(v.wl, ttl);
      if (out.wantTxt) out.txt(allowTxt(v, this.view.evidence, this.options), ttl);
      return true;
    }
    if (!v.block) return this.nonTerminal(q);
    if (out.wantA) {
      const a = v.a;
      for (let i = 0; i < a.length; i++) out.a(a[i]!, ttl);
    }
    if (out.wantTxt) out.txt(blockTxt(v, this.keyText(q), this.view.evidence, this.options), ttl);
    return true;
  }

  /** Informational dump of what neutral local facts would answer: one line per listed interval. */
  dump(_zone: string, write: (line: string) => void): void {
    write(`$TTL ${this.ttl}`);
    if (this.kind === 'dbl') {
      write('test\tA\t127.0.1.2');
      const e = this.view.evidence;
      e.domains.forEach((d) => {
        const v = this.view.evalDomain(d.startsWith('*.') ? ['x', ...d.slice(2).split('.')] : d.split('.'));
        if (v.block) for (const a of v.a) write(`${d}\tA\t${ip4Dotted(a)}`);
      });
      return;
    }
    write(this.kind === 'wl' ? '2.0.0.127\tA\t127.0.10.0' : '2.0.0.127\tA\t127.0.0.2');
    const e = this.view.evidence;
    const s = e.starts4;
    for (let i = 0; i < s.length; i++) {
      if (s[i] === 0x7f000002) continue; // written above
      const v = this.view.eval4(s[i]!);
      const codes = this.kind === 'wl' ? (v.wl ? [v.wl] : []) : v.block ? v.a : [];
      const last = i + 1 < s.length ? s[i + 1]! - 1 : 0xffffffff;
      for (const a of codes) write(`${ip4ReverseName(s[i]!, 4)}\tA\t${ip4Dotted(a)}\t; ${ip4Dotted(s[i]!)}-${ip4Dotted(last)}`);
    }
  }

  /** The zone as plain records (materialise.ts): the evidence, policy and overlay in force at
   *  the first next(), whatever is swapped in meanwhile. */
  records(opts: MaterialiseOptions): Iterable<ZoneRecord> {
    return mergedRecords(this.kind, this.view, { base: this.options.base, lookupUrl: this.options.lookupUrl, ttl: this.ttl }, opts);
  }

  /** The evidence (the overlay and policy live in SQLite and the config). */
  snapshot(): SnapshotPart {
    const { base, lookupUrl, ttl } = this.options;
    return { type: this.type, meta: { kind: this.kind, base, lookupUrl, ttl }, arrays: [], children: [evidenceSnapshot(this.view.evidence)] };
  }
}

export function mergedDatasets(view: MergeView, options: MergedOptions): Record<MergedKind, MergedDataset> {
  return {
    bl: new MergedDataset('bl', view, options),
    wl: new MergedDataset('wl', view, options),
    dbl: new MergedDataset('dbl', view, options),
  };
}
