// rbldnsd `combined` dataset: one file holding several sub-datasets, each started by a line
// `$DATASET type[:label] subzone...` and serving the listed subzones of the base zone (`@` = the
// base zone itself). A query is routed to the longest subzone that is a suffix of the name, and
// only that subzone's sub-datasets are asked (a parent subzone is never consulted).
//
// For the server: `query()` takes labels relative to the base zone, as for any dataset; NS glue
// inside a combined zone comes from `glue(labels)` (labels relative to the base zone), which is
// the A lookup rbldnsd does for glue (all sub-datasets of the matching subzone are asked).

import type { Dataset, DatasetLoader, DatasetMeta, DatasetType, Query, RecordSink, SnapshotPart } from './types.ts';
import { LoadError } from '../rbldnsd/reader.ts';
import { LoadState, type Loc } from '../rbldnsd/state.ts';
import { makeQuery } from '../query.ts';
import type { MaterialiseOptions, ZoneRecord } from '../zones/records.ts';
import { unionRecords } from '../zones/union.ts';
import { generic, glueRecords, lowerAscii, nameToText, parseDomainName, type GlueRecord } from './generic.ts';
// The sub-dataset types are imported one by one rather than through ./index.ts: index.ts imports
// this module, and a cycle would leave `combined` uninitialised when this file is loaded first.
import { ip4set } from './ip4set.ts';
import { ip4tset } from './ip4tset.ts';
import { ip4trie } from './ip4trie.ts';
import { ip6tset } from './ip6tset.ts';
import { ip6trie } from './ip6trie.ts';
import { dnset } from './dnset.ts';

/** Types allowed after `$DATASET` (every data type; not combined itself, not acl). */
const SUB_TYPES: ReadonlyMap<string, DatasetType> = new Map(
  [ip4set, ip4tset, ip4trie, ip6tset, ip6trie, dnset, generic].map((t) => [t.name, t]),
);

const LABEL_MAX = 20;

/** A subzone (labels relative to the base zone, lowercased) and the sub-datasets serving it. */
interface Subzone {
  labels: string[];
  datasets: number[];
}

function sameLabels(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((l, i) => l === b[i]);
}

/** True when `suffix` is a label-aligned suffix of `labels`. */
function endsWith(labels: readonly string[], suffix: readonly string[]): boolean {
  const off = labels.length - suffix.length;
  if (off < 0) return false;
  for (let i = 0; i < suffix.length; i++) if (labels[off + i] !== suffix[i]) return false;
  return true;
}

/** Adds a subzone the way rbldnsd orders its list: a new subzone goes just before the first
 *  subzone that is its parent, so the first suffix match is always the longest one. */
function subzoneFor(list: Subzone[], labels: string[]): Subzone {
  let parentAt = -1;
  for (let i = 0; i < list.length; i++) {
    const z = list[i]!;
    if (sameLabels(z.labels, labels)) return z;
    if (parentAt < 0 && z.labels.length < labels.length && endsWith(labels, z.labels)) parentAt = i;
  }
  const z: Subzone = { labels, datasets: [] };
  if (parentAt < 0) list.push(z);
  else list.splice(parentAt, 0, z);
  return z;
}

interface OpenSub {
  loader: DatasetLoader;
  index: number;
}

class CombinedLoader implements DatasetLoader {
  private file = '';
  private routed = false;
  private current: OpenSub | null = null;
  private readonly subs: (Dataset | null)[] = [];
  private readonly labels: (string | null)[] = [];
  private readonly zones: Subzone[] = [];

  constructor(private readonly container: LoadState) {}

  /** `$TTL`, `$n`, `$=` go to the sub-dataset being read, or before the first `$DATASET` to the
   *  container (whose values each new sub-dataset starts from). */
  get state(): LoadState {
    // The reader reads `state` for every `$` line it sees (and only then): rbldnsd routes data
    // lines of a new file to the current section again only after some `$` line (see startFile).
    this.routed = true;
    return this.current ? this.current.loader.state : this.container;
  }

  // rbldnsd does not restart the current sub-dataset at a new file: the section the previous
  // file ended in goes on (its defaults included), but only once the new file has had a `$`
  // line of any kind; a data line before that is the fatal "specify $DATASET" error.
  // Sub-datasets themselves start (startFile) at their `$DATASET` line.
  startFile(file: string): void {
    this.file = file;
    this.routed = false;
  }

  addLine(line: string, at: Loc): void {
    if (!this.current || !this.routed) {
      throw new LoadError('data line outside a $DATASET section (a combined file must start a section with "$DATASET type subzone...")', { ...at });
    }
    this.current.loader.addLine(line, at);
  }

  special(keyword: string, rest: string, at: Loc): boolean {
    if (keyword.toUpperCase() !== 'DATASET') return false;
    if (rest === '') return false; // rbldnsd: `$DATASET` without an argument is an unknown special
    this.closeCurrent();
    // `#` or `;` at the start or after a blank starts a comment.
    const m = /(?:^|[ \t])[#;]/.exec(rest);
    const words = (m ? rest.slice(0, m.index) : rest).split(/[ \t]+/).filter(Boolean);
    if (words.length === 0) {
      this.container.warn({ ...at }, 'invalid $DATASET line (no dataset type), ignored');
      return true;
    }
    const spec = words[0]!;
    const colon = spec.indexOf(':');
    const typeName = colon < 0 ? spec : spec.slice(0, colon);
    const label = colon < 0 ? '' : spec.slice(colon + 1, colon + 1 + LABEL_MAX);
    if (typeName === 'combined' || typeName === 'acl') {
      throw new LoadError(`dataset type '${typeName}' cannot be used inside combined`, { ...at });
    }
    const type = SUB_TYPES.get(typeName); // case-sensitive, as in rbldnsd
    if (!type) throw new LoadError(`unknown dataset type '${typeName.slice(0, 60)}' in $DATASET`, { ...at });

    const index = this.subs.length;
    this.subs.push(null);
    this.labels.push(label || null);
    if (words.length === 1) this.container.warn({ ...at }, 'no subzone(s) specified for dataset, data will be ignored');
    for (const w of words.slice(1)) {
      const labels = w === '@' ? [] : parseDomainName(w);
      if (!labels) {
        this.container.warn({ ...at }, `invalid domain name '${w.slice(0, 60)}'`);
        continue;
      }
      const z = subzoneFor(this.zones, labels.map(lowerAscii));
      z.datasets.push(index);
    }
    const loader = type.createLoader(new LoadState(this.container.options, this.container));
    loader.startFile(this.file);
    this.current = { loader, index };
    return true;
  }

  private closeCurrent(): void {
    const cur = this.current;
    if (!cur) return;
    this.current = null;
    this.subs[cur.index] = cur.loader.finish({});
    // $MAXRANGE4 holds for the rest of the whole load (rbldnsd keeps it per load, not per section).
    this.container.maxRange4 = Math.min(this.container.maxRange4, cur.loader.state.maxRange4);
  }

  finish(meta: DatasetMeta): Dataset {
    this.closeCurrent();
    return new CombinedDataset(meta, this.container.currentTtl, this.subs as Dataset[], this.labels, this.zones);
  }
}

export class CombinedDataset implements Dataset {
  readonly type = 'combined';

  constructor(
    readonly meta: DatasetMeta,
    readonly ttl: number,
    /** Sub-datasets in `$DATASET` order. */
    readonly datasets: readonly Dataset[],
    /** The `:label` of each sub-dataset (for logs), null when none. */
    readonly labels: readonly (string | null)[],
    /** Subzones, children before parents (first suffix match = longest). */
    private readonly zones: readonly Subzone[],
  ) {}

  get size(): number {
    let n = 0;
    for (const d of this.datasets) n += d.size;
    return n;
  }

  /** Subzone names (labels relative to the base zone) with the sub-datasets serving each. */
  subzones(): { labels: readonly string[]; datasets: readonly Dataset[] }[] {
    return this.zones.map((z) => ({ labels: z.labels, datasets: z.datasets.map((i) => this.datasets[i]!) }));
  }

  query(q: Query, out: RecordSink): boolean {
    const n = q.labels.length;
    for (const z of this.zones) {
      if (!endsWith(q.labels, z.labels)) continue;
      const k = z.labels.length;
      const sub = k === 0 ? q : makeQuery(q.labels.slice(0, n - k), q.qtype);
      let found = false;
      for (const i of z.datasets) if (this.datasets[i]!.query(sub, out)) found = true;
      return found || n === k; // a subzone apex always exists (NODATA when empty)
    }
    return false;
  }

  /** The subzones' datasets as one set of records (core/zones/union.ts: each name routed to its
   *  longest subzone, that subzone's datasets' answers merged, RFC 4592 cuts re-stated). */
  records(opts: MaterialiseOptions): Iterable<ZoneRecord> {
    return unionRecords(this.zones.map((z) => ({ labels: z.labels, datasets: z.datasets.map((i) => this.datasets[i]!) })), opts, this.ttl);
  }

  /** A records for an NS name inside this zone (labels relative to the base zone): glue. */
  glue(labels: readonly string[]): GlueRecord[] {
    return glueRecords(this, labels);
  }

  dump(zone: string, write: (line: string) => void): void {
    const base = zone.replace(/\.$/, '');
    for (const z of this.zones) {
      const origin = z.labels.length ? `${nameToText(z.labels)}.${base}` : base;
      write(`$ORIGIN ${origin}.`);
      for (const i of z.datasets) this.datasets[i]!.dump(origin, write);
    }
  }

  snapshot(): SnapshotPart {
    return {
      type: 'combined',
      meta: { meta: this.meta, ttl: this.ttl, labels: this.labels, zones: this.zones },
      arrays: [],
      children: this.datasets.map((d) => d.snapshot()),
    };
  }
}

interface CombinedSnapshotMeta {
  meta: DatasetMeta;
  ttl: number;
  labels: (string | null)[];
  zones: Subzone[];
}

export const combined: DatasetType = {
  name: 'combined',
  createLoader(state: LoadState): DatasetLoader {
    return new CombinedLoader(state);
  },
  fromSnapshot(part: SnapshotPart): Dataset {
    if (part.type !== 'combined') throw new Error('not a combined dataset snapshot');
    const m = part.meta as CombinedSnapshotMeta;
    const subs = (part.children ?? []).map((c) => {
      const t = SUB_TYPES.get(c.type);
      if (!t) throw new Error(`combined snapshot: unknown sub-dataset type '${c.type}'`);
      return t.fromSnapshot(c);
    });
    return new CombinedDataset(m.meta, m.ttl, subs, m.labels, m.zones);
  },
};
