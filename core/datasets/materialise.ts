// Shared by the rbldnsd datasets' records(): the answer of a set of values (rbldnsd `Value`s:
// A + TXT template, `$` = the key) as a KeyedAnswer for the address walk (core/zones/walk.ts).

import { expandTxt, type Substitutions, type Value } from '../rbldnsd/value.ts';
import type { KeyedAnswer } from '../zones/walk.ts';

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
