// bl, wl and dbl as plain records (MergedDataset.records; README "Materialised records").
//
// Addresses: the evidence's elementary intervals, cut again at every override segment, scored
// key and test point, are pieces in which the verdict cannot change; each piece is evaluated
// once (MergeView.eval4/eval6, the call the DNS answers make, so the per-class memo makes this
// cheap), neighbours with the same answer (A set + TXT) are joined into runs, and each run
// becomes owner names (core/zones/blocks.ts). bl and wl look v4-mapped IPv6 names up as IPv4
// keys, so every IPv4 run is also written under ::ffff:0:0/96 (and that part of the IPv6
// evidence is never consulted). Domains (dbl): core/zones/domains.ts over the names the
// evidence, the overlay and the policy make special.
//
// One state: the view is frozen when iteration starts, so a merge, override or policy change
// meanwhile does not mix two states into one zone.

import type { MaterialiseOptions, ZoneRecord } from '../../core/zones/records.ts';
import { RR } from '../../core/zones/records.ts';
import { big6, bigWords6, bytes16, names4, names6, namesMapped, type AddressName } from '../../core/zones/blocks.ts';
import { domainRecords, type NodeAnswer } from '../../core/zones/domains.ts';
import type { MergeView } from './evaluate.ts';
import type { Verdict } from './policy.ts';
import { allowTxt, blockTxt, type TxtOptions } from './answer.ts';
import type { Overlay } from '../local/overlay.ts';

export type MaterialKind = 'bl' | 'wl' | 'dbl';

/** What one piece answers; `keyed`: the TXT names the key (lookup URL with `$`). */
interface Answer {
  readonly id: string;
  readonly a: readonly number[];
  readonly v: Verdict;
  readonly txt: string;
  readonly keyed: boolean;
}

/** Stands for the key in a TXT while pieces are compared. */
const KEY = '\u0001';
/** A label no query has: evaluates "any name strictly below" (domains). */
const BELOW = '\u0000';

const TEST4 = 0x7f000002;
const NEVER4 = 0x7f000001;
const MAPPED = 0xffff00000000n;

/** The records of one merged zone; `view` is frozen here, at the first next(). */
export function* mergedRecords(kind: MaterialKind, live: MergeView, o: TxtOptions & { ttl: number }, opts: MaterialiseOptions): Generator<ZoneRecord> {
  const view = live.frozen();
  const ov = view.overlay;
  if (ov !== null && !(ov as Overlay).index && !(ov.isEmpty?.() ?? false)) {
    // only sync/local's Overlay tells where its facts start and stop
    opts.report('the overlay has no override index: overrides and scores are not materialised');
  }
  if (kind === 'dbl') {
    yield* domains(view, o);
    return;
  }
  const e = view.evidence;
  const cache = new Map<Verdict, Answer | null>();
  const answerOf = (v: Verdict): Answer | null => {
    let ans = cache.get(v);
    if (ans !== undefined) return ans;
    ans = null;
    if (kind === 'wl') {
      if (v.wl !== 0) {
        const txt = allowTxt(v, e, o);
        ans = { id: `${v.wl}|${txt}`, a: [v.wl], v, txt, keyed: false };
      }
    } else if (v.block) {
      const txt = blockTxt(v, KEY, e, o);
      ans = { id: `${v.a.join(',')}|${txt}`, a: v.a, v, txt, keyed: txt.includes(KEY) };
    }
    // verdicts of neutral keys are memoized objects: cache those; overlay ones are fresh
    if (cache.size < 65536) cache.set(v, ans);
    return ans;
  };
  const ttl = o.ttl;
  const write = function* (names: readonly AddressName[], ans: Answer): Generator<ZoneRecord> {
    for (const n of names) {
      for (const a of ans.a) yield { name: n.name, type: RR.A, ttl, data: dotted(a) };
      const txt = ans.keyed ? blockTxt(ans.v, n.key, e, o) : ans.txt;
      yield { name: n.name, type: RR.TXT, ttl, data: txt };
    }
  };

  // ---- IPv4 ----
  const extra = boundaries4(view.overlay as Overlay | null);
  const starts = e.starts4;
  let i = 0; // next evidence start
  let j = 0; // next extra boundary
  let runStart = -1;
  let run: Answer | null = null;
  const flush4 = function* (end: number): Generator<ZoneRecord> {
    if (run === null) return;
    const names = names4(runStart, end, opts);
    if (names) yield* write(names, run);
    yield* write(namesMapped(runStart, end), run);
  };
  let s = 0;
  for (;;) {
    // the next boundary after s
    while (i < starts.length && starts[i]! <= s) i++;
    while (j < extra.length && extra[j]! <= s) j++;
    const next = Math.min(i < starts.length ? starts[i]! : 2 ** 32, j < extra.length ? extra[j]! : 2 ** 32);
    const ans = answerOf(view.eval4(s));
    if (ans === null || run === null || ans.id !== run.id) {
      yield* flush4(s - 1);
      run = ans;
      runStart = s;
    }
    if (next >= 2 ** 32) break;
    s = next;
  }
  yield* flush4(2 ** 32 - 1);

  // ---- IPv6 ----
  const b6 = boundaries6(view);
  run = null;
  let start6 = 0n;
  const flush6 = function* (end: bigint): Generator<ZoneRecord> {
    if (run === null) return;
    const names = names6(start6, end, opts);
    if (names) yield* write(names, run);
  };
  for (let k = 0; k < b6.length; k++) {
    const p = b6[k]!;
    const mapped = p >= MAPPED && p <= MAPPED + 0xffffffffn;
    const ans = mapped ? null : answerOf(view.eval6(bytes16(p)));
    if (ans === null || run === null || ans.id !== run.id) {
      yield* flush6(p - 1n);
      run = ans;
      start6 = p;
    }
  }
  yield* flush6((1n << 128n) - 1n);
}

/** Sorted, distinct IPv4 points where overlay facts or a test point start or stop. */
function boundaries4(ov: Overlay | null): Float64Array {
  const pts: number[] = [NEVER4, TEST4, TEST4 + 1];
  if (ov && ov.index) {
    const x = ov.index;
    for (let k = 0; k < x.seg4s.length; k++) pts.push(x.seg4s[k]!, x.seg4e[k]! + 1);
    for (const ip of ov.scores.keys4()) pts.push(ip, ip + 1);
  }
  const a = Float64Array.from(pts).sort();
  let n = 0;
  for (let k = 0; k < a.length; k++) if ((n === 0 || a[k] !== a[n - 1]) && a[k]! < 2 ** 32) a[n++] = a[k]!;
  return a.subarray(0, n);
}

/** Sorted, distinct IPv6 points (0 first) where the evidence class or overlay facts may change,
 *  plus the edges of ::ffff:0:0/96. */
function boundaries6(view: MergeView): bigint[] {
  const e = view.evidence;
  const set = new Set<bigint>([0n, MAPPED, MAPPED + 0x100000000n]);
  for (let k = 0; k < e.starts6.length; k += 4) set.add(bigWords6(e.starts6, k));
  const ov = view.overlay as Overlay | null;
  if (ov && ov.index) {
    const x = ov.index;
    for (let k = 0; k < x.seg6s.length; k += 4) {
      set.add(bigWords6(x.seg6s, k));
      set.add(bigWords6(x.seg6e, k) + 1n);
    }
    for (const b of ov.scores.keys6()) {
      const v = big6(b);
      set.add(v);
      set.add(v + 1n);
    }
  }
  const top = 1n << 128n;
  return [...set].filter((v) => v < top).sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));
}

/** dbl: every name the evidence, overlay or policy makes special, and what it passes down. */
function domains(view: MergeView, o: TxtOptions & { ttl: number }): Generator<ZoneRecord> {
  const e = view.evidence;
  const ov = view.overlay as Overlay | null;
  const nodes = function* (): Generator<string> {
    yield 'test';
    yield 'invalid';
    for (const d of e.domains) yield d.startsWith('*.') ? d.slice(2) : d;
    if (ov && ov.index) {
      yield* ov.index.exact.keys();
      yield* ov.index.wild.keys();
      yield* ov.scores.domainNames();
    }
    for (const p of view.policy.protectedDomains) yield p.toLowerCase().replace(/\.$/, '');
  };
  const of = (v: Verdict, key: string): NodeAnswer | null => (v.block ? { a: v.a, txt: blockTxt(v, key, e, o) } : null);
  return domainRecords({
    nodes: nodes(),
    at: (name) => of(view.evalDomain(name.split('.')), name),
    below: (name) => of(view.evalDomain([BELOW, ...name.split('.')]), '*.' + name),
    ttl: o.ttl,
  });
}

function dotted(ip: number): string {
  return `${ip >>> 24}.${(ip >>> 16) & 255}.${(ip >>> 8) & 255}.${ip & 255}`;
}
