// The dataset a source's mirror zone serves: its last good copy, read with rbldnsd semantics
// (rbldnsd format) or as merged ranges answering the source's configured A and TXT.

import { parseAValue } from '../core/rbldnsd/value.ts';
import type { DatasetSpec } from '../core/zones/spec.ts';
import type { SourceConfig } from './engine.ts';
import { parseOptionsOf, rbldnsdTypeOf } from './measure.ts';
import { sourcePaths } from './state.ts';

export function mirrorDatasetSpec(s: SourceConfig, stateDir: string, ttl: number): DatasetSpec {
  const file = sourcePaths(stateDir, s.name).current;
  if (s.format === 'rbldnsd') return { type: rbldnsdTypeOf(s), files: [file], optional: true };
  return {
    type: 'source',
    files: [file],
    optional: true,
    source: { parse: parseOptionsOf(s), answer: { a: parseAValue(s.answer.a)!, txt: s.answer.txt, ttl } },
  };
}
