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
import { decayed, type ScoreState } from './reputation.ts';

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

export class Overlay {
  readonly builtAt: number;
  /** Increases with every rebuild of one LocalStore. */
  readonly serial: number;
  /** The earliest expiry among the active overrides (unix ms), or null: rebuild then. */
  readonly nextExpiry: number | null;
  /** The active overrides, by id. */
  readonly overrides: readonly Override[];

  private readonly now: () => number;
  private readonly halfLife: number;
  // IPv4: disjoint segments [start, end] sorted by start; seg4o = index into overrides
  private readonly seg4s: Uint32Array;
  private readonly seg4e: Uint32Array;
  private readonly seg4o: Int32Array;
  // IPv6: the same with 4 words per address
  private readonly seg6s: Uint32Array;
  private readonly seg6e: Uint32Array;
  private readonly seg6o: Int32Array;
  private readonly exact: Map<string, Override>;
  private readonly wild: Map<string, Override>;
  private readonly score4: Map<number, ScoreEntry>;
  private readonly score6: Map<string, ScoreEntry>;
  private readonly scoreD: Map<string, ScoreEntry>;
  private readonly w6 = new Uint32Array(4);

  constructor(overrides: readonly Override[], scores: readonly ScoreState[], opts: OverlayOptions) {
    this.now = opts.now ?? Date.now;
    this.halfLife = opts.halfLife;
    const now = opts.builtAt ?? this.now();
    this.builtAt = now;
    this.serial = opts.serial ?? 0;
    const active = overrides.filter((o) => o.expires === null || o.expires > now).sort((a, b) => a.id - b.id);
    this.overrides = Object.freeze(active.map((o) => Object.freeze({ ...o })));
    let next: number | null = null;
    for (const o of this.overrides) if (o.expires !== null && (next === null || o.expires < next)) next = o.expires;
    this.nextExpiry = next;

    const n4: Net[] = [];
    const n6: Net[] = [];
    this.exact = new Map();
    this.wild = new Map();
    this.overrides.forEach((o, i) => {
      if (o.kind === 'ip4') n4.push(net(o.key, 32, i));
      else if (o.kind === 'ip6') n6.push(net(o.key, 128, i));
      else if (o.kind === 'domain') this.exact.set(o.key, o);
      else this.wild.set(o.key.slice(2), o);
    });
    [this.seg4s, this.seg4e, this.seg4o] = flatten(n4, 1);
    [this.seg6s, this.seg6e, this.seg6o] = flatten(n6, 4);

    this.score4 = new Map();
    this.score6 = new Map();
    this.scoreD = new Map();
    for (const s of scores) {
      if (Math.abs(decayed(s.score, s.at, now, this.halfLife)) < SCORE_EPSILON) continue;
      const e: ScoreEntry = { score: s.score, at: s.at, events: s.events };
      if (s.keyKind === 'ip4') this.score4.set(ip4Of(s.key), e);
      else if (s.keyKind === 'ip6') this.score6.set(ip6Of(s.key), e);
      else this.scoreD.set(s.key, e);
    }
  }

  /** Number of active overrides and scored keys. */
  get size(): { overrides: number; scores: number } {
    return { overrides: this.overrides.length, scores: this.score4.size + this.score6.size + this.scoreD.size };
  }

  lookup4(ip: number): LocalHit {
    const s = this.seg4s;
    let o: Override | undefined;
    if (s.length) {
      let lo = 0;
      let hi = s.length - 1;
      let found = -1;
      while (lo <= hi) {
        const mid = (lo + hi) >>> 1;
        if (s[mid]! <= ip) {
          found = mid;
          lo = mid + 1;
        } else hi = mid - 1;
      }
      if (found >= 0 && ip <= this.seg4e[found]!) o = this.overrides[this.seg4o[found]!];
    }
    return this.hit(o, this.score4.size ? this.score4.get(ip >>> 0) : undefined);
  }

  lookup6(ip16: Uint8Array): LocalHit {
    let o: Override | undefined;
    const s = this.seg6s;
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
      if (found >= 0 && cmpW(this.seg6e, found * 4, w) >= 0) o = this.overrides[this.seg6o[found]!];
    }
    return this.hit(o, this.score6.size ? this.score6.get(bytesKey(ip16)) : undefined);
  }

  /** `labels`: the domain's labels, leftmost first (a query name relative to the zone). */
  lookupDomain(labels: readonly string[]): LocalHit {
    if (labels.length === 0 || (this.exact.size === 0 && this.wild.size === 0 && this.scoreD.size === 0)) return EMPTY;
    let name = labels.join('.');
    if (/[A-Z]/.test(name)) name = name.toLowerCase();
    if (name.endsWith('.')) name = name.slice(0, -1);
    let o = this.exact.get(name);
    if (!o && this.wild.size) {
      for (let i = name.indexOf('.'); i >= 0; i = name.indexOf('.', i + 1)) {
        o = this.wild.get(name.slice(i + 1));
        if (o) break;
      }
    }
    return this.hit(o, this.scoreD.size ? this.scoreD.get(name) : undefined);
  }

  /** Looks up a canonical key of any kind (explain, tests). */
  lookupKey(key: string): LocalHit {
    if (key.startsWith('*.')) return this.wild.has(key.slice(2)) ? this.hit(this.wild.get(key.slice(2)), undefined) : EMPTY;
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

interface Net {
  start: bigint;
  end: bigint;
  idx: number;
}

function net(key: string, width: number, idx: number): Net {
  const [a, len] = key.split('/');
  const bits = len === undefined ? width : Number(len);
  const start = width === 32 ? BigInt(ip4Of(a!)) : bytesToBig(parse6(a!));
  const size = 1n << BigInt(width - bits);
  return { start, end: start + size - 1n, idx };
}

/** Nested-or-disjoint prefixes -> disjoint segments, each labelled with the most specific prefix
 *  covering it (a sweep with a stack of the enclosing prefixes). `words` per address: 1 or 4. */
function flatten(nets: Net[], words: number): [Uint32Array, Uint32Array, Int32Array] {
  nets.sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : a.end > b.end ? -1 : a.end < b.end ? 1 : 0));
  const ss: bigint[] = [];
  const es: bigint[] = [];
  const os: number[] = [];
  const emit = (from: bigint, to: bigint, idx: number) => {
    if (from > to) return;
    ss.push(from);
    es.push(to);
    os.push(idx);
  };
  const stack: Net[] = [];
  let cursor = 0n;
  for (const n of nets) {
    while (stack.length && stack[stack.length - 1]!.end < n.start) {
      const top = stack.pop()!;
      emit(cursor, top.end, top.idx);
      cursor = top.end + 1n;
    }
    if (stack.length) emit(cursor, n.start - 1n, stack[stack.length - 1]!.idx);
    cursor = n.start;
    stack.push(n);
  }
  while (stack.length) {
    const top = stack.pop()!;
    emit(cursor, top.end, top.idx);
    cursor = top.end + 1n;
  }
  const s = new Uint32Array(ss.length * words);
  const e = new Uint32Array(ss.length * words);
  for (let i = 0; i < ss.length; i++) {
    for (let k = 0; k < words; k++) {
      const shift = BigInt(32 * (words - 1 - k));
      s[i * words + k] = Number((ss[i]! >> shift) & 0xffffffffn);
      e[i * words + k] = Number((es[i]! >> shift) & 0xffffffffn);
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

function ip6Of(key: string): string {
  return bytesKey(parse6(key));
}
