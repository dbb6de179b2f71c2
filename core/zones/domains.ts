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
  /** Ready records (type, TTL, data; any type): written as they are instead of a / txt. */
  readonly records?: readonly { readonly type: number; readonly ttl: number; readonly data: string }[];
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

/** The records, nodes in the order `nodes` first names them (each after its ancestors). Fully
 *  streamed: a next() evaluates at most one name and its ancestors not seen yet. */
export function* domainRecords(src: DomainSource): Generator<ZoneRecord> {
  // per node seen: NONE (nothing written: exists on a secondary only if something below does),
  // PLAIN (exists: records or a hole, no wildcard), WILD (exists with a listed `*.node`)
  const state = new Map<string, number>();
  const ttl = src.ttl;
  const chain: string[] = [];
  for (const n of src.nodes) {
    if (n === '' || state.has(n)) continue;
    chain.length = 0;
    for (let x = n; x !== '' && !state.has(x); x = parentOf(x)) chain.push(x);
    for (let i = chain.length - 1; i >= 0; i--) {
      const name = chain[i]!;
      // the nearest ancestor known to exist (one with nothing written may still exist through
      // a later descendant: then a hole below it is merely redundant, never wrong)
      let above = NONE;
      for (let p = parentOf(name); p !== ''; p = parentOf(p)) {
        const s = state.get(p)!;
        if (s !== NONE) {
          above = s;
          break;
        }
      }
      const own = src.at(name);
      const wild = src.below(name);
      let hole = false;
      if (own) yield* answerRecords(name, own, ttl);
      else if (!wild && above === WILD) {
        // unlisted with nothing listed below, under a listed wildcard: must exist, or that
        // wildcard answers for it
        hole = true;
        yield { name, type: HOLE.type, ttl, data: HOLE.data };
      }
      if (wild) yield* answerRecords('*.' + name, wild, ttl);
      state.set(name, wild ? WILD : own || hole ? PLAIN : NONE);
    }
  }
}

const NONE = 0;
const PLAIN = 1;
const WILD = 2;

function parentOf(name: string): string {
  const i = name.indexOf('.');
  return i < 0 ? '' : name.slice(i + 1);
}

/** A and TXT records of one owner; identical records once (a zone holds a set). */
export function* answerRecords(name: string, a: NodeAnswer, ttl: number): Generator<ZoneRecord> {
  if (a.records) {
    for (const r of a.records) yield { name, type: r.type, ttl: r.ttl, data: r.data };
    return;
  }
  for (let i = 0; i < a.a.length; i++) if (a.a.indexOf(a.a[i]!) === i) yield { name, type: RR.A, ttl, data: dotted(a.a[i]!) };
  const t = a.txts ?? (a.txt === null ? [] : [a.txt]);
  for (let i = 0; i < t.length; i++) if (t.indexOf(t[i]!) === i) yield { name, type: RR.TXT, ttl, data: t[i]! };
}
