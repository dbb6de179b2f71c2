// A zone as one rbldnsd `combined` data file that Debian's rbldnsd loads and answers the way a
// standard DNS server answers the zone's records (core/datasets/records.ts is that oracle).
//
// Each owner name (a "point": an exact name or a wildcard `*.x`) goes to the rbldnsd type that
// keeps its meaning and all its values (reference/rbldnsd.md):
//   - IPv4 names (4 decimal labels) and wildcards on 1-3 decimal labels -> ip4set, whose lookup
//     tries /32, /24, /16, /8 and returns every value of the first level that has an entry
//     (several A values of one key survive as several lines);
//   - IPv6 names (32 nibbles) and wildcards on 1-31 nibbles -> ip6trie; a trie keeps one value
//     per prefix, so the i-th value of every point goes to the i-th ip6trie ("layer");
//   - other names and wildcards with A (and TXT) -> dnset (exact names first, else the longest
//     wildcard, all values);
//   - names with other types (MX), TXT without A, the apex -> generic (exact names only).
// One sub-dataset per TTL (rbldnsd's TTL is dataset-wide), all serving `@`.
//
// Wildcards: in DNS (RFC 4592) `*.x` answers a name only when x is its closest existing
// ancestor, and an existing name is never answered by a wildcard; rbldnsd's "most specific
// entry" ignores names that exist in other datasets or only as empty non-terminals. So, in
// every sub-dataset that has a wildcard above an existing name without its own entry there, an
// exclusion is written for that name (and for its wildcard level): rbldnsd then answers
// exactly the closest-encloser rule. TXT text is written with `$` doubled (rbldnsd would put
// the queried key there).

import { RR, type MaterialiseOptions, type ZoneRecord } from './records.ts';
import { fqdn, ownerText } from './zonefile.ts';
import type { ExportZone } from './export-zone.ts';

const CHUNK = 64 * 1024;

type Kind = 'ip4' | 'ip6' | 'dn' | 'gen';

interface Point {
  a: string[];
  /** NONE until the first one (most points have no TXT or other records: one shared array). */
  txt: string[];
  other: ZoneRecord[];
  /** TTL of the A/TXT values (the smallest when they differ). */
  ttl: number;
  /** Backend sub-datasets holding an entry for this point (group keys; interned: the few
   *  distinct lists are shared by all points). */
  groups: string[];
}

const NONE: never[] = [];

const DEC = /^(?:0|[1-9]\d{0,2})$/;
const NIB = /^[0-9a-f]$/;

function ip4Shaped(labels: readonly string[]): boolean {
  return labels.every((l) => DEC.test(l) && Number(l) <= 255);
}

function ip6Shaped(labels: readonly string[]): boolean {
  return labels.every((l) => NIB.test(l));
}

/** An IPv4 key (4 decimal labels) and an IPv6 key (32 nibbles) as whole names. */
const IP4_NAME = /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;
const IP6_NAME = /^(?:[0-9a-f]\.){31}[0-9a-f]$/;

function labelsOf(name: string): string[] {
  return name === '' ? [] : name.split('.');
}

/** ip4set key of a name (labels in DNS order, 1-4 of them): a /32 or an octet-aligned CIDR. */
function ip4Key(labels: readonly string[]): string {
  const octets = [...labels].reverse();
  if (octets.length === 4) return octets.join('.');
  while (octets.length < 4) octets.push('0');
  return `${octets.join('.')}/${labels.length * 8}`;
}

/** ip6trie key of a name (nibbles in DNS order, 0-32 of them): the prefix, all 8 groups. */
function ip6Key(labels: readonly string[]): string {
  const hex = [...labels].reverse().join('').padEnd(32, '0');
  const groups: string[] = [];
  for (let i = 0; i < 32; i += 4) groups.push(hex.slice(i, i + 4));
  return `${groups.join(':')}/${labels.length * 4}`;
}

/** A dnset key: labels as in a master file (odd bytes as `\DDD`, which dnset reads back). */
function dnKey(name: string): string {
  return ownerText(name);
}

const A_TEXT = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

function validA(a: string): boolean {
  const m = A_TEXT.exec(a);
  return !!m && m.slice(1).every((x) => Number(x) <= 255) && a !== '0.0.0.0';
}

interface Entry {
  a: string;
  txt: string | null;
}

/** What one point's A/TXT values become: A[i] with TXT[i] (extra TXTs ride on the first A,
 *  which rbldnsd then answers once: it drops identical records). */
function entriesOf(p: Point): Entry[] {
  const out: Entry[] = [];
  const n = Math.max(p.a.length, p.txt.length);
  for (let i = 0; i < n; i++) out.push({ a: p.a[Math.min(i, p.a.length - 1)]!, txt: p.txt[i] ?? null });
  return out;
}

export interface RbldnsdExportStats {
  points: number;
  exclusions: number;
  /** Sub-datasets written ($DATASET lines). */
  datasets: number;
}

/** A Map split in 64 by a cheap hash of the name: growing one never rehashes a million entries
 *  at once (a pause of a few hundred ms at 1M names, in the middle of a download). */
class Points {
  private readonly shards: Map<string, Point>[] = Array.from({ length: 64 }, () => new Map());
  private shard(name: string): Map<string, Point> {
    const n = name.length;
    return this.shards[n === 0 ? 0 : (name.charCodeAt(0) * 31 + name.charCodeAt(n - 1) + n) & 63]!;
  }
  get(name: string): Point | undefined {
    return this.shard(name).get(name);
  }
  set(name: string, p: Point): void {
    this.shard(name).set(name, p);
  }
  get size(): number {
    return this.shards.reduce((n, m) => n + m.size, 0);
  }
  *keys(): IterableIterator<string> {
    for (const m of this.shards) yield* m.keys();
  }
  *[Symbol.iterator](): IterableIterator<[string, Point]> {
    for (const m of this.shards) yield* m;
  }
}

/** Every this many steps of long work the writer yields '' (a point to let other work run). */
const SLICE = 8192;

/** Collects the zone's records by owner. Holds one small object per owner name (not the text). */
function* collect(records: Iterable<ZoneRecord>, report: (p: string) => void): Generator<string, { exact: Points; wild: Points }> {
  const exact = new Points();
  const wild = new Points();
  // The A and TXT sets repeat (a few reasons, a few texts): one shared, never changed array
  // each, so a million points hold a million small objects, not three million.
  const values = new Map<string, string[]>();
  const plus = (list: string[], v: string): string[] => {
    if (list.includes(v)) return list;
    const next = list === NONE ? [v] : [...list, v];
    const k = next.join('\n');
    const got = values.get(k);
    if (got) return got;
    values.set(k, next);
    return next;
  };
  let steps = 0;
  for (const r of records) {
    if (++steps % SLICE === 0) yield '';
    let map = exact;
    let name = r.name;
    if (name === '*' || name.startsWith('*.')) {
      map = wild;
      name = name === '*' ? '' : name.slice(2);
    }
    let p = map.get(name);
    if (!p) map.set(name, (p = { a: NONE, txt: NONE, other: NONE, ttl: r.ttl, groups: NONE }));
    if (r.type === RR.A || r.type === RR.TXT) {
      if (r.type === RR.A) p.a = plus(p.a, r.data);
      else p.txt = plus(p.txt, r.data);
      if (r.ttl !== p.ttl) {
        if (p.a.length + p.txt.length > 1) report(`${r.name || '@'}: records with TTLs ${p.ttl} and ${r.ttl}: rbldnsd gets ${Math.min(p.ttl, r.ttl)} for all`);
        p.ttl = Math.min(p.ttl, r.ttl);
      }
    } else if (p.other === NONE) p.other = [r];
    else p.other.push(r);
  }
  return { exact, wild };
}

/** A TXT as rbldnsd value text, or null (reported) when rbldnsd cannot say it as it is. */
function valueTxt(owner: string, t: string, report: (p: string) => void): string | null {
  if (/[\r\n\0]/.test(t)) {
    report(`${owner}: TXT with a line break or NUL cannot be written for rbldnsd; left out`);
    return null;
  }
  if (t !== t.trim()) report(`${owner}: TXT with blanks at its ends: rbldnsd strips them`);
  if (Buffer.byteLength(t) > 254) report(`${owner}: TXT of ${Buffer.byteLength(t)} bytes: rbldnsd answers 254`);
  return t.replaceAll('$', () => '$$');
}

/** The zone as one rbldnsd `combined` file (serve it as `ZONE:combined:FILE`), in chunks. */
export function* rbldnsdChunks(zone: ExportZone, opts: MaterialiseOptions, stats?: RbldnsdExportStats): Generator<string> {
  const report = opts.report;
  const { exact, wild } = yield* collect(zone.records(opts), report);

  // IP zone (bl, wl, an ip mirror) when any exact name is an address; else every name is a domain.
  let ipZone = false;
  for (const n of exact.keys()) {
    if (IP4_NAME.test(n) || IP6_NAME.test(n)) {
      ipZone = true;
      break;
    }
  }

  // Each point to its backends.
  const groups = new Map<string, { kind: Kind; ttl: number; layer: number }>();
  const join = (p: Point, kind: Kind, layer = 0): void => {
    const key = `${kind}|${p.ttl}|${layer}`;
    if (!groups.has(key)) groups.set(key, { kind, ttl: p.ttl, layer });
    p.groups = p.groups === NONE ? [key] : [...p.groups, key];
  };
  const interned = new Map<string, string[]>();
  const intern = (p: Point): void => {
    if (p.groups === NONE) return;
    const k = p.groups.join(' ');
    const got = interned.get(k);
    if (got) p.groups = got;
    else interned.set(k, p.groups);
  };
  const place = (name: string, p: Point, isWild: boolean): void => {
    const shown = isWild ? (name === '' ? '*' : `*.${name}`) : name || '@';
    const aOk = p.a.length > 0 && p.a.every(validA);
    if (p.a.length > 0 && !aOk) report(`${shown}: A ${p.a.join(', ')} is not an address rbldnsd can serve`);
    const valueOnly = p.other.length === 0 && aOk;
    if (!isWild) {
      if (name !== '' && valueOnly) {
        if (ipZone && IP4_NAME.test(name)) return join(p, 'ip4');
        if (ipZone && IP6_NAME.test(name)) {
          for (let i = 0; i < entriesOf(p).length; i++) join(p, 'ip6', i);
          return;
        }
        return join(p, 'dn');
      }
      if (p.a.length + p.txt.length + p.other.length > 0) join(p, 'gen');
      return;
    }
    if (!valueOnly) {
      report(`${shown}: a wildcard with ${p.a.length ? 'other types' : 'no A'} cannot be written for rbldnsd; left out`);
      return;
    }
    const l = labelsOf(name);
    let placed = false;
    if (ipZone && l.length >= 1 && l.length <= 3 && ip4Shaped(l)) (join(p, 'ip4'), (placed = true));
    if (ipZone && name === '') report('*: a wildcard at the apex cannot be written for IPv4 names (ip4set has no /0); IPv6 names get ::/0');
    if (ipZone && l.length <= 31 && ip6Shaped(l)) {
      for (let i = 0; i < entriesOf(p).length; i++) join(p, 'ip6', i);
      placed = true;
    }
    if (!placed && (!ipZone || !(ip4Shaped(l) || ip6Shaped(l))) && name !== '') (join(p, 'dn'), (placed = true));
    if (!placed) report(`${shown}: no rbldnsd type answers this wildcard as DNS does; left out`);
  };
  let placed = 0;
  for (const [n, p] of exact) {
    place(n, p, false);
    intern(p);
    if (++placed % SLICE === 0) yield '';
  }
  for (const [n, p] of wild) (place(n, p, true), intern(p));

  // Exclusions: existing names below a sub-dataset's wildcard without an entry of their own there.
  const excl = new Map<string, { exact: Set<string>; wild: Set<string> }>();
  const wb = new Map<string, string[]>();
  for (const [n, p] of wild) if (p.groups.length) wb.set(n, p.groups);
  let exclusions = 0;
  if (wb.size) {
    const has = (map: Points, n: string, g: string): boolean => !!map.get(n)?.groups.includes(g);
    const visited = new Set<string>();
    const consider = (m: string, covering: Set<string>): void => {
      const l = labelsOf(m);
      for (const g of covering) {
        const { kind } = groups.get(g)!;
        let ex = false;
        let wi = false;
        if (kind === 'ip4') {
          if (!ip4Shaped(l)) continue;
          if (l.length === 4) ex = !has(exact, m, g);
          else if (l.length >= 1) wi = !has(wild, m, g);
        } else if (kind === 'ip6') {
          if (!ip6Shaped(l)) continue;
          if (l.length === 32) ex = !has(exact, m, g);
          else if (l.length >= 1) wi = !has(wild, m, g);
        } else {
          ex = !has(exact, m, g);
          wi = !has(wild, m, g);
        }
        if (!ex && !wi) continue;
        let e = excl.get(g);
        if (!e) excl.set(g, (e = { exact: new Set(), wild: new Set() }));
        if (ex && !e.exact.has(m)) (e.exact.add(m), exclusions++);
        if (wi && !e.wild.has(m)) (e.wild.add(m), exclusions++);
      }
    };
    const walk = (n: string): void => {
      // from the apex down to n: the wildcards above each node are the ones that cover it
      const cuts = [n.length + 1];
      if (n !== '') for (let i = n.lastIndexOf('.'); i >= 0; i = i === 0 ? -1 : n.lastIndexOf('.', i - 1)) cuts.push(i);
      if (n !== '') cuts.push(-1);
      let covering: Set<string> | null = null;
      for (const c of cuts) {
        const m = c > n.length ? '' : n.slice(c + 1);
        if (covering && !visited.has(m)) {
          visited.add(m);
          consider(m, covering);
        }
        const g = wb.get(m);
        if (g) covering = new Set([...(covering ?? []), ...g]);
      }
    };
    let steps = 0;
    for (const n of exact.keys()) if ((walk(n), ++steps % SLICE === 0)) yield '';
    for (const n of wild.keys()) walk(n);
  }

  // The file.
  let buf = `# zone ${fqdn(zone.name)}${zone.soa ? ` serial ${zone.soa.serial}` : ''}, exported by quorumbl for rbldnsd: ${zone.name}:combined:FILE\n`;
  const soa = zone.soa;
  if (soa) buf += `$SOA ${soa.ttl} ${fqdn(soa.mname)} ${fqdn(soa.rname)} ${soa.serial} ${soa.refresh} ${soa.retry} ${soa.expire} ${soa.minimum}\n`;
  if (zone.ns && zone.ns.names.length) buf += `$NS ${zone.ns.ttl} ${zone.ns.names.map(fqdn).join(' ')}\n`;
  const order: Kind[] = ['ip4', 'ip6', 'dn', 'gen'];
  const sorted = [...groups].sort(([, a], [, b]) => order.indexOf(a.kind) - order.indexOf(b.kind) || a.ttl - b.ttl || a.layer - b.layer);
  for (const [g, info] of sorted) {
    const type = { ip4: 'ip4set', ip6: 'ip6trie', dn: 'dnset', gen: 'generic' }[info.kind];
    buf += `$DATASET ${type}:${info.kind}-${info.ttl}${info.kind === 'ip6' ? `-${info.layer}` : ''} @\n$TTL ${info.ttl}\n`;
    const e = excl.get(g);
    if (info.kind === 'gen') {
      let steps = 0;
      for (const [n, p] of exact) {
        if (++steps % SLICE === 0) yield '';
        if (!p.groups.includes(g)) continue;
        const o = n === '' ? '@' : ownerText(n);
        for (const a of p.a) buf += `${o} ${p.ttl} A ${a}\n`;
        for (const t of p.txt) {
          if (/[\r\n\0]/.test(t)) report(`${n || '@'}: TXT with a line break or NUL cannot be written for rbldnsd; left out`);
          else buf += `${o} ${p.ttl} TXT "${t}"\n`;
        }
        for (const r of p.other) {
          if (r.type === RR.MX) buf += `${o} ${r.ttl} MX ${r.data}\n`;
          else report(`${n || '@'}: type ${r.type} cannot be served by rbldnsd; left out`);
        }
        if (buf.length >= CHUNK) (yield buf, (buf = ''));
      }
      continue;
    }
    const key = (name: string, isWild: boolean): string => {
      const l = labelsOf(name);
      if (info.kind === 'ip4') return ip4Key(l);
      if (info.kind === 'ip6') return ip6Key(l);
      return isWild ? `*.${dnKey(name)}` : dnKey(name);
    };
    let steps = 0;
    for (const [map, isWild] of [[exact, false], [wild, true]] as const) {
      for (const [n, p] of map) {
        if (++steps % SLICE === 0) yield '';
        if (!p.groups.includes(g)) continue;
        const shown = isWild ? `*.${n}` : n;
        const k = key(n, isWild);
        const ents = entriesOf(p);
        for (const [i, en] of ents.entries()) {
          if (info.kind === 'ip6' && i !== info.layer) continue;
          const t = en.txt === null ? null : valueTxt(shown, en.txt, report);
          buf += `${k} :${en.a}:${t ?? ''}\n`;
        }
        if (buf.length >= CHUNK) (yield buf, (buf = ''));
      }
    }
    if (e) {
      for (const m of e.exact) buf += `!${key(m, false)}\n`;
      for (const m of e.wild) buf += `!${key(m, true)}\n`;
    }
  }
  if (stats) {
    stats.points = exact.size + wild.size;
    stats.exclusions = exclusions;
    stats.datasets = groups.size;
  }
  yield buf;
}
