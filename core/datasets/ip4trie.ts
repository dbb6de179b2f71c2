// rbldnsd `ip4trie`: CIDR prefixes (/0../32, no ranges) with one value each, looked up by
// longest matching prefix; an exclusion as the longest match means not listed. A duplicate
// prefix keeps the first value (with a warning). Storage: one sorted key array per prefix
// length; a lookup binary-searches the non-empty lengths from the longest down.

import type { Dataset, DatasetLoader, DatasetMeta, DatasetType, Query, RecordSink, SnapshotPart } from './types.ts';
import type { LoadState, Loc } from '../rbldnsd/state.ts';
import { substitutionsOf, type Substitutions, type Value } from '../rbldnsd/value.ts';
import { IP4TRIE_KEYS, Ip4Key, ip4Dotted, parseIp4QuadBytes } from '../ip4.ts';
import { emptyRangeSet6, RangeAppender4, type RangeSet4, type RangeSet6 } from '../ranges.ts';
import type { MaterialiseOptions, ZoneRecord } from '../zones/records.ts';
import { ip4Runs, points4, type KeyedAnswer } from '../zones/walk.ts';
import { ValueAnswers } from './materialise.ts';
import {
  EXCLUDED, EntryList, ValueColumn, columnFromSnapshot, columnsToSnapshot, compactIndexes, dumpValue, emitValue, fit, lowerBound,
  parseIp4Line, valueAt, valuesFromJson, valuesToJson, type KeyedColumn, type SortedEntries,
} from './ip4list.ts';

interface Prefixes extends KeyedColumn {
  bits: number;
  /** Prefix mask as uint32 (0 for /0). */
  mask: number;
}

interface Ip4TrieMeta {
  values: [number, string | null][];
  ttl: number;
  subs: Substitutions;
  meta: DatasetMeta;
  bits: number[];
  /** Per prefix length: the value index of every entry, or -1 when it has a value column. */
  uniform: number[];
}

function maskOf(bits: number): number {
  return bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
}

/** The owner name of a prefix in a dump: a name for /32, else a wildcard at the octet
 *  boundary that contains it (rbldnsd's dump expands non-octet prefixes; we do not). */
function dumpName(ip: number, bits: number): string {
  const o = [ip >>> 24, (ip >>> 16) & 255, (ip >>> 8) & 255, ip & 255];
  if (bits === 32) return o.reverse().join('.');
  const octets = bits >> 3;
  return octets === 0 ? '*' : `*.${o.slice(0, octets).reverse().join('.')}`;
}

class Ip4TrieDataset implements Dataset {
  readonly type = 'ip4trie';
  readonly size: number;

  /** `byLength` holds only the non-empty prefix lengths, longest first. */
  constructor(
    private readonly byLength: Prefixes[],
    private readonly values: Value[],
    readonly ttl: number,
    private readonly subs: Substitutions,
    readonly meta: DatasetMeta,
  ) {
    this.size = byLength.reduce((s, p) => s + p.keys.length, 0);
  }

  query(q: Query, out: RecordSink): boolean {
    const ip = q.ip4;
    if (ip < 0) return false;
    for (const p of this.byLength) {
      const key = (ip & p.mask) >>> 0;
      const i = lowerBound(p.keys, key);
      if (i >= p.keys.length || p.keys[i] !== key) continue;
      const v = valueAt(p, i);
      if (v === EXCLUDED) return false;
      if (out.wantA || out.wantTxt) emitValue(this.values[v - 1]!, this.ttl, ip4Dotted(ip), this.subs, out);
      return true;
    }
    return false;
  }

  /** Every prefix starts and ends a piece; each piece answers its longest prefix's value (an
   *  exclusion there = not listed), as query() does. */
  records(opts: MaterialiseOptions): Iterable<ZoneRecord> {
    const pts: number[] = [];
    for (const p of this.byLength) for (const k of p.keys) pts.push(k, k + 2 ** (32 - p.bits));
    const answers = new ValueAnswers(this.values, this.subs);
    const at = (ip: number): KeyedAnswer | null => {
      for (const p of this.byLength) {
        const key = (ip & p.mask) >>> 0;
        const i = lowerBound(p.keys, key);
        if (i >= p.keys.length || p.keys[i] !== key) continue;
        const v = valueAt(p, i);
        return v === EXCLUDED ? null : answers.of([v]);
      }
      return null;
    };
    return ip4Runs(points4(pts), at, this.ttl, opts, ['mapped', '6to4']);
  }

  dump(_zone: string, write: (line: string) => void): void {
    write(`$TTL ${this.ttl}`);
    for (let n = this.byLength.length - 1; n >= 0; n--) {
      const p = this.byLength[n]!;
      for (let i = 0; i < p.keys.length; i++) {
        const ip = p.keys[i]!;
        const vi = valueAt(p, i);
        const v = vi === EXCLUDED ? null : this.values[vi - 1]!;
        dumpValue(dumpName(ip, p.bits), v, ip4Dotted(ip), this.subs, write);
      }
    }
  }

  /** Longest prefix as ranges: prefixes nest or are disjoint, so one walk over all lengths in
   *  address order (shorter first on a tie) with a stack of open prefixes gives each prefix
   *  the addresses no longer prefix holds; a non-excluded prefix lists those. /32 entries (the
   *  bulk of big lists) are leaves: a tight loop, never on the stack. */
  coverage(): { v4: RangeSet4; v6: RangeSet6; domains: string[] } {
    const has32 = this.byLength.length > 0 && this.byLength[0]!.bits === 32;
    const leaf = has32 ? this.byLength[0]! : null;
    const k32 = leaf ? leaf.keys : new Uint32Array(0);
    const n32 = k32.length;
    const v32 = leaf ? leaf.vals : null;
    const u32 = leaf ? leaf.uniform : 0;
    const all = has32 ? this.byLength.slice(1) : this.byLength; // longest first
    const pos = new Uint32Array(all.length);
    let p32 = 0;
    // output in address order, adjacent ranges joined as they come (no builder sort or copies)
    const out = new RangeAppender4(n32 + 16);
    const add = (s: number, e: number): void => out.add(s, e);
    const stEnd = new Float64Array(34);
    const stCur = new Float64Array(34);
    const stOn = new Uint8Array(34);
    let d = 0;
    for (;;) {
      // the next shorter prefix: scanning from the end meets shorter lengths first on a tie
      let j = -1;
      let ckey = 0x100000000;
      for (let x = all.length - 1; x >= 0; x--) {
        const keys = all[x]!.keys;
        const p = pos[x]!;
        if (p < keys.length && keys[p]! < ckey) {
          ckey = keys[p]!;
          j = x;
        }
      }
      // the /32 entries before it (one per key: duplicates were dropped at load)
      for (; p32 < n32 && k32[p32]! < ckey; p32++) {
        const key = k32[p32]!;
        while (d > 0 && stEnd[d - 1]! < key) {
          d--;
          if (stOn[d] && stCur[d]! <= stEnd[d]!) add(stCur[d]!, stEnd[d]!);
        }
        if (d > 0) {
          const t = d - 1;
          if (stOn[t] && stCur[t]! < key) add(stCur[t]!, key - 1);
          stCur[t] = key + 1;
        }
        if ((v32 ? v32[p32]! : u32) !== EXCLUDED) add(key, key);
      }
      if (j < 0) break;
      const pr = all[j]!;
      const on = valueAt(pr, pos[j]!) === EXCLUDED ? 0 : 1;
      pos[j]!++;
      const end = ckey + 2 ** (32 - pr.bits) - 1;
      while (d > 0 && stEnd[d - 1]! < ckey) {
        d--;
        if (stOn[d] && stCur[d]! <= stEnd[d]!) add(stCur[d]!, stEnd[d]!);
      }
      if (d > 0) {
        const t = d - 1;
        if (stOn[t] && stCur[t]! < ckey) add(stCur[t]!, ckey - 1);
        stCur[t] = end + 1;
      }
      stEnd[d] = end;
      stCur[d] = ckey;
      stOn[d] = on;
      d++;
    }
    while (d > 0) {
      d--;
      if (stOn[d] && stCur[d]! <= stEnd[d]!) add(stCur[d]!, stEnd[d]!);
    }
    return { v4: out.build(), v6: emptyRangeSet6(), domains: [] };
  }

  snapshot(): SnapshotPart {
    const { uniform, arrays } = columnsToSnapshot(this.byLength);
    const bits = this.byLength.map((p) => p.bits);
    const meta: Ip4TrieMeta = { values: valuesToJson(this.values), ttl: this.ttl, subs: this.subs, meta: this.meta, bits, uniform };
    return { type: this.type, meta, arrays };
  }
}

// Source reference of an entry, kept only while loading (for duplicate warnings):
// file index in the high 8 bits, line number in the low 24; NO_REF when it does not fit.
const NO_REF = 0xffffffff;

class Ip4TrieLoader implements DatasetLoader {
  private readonly lists: (EntryList | undefined)[] = new Array(33);
  private readonly values = new ValueColumn();
  private readonly key = new Ip4Key();
  private readonly files: string[] = [];

  constructor(readonly state: LoadState) {}

  startFile(file: string): void {
    this.files.push(file);
    this.values.resetDefault();
  }

  addLine(line: string, at: Loc): void {
    const k = this.key;
    const v = parseIp4Line(line, at, IP4TRIE_KEYS, this.state, this.values, k);
    if (v >= 0) this.push(k.bits, k.first, v, at);
  }

  /** Plain `a.b.c.d` lines (the bulk of big lists) straight from bytes; the rest as text. */
  addBytes(buf: Buffer, start: number, end: number, at: Loc): void {
    const ip = parseIp4QuadBytes(buf, start, end);
    if (ip < 0) return this.addLine(buf.toString('latin1', start, end), at);
    this.push(32, ip, this.values.defaultIndex(), at);
  }

  private push(bits: number, ip: number, v: number, at: Loc): void {
    const fileIndex = this.files.length - 1;
    const ref = fileIndex < 256 && at.line < 0x1000000 ? fileIndex * 0x1000000 + at.line : NO_REF;
    (this.lists[bits] ??= new EntryList()).push(ip, v, ref);
  }

  finish(meta: DatasetMeta): Dataset {
    const byLength: Prefixes[] = [];
    for (let bits = 32; bits >= 0; bits--) {
      const list = this.lists[bits];
      if (!list || list.n === 0) continue;
      const e = list.sorted();
      const n = this.dropDuplicates(e, bits);
      byLength.push({ bits, mask: maskOf(bits), keys: fit(e.keys, n), vals: e.vals ? compactIndexes(fit(e.vals, n)) : null, uniform: e.uniformVal });
    }
    const ttl = this.state.ttl ?? this.state.options.ttl.def;
    return new Ip4TrieDataset(byLength, this.values.table.values, ttl, substitutionsOf(this.state), meta);
  }

  /** Keeps the first entry (file order) of each prefix and warns about the others; returns
   *  the new length. */
  private dropDuplicates(e: SortedEntries, bits: number): number {
    const { keys, vals, refs } = e;
    let w = 0;
    for (let i = 0; i < e.n; i++) {
      if (w > 0 && keys[w - 1] === keys[i]) {
        const ref = refs ? refs[i]! : e.uniformRef;
        const at = ref === NO_REF ? { file: this.files.at(-1) ?? '', line: 0 } : { file: this.files[ref >>> 24]!, line: ref & 0xffffff };
        this.state.warn(at, `duplicated entry for ${ip4Dotted(keys[i]!)}/${bits}`);
        continue;
      }
      keys[w] = keys[i]!;
      if (vals) vals[w] = vals[i]!;
      w++;
    }
    return w;
  }
}

export const ip4trie: DatasetType = {
  name: 'ip4trie',
  createLoader: (state) => new Ip4TrieLoader(state),
  fromSnapshot(part: SnapshotPart): Dataset {
    const m = part.meta as Ip4TrieMeta;
    const byLength = m.bits.map((bits, i): Prefixes => {
      // the same literal shape as in `finish`, so that lookups stay monomorphic
      const c = columnFromSnapshot(part.arrays, m.uniform, i);
      return { bits, mask: maskOf(bits), keys: c.keys, vals: c.vals, uniform: c.uniform };
    });
    return new Ip4TrieDataset(byLength, valuesFromJson(m.values), m.ttl, m.subs, m.meta);
  },
};
