// The address walk the rbldnsd datasets' records() share: the dataset names the points where
// its answer may change, answers one address per piece, and this joins neighbouring pieces
// with the same answer into runs and writes each run as owner names (blocks.ts).

import { RR, type MaterialiseOptions, type ZoneRecord } from './records.ts';
import { big6, bytes16, names4, names6, namesEmbedded4, type AddressName } from './blocks.ts';

/** What one address answers. `id` is equal for equal answers whatever the key; `txt(key)` the
 *  TXT strings for a name standing for `key` (an address, or a CIDR under a wildcard). */
export interface KeyedAnswer {
  readonly id: string;
  readonly a: readonly number[];
  txt(key: string): readonly string[];
}

const NO_TXT: readonly string[] = [];

export function* nameRecords(name: string, key: string, ans: KeyedAnswer, ttl: number): Generator<ZoneRecord> {
  const seen = ans.a.length > 1 ? new Set<number>() : null;
  for (const a of ans.a) {
    if (seen) {
      if (seen.has(a)) continue;
      seen.add(a);
    }
    yield { name, type: RR.A, ttl, data: `${a >>> 24}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255}` };
  }
  const t = ans.txt(key);
  if (t === NO_TXT) return;
  const once = t.length > 1 ? new Set<string>() : null;
  for (const s of t) {
    if (once) {
      if (once.has(s)) continue;
      once.add(s);
    }
    yield { name, type: RR.TXT, ttl, data: s };
  }
}

export { NO_TXT };

function* write(names: readonly AddressName[] | null, ans: KeyedAnswer, ttl: number): Generator<ZoneRecord> {
  if (names) for (const n of names) yield* nameRecords(n.name, n.key, ans, ttl);
}

/** IPv4 runs. `points`: sorted, distinct, in (0, 2^32): where the answer may change.
 *  `embed`: the 32-nibble forms a zone with IPv4 datasets also looks up as IPv4 (core/query.ts:
 *  v4-mapped ::ffff:a.b.c.d and 6to4 2002:aabb:ccdd::/48), keyed by the IPv4 text. */
export function* ip4Runs(
  points: ArrayLike<number>, at: (ip: number) => KeyedAnswer | null, ttl: number, opts: MaterialiseOptions,
  embed: readonly ('mapped' | '6to4')[] = [],
): Generator<ZoneRecord> {
  let run: KeyedAnswer | null = null;
  let runStart = 0;
  const flush = function* (end: number): Generator<ZoneRecord> {
    if (run === null) return;
    yield* write(names4(runStart, end, opts), run, ttl);
    for (const kind of embed) yield* write(namesEmbedded4(runStart, end, kind), run, ttl);
  };
  let j = 0;
  for (let s = 0; ; ) {
    const ans = at(s);
    if (ans === null || run === null || ans.id !== run.id) {
      yield* flush(s - 1);
      run = ans;
      runStart = s;
    }
    while (j < points.length && points[j]! <= s) j++;
    if (j >= points.length) break;
    s = points[j]!;
  }
  yield* flush(2 ** 32 - 1);
}

/** IPv6 runs over sorted, distinct points (4 words each or 128-bit integers). */
export function* ip6Runs(points: readonly bigint[], at: (ip16: Uint8Array) => KeyedAnswer | null, ttl: number, opts: MaterialiseOptions): Generator<ZoneRecord> {
  let run: KeyedAnswer | null = null;
  let runStart = 0n;
  const flush = function* (end: bigint): Generator<ZoneRecord> {
    if (run === null) return;
    yield* write(names6(runStart, end, opts), run, ttl);
  };
  const pts = points.length && points[0] === 0n ? points : [0n, ...points];
  for (const p of pts) {
    const ans = at(bytes16(p));
    if (ans === null || run === null || ans.id !== run.id) {
      yield* flush(p - 1n);
      run = ans;
      runStart = p;
    }
  }
  yield* flush((1n << 128n) - 1n);
}

/** Sorted distinct numbers in (0, 2^32) from a list of starts and ends + 1. */
export function points4(list: number[]): Float64Array {
  const a = Float64Array.from(list).sort();
  let n = 0;
  for (let k = 0; k < a.length; k++) if (a[k]! > 0 && a[k]! < 2 ** 32 && (n === 0 || a[k] !== a[n - 1])) a[n++] = a[k]!;
  return a.subarray(0, n);
}

/** Sorted distinct 128-bit points below 2^128. */
export function points6(list: Iterable<bigint>): bigint[] {
  const top = 1n << 128n;
  return [...new Set(list)].filter((v) => v >= 0n && v < top).sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));
}

export { big6 };
