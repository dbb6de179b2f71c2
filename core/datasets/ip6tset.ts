// rbldnsd `ip6tset` ("trivial" IPv6 set): /64 entries written as exactly four groups, /128
// exclusions (`!` + a full address), and one A+TXT for the whole dataset (the first valid
// default line anywhere; values after keys are ignored). Listed iff the query's /64 is present
// and its exact /128 is not excluded.
// Storage: sorted (hi, lo) word pairs for the /64s, sorted 4-word records for the exclusions.

import type { Dataset, DatasetLoader, DatasetMeta, DatasetType, Query, RecordSink, SnapshotPart } from './types.ts';
import type { LoadState, Loc } from '../rbldnsd/state.ts';
import { BUILTIN_DEFAULT, substitutionsOf, type Substitutions, type Value } from '../rbldnsd/value.ts';
import {
  Ip6Scanner, WordList, findWordRecord, formatIp6, ip6NibbleName, ip6Word, sortWordRecords,
} from '../ip6.ts';
import { keyEndsAt, valueStart } from '../ip4.ts';
import { RangeBuilder6, emptyRangeSet4, type RangeSet4, type RangeSet6 } from '../ranges.ts';
import type { MaterialiseOptions, ZoneRecord } from '../zones/records.ts';
import { bigWords6 } from '../zones/blocks.ts';
import { ip6Runs, points6, type KeyedAnswer } from '../zones/walk.ts';
import { ValueAnswers } from './materialise.ts';
import { dumpValue, emitValue, firstDefault, tsetMeta, tsetValue, type TsetMeta } from './ip4list.ts';

/** Sorts records and drops duplicates (all `stride` words are the key). */
function sortedUnique(list: WordList): Uint32Array {
  const { words, stride, n } = list;
  const order = sortWordRecords(words, stride, stride, n);
  const out = new Uint32Array(n * stride);
  let w = 0;
  for (let i = 0; i < n; i++) {
    const o = order[i]! * stride;
    if (w > 0) {
      let same = true;
      for (let k = 0; k < stride && same; k++) same = out[w - stride + k] === words[o + k];
      if (same) continue;
    }
    for (let k = 0; k < stride; k++) out[w + k] = words[o + k]!;
    w += stride;
  }
  return out.slice(0, w);
}

function addrOf(words: Uint32Array, o: number, count: number): Uint8Array {
  const a = new Uint8Array(16);
  const dv = new DataView(a.buffer);
  for (let k = 0; k < count; k++) dv.setUint32(k * 4, words[o + k]!);
  return a;
}

class Ip6TsetDataset implements Dataset {
  readonly type = 'ip6tset';

  constructor(
    /** /64 keys: (hi, lo) word pairs, sorted. */
    private readonly halves: Uint32Array,
    /** /128 exclusions: 4 words each, sorted. */
    private readonly excl: Uint32Array,
    private readonly value: Value,
    readonly ttl: number,
    private readonly subs: Substitutions,
    readonly meta: DatasetMeta,
  ) {}

  get size(): number {
    return this.halves.length / 2 + this.excl.length / 4;
  }

  query(q: Query, out: RecordSink): boolean {
    const ip = q.ip6;
    if (!ip) return false;
    const w0 = ip6Word(ip, 0);
    const w1 = ip6Word(ip, 1);
    if (findWordRecord(this.halves, 2, 2, 0, this.halves.length / 2, w0, w1, 0, 0) < 0) return false;
    if (this.excl.length && findWordRecord(this.excl, 4, 4, 0, this.excl.length / 4, w0, w1, ip6Word(ip, 2), ip6Word(ip, 3)) >= 0) {
      return false;
    }
    if (out.wantA || out.wantTxt) emitValue(this.value, this.ttl, out.wantTxt ? formatIp6(ip) : '', this.subs, out);
    return true;
  }

  /** Each /64 and each excluded /128 start and end a piece, answered as query() does. */
  records(opts: MaterialiseOptions): Iterable<ZoneRecord> {
    const pts: bigint[] = [];
    const h = this.halves;
    for (let o = 0; o < h.length; o += 2) {
      const s = (BigInt(h[o]!) << 96n) | (BigInt(h[o + 1]!) << 64n);
      pts.push(s, s + (1n << 64n));
    }
    for (let o = 0; o < this.excl.length; o += 4) {
      const s = bigWords6(this.excl, o);
      pts.push(s, s + 1n);
    }
    const ans = new ValueAnswers([this.value], this.subs).of([1]);
    const at = (ip: Uint8Array): KeyedAnswer | null => {
      const w0 = ip6Word(ip, 0);
      const w1 = ip6Word(ip, 1);
      if (findWordRecord(this.halves, 2, 2, 0, this.halves.length / 2, w0, w1, 0, 0) < 0) return null;
      if (this.excl.length && findWordRecord(this.excl, 4, 4, 0, this.excl.length / 4, w0, w1, ip6Word(ip, 2), ip6Word(ip, 3)) >= 0) return null;
      return ans;
    };
    return ip6Runs(points6(pts), at, this.ttl, opts);
  }

  dump(_zone: string, write: (line: string) => void): void {
    write(`$TTL ${this.ttl}`);
    for (let o = 0; o < this.halves.length; o += 2) {
      const a = addrOf(this.halves, o, 2);
      dumpValue(`*.${ip6NibbleName(a, 16)}`, this.value, formatIp6(a), this.subs, write);
    }
    for (let o = 0; o < this.excl.length; o += 4) {
      dumpValue(ip6NibbleName(addrOf(this.excl, o, 4), 32), null, '', this.subs, write);
    }
  }

  /** Each /64 minus the excluded /128s inside it (both lists are sorted: one merge walk). */
  coverage(): { v4: RangeSet4; v6: RangeSet6; domains: string[] } {
    const h = this.halves;
    const x = this.excl;
    const b = new RangeBuilder6(h.length / 2 + x.length / 4 + 16);
    const M = 0xffffffff;
    let e = 0; // next exclusion (word offset)
    for (let o = 0; o < h.length; o += 2) {
      const w0 = h[o]!;
      const w1 = h[o + 1]!;
      // skip exclusions below this /64
      while (e < x.length && (x[e]! < w0 || (x[e] === w0 && x[e + 1]! < w1))) e += 4;
      // the low 64 bits not yet emitted, as two words; done = past the end of the /64
      let c2 = 0;
      let c3 = 0;
      let done = false;
      for (; e < x.length && x[e] === w0 && x[e + 1] === w1; e += 4) {
        const x2 = x[e + 2]!;
        const x3 = x[e + 3]!;
        if (x2 > c2 || (x2 === c2 && x3 > c3)) {
          // [c, x - 1]
          const p3 = x3 === 0 ? M : x3 - 1;
          const p2 = x3 === 0 ? x2 - 1 : x2;
          b.addWords(w0, w1, c2, c3, w0, w1, p2, p3);
        }
        if (x3 === M && x2 === M) done = true;
        else {
          c3 = x3 === M ? 0 : x3 + 1;
          c2 = x3 === M ? x2 + 1 : x2;
        }
      }
      if (!done) b.addWords(w0, w1, c2, c3, w0, w1, M, M);
    }
    return { v4: emptyRangeSet4(), v6: b.build(), domains: [] };
  }

  snapshot(): SnapshotPart {
    return { type: this.type, meta: tsetMeta(this.value, this.ttl, this.subs, this.meta), arrays: [this.halves, this.excl] };
  }
}

class Ip6TsetLoader implements DatasetLoader {
  private readonly halves = new WordList(2);
  private readonly excl = new WordList(4, 64);
  private value: Value | undefined;
  private readonly scan = new Ip6Scanner();

  constructor(readonly state: LoadState) {}

  /** The default is dataset-wide: nothing resets at a file boundary. */
  startFile(): void {}

  addLine(line: string, at: Loc): void {
    if (line.charCodeAt(0) === 58 /* : */) {
      this.value = firstDefault(this.value, line, this.state, at);
      return;
    }
    const excl = line.charCodeAt(0) === 33; /* ! */
    const s = this.scan;
    const ok = s.prefix(line, excl ? valueStart(line, 1) : 0);
    // after the key: end of line, blank, comment or the `:` of a (ignored) value
    if (!ok || !keyEndsAt(line, s.end)) {
      return this.state.warn({ file: at.file, line: at.line }, 'invalid address');
    }
    const want = excl ? 128 : 64;
    if (s.bits !== want) {
      const what = excl ? 'exclusion' : 'regular entry';
      return this.state.warn({ file: at.file, line: at.line }, `invalid address for ${what} (should be ${want} bits)`);
    }
    const list = excl ? this.excl : this.halves;
    const o = list.add();
    for (let k = 0; k < list.stride; k++) list.words[o + k] = ip6Word(s.addr, k);
  }

  finish(meta: DatasetMeta): Dataset {
    const ttl = this.state.ttl ?? this.state.options.ttl.def;
    return new Ip6TsetDataset(
      sortedUnique(this.halves), sortedUnique(this.excl), this.value ?? BUILTIN_DEFAULT, ttl, substitutionsOf(this.state), meta,
    );
  }
}

export const ip6tset: DatasetType = {
  name: 'ip6tset',
  createLoader: (state) => new Ip6TsetLoader(state),
  fromSnapshot(part: SnapshotPart): Dataset {
    const m = part.meta as TsetMeta;
    return new Ip6TsetDataset(part.arrays[0] as Uint32Array, part.arrays[1] as Uint32Array, tsetValue(m), m.ttl, m.subs, m.meta);
  },
};
