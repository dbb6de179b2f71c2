// A zone held as plain records (core/zones/records.ts), answered the way any standard
// authoritative server answers them: exact names, RFC 4592 wildcards (the closest encloser's
// `*` child), empty non-terminals NODATA, everything else NXDOMAIN. It is what a replica and
// the catalog zone serve, and the oracle of "a secondary answers as quorumbl does".
//
// Layout: a label tree walked from the zone apex down (query labels are already strings, so a
// lookup is one Map.get per label and allocates nothing). A, TXT and MX are answered; other
// types (PTR of a catalog, NS below the apex) make their name exist and are kept for records().

import type { Dataset, DatasetMeta, DatasetType, Query, RecordSink, SnapshotPart } from './types.ts';
import { RR, type ZoneRecord } from '../zones/records.ts';

interface Node {
  /** Children by label (lowercase); null for a leaf. */
  c: Map<string, Node> | null;
  /** Indexes into the answerable columns, or null (an empty non-terminal, or other types only). */
  r: number[] | null;
}

const T_ANY = 255;

function parseA(s: string): number {
  const p = s.split('.');
  if (p.length !== 4) return -1;
  let v = 0;
  for (const x of p) {
    if (!/^\d{1,3}$/.test(x) || Number(x) > 255) return -1;
    v = v * 256 + Number(x);
  }
  return v;
}

export class RecordsError extends Error {}

export class RecordsDataset implements Dataset {
  readonly type = 'records';
  readonly ttl: number;
  private readonly root: Node = { c: null, r: null };
  // answerable records as columns: type, ttl, number (A address / MX preference), string (TXT / MX exchange)
  private readonly rtype: number[] = [];
  private readonly rttl: number[] = [];
  private readonly rnum: number[] = [];
  private readonly rstr: (string | null)[] = [];

  /** `records` must not change afterwards (records() hands them out as they are). Throws
   *  RecordsError naming the record when one cannot be answered (a bad A or MX). Builds in one
   *  go: for big zones on a serving process use `RecordsDataset.build`. */
  constructor(
    private readonly list: readonly ZoneRecord[],
    readonly meta: DatasetMeta = {},
    deferred = false,
  ) {
    this.ttl = meta.soa?.minimum ?? 0;
    if (!deferred) for (const rec of list) this.add(rec);
  }

  /** The same, built in slices of `sliceMs` between which the event loop runs (DNS keeps
   *  answering while a replica indexes a million transferred records). */
  static async build(list: readonly ZoneRecord[], meta: DatasetMeta = {}, sliceMs = 4): Promise<RecordsDataset> {
    const d = new RecordsDataset(list, meta, true);
    let i = 0;
    while (i < list.length) {
      const until = performance.now() + sliceMs;
      for (; i < list.length; i++) {
        d.add(list[i]!);
        if ((i & 1023) === 1023 && performance.now() >= until) {
          i++;
          break;
        }
      }
      if (i < list.length) await new Promise((r) => setImmediate(r));
    }
    return d;
  }

  get size(): number {
    return this.list.length;
  }

  private node(name: string): Node {
    let n = this.root;
    if (name === '') return n;
    const labels = name.split('.');
    for (let i = labels.length - 1; i >= 0; i--) {
      const l = labels[i]!;
      if (l === '') throw new RecordsError(`owner "${name}" has an empty label`);
      if (n.c === null) n.c = new Map();
      let next = n.c.get(l);
      if (next === undefined) {
        next = { c: null, r: null };
        n.c.set(l, next);
      }
      n = next;
    }
    return n;
  }

  private add(rec: ZoneRecord): void {
    const name = rec.name.toLowerCase();
    const n = this.node(name);
    let num = 0;
    let str: string | null = null;
    if (rec.type === RR.A) {
      num = parseA(rec.data);
      if (num < 0) throw new RecordsError(`${name || '@'} A "${rec.data}" is not an IPv4 address`);
    } else if (rec.type === RR.TXT) {
      str = rec.data;
    } else if (rec.type === RR.MX) {
      const m = /^(\d+)\s+(\S+)$/.exec(rec.data);
      if (!m || Number(m[1]) > 65535) throw new RecordsError(`${name || '@'} MX "${rec.data}" is not "preference exchange"`);
      num = Number(m[1]);
      str = m[2]!.replace(/\.$/, '');
    } else {
      // present, not answered (PTR of a catalog, ...): the name exists
      return;
    }
    const i = this.rtype.length;
    this.rtype.push(rec.type);
    this.rttl.push(rec.ttl);
    this.rnum.push(num);
    this.rstr.push(str);
    (n.r ??= []).push(i);
  }

  private emit(r: number[], out: RecordSink): void {
    const qt = out.qtype;
    for (let k = 0; k < r.length; k++) {
      const i = r[k]!;
      const t = this.rtype[i]!;
      if (t === RR.A) {
        if (out.wantA) out.a(this.rnum[i]!, this.rttl[i]!);
      } else if (t === RR.TXT) {
        if (out.wantTxt) out.txt(this.rstr[i]!, this.rttl[i]!);
      } else if (qt === RR.MX || qt === T_ANY) out.mx(this.rnum[i]!, this.rstr[i]!, this.rttl[i]!);
    }
  }

  query(q: Query, out: RecordSink): boolean {
    const labels = q.labels;
    let n = this.root;
    let i = labels.length - 1;
    // walk down as far as the names exist: n ends at the closest encloser
    for (; i >= 0; i--) {
      const next = n.c === null ? undefined : n.c.get(labels[i]!);
      if (next === undefined) break;
      n = next;
    }
    if (i < 0) {
      // the name exists (with records of some type, or as an empty non-terminal)
      if (n.r !== null) this.emit(n.r, out);
      return true;
    }
    const w = n.c === null ? undefined : n.c.get('*');
    if (w === undefined) return false;
    if (w.r !== null) this.emit(w.r, out);
    return true;
  }

  records(): Iterable<ZoneRecord> {
    return this.list;
  }

  dump(_zone: string, write: (line: string) => void): void {
    for (const r of this.list) {
      const owner = r.name === '' ? '@' : r.name;
      const type = typeName(r.type);
      const data = r.type === RR.TXT ? `"${r.data.replace(/["\\]/g, (c) => '\\' + c)}"` : r.data;
      write(`${owner}\t${r.ttl}\t${type}\t${data}`);
    }
  }

  snapshot(): SnapshotPart {
    const text = this.list.map((r) => `${r.name}\t${r.type}\t${r.ttl}\t${r.data}`).join('\n');
    const { liveSerial: _live, ...meta } = this.meta;
    return { type: this.type, meta: { meta }, arrays: [new TextEncoder().encode(text)] };
  }
}

/** Parses the lines snapshot() writes: `name \t type \t ttl \t data` (data may hold tabs). */
export function parseRecordLines(text: string): ZoneRecord[] {
  const out: ZoneRecord[] = [];
  if (text === '') return out;
  let at = 0;
  let line = 0;
  while (at <= text.length) {
    let end = text.indexOf('\n', at);
    if (end < 0) end = text.length;
    line++;
    const s = text.slice(at, end);
    const t1 = s.indexOf('\t');
    const t2 = s.indexOf('\t', t1 + 1);
    const t3 = s.indexOf('\t', t2 + 1);
    const type = Number(s.slice(t1 + 1, t2));
    const ttl = Number(s.slice(t2 + 1, t3));
    if (t1 < 0 || t2 < 0 || t3 < 0 || !Number.isInteger(type) || !Number.isInteger(ttl)) {
      throw new RecordsError(`record line ${line} is not "name<TAB>type<TAB>ttl<TAB>data"`);
    }
    out.push({ name: s.slice(0, t1), type, ttl, data: s.slice(t3 + 1) });
    at = end + 1;
  }
  return out;
}

const TYPE_NAMES: Record<number, string> = { 1: 'A', 2: 'NS', 6: 'SOA', 12: 'PTR', 15: 'MX', 16: 'TXT', 28: 'AAAA' };
function typeName(t: number): string {
  return TYPE_NAMES[t] ?? `TYPE${t}`;
}

export const records: DatasetType = {
  name: 'records',
  createLoader() {
    throw new Error('records datasets are built from transferred or generated records, not from rbldnsd lines');
  },
  fromSnapshot(part: SnapshotPart): Dataset {
    const m = part.meta as { meta: DatasetMeta };
    const bytes = part.arrays[0] as Uint8Array;
    return new RecordsDataset(parseRecordLines(new TextDecoder().decode(bytes)), m.meta);
  },
};
