// Registry of the rbldnsd dataset types, by the name used in zone specs and snapshots.

import type { DatasetType } from './types.ts';
import { ip4set } from './ip4set.ts';
import { ip4tset } from './ip4tset.ts';
import { ip4trie } from './ip4trie.ts';
import { ip6tset } from './ip6tset.ts';
import { ip6trie } from './ip6trie.ts';
import { dnset } from './dnset.ts';
import { generic } from './generic.ts';
import { combined } from './combined.ts';
import { source } from './source.ts';
import { acl } from './acl.ts';
import { records } from './records.ts';

/** The types rbldnsd knows (zone specs, data files); `acl` is not data (server/zones.ts keeps it
 *  apart from a zone's datasets). */
export const RBLDNSD_TYPES: ReadonlyMap<string, DatasetType> = new Map(
  [ip4set, ip4tset, ip4trie, ip6tset, ip6trie, dnset, generic, combined, acl].map((t) => [t.name, t]),
);

/** Every type a snapshot may hold: rbldnsd's plus 'source' (mirrors of other list formats) and
 *  'records' (transferred zones, the catalog). */
export const DATASET_TYPES: ReadonlyMap<string, DatasetType> = new Map([...RBLDNSD_TYPES, [source.name, source], [records.name, records]]);

export function datasetType(name: string): DatasetType | undefined {
  return DATASET_TYPES.get(name.toLowerCase());
}
