// Shared by the rbldnsd datasets' records(): the answer of a set of values (rbldnsd `Value`s:
// A + TXT template, `$` = the key) as a KeyedAnswer for the address walk (core/zones/walk.ts).

import { expandTxt, type Substitutions, type Value } from '../rbldnsd/value.ts';
import type { KeyedAnswer } from '../zones/walk.ts';
import type { Dataset, RecordSink } from './types.ts';
import { makeQuery } from '../query.ts';
import { domainRecords, type NodeAnswer } from '../zones/domains.ts';
import type { MaterialiseOptions, ZoneRecord } from '../zones/records.ts';

/** Interns answers by their value indexes, so equal pieces compare by id and share one object. */
export class ValueAnswers {
  private readonly cache = new Map<string, KeyedAnswer>();

  constructor(
    private readonly values: readonly Value[],
    private readonly subs: Substitutions,
  ) {}

  /** `idx`: value table indexes (1-based, as the datasets' columns hold them), in answer order. */
  of(idx: readonly number[]): KeyedAnswer {
    const id = idx.join(',');
    let ans = this.cache.get(id);
    if (ans) return ans;
    const vals = idx.map((i) => this.values[i - 1]!);
    const subs = this.subs;
    const fixed = vals.every((v) => v.txt === null || !v.txt.includes('$'));
    const texts = (key: string): string[] => {
      const out: string[] = [];
      for (const v of vals) {
        const t = expandTxt(v.txt, key, subs);
        if (t !== null) out.push(t);
      }
      return out;
    };
    const constant = fixed ? texts('') : null;
    ans = { id, a: vals.map((v) => v.a), txt: constant ? () => constant : texts };
    this.cache.set(id, ans);
    return ans;
  }
}

/** A domain dataset's answer for a name, asked through its own query() (A and TXT, as ANY). */
export function askDomain(ds: Dataset, labels: readonly string[]): NodeAnswer | null {
  const a: number[] = [];
  const txt: string[] = [];
  const sink: RecordSink = {
    wantA: true,
    wantTxt: true,
    qtype: 255,
    a: (ip) => a.push(ip),
    txt: (t) => txt.push(t),
    mx: () => {},
  };
  if (!ds.query(makeQuery(labels, 255, false), sink) || (a.length === 0 && txt.length === 0)) return null;
  return { a, txt: txt.length ? txt[0]! : null, txts: txt };
}

/** The names of a domain dataset's entries as records (core/zones/domains.ts): its answer at
 *  each entry and ancestor, and what each passes down at `*.`. Names whose labels hold a dot
 *  (an escaped `\.`) or an empty label cannot be owner names: reported and left out. */
export function domainDatasetRecords(ds: Dataset, names: Iterable<string>, opts: MaterialiseOptions): Iterable<ZoneRecord> {
  const ok = function* (): Generator<string> {
    for (const n of names) {
      if (n === '' || n.includes('..') || n.startsWith('.') || n.endsWith('.')) {
        opts.report(`${ds.type}: the name "${n}" cannot be an owner name: left out`);
        continue;
      }
      yield n;
    }
  };
  return domainRecords({
    nodes: ok(),
    at: (name) => askDomain(ds, name.split('.')),
    below: (name) => askDomain(ds, [BELOW, ...name.split('.')]),
    ttl: ds.ttl,
  });
}

/** A label no query has: asks for "any name strictly below". */
const BELOW = '\u0000';
