// How a zone's datasets answer while an rbldnsd ACL says `empty` or "always listed" for the
// client. rbldnsd makes every DNSBL dataset stop right after it has checked that the name is
// one it serves (a valid IPv4 name for ip4 types, IPv6 for ip6 types, any name below the zone
// for dnset): `empty` then reports "not found", always-listed reports "listed" and the server
// adds the ACL's A/TXT once. generic has no such check; the ACL flag corrupts its record-type
// comparison instead, so an existing name is found with no records (NODATA), whatever the
// type asked. combined routes to its subzone as usual and applies the same rules per
// sub-dataset (a subzone apex is always found).

import type { Dataset, Query } from '../core/datasets/types.ts';
import { CombinedDataset } from '../core/datasets/combined.ts';
import { makeQuery } from '../core/query.ts';
import type { AnswerSink } from './sink.ts';

export const ACL_NOT_FOUND = 0;
/** The name exists, no records (NODATA unless something else answers). */
export const ACL_FOUND = 1;
/** A well-formed DNSBL name: "listed" under always-listed. */
export const ACL_DNSBL = 2;

const IP4 = new Set(['ip4set', 'ip4tset', 'ip4trie']);
const IP6 = new Set(['ip6tset', 'ip6trie']);

interface Sub {
  labels: readonly string[];
  datasets: readonly Dataset[];
}
const subzoneCache = new WeakMap<CombinedDataset, Sub[]>();

function subzones(d: CombinedDataset): Sub[] {
  let s = subzoneCache.get(d);
  if (!s) subzoneCache.set(d, (s = d.subzones()));
  return s;
}

function endsWith(labels: readonly string[], suffix: readonly string[]): boolean {
  const off = labels.length - suffix.length;
  if (off < 0) return false;
  for (let i = 0; i < suffix.length; i++) if (labels[off + i] !== suffix[i]) return false;
  return true;
}

/** What dataset `d` contributes for `q` (labels below the zone) under an empty/always-listed
 *  ACL: ACL_NOT_FOUND, ACL_FOUND or ACL_DNSBL. `scratch` receives nothing (it only satisfies
 *  the generic lookup, which is asked for a type it never emits). */
export function aclDatasetAnswer(d: Dataset, q: Query, scratch: AnswerSink): number {
  const t = d.type;
  if (IP4.has(t)) return q.ip4 >= 0 ? ACL_DNSBL : ACL_NOT_FOUND;
  if (IP6.has(t)) return q.ip6 !== null ? ACL_DNSBL : ACL_NOT_FOUND;
  if (t === 'dnset') return q.labels.length > 0 ? ACL_DNSBL : ACL_NOT_FOUND;
  if (t === 'generic') {
    scratch.reset(0);
    return d.query(makeQuery(q.labels, 0), scratch) ? ACL_FOUND : ACL_NOT_FOUND;
  }
  if (d instanceof CombinedDataset) {
    const labels = q.labels;
    const n = labels.length;
    for (const z of subzones(d)) {
      if (!endsWith(labels, z.labels)) continue;
      const k = z.labels.length;
      const sub = k === 0 ? q : makeQuery(labels.slice(0, n - k), q.qtype);
      let r = n === k ? ACL_FOUND : ACL_NOT_FOUND;
      for (const s of z.datasets) r |= aclDatasetAnswer(s, sub, scratch);
      return r;
    }
    return ACL_NOT_FOUND;
  }
  // quorumbl's own types (mirrors of other list formats): an address name, or any name below
  // the zone when the list holds domains, counts as a DNSBL name.
  if (t === 'source') return q.ip4 >= 0 || q.ip6 !== null || q.labels.length > 0 ? ACL_DNSBL : ACL_NOT_FOUND;
  return ACL_NOT_FOUND; // zone-meta: no data
}
