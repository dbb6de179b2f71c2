// rbldnsd `acl`: not data but a per-client decision. Lines are `CIDR [action]` with the
// ip4trie/ip6trie key syntax; the longest prefix matching the client address decides:
// ignore/blackhole (no reply), refuse (REFUSED), empty (data says "not listed"), pass (as if
// no entry), or an A+TXT value (every well-formed DNSBL name is "listed" with it).
// `zone:acl:file` applies to one zone, `:acl:file` to all; the server (server/acl-answer.ts,
// server/responder.ts) applies the result. Entries without an action take the current default:
// `ignore` at the start of every file, changed by a `:word`, `=word` or `:A:TXT` line.
// Storage: per address family, keys sorted by (prefix length, address) in one Uint32Array
// plus an Int32Array of action codes; a lookup binary-searches the non-empty lengths, longest
// first.

import type { Dataset, DatasetLoader, DatasetMeta, DatasetType, Query, RecordSink, SnapshotPart } from './types.ts';
import type { LoadState, Loc } from '../rbldnsd/state.ts';
import { BUILTIN_DEFAULT, ValueTable, parseEntryValue, substitutionsOf, type Substitutions, type Value } from '../rbldnsd/value.ts';
import { ERR_ADDRESS, IP4TRIE_KEYS, Ip4Key, ip4Dotted, parseIp4Key } from '../ip4.ts';
import { Ip6Scanner, WordList, findWordRecord, formatIp6, ip6HostBits, ip6Word, sortWordRecords } from '../ip6.ts';
import { valuesFromJson, valuesToJson } from './ip4list.ts';

/** Lookup results. Codes >= ACL_LISTED are "always listed" with value `code - ACL_LISTED`. */
export const ACL_NONE = 0;
export const ACL_IGNORE = 1;
export const ACL_REFUSE = 2;
export const ACL_EMPTY = 3;
/** Stored only: a lookup that ends on `pass` answers ACL_NONE. */
const ACL_PASS = 4;
export const ACL_LISTED = 5;

/** Keywords in rbldnsd's order: a word matches the first keyword it is a non-empty prefix of
 *  (`:ref` = refuse, `:b` = blackhole), compared case-insensitively. */
const KEYWORDS: [string, number][] = [
  ['ignore', ACL_IGNORE], ['blackhole', ACL_IGNORE], ['refuse', ACL_REFUSE], ['empty', ACL_EMPTY], ['pass', ACL_PASS],
];

/** The keyword action of the word at `i`, or -1. The word ends at the end, a blank, `:`, `#`
 *  or `;`, and must start with a letter. */
export function aclKeyword(s: string, i: number): number {
  let e = i;
  while (e < s.length) {
    const c = s.charCodeAt(e);
    if (c === 32 || c === 9 || c === 58 || c === 35 || c === 59) break;
    e++;
  }
  const c0 = s.charCodeAt(i) | 32;
  if (e === i || c0 < 97 || c0 > 122) return -1;
  const word = s.slice(i, e).toLowerCase();
  for (const [k, code] of KEYWORDS) if (k.startsWith(word)) return code;
  return -1;
}

interface AclMeta {
  values: [number, string | null][];
  ttl: number;
  subs: Substitutions;
  meta: DatasetMeta;
  /** Per family: non-empty prefix lengths, longest first, and where each one's keys start. */
  lens4: number[];
  starts4: number[];
  lens6: number[];
  starts6: number[];
}

function mask4(bits: number): number {
  return bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
}

function maskWord(w: number, bits: number, i: number): number {
  const b = bits - 32 * i;
  if (b >= 32) return w;
  if (b <= 0) return 0;
  return (w & (0xffffffff << (32 - b))) >>> 0;
}

export class AclDataset implements Dataset {
  readonly type = 'acl';
  private readonly masks4: Uint32Array;

  constructor(
    /** One word per entry, grouped by length (longest first), ascending inside a group. */
    private readonly keys4: Uint32Array,
    private readonly codes4: Int32Array,
    private readonly lens4: number[],
    /** starts4[i]..starts4[i+1] are the entries of lens4[i]; one extra final element. */
    private readonly starts4: number[],
    /** Four words per entry, same grouping. */
    private readonly keys6: Uint32Array,
    private readonly codes6: Int32Array,
    private readonly lens6: number[],
    private readonly starts6: number[],
    /** Values of always-listed entries (code - ACL_LISTED). */
    readonly values: readonly Value[],
    /** TTL of always-listed answers. */
    readonly ttl: number,
    /** `$n` / `$=` of the acl file: TXT templates of always-listed answers use them. */
    readonly subs: Substitutions,
    readonly meta: DatasetMeta,
  ) {
    this.masks4 = Uint32Array.from(lens4, mask4);
  }

  get size(): number {
    return this.codes4.length + this.codes6.length;
  }

  /** The action for an IPv4 client (uint32): ACL_NONE (no entry, or pass), ACL_IGNORE,
   *  ACL_REFUSE, ACL_EMPTY, or ACL_LISTED + value index. */
  match4(ip: number): number {
    const keys = this.keys4;
    const lens = this.lens4.length;
    for (let j = 0; j < lens; j++) {
      const key = (ip & this.masks4[j]!) >>> 0;
      let lo = this.starts4[j]!;
      let hi = this.starts4[j + 1]! - 1;
      while (lo <= hi) {
        const m = (lo + hi) >>> 1;
        const k = keys[m]!;
        if (k === key) {
          const code = this.codes4[m]!;
          return code === ACL_PASS ? ACL_NONE : code;
        }
        if (k < key) lo = m + 1;
        else hi = m - 1;
      }
    }
    return ACL_NONE;
  }

  /** The action for an IPv6 client: 16 bytes at `addr[off..]` (v4-mapped clients included). */
  match6(addr: Uint8Array, off: number): number {
    const w0 = ((addr[off]! << 24) | (addr[off + 1]! << 16) | (addr[off + 2]! << 8) | addr[off + 3]!) >>> 0;
    const w1 = ((addr[off + 4]! << 24) | (addr[off + 5]! << 16) | (addr[off + 6]! << 8) | addr[off + 7]!) >>> 0;
    const w2 = ((addr[off + 8]! << 24) | (addr[off + 9]! << 16) | (addr[off + 10]! << 8) | addr[off + 11]!) >>> 0;
    const w3 = ((addr[off + 12]! << 24) | (addr[off + 13]! << 16) | (addr[off + 14]! << 8) | addr[off + 15]!) >>> 0;
    for (let j = 0; j < this.lens6.length; j++) {
      const bits = this.lens6[j]!;
      const i = findWordRecord(
        this.keys6, 4, 4, this.starts6[j]!, this.starts6[j + 1]!,
        maskWord(w0, bits, 0), maskWord(w1, bits, 1), maskWord(w2, bits, 2), maskWord(w3, bits, 3),
      );
      if (i < 0) continue;
      const code = this.codes6[i]!;
      return code === ACL_PASS ? ACL_NONE : code;
    }
    return ACL_NONE;
  }

  /** Not data: an acl never answers a name. */
  query(_q: Query, _out: RecordSink): boolean {
    return false;
  }

  /** rbldnsd -d leaves ACLs out of the dump. */
  dump(_zone: string, _write: (line: string) => void): void {}

  snapshot(): SnapshotPart {
    const meta: AclMeta = {
      values: valuesToJson(this.values), ttl: this.ttl, subs: this.subs, meta: this.meta,
      lens4: this.lens4, starts4: this.starts4, lens6: this.lens6, starts6: this.starts6,
    };
    return { type: this.type, meta, arrays: [this.keys4, this.codes4, this.keys6, this.codes6] };
  }
}

export function isAcl(d: Dataset | null | undefined): d is AclDataset {
  return d instanceof AclDataset;
}

// Loader records: v4 [bits, ip, code, line, file], v6 [bits, w0..w3, code, line, file].
const S4 = 5;
const S6 = 8;

class AclLoader implements DatasetLoader {
  private readonly list4 = new WordList(S4, 64);
  private readonly list6 = new WordList(S6, 64);
  private readonly table = new ValueTable();
  /** Action of entries without one. */
  private defAction = ACL_IGNORE;
  /** Where A-only and TXT-only values take the missing half from. */
  private defValue: Value = BUILTIN_DEFAULT;
  private readonly key = new Ip4Key();
  private readonly scan = new Ip6Scanner();
  private readonly files: string[] = [];

  constructor(readonly state: LoadState) {}

  startFile(file: string): void {
    this.files.push(file);
    this.defAction = ACL_IGNORE;
    this.defValue = BUILTIN_DEFAULT;
  }

  private warn(at: Loc, msg: string): void {
    this.state.warn({ file: at.file, line: at.line }, msg);
  }

  /** An action written after a key or on a default line: `=word`, `:word` or an A+TXT value.
   *  Returns the code, or -1 after a warning. */
  private action(text: string, at: Loc): number {
    if (text.charCodeAt(0) === 61 /* = */) {
      const k = aclKeyword(text, 1);
      if (k < 0) this.warn(at, 'invalid keyword');
      return k;
    }
    if (text.charCodeAt(0) === 58 /* : */) {
      const k = aclKeyword(text, 1);
      if (k >= 0) return k;
    }
    const v = parseEntryValue(text, this.defValue, this.state, at);
    if (typeof v === 'string') {
      this.warn(at, v);
      return -1;
    }
    return ACL_LISTED + this.table.intern(v);
  }

  addLine(line: string, at: Loc): void {
    const c0 = line.charCodeAt(0);
    if ((c0 === 58 && line.charCodeAt(1) !== 58) || c0 === 61) {
      // A default line. rbldnsd also makes a keyword default the source of later A-only/TXT-only
      // values (and then crashes on them); here they keep taking it from the last A+TXT default.
      const code = this.action(line, at);
      if (code < 0) return;
      this.defAction = code;
      if (code >= ACL_LISTED) this.defValue = this.table.values[code - ACL_LISTED]!;
      return;
    }
    const k = this.key;
    const err = parseIp4Key(line, 0, IP4TRIE_KEYS, this.state.options.acceptHostBits, k);
    let end: number;
    let v6 = false;
    if (err === null) {
      const count = k.last - k.first + 1;
      if (count > this.state.maxRange4) {
        return this.warn(at, `too large range (${count}) ignored (${this.state.maxRange4} max)`);
      }
      end = k.end;
    } else if (err !== ERR_ADDRESS) {
      return this.warn(at, err);
    } else {
      const s = this.scan;
      const ok = s.cidr(line, 0);
      end = s.end;
      const c = line.charCodeAt(end);
      if (!ok || (end < line.length && c !== 32 && c !== 9 && c !== 35 && c !== 59 && c !== 58)) return this.warn(at, 'invalid address');
      if (ip6HostBits(s.addr, s.bits, true) && !this.state.options.acceptHostBits) return this.warn(at, 'invalid range (non-zero host part)');
      v6 = true;
    }
    while (line.charCodeAt(end) === 32 || line.charCodeAt(end) === 9) end++;
    const c = line.charCodeAt(end);
    const code = end >= line.length || c === 35 || c === 59 ? this.defAction : this.action(line.slice(end), at);
    if (code < 0) return;
    const fileIndex = this.files.length - 1;
    if (v6) {
      const o = this.list6.add();
      const w = this.list6.words;
      w[o] = this.scan.bits;
      for (let i = 0; i < 4; i++) w[o + 1 + i] = ip6Word(this.scan.addr, i);
      w[o + 5] = code;
      w[o + 6] = at.line;
      w[o + 7] = fileIndex;
    } else {
      const o = this.list4.add();
      const w = this.list4.words;
      w[o] = k.bits;
      w[o + 1] = k.first;
      w[o + 2] = code;
      w[o + 3] = at.line;
      w[o + 4] = fileIndex;
    }
  }

  /** Sorts one family's records by (length, address), drops duplicates (the first in file
   *  order stays, with rbldnsd's warning) and groups them by length, longest first. */
  private build(list: WordList, keyWords: 1 | 4, name: (k: Uint32Array, o: number) => string) {
    const stride = list.stride;
    const { words, n } = list;
    const order = sortWordRecords(words, stride, 1 + keyWords, n); // stable
    const lensAsc: number[] = [];
    const groups: number[][] = [];
    let prev = -1;
    for (let i = 0; i < n; i++) {
      const o = order[i]! * stride;
      const bits = words[o]!;
      if (prev >= 0 && words[prev] === bits) {
        let same = true;
        for (let k = 1; k <= keyWords; k++) if (words[prev + k] !== words[o + k]) same = false;
        if (same) {
          const at = { file: this.files[words[o + stride - 1]!] ?? '', line: words[o + stride - 2]! };
          this.warn(at, `duplicated entry for ${name(words, o + 1)}/${bits}`);
          continue;
        }
      }
      if (lensAsc[lensAsc.length - 1] !== bits) {
        lensAsc.push(bits);
        groups.push([]);
      }
      groups[groups.length - 1]!.push(o);
      prev = o;
    }
    const keys = new Uint32Array(groups.reduce((s, g) => s + g.length, 0) * keyWords);
    const codes = new Int32Array(keys.length / keyWords);
    const lens: number[] = [];
    const starts: number[] = [];
    let m = 0;
    for (let j = groups.length - 1; j >= 0; j--) {
      lens.push(lensAsc[j]!);
      starts.push(m);
      for (const o of groups[j]!) {
        for (let k = 0; k < keyWords; k++) keys[m * keyWords + k] = words[o + 1 + k]!;
        codes[m] = words[o + 1 + keyWords]!;
        m++;
      }
    }
    starts.push(m);
    return { keys, codes, lens, starts };
  }

  finish(meta: DatasetMeta): Dataset {
    const v4 = this.build(this.list4, 1, (w, o) => ip4Dotted(w[o]!));
    const v6 = this.build(this.list6, 4, (w, o) => {
      const a = new Uint8Array(16);
      const dv = new DataView(a.buffer);
      for (let k = 0; k < 4; k++) dv.setUint32(4 * k, w[o + k]!);
      return formatIp6(a);
    });
    const ttl = this.state.ttl ?? this.state.options.ttl.def;
    return new AclDataset(
      v4.keys, v4.codes, v4.lens, v4.starts, v6.keys, v6.codes, v6.lens, v6.starts,
      this.table.values, ttl, substitutionsOf(this.state), meta,
    );
  }
}

export const acl: DatasetType = {
  name: 'acl',
  createLoader: (state) => new AclLoader(state),
  fromSnapshot(part: SnapshotPart): Dataset {
    const m = part.meta as AclMeta;
    const [k4, c4, k6, c6] = part.arrays as [Uint32Array, Int32Array, Uint32Array, Int32Array];
    return new AclDataset(k4, c4, m.lens4, m.starts4, k6, c6, m.lens6, m.starts6, valuesFromJson(m.values), m.ttl, m.subs, m.meta);
  },
};
