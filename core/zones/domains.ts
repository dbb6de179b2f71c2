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

/** The records, nodes in DNS canonical order (a parent before its children). Only the node
 *  names are collected and sorted before the first record; each node is evaluated as the
 *  iteration reaches it. */
export function* domainRecords(src: DomainSource): Generator<ZoneRecord> {
  // canonical keys: labels right to left, joined by \u0001 (below every label byte), so a
  // parent's key is a prefix of its children's and sorts first
  const keys = new Set<string>();
  for (const n of src.nodes) {
    if (n === '') continue;
    const rev = n.split('.').reverse();
    // join() makes flat strings: sorting concatenated (rope) strings is several times slower
    for (let i = rev.length; i > 0; i--) {
      const k = i === rev.length ? rev.join('\u0001') : rev.slice(0, i).join('\u0001');
      if (keys.has(k)) break; // its ancestors are in already
      keys.add(k);
    }
  }
  const sorted = [...keys];
  keys.clear();
  sorted.sort();
  const ttl = src.ttl;
  // nodes known to exist on a secondary (own records, a wildcard or a hole) on the path from the
  // apex to the current node, with whether each has a listed wildcard
  const stack: { key: string; wild: boolean }[] = [];
  for (const key of sorted) {
    while (stack.length) {
      const top = stack[stack.length - 1]!.key;
      if (key.length > top.length && key.charCodeAt(top.length) === 1 && key.startsWith(top)) break;
      stack.pop();
    }
    const name = key.split('\u0001').reverse().join('.');
    const own = src.at(name);
    const wild = src.below(name);
    if (own) yield* answerRecords(name, own, ttl);
    else if (!wild && stack.length && stack[stack.length - 1]!.wild) {
      // unlisted, nothing below, but the closest existing node above has a listed wildcard: it
      // must exist, or that wildcard answers for it (harmless where it exists anyway)
      yield { name, type: HOLE.type, ttl, data: HOLE.data };
    }
    if (wild) yield* answerRecords('*.' + name, wild, ttl);
    if (own || wild || (stack.length && stack[stack.length - 1]!.wild)) stack.push({ key, wild: wild !== null });
  }
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
