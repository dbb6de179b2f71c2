// Several datasets answering one zone (rbldnsd merges the answers of all a zone's datasets;
// `combined` routes each name to its longest subzone and merges that subzone's datasets) as one
// set of records. Concatenating the datasets' own records is wrong under RFC 4592: an exact
// name of one dataset cuts another dataset's wildcard above it. So each dataset's records are
// loaded into a RecordsDataset (what a secondary would answer for that dataset alone), and the
// domain walk (domains.ts) re-states, at every node of the union and at its `*`, the union of
// what each dataset answers there. TXT text stays as each dataset wrote it.
//
// Cost: every dataset's records are held in memory once more; meant for rbldnsd zones and
// combined files, not for the merged zones (one dataset each: their records() are used as is).

import { RecordsDataset } from '../datasets/records.ts';
import type { Dataset, RecordSink } from '../datasets/types.ts';
import { makeQuery } from '../query.ts';
import { domainRecords, type NodeAnswer } from './domains.ts';
import { RR, recordKey, type MaterialiseOptions, type ZoneRecord } from './records.ts';

export interface UnionPart {
  /** Subzone labels relative to the base zone, wire order ([] = the base zone itself). */
  readonly labels: readonly string[];
  readonly datasets: readonly Dataset[];
}

const BELOW = '\u0000';

function endsWith(labels: readonly string[], suffix: readonly string[]): boolean {
  const n = labels.length;
  const k = suffix.length;
  if (k > n) return false;
  for (let i = 0; i < k; i++) if (labels[n - k + i] !== suffix[i]) return false;
  return true;
}

/** `parts` longest subzone first (the first suffix match decides, as combined routes). Throws
 *  when a dataset has no records(). */
export function* unionRecords(parts: readonly UnionPart[], opts: MaterialiseOptions, ttl: number): Generator<ZoneRecord> {
  const nodes: string[] = [];
  const sets = parts.map((p) => {
    const suffix = p.labels.join('.');
    if (suffix) nodes.push(suffix);
    return {
      labels: p.labels,
      sets: p.datasets.map((d) => {
        if (!d.records) throw new Error(`a ${d.type} dataset cannot be written as records`);
        const recs = [...d.records(opts)];
        for (const r of recs) {
          const own = r.name.startsWith('*.') ? r.name.slice(2) : r.name === '*' ? '' : r.name;
          const full = own && suffix ? `${own}.${suffix}` : own || suffix;
          if (full) nodes.push(full);
        }
        return new RecordsDataset(recs, {});
      }),
    };
  });
  const ask = (labels: readonly string[]): NodeAnswer | null => {
    const part = sets.find((p) => endsWith(labels, p.labels));
    if (!part) return null;
    const rel = makeQuery(labels.slice(0, labels.length - part.labels.length), 255);
    const out: { type: number; ttl: number; data: string }[] = [];
    const seen = new Set<string>();
    const push = (type: number, t: number, data: string): void => {
      const k = recordKey({ name: '', type, ttl: t, data });
      if (seen.has(k)) return;
      seen.add(k);
      out.push({ type, ttl: t, data });
    };
    const sink: RecordSink = {
      wantA: true,
      wantTxt: true,
      qtype: 255,
      a: (ip, t) => push(RR.A, t, `${ip >>> 24}.${(ip >>> 16) & 255}.${(ip >>> 8) & 255}.${ip & 255}`),
      txt: (s, t) => push(RR.TXT, t, s),
      mx: (pref, ex, t) => push(RR.MX, t, `${pref} ${ex}.`),
    };
    for (const s of part.sets) s.query(rel, sink);
    return out.length ? { a: [], txt: null, records: out } : null;
  };
  // the apex answers of a subzone at '' are not reachable through the walk: write them directly
  const apex = ask([]);
  if (apex) for (const r of apex.records!) yield { name: '', type: r.type, ttl: r.ttl, data: r.data };
  yield* domainRecords({
    nodes,
    at: (name) => ask(name.split('.')),
    below: (name) => ask([BELOW, ...name.split('.')]),
    ttl,
  });
  // names directly below the apex that are nothing special: the apex wildcard, if any dataset has one
  const top = ask([BELOW]);
  if (top) for (const r of top.records!) yield { name: '*', type: r.type, ttl: r.ttl, data: r.data };
}

/** The records of a zone served by `datasets` (in zone order): one dataset's own records(), or
 *  their union. Null when a dataset cannot be written as records (the zone is not transferable). */
export function zoneRecords(datasets: readonly Dataset[], opts: MaterialiseOptions): Iterable<ZoneRecord> | null {
  if (datasets.some((d) => !d.records)) return null;
  if (datasets.length === 1) return datasets[0]!.records!(opts);
  return unionRecords([{ labels: [], datasets }], opts, datasets[0]?.ttl ?? 0);
}
