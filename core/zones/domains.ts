// Domain answers as records a standard server answers the same way (RFC 4592 wildcards).
//
// A dataset names its interesting nodes (listed names, the bases x of `*.x` entries, names with
// exceptions or scores, protected names); every other name answers what its deepest interesting
// ancestor passes down. Over the nodes and all their ancestors this writes, for each node E:
// E's own answer at E, and the answer E passes down at `*.E`. A wildcard is cut by every node
// that exists below it (RFC 4592 closest encloser), which is why each existing node re-states
// what it inherits at its own `*`.
//
// One case has no plain-record form: a node that answers nothing (and passes nothing down)
// below a listed wildcard, e.g. a protected name under `*.x`. It must exist, or `*.x` would
// answer for it; it gets one PTR record `not-listed.invalid.` (HOLE), which A and TXT queries
// never see (NODATA, "not listed").

import { RR, type ZoneRecord } from './records.ts';

/** What a name answers: A records (uint32) and an optional TXT. */
export interface NodeAnswer {
  readonly a: readonly number[];
  readonly txt: string | null;
  /** Several TXT strings (rbldnsd values), when there are more than one; `txt` is the first. */
  readonly txts?: readonly string[];
}

/** The marker of an unlisted node that must exist (see above). */
export const HOLE: { readonly type: number; readonly data: string } = { type: RR.PTR, data: 'not-listed.invalid.' };

export interface DomainSource {
  /** Interesting names (lowercase, relative, no `*.`); duplicates allowed. */
  nodes: Iterable<string>;
  /** The answer of the name itself, or null when not listed. */
  at(name: string): NodeAnswer | null;
  /** The answer of every name strictly below `name` that is not a node, or null. */
  below(name: string): NodeAnswer | null;
  ttl: number;
}

function dotted(ip: number): string {
  return `${ip >>> 24}.${(ip >>> 16) & 255}.${(ip >>> 8) & 255}.${ip & 255}`;
}

function depth(name: string): number {
  let n = 1;
  for (let i = name.indexOf('.'); i >= 0; i = name.indexOf('.', i + 1)) n++;
  return n;
}

function parentOf(name: string): string {
  const i = name.indexOf('.');
  return i < 0 ? '' : name.slice(i + 1);
}

/** The records, nodes in sorted order (deterministic). */
export function* domainRecords(src: DomainSource): Generator<ZoneRecord> {
  const all = new Set<string>();
  for (const n of src.nodes) {
    if (n === '' || all.has(n)) continue;
    all.add(n);
    for (let i = n.indexOf('.'); i >= 0; i = n.indexOf('.', i + 1)) {
      const p = n.slice(i + 1);
      if (all.has(p)) break; // its ancestors are in too
      all.add(p);
    }
  }
  const names = [...all].sort((x, y) => depth(x) - depth(y) || (x < y ? -1 : x > y ? 1 : 0));
  const own = new Map<string, NodeAnswer>();
  const wild = new Map<string, NodeAnswer>();
  const exists = new Set<string>();
  const mark = (n: string): void => {
    for (let x = n; x !== '' && !exists.has(x); x = parentOf(x)) exists.add(x);
  };
  for (const n of names) {
    const a = src.at(n);
    const w = src.below(n);
    if (a) own.set(n, a);
    if (w) wild.set(n, w);
    if (a || w) mark(n);
  }
  // Holes, shallow first (a hole above makes the ones below it answer NXDOMAIN already).
  const holes = new Set<string>();
  for (const n of names) {
    if (exists.has(n)) continue;
    let c = parentOf(n);
    while (c !== '' && !exists.has(c)) c = parentOf(c);
    if (c !== '' && wild.has(c)) {
      holes.add(n);
      mark(n);
    }
  }
  const ttl = src.ttl;
  const sorted = [...names].sort();
  for (const n of sorted) {
    const a = own.get(n);
    if (a) yield* answerRecords(n, a, ttl);
    else if (holes.has(n)) yield { name: n, type: HOLE.type, ttl, data: HOLE.data };
    const w = wild.get(n);
    if (w) yield* answerRecords('*.' + n, w, ttl);
  }
}

/** A and TXT records of one owner; identical records once (a zone holds a set). */
export function* answerRecords(name: string, a: NodeAnswer, ttl: number): Generator<ZoneRecord> {
  for (let i = 0; i < a.a.length; i++) if (a.a.indexOf(a.a[i]!) === i) yield { name, type: RR.A, ttl, data: dotted(a.a[i]!) };
  const t = a.txts ?? (a.txt === null ? [] : [a.txt]);
  for (let i = 0; i < t.length; i++) if (t.indexOf(t[i]!) === i) yield { name, type: RR.TXT, ttl, data: t[i]! };
}
