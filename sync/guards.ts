// Guards: decide whether a freshly parsed copy of a source may replace its last good copy.
//
// statsOf() condenses a parsed source into a few numbers (SourceStats, stored in SQLite with the
// last good copy); checkGuards() compares new stats with the last good ones and returns reasons,
// written for an admin, when the update looks broken (DESIGN §3 idea 5, sources.md §3 incidents).

import { ip4Dotted } from '../core/ip4.ts';

// Structural view of core/formats' ParsedSource (only what the guards read), so this module does
// not depend on the parser's file layout. RangeSet4/6: sorted, merged, inclusive ends; v6 uses
// 4 big-endian words per address.
export interface RangeSetLike4 { start: Uint32Array; end: Uint32Array }
export interface RangeSetLike6 { start: Uint32Array; end: Uint32Array }
export interface ParsedLike {
  v4: RangeSetLike4;
  v6: RangeSetLike6;
  domains: string[];
  lines: number;
  entries: number;
  errors: number;
  /** Entries rejected as wider than the source's max prefix (part of errors). */
  tooWide?: number;
  sampleErrors?: { line: number; message: string }[];
}

export interface SourceStats {
  kind?: 'ip' | 'domain';
  entries: number;
  lines: number;
  errors: number;
  /** IPv4 addresses covered. */
  addresses4: number;
  /** log2 of the IPv6 addresses covered (absent when the source lists no IPv6). */
  addresses6Log2?: number;
  /** Forbidden ranges hit, e.g. '127.0.0.0/8 (127.0.0.1)'. */
  forbidden: string[];
  /** Prefix length of the widest IPv4 / IPv6 block listed (null when none). */
  widest4: number | null;
  widest6: number | null;
  /** The RFC 5782 test point (127.0.0.2, ::ffff:127.0.0.2 or 'test') is listed. */
  testPoint: boolean;
  /** Entries rejected as wider than the source allows (counted in errors too), with an example. */
  tooWide?: number;
  tooWideExample?: string;
}

export interface GuardConfig {
  /** Largest share of unparsable data lines (0.05 = 5%). */
  maxErrorRatio: number;
  /** Largest share of entries or covered addresses an update may lose (0.5 = may lose half). */
  maxShrink: number;
  /** Largest growth factor of entries or covered addresses (3 = may triple). */
  maxGrow: number;
  /** "Lists the world" when covering more than this factor x the last good copy's IPv4 addresses. */
  worldShareFactor: number;
  requireTestPoint: boolean;
  /** Absolute IPv4 ceiling (addresses); default 2^24 = a /8 = 1/256 of the space. */
  worldCeiling4?: number;
  /** Shrink/grow limits apply only when the last or new count reaches this (tiny lists); default 0. */
  minCompare?: number;
}

export type GuardResult = { ok: true } | { ok: false; reasons: string[] };

// ---- Forbidden ranges ---------------------------------------------------------------------------

export interface ForbiddenRange4 { cidr: string; why: string; start: number; end: number; except: number[] }
export interface ForbiddenRange6 { cidr: string; why: string; start: Uint32Array; end: Uint32Array; except: Uint32Array[] }

function v4(cidr: string, why: string, except: number[] = []): ForbiddenRange4 {
  const [a, b] = cidr.split('/') as [string, string];
  const o = a.split('.').map(Number);
  const start = ((o[0]! << 24) | (o[1]! << 16) | (o[2]! << 8) | o[3]!) >>> 0;
  const size = 2 ** (32 - Number(b));
  return { cidr, why, start, end: start + size - 1, except };
}

function v6(cidr: string, why: string, start: number[], bits: number, except: number[][] = []): ForbiddenRange6 {
  const s = Uint32Array.from(start);
  const e = Uint32Array.from(start);
  for (let w = 0; w < 4; w++) {
    const hostBits = Math.min(32, Math.max(0, 128 - bits - (3 - w) * 32));
    if (hostBits > 0) e[w] = (e[w]! | (hostBits === 32 ? 0xffffffff : (2 ** hostBits - 1))) >>> 0;
  }
  return { cidr, why, start: s, end: e, except: except.map((x) => Uint32Array.from(x)) };
}

/** Special-purpose IPv4 space no blocklist may contain (127.0.0.2 is the RFC 5782 test point). */
export const FORBIDDEN_V4: readonly ForbiddenRange4[] = [
  v4('0.0.0.0/8', '"this network"'),
  v4('10.0.0.0/8', 'private (RFC 1918)'),
  v4('100.64.0.0/10', 'carrier-grade NAT (RFC 6598)'),
  v4('127.0.0.0/8', 'loopback; only the test point 127.0.0.2 may be listed', [0x7f000002]),
  v4('169.254.0.0/16', 'link-local'),
  v4('172.16.0.0/12', 'private (RFC 1918)'),
  v4('192.168.0.0/16', 'private (RFC 1918)'),
  v4('224.0.0.0/4', 'multicast'),
  v4('240.0.0.0/4', 'reserved, including the broadcast address 255.255.255.255'),
];

/** Special-purpose IPv6 space (::ffff:127.0.0.2 is the RFC 5782 test point in v4-mapped form). */
export const FORBIDDEN_V6: readonly ForbiddenRange6[] = [
  v6('::/128', 'the unspecified address', [0, 0, 0, 0], 128),
  v6('::1/128', 'loopback', [0, 0, 0, 1], 128),
  v6('::ffff:0:0/96', 'IPv4-mapped; only the test point ::ffff:127.0.0.2 may be listed', [0, 0, 0xffff, 0], 96, [[0, 0, 0xffff, 0x7f000002]]),
  v6('fc00::/7', 'unique local', [0xfc000000, 0, 0, 0], 7),
  v6('fe80::/10', 'link-local', [0xfe800000, 0, 0, 0], 10),
  v6('ff00::/8', 'multicast', [0xff000000, 0, 0, 0], 8),
];

const TEST_POINT4 = 0x7f000002;
const TEST_POINT6 = Uint32Array.from([0, 0, 0xffff, 0x7f000002]);

// ---- Stats --------------------------------------------------------------------------------------

export interface StatsOptions {
  /** Defaults to 'domain' when the parse produced domains and no addresses, else 'ip'. */
  kind?: 'ip' | 'domain';
  forbidden4?: readonly ForbiddenRange4[];
  forbidden6?: readonly ForbiddenRange6[];
}

/** Condenses a parsed source into SourceStats. Linear in the number of ranges, no per-entry objects. */
export function statsOf(parsed: ParsedLike, opts: StatsOptions = {}): SourceStats {
  const n4 = parsed.v4.start.length;
  const n6 = parsed.v6.start.length >>> 2;
  const kind = opts.kind ?? (parsed.domains.length > 0 && n4 === 0 && n6 === 0 ? 'domain' : 'ip');
  const stats: SourceStats = {
    kind,
    entries: parsed.entries,
    lines: parsed.lines,
    errors: parsed.errors,
    addresses4: 0,
    forbidden: [],
    widest4: null,
    widest6: null,
    testPoint: false,
  };
  if (parsed.tooWide) {
    stats.tooWide = parsed.tooWide;
    const ex = parsed.sampleErrors?.find((e) => /wide/i.test(e.message));
    if (ex) stats.tooWideExample = `line ${ex.line}: ${ex.message}`;
  }

  // IPv4: covered addresses and the widest aligned block.
  const s4 = parsed.v4.start;
  const e4 = parsed.v4.end;
  let total4 = 0;
  let widest = 33;
  for (let i = 0; i < n4; i++) {
    const s = s4[i]!;
    const e = e4[i]!;
    total4 += e - s + 1;
    if (s !== e && widest > 0) {
      const p = widestPrefix4(s, e);
      if (p < widest) widest = p;
    } else if (widest > 32) widest = 32;
  }
  stats.addresses4 = total4;
  if (n4 > 0) stats.widest4 = widest;

  // IPv6: BigInt per range, except single addresses (the common case).
  if (n6 > 0) {
    const s6 = parsed.v6.start;
    const e6 = parsed.v6.end;
    let total6 = 0n;
    let widest6 = 129;
    for (let i = 0; i < n6; i++) {
      const o = i * 4;
      if (s6[o] === e6[o] && s6[o + 1] === e6[o + 1] && s6[o + 2] === e6[o + 2] && s6[o + 3] === e6[o + 3]) {
        total6 += 1n;
        if (widest6 > 128) widest6 = 128;
        continue;
      }
      const s = big6(s6, o);
      const e = big6(e6, o);
      total6 += e - s + 1n;
      const p = widestPrefix6(s, e);
      if (p < widest6) widest6 = p;
    }
    stats.widest6 = widest6;
    stats.addresses6Log2 = log2Big(total6);
  }

  for (const f of opts.forbidden4 ?? FORBIDDEN_V4) {
    const hit = forbiddenHits4(s4, e4, f);
    if (hit) stats.forbidden.push(hit);
  }
  for (const f of opts.forbidden6 ?? FORBIDDEN_V6) {
    const hit = forbiddenHits6(parsed.v6.start, parsed.v6.end, f);
    if (hit) stats.forbidden.push(hit);
  }

  if (kind === 'domain') {
    stats.testPoint = sortedHas(parsed.domains, 'test');
  } else {
    stats.testPoint = contains4(s4, e4, TEST_POINT4) || contains6(parsed.v6.start, parsed.v6.end, TEST_POINT6);
  }
  return stats;
}

/** Prefix length of the widest CIDR block inside [s, e] (both uint32, s < e). */
function widestPrefix4(s: number, e: number): number {
  const len = e - s + 1;
  let k = Math.floor(Math.log2(len));
  if (2 ** (k + 1) <= len) k++; // guard against log2 rounding down at exact powers
  if (2 ** k > len) k--;
  const size = 2 ** k;
  const aligned = Math.ceil(s / size) * size;
  if (aligned + size - 1 > e) k--;
  return 32 - k;
}

function widestPrefix6(s: bigint, e: bigint): number {
  const len = e - s + 1n;
  let k = len.toString(2).length - 1;
  const size = 1n << BigInt(k);
  const aligned = ((s + size - 1n) >> BigInt(k)) << BigInt(k);
  if (aligned + size - 1n > e) k--;
  return 128 - k;
}

function big6(w: Uint32Array, o: number): bigint {
  return (BigInt(w[o]!) << 96n) | (BigInt(w[o + 1]!) << 64n) | (BigInt(w[o + 2]!) << 32n) | BigInt(w[o + 3]!);
}

function log2Big(x: bigint): number {
  const bits = x.toString(2).length;
  if (bits <= 53) return Math.log2(Number(x));
  // Keep the top 53 bits for the fraction.
  return Math.log2(Number(x >> BigInt(bits - 53))) + (bits - 53);
}

/** Index of the first range whose end is >= ip (n when none). */
function lowerBound4(end: Uint32Array, ip: number): number {
  let lo = 0;
  let hi = end.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (end[mid]! < ip) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function contains4(start: Uint32Array, end: Uint32Array, ip: number): boolean {
  const i = lowerBound4(end, ip);
  return i < end.length && start[i]! <= ip;
}

/** Compares the 4-word address at a[ai] with b[bi]. */
function cmp6(a: Uint32Array, ai: number, b: Uint32Array, bi: number): number {
  for (let w = 0; w < 4; w++) {
    const x = a[ai + w]!;
    const y = b[bi + w]!;
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

function lowerBound6(end: Uint32Array, ip: Uint32Array): number {
  let lo = 0;
  let hi = end.length >>> 2;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (cmp6(end, mid * 4, ip, 0) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function contains6(start: Uint32Array, end: Uint32Array, ip: Uint32Array): boolean {
  const i = lowerBound6(end, ip);
  return i < end.length >>> 2 && cmp6(start, i * 4, ip, 0) <= 0;
}

const MAX_EXAMPLES = 2;

/** 'RANGE (examples)' when the source lists anything in f other than its exceptions, else null. */
function forbiddenHits4(start: Uint32Array, end: Uint32Array, f: ForbiddenRange4): string | null {
  const examples: string[] = [];
  let count = 0;
  for (let i = lowerBound4(end, f.start); i < start.length && start[i]! <= f.end; i++) {
    const a = Math.max(start[i]!, f.start);
    const b = Math.min(end[i]!, f.end);
    if (a === b && f.except.includes(a)) continue;
    count++;
    // Show the listed range, less an allowed address at its edge (127.0.0.1-127.0.0.2 -> 127.0.0.1).
    let s = start[i]!;
    let e = end[i]!;
    if (f.except.includes(s)) s++;
    if (f.except.includes(e)) e--;
    if (examples.length < MAX_EXAMPLES) examples.push(range4Text(s, e));
  }
  return count === 0 ? null : `${f.cidr} (${exampleText(examples, count)})`;
}

function forbiddenHits6(start: Uint32Array, end: Uint32Array, f: ForbiddenRange6): string | null {
  const examples: string[] = [];
  let count = 0;
  const n = start.length >>> 2;
  for (let i = lowerBound6(end, f.start); i < n && cmp6(start, i * 4, f.end, 0) <= 0; i++) {
    const o = i * 4;
    // The overlap with f is [a, b]; it is harmless only when it is exactly one excepted address.
    const a = cmp6(start, o, f.start, 0) < 0 ? f.start : start.subarray(o, o + 4);
    const b = cmp6(end, o, f.end, 0) > 0 ? f.end : end.subarray(o, o + 4);
    if (cmp6(a, 0, b, 0) === 0 && f.except.some((x) => cmp6(x, 0, a, 0) === 0)) continue;
    count++;
    if (examples.length < MAX_EXAMPLES) examples.push(range6Text(big6(start, o), big6(end, o)));
  }
  return count === 0 ? null : `${f.cidr} (${exampleText(examples, count)})`;
}

function exampleText(examples: string[], count: number): string {
  const more = count - examples.length;
  return more > 0 ? `${examples.join(', ')} and ${fmtInt(more)} more` : examples.join(', ');
}

/** A range as CIDR when it is one block, else 'a-b'. */
function range4Text(s: number, e: number): string {
  if (s === e) return ip4Dotted(s);
  const len = e - s + 1;
  const k = Math.log2(len);
  if (Number.isInteger(k) && s % len === 0) return `${ip4Dotted(s)}/${32 - k}`;
  return `${ip4Dotted(s)}-${ip4Dotted(e)}`;
}

function ip6Text(x: bigint): string {
  const g: string[] = [];
  for (let i = 7; i >= 0; i--) g.push(((x >> BigInt(i * 16)) & 0xffffn).toString(16));
  // Compress the longest run of zero groups (two or more).
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (g[i] !== '0') { i++; continue; }
    let j = i;
    while (j < 8 && g[j] === '0') j++;
    if (j - i > bestLen) { best = i; bestLen = j - i; }
    i = j;
  }
  if (best < 0) return g.join(':');
  return `${g.slice(0, best).join(':')}::${g.slice(best + bestLen).join(':')}`;
}

function range6Text(s: bigint, e: bigint): string {
  if (s === e) return ip6Text(s);
  const len = e - s + 1n;
  const k = len.toString(2).length - 1;
  if (1n << BigInt(k) === len && s % len === 0n) return `${ip6Text(s)}/${128 - k}`;
  return `${ip6Text(s)}-${ip6Text(e)}`;
}

function sortedHas(list: string[], x: string): boolean {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (list[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo < list.length && list[lo] === x;
}

// ---- Guards -------------------------------------------------------------------------------------

const IPV4_SPACE = 2 ** 32;

/** Checks a new copy's stats against the last good copy's (null on the first sync: absolute checks only). */
export function checkGuards(stats: SourceStats, last: SourceStats | null, cfg: GuardConfig): GuardResult {
  const reasons: string[] = [];
  const minCompare = cfg.minCompare ?? 0;
  const ceiling = cfg.worldCeiling4 ?? 2 ** 24;

  // Parse errors, as a share of the lines that held data.
  const dataLines = stats.entries + stats.errors;
  if (dataLines > 0 && stats.errors / dataLines > cfg.maxErrorRatio) {
    reasons.push(`${fmtInt(stats.errors)} of ${fmtInt(dataLines)} data lines could not be parsed ` +
      `(${fmtPct(stats.errors / dataLines)}), limit ${fmtPct(cfg.maxErrorRatio)}`);
  }

  // Even one: a 0.0.0.0/0 line among thousands means the file is broken, not a bit noisy.
  if (stats.tooWide) {
    reasons.push(`${fmtInt(stats.tooWide)} ${stats.tooWide === 1 ? 'entry is' : 'entries are'} wider than this source may list` +
      `${stats.tooWideExample ? ` (${stats.tooWideExample})` : ''}`);
  }

  if (stats.forbidden.length > 0) {
    reasons.push(`lists special-purpose addresses no blocklist may contain: ${stats.forbidden.join('; ')}`);
  }

  // Lists the world: an absolute ceiling (unless the accepted history is already above it), or far
  // beyond the last good copy's coverage.
  let worldByFactor = false;
  if (stats.addresses4 > ceiling && (last === null || last.addresses4 <= ceiling)) {
    reasons.push(`lists the world: covers ${fmtInt(stats.addresses4)} IPv4 addresses ` +
      `(${fmtPct(stats.addresses4 / IPV4_SPACE)} of the IPv4 space${stats.widest4 !== null ? `, widest block /${stats.widest4}` : ''}), ` +
      `above the ceiling of ${fmtInt(ceiling)}${blockName(ceiling)}`);
  } else if (last !== null && last.addresses4 > 0 && stats.addresses4 > cfg.worldShareFactor * last.addresses4) {
    worldByFactor = true;
    reasons.push(`lists the world: covers ${fmtInt(stats.addresses4)} IPv4 addresses, ` +
      `${fmtTimes(stats.addresses4 / last.addresses4)} the last good copy's ${fmtInt(last.addresses4)}, ` +
      `limit ${fmtTimes(cfg.worldShareFactor)}`);
  }

  if (last !== null) {
    if (stats.entries === 0 && last.entries > 0) {
      reasons.push(`is empty (0 entries) while the last good copy had ${fmtInt(last.entries)} entries`);
    } else {
      const r = compare('entries', stats.entries, last.entries, cfg, minCompare);
      if (r) reasons.push(r);
      if (!worldByFactor && (stats.addresses4 > 0 || last.addresses4 > 0)) {
        const a = compare('covered IPv4 addresses', stats.addresses4, last.addresses4, cfg, minCompare);
        if (a) reasons.push(a);
      }
    }
  }

  if (cfg.requireTestPoint && !stats.testPoint) {
    reasons.push(stats.kind === 'domain'
      ? "the RFC 5782 test entry 'test' is missing (this source promises it)"
      : 'the RFC 5782 test point 127.0.0.2 is missing (this source promises it)');
  }

  return reasons.length === 0 ? { ok: true } : { ok: false, reasons };
}

function compare(what: string, now: number, before: number, cfg: GuardConfig, minCompare: number): string | null {
  if (Math.max(now, before) < minCompare || before === 0) return null;
  const change = (now - before) / before;
  if (now < before && -change > cfg.maxShrink) {
    return `${what} shrank from ${fmtInt(before)} to ${fmtInt(now)} (${fmtSignedPct(change)}), ` +
      `limit ${fmtSignedPct(-cfg.maxShrink)}`;
  }
  if (now > before && now / before > cfg.maxGrow) {
    return `${what} grew from ${fmtInt(before)} to ${fmtInt(now)} (${fmtSignedPct(change)}, ` +
      `${fmtFactor(now / before)}), limit ${fmtFactor(cfg.maxGrow)}`;
  }
  return null;
}

function blockName(n: number): string {
  const k = Math.log2(n);
  return Number.isInteger(k) && k <= 32 ? ` (a /${32 - k})` : '';
}

const INT = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

function fmtInt(n: number): string {
  return INT.format(n);
}

/** A percentage that never rounds a real change to 0% or 100%. */
export function fmtPct(x: number): string {
  const p = x * 100;
  let r = Math.round(p);
  if ((r === 0 && p !== 0) || (Math.abs(r) === 100 && Math.abs(p) !== 100)) {
    for (let digits = 1; digits <= 6; digits++) {
      const t = Number(p.toFixed(digits));
      if (t !== 0 && Math.abs(t) !== 100) return `${t}%`;
    }
    return `${p.toExponential(1)}%`;
  }
  return `${r}%`;
}

function fmtSignedPct(x: number): string {
  return x > 0 ? `+${fmtPct(x)}` : fmtPct(x);
}

function fmtFactor(x: number): string {
  return `x${Number.isInteger(x) ? x : x < 10 ? x.toFixed(1) : Math.round(x)}`;
}

function fmtTimes(x: number): string {
  return `${Number.isInteger(x) ? x : x < 10 ? x.toFixed(1) : Math.round(x)} times`;
}
