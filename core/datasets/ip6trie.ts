// rbldnsd `ip6trie`: IPv6 prefixes (/0../128) with one value each, looked up by longest
// matching prefix; an exclusion as the longest match means not listed. A duplicate prefix
// keeps the first value (with a warning). A line starting with a single `:` is a default;
// `::...` is an address.
// Storage: 4-word keys sorted by (length, address) in one Uint32Array plus an Int32Array of
// value indexes (-1 = exclusion); a lookup binary-searches the non-empty lengths, longest first.

import type { Dataset, DatasetLoader, DatasetMeta, DatasetType, Query, RecordSink, SnapshotPart } from './types.ts';
import type { LoadState, Loc } from '../rbldnsd/state.ts';
import {
  BUILTIN_DEFAULT, ValueTable, parseEntryValue, substitutionsOf, type Substitutions, type Value,
} from '../rbldnsd/value.ts';
import {
  Ip6Scanner, WordList, findWordRecord, formatIp6, ip6HostBits, ip6NibbleName, ip6Word, sortWordRecords,
} from '../ip6.ts';
import { isDefaultValue, keyEndsAt, valueStart } from '../ip4.ts';
import { dumpValue, emitValue, valuesFromJson, valuesToJson } from './ip4list.ts';
import { RangeBuilder6, emptyRangeSet4, type RangeSet4, type RangeSet6 } from '../ranges.ts';
import type { MaterialiseOptions, ZoneRecord } from '../zones/records.ts';
import { bigWords6 } from '../zones/blocks.ts';
import { ip6Runs, points6, type KeyedAnswer } from '../zones/walk.ts';
import { ValueAnswers } from './materialise.ts';

const EXCL = -1;

interface Ip6TrieMeta {
  values: [number, string | null][];
  ttl: number;
  subs: Substitutions;
  meta: DatasetMeta;
  /** Non-empty prefix lengths, ascending, and where each one's records start. */
  lens: number[];
  starts: number[];
}

/** Word `i` (0..3) of an address masked to a prefix of `bits`. */
function maskWord(w: number, bits: number, i: number): number {
  const b = bits - 32 * i;
  if (b >= 32) return w;
  if (b <= 0) return 0;
  return (w & (0xffffffff << (32 - b))) >>> 0;
}

const MAX = 1n << 128n;

function bigOf(words: Uint32Array, o: number): bigint {
  return (BigInt(words[o]!) << 96n) | (BigInt(words[o + 1]!) << 64n) | (BigInt(words[o + 2]!) << 32n) | BigInt(words[o + 3]!);
}

function bytesOf(x: bigint): Uint8Array {
  const a = new Uint8Array(16);
  for (let i = 15; i >= 0; i--) {
    a[i] = Number(x & 255n);
    x >>= 8n;
  }
  return a;
}

class Ip6TrieDataset implements Dataset {
  readonly type = 'ip6trie';

  constructor(
    /** 4 words per prefix, grouped by length (ascending), sorted by address inside a group. */
    private readonly keys: Uint32Array,
    private readonly vals: Int32Array,
    private readonly lens: number[],
    /** starts[i]..starts[i+1] are the records of lens[i]; one extra final element. */
    private readonly starts: number[],
    private readonly values: Value[],
    readonly ttl: number,
    private readonly subs: Substitutions,
    readonly meta: DatasetMeta,
  ) {}

  get size(): number {
    return this.vals.length;
  }

  query(q: Query, out: RecordSink): boolean {
    const ip = q.ip6;
    if (!ip) return false;
    const w0 = ip6Word(ip, 0), w1 = ip6Word(ip, 1), w2 = ip6Word(ip, 2), w3 = ip6Word(ip, 3);
    for (let j = this.lens.length - 1; j >= 0; j--) {
      const bits = this.lens[j]!;
      const i = findWordRecord(
        this.keys, 4, 4, this.starts[j]!, this.starts[j + 1]!,
        maskWord(w0, bits, 0), maskWord(w1, bits, 1), maskWord(w2, bits, 2), maskWord(w3, bits, 3),
      );
      if (i < 0) continue;
      const v = this.vals[i]!;
      if (v === EXCL) return false;
      if (out.wantA || out.wantTxt) emitValue(this.values[v]!, this.ttl, out.wantTxt ? formatIp6(ip) : '', this.subs, out);
      return true;
    }
    return false;
  }

  /** Every prefix starts and ends a piece; each piece answers its longest prefix (query()'s
   *  own lookup), `$` = the address, or the CIDR under a wildcard. */
  records(opts: MaterialiseOptions): Iterable<ZoneRecord> {
    const pts: bigint[] = [];
    for (let j = 0; j < this.lens.length; j++) {
      const size = 1n << BigInt(128 - this.lens[j]!);
      for (let i = this.starts[j]!; i < this.starts[j + 1]!; i++) {
        const s = bigWords6(this.keys, i * 4);
        pts.push(s, s + size);
      }
    }
    const answers = new ValueAnswers(this.values, this.subs);
    const at = (ip: Uint8Array): KeyedAnswer | null => {
      const w0 = ip6Word(ip, 0), w1 = ip6Word(ip, 1), w2 = ip6Word(ip, 2), w3 = ip6Word(ip, 3);
      for (let j = this.lens.length - 1; j >= 0; j--) {
        const bits = this.lens[j]!;
        const i = findWordRecord(
          this.keys, 4, 4, this.starts[j]!, this.starts[j + 1]!,
          maskWord(w0, bits, 0), maskWord(w1, bits, 1), maskWord(w2, bits, 2), maskWord(w3, bits, 3),
        );
        if (i < 0) continue;
        const v = this.vals[i]!;
        return v === EXCL ? null : answers.of([v + 1]);
      }
      return null;
    };
    return ip6Runs(points6(pts), at, this.ttl, opts);
  }

  /** Like rbldnsd -d: the address space is cut into ranges of equal answer, each written as
   *  nibble-aligned wildcard names (excluded ranges are simply absent). */
  dump(_zone: string, write: (line: string) => void): void {
    write(`$TTL ${this.ttl}`);
    const n = this.vals.length;
    // pre-order: by address, then shorter prefix first
    const rec = new Uint32Array(n * 6);
    let r = 0;
    for (let j = 0; j < this.lens.length; j++) {
      for (let i = this.starts[j]!; i < this.starts[j + 1]!; i++, r++) {
        for (let k = 0; k < 4; k++) rec[r * 6 + k] = this.keys[i * 4 + k]!;
        rec[r * 6 + 4] = this.lens[j]!;
        rec[r * 6 + 5] = i;
      }
    }
    const order = sortWordRecords(rec, 6, 5, n);
    const NONE = -2;
    let prevAddr = 0n;
    let prevVal = NONE;
    const event = (addr: bigint, val: number): void => {
      if (val === prevVal) return;
      if (addr !== prevAddr) {
        if (prevVal >= 0) this.dumpRange(prevAddr, addr, prevVal, write);
        prevAddr = addr;
      }
      prevVal = val;
    };
    const stack: { end: bigint; val: number }[] = [];
    const pop = (): void => {
      const t = stack.pop()!;
      if (t.end + 1n < MAX) event(t.end + 1n, stack.length ? stack[stack.length - 1]!.val : NONE);
    };
    for (let x = 0; x < n; x++) {
      const o = order[x]! * 6;
      const start = bigOf(rec, o);
      const end = start + (1n << BigInt(128 - rec[o + 4]!)) - 1n;
      while (stack.length && stack[stack.length - 1]!.end < start) pop();
      const val = this.vals[rec[o + 5]!]!;
      event(start, val);
      stack.push({ end, val });
    }
    while (stack.length) pop();
    if (prevVal >= 0) this.dumpRange(prevAddr, MAX, prevVal, write);
  }

  /** [beg, end) as the fewest nibble-aligned blocks, in address order. */
  private dumpRange(beg: bigint, end: bigint, val: number, write: (line: string) => void): void {
    const v = this.values[val]!;
    let addr = beg;
    while (addr < end) {
      let nwild = 0;
      while (nwild < 32 && ((addr >> BigInt(4 * nwild)) & 15n) === 0n && addr + (1n << BigInt(4 * (nwild + 1))) <= end) nwild++;
      const a = bytesOf(addr);
      const name = nwild === 32 ? '*' : nwild ? `*.${ip6NibbleName(a, 32 - nwild)}` : ip6NibbleName(a, 32);
      // rbldnsd prints only the 16-bit groups that lie wholly outside the wildcard part
      const subject = a.slice();
      subject.fill(0, 2 * ((16 - (nwild >> 1)) >> 1));
      dumpValue(name, v, formatIp6(subject), this.subs, write);
      addr += 1n << BigInt(4 * nwild);
    }
  }

  /** Longest prefix as ranges: prefixes nest or are disjoint, so a walk in address order
   *  (shorter first on a tie) with a stack of open prefixes gives each prefix the addresses no
   *  longer prefix holds; a non-excluded prefix lists those. IPv6 lists are small: BigInt. */
  coverage(): { v4: RangeSet4; v6: RangeSet6; domains: string[] } {
    const n = this.vals.length;
    const rec = new Uint32Array(n * 6);
    let r = 0;
    for (let j = 0; j < this.lens.length; j++) {
      for (let i = this.starts[j]!; i < this.starts[j + 1]!; i++, r++) {
        for (let k = 0; k < 4; k++) rec[r * 6 + k] = this.keys[i * 4 + k]!;
        rec[r * 6 + 4] = this.lens[j]!;
        rec[r * 6 + 5] = i;
      }
    }
    const order = sortWordRecords(rec, 6, 5, n);
    const b = new RangeBuilder6(n + 16);
    const W = 0xffffffffn;
    const add = (s: bigint, e: bigint): void => {
      b.addWords(
        Number(s >> 96n), Number((s >> 64n) & W), Number((s >> 32n) & W), Number(s & W),
        Number(e >> 96n), Number((e >> 64n) & W), Number((e >> 32n) & W), Number(e & W),
      );
    };
    // open prefixes: end, next address not yet decided by a longer prefix, listed
    const stack: { end: bigint; cur: bigint; on: boolean }[] = [];
    const pop = (): void => {
      const t = stack.pop()!;
      if (t.on && t.cur <= t.end) add(t.cur, t.end);
    };
    for (let x = 0; x < n; x++) {
      const o = order[x]! * 6;
      const start = bigOf(rec, o);
      const end = start + (1n << BigInt(128 - rec[o + 4]!)) - 1n;
      while (stack.length && stack[stack.length - 1]!.end < start) pop();
      const top = stack[stack.length - 1];
      if (top) {
        if (top.on && top.cur < start) add(top.cur, start - 1n);
        top.cur = end + 1n;
      }
      stack.push({ end, cur: start, on: this.vals[rec[o + 5]!]! !== EXCL });
    }
    while (stack.length) pop();
    return { v4: emptyRangeSet4(), v6: b.build(), domains: [] };
  }

  snapshot(): SnapshotPart {
    const meta: Ip6TrieMeta = {
      values: valuesToJson(this.values), ttl: this.ttl, subs: this.subs, meta: this.meta, lens: this.lens, starts: this.starts,
    };
    return { type: this.type, meta, arrays: [this.keys, this.vals] };
  }
}

// loader record: prefix length, 4 address words, value index + 1 (0 = exclusion), line, file
const STRIDE = 8;

class Ip6TrieLoader implements DatasetLoader {
  private readonly list = new WordList(STRIDE);
  private readonly table = new ValueTable();
  private current: Value = BUILTIN_DEFAULT;
  /** The current default's index in the value table, interned on first use. */
  private currentIndex = -1;
  private readonly files: string[] = [];
  private readonly scan = new Ip6Scanner();

  constructor(readonly state: LoadState) {}

  startFile(file: string): void {
    this.current = BUILTIN_DEFAULT;
    this.currentIndex = -1;
    this.files.push(file);
  }

  private warn(at: Loc, msg: string): void {
    this.state.warn({ file: at.file, line: at.line }, msg);
  }

  addLine(line: string, at: Loc): void {
    if (line.charCodeAt(0) === 58 /* : */ && line.charCodeAt(1) !== 58) {
      // a default line falls back to the built-in value, not the previous default
      const v = parseEntryValue(line, BUILTIN_DEFAULT, this.state, at);
      if (typeof v === 'string') this.warn(at, v);
      else {
        this.current = v;
        this.currentIndex = -1;
      }
      return;
    }
    const excl = line.charCodeAt(0) === 33; /* ! */
    const s = this.scan;
    const ok = s.cidr(line, excl ? valueStart(line, 1) : 0);
    if (!ok || !keyEndsAt(line, s.end)) return this.warn(at, 'invalid address');
    if (ip6HostBits(s.addr, s.bits, true) && !this.state.options.acceptHostBits) return this.warn(at, 'invalid range (non-zero host part)');
    let val = 0;
    if (!excl) {
      const p = valueStart(line, s.end);
      if (isDefaultValue(line, p)) {
        if (this.currentIndex < 0) this.currentIndex = this.table.intern(this.current);
        val = this.currentIndex + 1;
      } else {
        const v = parseEntryValue(line.slice(p), this.current, this.state, at);
        if (typeof v === 'string') return this.warn(at, v);
        val = this.table.intern(v) + 1;
      }
    }
    const l = this.list;
    const o = l.add();
    const w = l.words;
    w[o] = s.bits;
    for (let k = 0; k < 4; k++) w[o + 1 + k] = ip6Word(s.addr, k);
    w[o + 5] = val;
    w[o + 6] = at.line;
    w[o + 7] = this.files.length - 1;
  }

  finish(meta: DatasetMeta): Dataset {
    const { words, n } = this.list;
    const order = sortWordRecords(words, STRIDE, 5, n); // stable: the first of duplicates stays first
    const keys = new Uint32Array(n * 4);
    const vals = new Int32Array(n);
    const lens: number[] = [];
    const starts: number[] = [];
    let m = 0;
    for (let i = 0; i < n; i++) {
      const o = order[i]! * STRIDE;
      const bits = words[o]!;
      if (m > 0 && lens[lens.length - 1] === bits) {
        const p = (m - 1) * 4;
        if (keys[p] === words[o + 1] && keys[p + 1] === words[o + 2] && keys[p + 2] === words[o + 3] && keys[p + 3] === words[o + 4]) {
          const a = new Uint8Array(16);
          for (let k = 0; k < 4; k++) new DataView(a.buffer).setUint32(k * 4, words[o + 1 + k]!);
          this.state.warn({ file: this.files[words[o + 7]!] ?? '', line: words[o + 6]! }, `duplicated entry for ${formatIp6(a)}/${bits}`);
          continue;
        }
      }
      if (lens[lens.length - 1] !== bits) {
        lens.push(bits);
        starts.push(m);
      }
      for (let k = 0; k < 4; k++) keys[m * 4 + k] = words[o + 1 + k]!;
      vals[m] = words[o + 5]! - 1;
      m++;
    }
    starts.push(m);
    const ttl = this.state.ttl ?? this.state.options.ttl.def;
    return new Ip6TrieDataset(
      keys.slice(0, m * 4), vals.slice(0, m), lens, starts, this.table.values, ttl, substitutionsOf(this.state), meta,
    );
  }
}

export const ip6trie: DatasetType = {
  name: 'ip6trie',
  createLoader: (state) => new Ip6TrieLoader(state),
  fromSnapshot(part: SnapshotPart): Dataset {
    const m = part.meta as Ip6TrieMeta;
    return new Ip6TrieDataset(
      part.arrays[0] as Uint32Array, part.arrays[1] as Int32Array, m.lens, m.starts, valuesFromJson(m.values), m.ttl, m.subs, m.meta,
    );
  },
};
