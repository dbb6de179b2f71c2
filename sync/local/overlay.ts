// The overlay: an immutable in-memory snapshot of the active overrides and of the keys with a
// reputation score, consulted by the DNS path before/with the big evidence snapshot. It is small
// (what people and the mail system created), built in milliseconds, and replaced whole on every
// change (LocalStore), so a lookup never sees a half-applied change.
//
// Lookups:
//   lookup4(ip)            IPv4 as uint32: the most specific covering override (a /32 beats a
//                          /24 beats a /8) by binary search over disjoint segments
//   lookup6(ip16)          the same over 128-bit segments
//   lookupDomain(labels)   query labels, leftmost first: the exact domain's override, else the
//                          nearest wildcard (`*.b.c` beats `*.c` for a.b.c); `*.c` never covers c
// plus the reputation score of that exact key (an IP's score is not inherited by its CIDR, nor a
// domain's by its subdomains), decayed to the time of the lookup.

import type { Override } from './overrides.ts';
import type { KeyKind } from './keys.ts';
import { decayed, type ScoreState } from './reputation.ts';
import { floor4 } from '../../core/ranges.ts';

export interface LocalHit {
  /** The override that applies (most specific), if any. */
  override?: Override;
  /** Reputation score of the exact key at lookup time (0 without events). */
  score: number;
  /** Number of reputation events of the exact key (absent when none). */
  events?: number;
}

const EMPTY: LocalHit = Object.freeze({ score: 0 });

/** Scores below this (in absolute value) at build time are left out: they only decay further. */
export const SCORE_EPSILON = 0.001;

interface ScoreEntry {
  score: number;
  at: number;
  events: number;
}

export interface OverlayOptions {
  /** Clock for decaying scores at lookup time (tests inject one). */
  now?: () => number;
  /** Reputation half-life in seconds. */
  halfLife: number;
  /** Build time; default now(). */
  builtAt?: number;
  serial?: number;
}

/** The active overrides, indexed. Rebuilt (from the overrides table) when an override changes. */
export class OverrideIndex {
  /** The active overrides, by id. */
  readonly overrides: readonly Override[];
  /** The earliest expiry among them (unix ms), or null. */
  readonly nextExpiry: number | null;
  // IPv4: disjoint segments [start, end] sorted by start; seg4o = index into overrides
  readonly seg4s: Uint32Array;
  readonly seg4e: Uint32Array;
  readonly seg4o: Int32Array;
  // IPv6: the same with 4 words per address
  readonly seg6s: Uint32Array;
  readonly seg6e: Uint32Array;
  readonly seg6o: Int32Array;
  readonly exact = new Map<string, Override>();
  readonly wild = new Map<string, Override>();

  constructor(overrides: readonly Override[], now: number) {
    const active = overrides.filter((o) => o.expires === null || o.expires > now).sort((a, b) => a.id - b.id);
    this.overrides = Object.freeze(active.map((o) => Object.freeze({ ...o })));
    let next: number | null = null;
    for (const o of this.overrides) if (o.expires !== null && (next === null || o.expires < next)) next = o.expires;
    this.nextExpiry = next;
    const n4: Net[] = [];
    const n6: Net[] = [];
    this.overrides.forEach((o, i) => {
      if (o.kind === 'ip4') n4.push(net4(o.key, i));
      else if (o.kind === 'ip6') n6.push(net6(o.key, i));
      else if (o.kind === 'domain') this.exact.set(o.key, o);
      else this.wild.set(o.key.slice(2), o);
    });
    [this.seg4s, this.seg4e, this.seg4o] = flatten(n4, 1);
    [this.seg6s, this.seg6e, this.seg6o] = flatten(n6, 4);
  }
}

/** Scored keys: a large base map plus a small layer of recent updates, so a report costs O(1)
 *  (amortized) instead of a copy of every score. Immutable: with() returns a new index. */
export class ScoreIndex {
  private constructor(
    private readonly base4: Map<number, ScoreEntry>,
    private readonly base6: Map<string, ScoreEntry>,
    private readonly baseD: Map<string, ScoreEntry>,
    private readonly top: Map<string, ScoreEntry | null>,
  ) {}

  static build(states: readonly ScoreState[], now: number, halfLife: number): ScoreIndex {
    const i = new ScoreIndex(new Map(), new Map(), new Map(), new Map());
    for (const s of states) {
      if (Math.abs(decayed(s.score, s.at, now, halfLife)) < SCORE_EPSILON) continue;
      const e: ScoreEntry = { score: s.score, at: s.at, events: s.events };
      if (s.keyKind === 'ip4') i.base4.set(ip4Of(s.key), e);
      else if (s.keyKind === 'ip6') i.base6.set(ip6Of(s.key), e);
      else i.baseD.set(s.key, e);
    }
    return i;
  }

  /** A new index with one key's state replaced. */
  with(s: ScoreState): ScoreIndex {
    const top = new Map(this.top);
    top.set(layerKey(s.keyKind, s.key), { score: s.score, at: s.at, events: s.events });
    if (top.size <= 1024) return new ScoreIndex(this.base4, this.base6, this.baseD, top);
    // Fold the layer into fresh base maps (rare: every 1024 distinct keys).
    const b4 = new Map(this.base4);
    const b6 = new Map(this.base6);
    const bD = new Map(this.baseD);
    for (const [k, e] of top) {
      const m = k[0] === '4' ? b4 : k[0] === '6' ? b6 : bD;
      const key = k[0] === '4' ? Number(k.slice(1)) : k.slice(1);
      if (e) (m as Map<number | string, ScoreEntry>).set(key, e);
      else (m as Map<number | string, ScoreEntry>).delete(key);
    }
    return new ScoreIndex(b4, b6, bD, new Map());
  }

  get size(): number {
    return this.base4.size + this.base6.size + this.baseD.size + this.top.size;
  }

  get4(ip: number): ScoreEntry | undefined {
    if (this.top.size) {
      const t = this.top.get('4' + ip);
      if (t !== undefined) return t ?? undefined;
    }
    return this.base4.size ? this.base4.get(ip) : undefined;
  }

  get6(k: string): ScoreEntry | undefined {
    if (this.top.size) {
      const t = this.top.get('6' + k);
      if (t !== undefined) return t ?? undefined;
    }
    return this.base6.size ? this.base6.get(k) : undefined;
  }

  getD(name: string): ScoreEntry | undefined {
    if (this.top.size) {
      const t = this.top.get('d' + name);
      if (t !== undefined) return t ?? undefined;
    }
    return this.baseD.size ? this.baseD.get(name) : undefined;
  }

  /** The scored domain names (a key of the layer may be there although its score is gone). */
  *domainNames(): Iterable<string> {
    yield* this.baseD.keys();
    for (const k of this.top.keys()) if (k[0] === 'd') yield k.slice(1);
  }

  /** The scored IPv4 keys (uint32; a key of the layer may be there although its score is gone). */
  *keys4(): Iterable<number> {
    for (const k of this.base4.keys()) if (!this.top.has('4' + k)) yield k;
    for (const [k, e] of this.top) if (k[0] === '4' && e) yield Number(k.slice(1));
  }

  /** The scored IPv6 keys as 16 bytes (as keys4). */
  *keys6(): Iterable<Uint8Array> {
    for (const k of this.base6.keys()) if (!this.top.has('6' + k)) yield keyBytes(k);
    for (const [k, e] of this.top) if (k[0] === '6' && e) yield keyBytes(k.slice(1));
  }

  /** Whether any domain (or anything at all in the layer) may have a score: lets lookups skip work. */
  get hasDomains(): boolean {
    return this.baseD.size > 0 || this.top.size > 0;
  }
}

function layerKey(kind: KeyKind, key: string): string {
  return kind === 'ip4' ? '4' + ip4Of(key) : kind === 'ip6' ? '6' + ip6Of(key) : 'd' + key;
}

export class Overlay {
  readonly builtAt: number;
  /** Increases with every rebuild of one LocalStore. */
  readonly serial: number;
  /** The earliest expiry among the active overrides (unix ms), or null: rebuild then. */
  readonly nextExpiry: number | null;
  /** The active overrides, by id. */
  readonly overrides: readonly Override[];
  readonly index: OverrideIndex;
  readonly scores: ScoreIndex;

  private readonly now: () => number;
  private readonly halfLife: number;
  private readonly w6 = new Uint32Array(4);
  /** Names with an override or scored domain strictly below them (built on first use). */
  private parents: Set<string> | null = null;

  /** From lists (tests, one-off builds) or from prebuilt parts (LocalStore reuses the part that
   *  did not change). */
  constructor(overrides: readonly Override[] | OverrideIndex, scores: readonly ScoreState[] | ScoreIndex, opts: OverlayOptions) {
    this.now = opts.now ?? Date.now;
    this.halfLife = opts.halfLife;
    const now = opts.builtAt ?? this.now();
    this.builtAt = now;
    this.serial = opts.serial ?? 0;
    this.index = overrides instanceof OverrideIndex ? overrides : new OverrideIndex(overrides, now);
    this.scores = scores instanceof ScoreIndex ? scores : ScoreIndex.build(scores, now, this.halfLife);
    this.overrides = this.index.overrides;
    this.nextExpiry = this.index.nextExpiry;
  }

  /** Number of active overrides and scored keys (a key updated since the last full build may
   *  count twice). */
  get size(): { overrides: number; scores: number } {
    return { overrides: this.overrides.length, scores: this.scores.size };
  }

  /** True when an override or a scored domain lies strictly below `name`: dbl answers
   *  NODATA for it (an empty non-terminal), so QNAME-minimising resolvers reach the key. */
  hasDomainBelow(name: string): boolean {
    let p = this.parents;
    if (p === null) {
      p = new Set<string>();
      const add = (d: string): void => {
        for (let i = d.indexOf('.'); i >= 0; i = d.indexOf('.', i + 1)) p!.add(d.slice(i + 1));
      };
      for (const k of this.index.exact.keys()) add(k);
      for (const k of this.index.wild.keys()) {
        p.add(k); // *.k: names below k exist
        add(k);
      }
      for (const k of this.scores.domainNames()) add(k);
      this.parents = p;
    }
    return p.has(name);
  }

  /** Nothing to say about any key: the DNS path may skip the lookups. */
  isEmpty(): boolean {
    return this.overrides.length === 0 && this.scores.size === 0;
  }

  lookup4(ip: number): LocalHit {
    const x = this.index;
    const s = x.seg4s;
    let o: Override | undefined;
    if (s.length) {
      const found = floor4(s, ip);
      if (found >= 0 && ip <= x.seg4e[found]!) o = this.overrides[x.seg4o[found]!];
    }
    return this.hit(o, this.scores.get4(ip >>> 0));
  }

  lookup6(ip16: Uint8Array): LocalHit {
    const x = this.index;
    let o: Override | undefined;
    const s = x.seg6s;
    if (s.length) {
      const w = this.w6;
      for (let k = 0; k < 4; k++) w[k] = ((ip16[4 * k]! << 24) | (ip16[4 * k + 1]! << 16) | (ip16[4 * k + 2]! << 8) | ip16[4 * k + 3]!) >>> 0;
      let lo = 0;
      let hi = s.length / 4 - 1;
      let found = -1;
      while (lo <= hi) {
        const mid = (lo + hi) >>> 1;
        if (cmpW(s, mid * 4, w) <= 0) {
          found = mid;
          lo = mid + 1;
        } else hi = mid - 1;
      }
      if (found >= 0 && cmpW(x.seg6e, found * 4, w) >= 0) o = this.overrides[x.seg6o[found]!];
    }
    return this.hit(o, this.scores.size ? this.scores.get6(bytesKey(ip16)) : undefined);
  }

  /** `labels`: the domain's labels, leftmost first (a query name relative to the zone). */
  lookupDomain(labels: readonly string[]): LocalHit {
    const x = this.index;
    if (labels.length === 0 || (x.exact.size === 0 && x.wild.size === 0 && !this.scores.hasDomains)) return EMPTY;
    let name = labels.join('.');
    if (/[A-Z]/.test(name)) name = name.toLowerCase();
    if (name.endsWith('.')) name = name.slice(0, -1);
    let o = x.exact.size ? x.exact.get(name) : undefined;
    if (!o && x.wild.size) {
      for (let i = name.indexOf('.'); i >= 0; i = name.indexOf('.', i + 1)) {
        o = x.wild.get(name.slice(i + 1));
        if (o) break;
      }
    }
    return this.hit(o, this.scores.getD(name));
  }

  /** Looks up a canonical key of any kind (explain, tests). */
  lookupKey(key: string): LocalHit {
    const w = this.index.wild;
    if (key.startsWith('*.')) return w.has(key.slice(2)) ? this.hit(w.get(key.slice(2)), undefined) : EMPTY;
    if (key.includes(':')) return this.lookup6(parse6(key));
    if (/^[\d.]+$/.test(key)) return this.lookup4(ip4Of(key));
    return this.lookupDomain(key.split('.'));
  }

  private hit(o: Override | undefined, s: ScoreEntry | undefined): LocalHit {
    if (!s) return o ? { override: o, score: 0 } : EMPTY;
    const score = decayed(s.score, s.at, this.now(), this.halfLife);
    return o ? { override: o, score, events: s.events } : { score, events: s.events };
  }
}

/** A prefix as an inclusive range: numbers for IPv4 (exact in a double), bigints for IPv6. */
interface Net {
  start: number | bigint;
  end: number | bigint;
  idx: number;
}

function net4(key: string, idx: number): Net {
  const [a, len] = key.split('/');
  const start = ip4Of(a!);
  return { start, end: start + 2 ** (32 - (len === undefined ? 32 : Number(len))) - 1, idx };
}

function net6(key: string, idx: number): Net {
  const [a, len] = key.split('/');
  const start = bytesToBig(parse6(a!));
  return { start, end: start + (1n << BigInt(128 - (len === undefined ? 128 : Number(len)))) - 1n, idx };
}

/** Nested-or-disjoint prefixes -> disjoint segments, each labelled with the most specific prefix
 *  covering it (a sweep with a stack of the enclosing prefixes). `words` per address: 1 (IPv4,
 *  numbers) or 4 (IPv6, bigints). */
function flatten(nets: Net[], words: 1 | 4): [Uint32Array, Uint32Array, Int32Array] {
  // number and bigint share the arithmetic below; `any` spares a second copy of the sweep.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const one: any = words === 1 ? 1 : 1n;
  nets.sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : a.end > b.end ? -1 : a.end < b.end ? 1 : 0));
  const ss: (number | bigint)[] = [];
  const es: (number | bigint)[] = [];
  const os: number[] = [];
  const emit = (from: number | bigint, to: number | bigint, idx: number) => {
    if (from > to) return;
    ss.push(from);
    es.push(to);
    os.push(idx);
  };
  const stack: Net[] = [];
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  let cursor: any = one - one;
  for (const n of nets) {
    while (stack.length && stack[stack.length - 1]!.end < n.start) {
      const top = stack.pop()!;
      emit(cursor, top.end, top.idx);
      cursor = (top.end as typeof one) + one;
    }
    if (stack.length) emit(cursor, (n.start as typeof one) - one, stack[stack.length - 1]!.idx);
    cursor = n.start;
    stack.push(n);
  }
  while (stack.length) {
    const top = stack.pop()!;
    emit(cursor, top.end, top.idx);
    cursor = (top.end as typeof one) + one;
  }
  if (words === 1) return [Uint32Array.from(ss as number[]), Uint32Array.from(es as number[]), Int32Array.from(os)];
  const s = new Uint32Array(ss.length * 4);
  const e = new Uint32Array(ss.length * 4);
  for (let i = 0; i < ss.length; i++) {
    for (let k = 0; k < 4; k++) {
      const shift = BigInt(32 * (3 - k));
      s[i * 4 + k] = Number(((ss[i] as bigint) >> shift) & 0xffffffffn);
      e[i * 4 + k] = Number(((es[i] as bigint) >> shift) & 0xffffffffn);
    }
  }
  return [s, e, Int32Array.from(os)];
}

function cmpW(a: Uint32Array, off: number, w: Uint32Array): number {
  for (let k = 0; k < 4; k++) {
    const x = a[off + k]!;
    const y = w[k]!;
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

function ip4Of(s: string): number {
  const p = s.split('.');
  return ((Number(p[0]) << 24) | (Number(p[1]) << 16) | (Number(p[2]) << 8) | Number(p[3])) >>> 0;
}

/** Canonical IPv6 text (from keys.ts, so always valid) -> 16 bytes. */
function parse6(s: string): Uint8Array {
  const [head, tail] = s.split('::') as [string, string | undefined];
  const g = (p: string | undefined) => (p ? p.split(':').map((x) => parseInt(x, 16)) : []);
  const h = g(head);
  const t = tail === undefined ? [] : g(tail);
  const all = [...h, ...new Array<number>(8 - h.length - t.length).fill(0), ...t];
  const b = new Uint8Array(16);
  all.forEach((x, i) => {
    b[2 * i] = x >> 8;
    b[2 * i + 1] = x & 255;
  });
  return b;
}

function bytesToBig(b: Uint8Array): bigint {
  let v = 0n;
  for (const x of b) v = (v << 8n) | BigInt(x);
  return v;
}

/** Map key of an IPv6 address: 8 UTF-16 code units, one per group. */
function bytesKey(b: Uint8Array): string {
  return String.fromCharCode((b[0]! << 8) | b[1]!, (b[2]! << 8) | b[3]!, (b[4]! << 8) | b[5]!, (b[6]! << 8) | b[7]!,
    (b[8]! << 8) | b[9]!, (b[10]! << 8) | b[11]!, (b[12]! << 8) | b[13]!, (b[14]! << 8) | b[15]!);
}

/** Inverse of bytesKey. */
function keyBytes(k: string): Uint8Array {
  const b = new Uint8Array(16);
  for (let i = 0; i < 8; i++) {
    const c = k.charCodeAt(i);
    b[2 * i] = c >> 8;
    b[2 * i + 1] = c & 255;
  }
  return b;
}

function ip6Of(key: string): string {
  return bytesKey(parse6(key));
}
