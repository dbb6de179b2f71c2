// explain(key): the verdict of the DNS answer with its full trace. It calls the very evaluation
// the bl/wl/dbl datasets call (MergeView.eval4/eval6/evalDomain), then decorates the result with
// what only a human needs: each listing source's covering entry and data age, the provider
// range and its provenance, reputation events, the override, the policy arithmetic.

import { isIPv4, isIPv6 } from 'node:net';
import { indexOf4, type RangeSet4, type RangeSet6 } from '../../core/ranges.ts';
import { ip4Dotted } from '../../core/ip4.ts';
import { formatIp6, parseIp6Cidr } from '../../core/ip6.ts';
import type { ProviderRange } from '../providers/types.ts';
import { allowTxt, blockTxt, type TxtOptions } from './answer.ts';
import { newTrace, type MergeView } from './evaluate.ts';
import { roundScore, type Verdict } from './policy.ts';
import { InputError, parseKey as parseLocalKey, shown } from '../local/keys.ts';
import type { LocalFacts } from './types.ts';

export interface ExplainSource {
  name: string;
  v4: RangeSet4;
  v6: RangeSet6;
  domains: string[];
  /** ms since the epoch when this copy of the source was fetched (sync state lastSuccess). */
  lastSuccess: number | null;
}

export interface ExplainProvider {
  /** The name the evidence was built with (EvidenceInputs.providers[i].name), same order. */
  name: string;
  feed: string;
  fetchedAt: number;
  v4: RangeSet4;
  v6: RangeSet6;
  /** Per-range provenance (ProviderFeedResult.ranges), when known. */
  ranges?: readonly ProviderRange[];
}

export interface ReputationEvent {
  kind: string;
  weight: number;
  reporter: string;
  at: number;
  [more: string]: unknown;
}

export type KeyKind = 'ip4' | 'ip6' | 'domain';

export interface ExplainContext {
  view: MergeView;
  txt: TxtOptions;
  /** The sources' current copies, by name. */
  sources?: readonly ExplainSource[];
  /** The provider feeds in evidence order. */
  providers?: readonly ExplainProvider[];
  /** Recent reputation events of the key (newest first). */
  events?: (key: string, kind: KeyKind) => ReputationEvent[];
  now?: number;
}

export interface Explanation {
  key: string;
  kind: KeyKind;
  serial: number;
  builtAt: string;
  block: boolean;
  reasons: number[];
  allow: number;
  /** What the DNS answers: A records of bl (addresses) or dbl (domains), and of wl. */
  answer: { zone: 'bl' | 'dbl'; a: string[]; txt: string | null; wl: string | null; wlTxt: string | null };
  test: boolean;
  class: { id: number; sources: string[]; providers: string[]; interval: string | null };
  sources: { name: string; weight: number; entry: string | null; lastSuccess: string | null; ageSeconds: number | null }[];
  providers: { name: string; feed: string | null; fetchedAt: string | null; range: string | null; detail: { cidr: string; detail: string; lowConfidence?: boolean; confidenceNote?: string }[] }[];
  protectedBy: string | null;
  reputation: { score: number; events: ReputationEvent[] };
  override: LocalFacts['override'] | null;
  arithmetic: string[];
}

/** Parses a key: dotted IPv4, textual IPv6 (v4-mapped stays IPv6 here, eval maps it) or a domain.
 *  A bad key is an InputError on field `key` (the API answers 400, the CLI exits 2). */
export function parseKey(text: string): { kind: KeyKind; ip4: number; ip6: Uint8Array | null; labels: string[]; key: string } {
  const t = text.trim();
  if (isIPv4(t)) {
    const ip = t.split('.').reduce((a, o) => a * 256 + Number(o), 0);
    return { kind: 'ip4', ip4: ip, ip6: null, labels: [], key: ip4Dotted(ip) };
  }
  if (isIPv6(t)) {
    // an embedded dotted IPv4 tail (::ffff:1.2.3.4) as two hex groups
    const h = t.replace(/(\d+)\.(\d+)\.(\d+)\.(\d+)$/, (_, a, b, c, d) => `${((+a << 8) | +b).toString(16)}:${((+c << 8) | +d).toString(16)}`);
    const c = parseIp6Cidr(h);
    if (typeof c === 'string') throw new InputError(`key ${shown(t)} is not an IPv6 address`, 'key');
    return { kind: 'ip6', ip4: -1, ip6: c.addr, labels: [], key: formatIp6(c.addr) };
  }
  // Anything else is checked by the rules every override key obeys (keys.ts): '1.2.3.256' and
  // '01.2.3.4' are bad addresses, not domains; IDNs become punycode; `*.example.com` asks what a
  // name below example.com gets. Its InputError names the field `key`.
  const p = parseLocalKey(t, { cidr: false, wildcard: true }, 'key');
  if (p.kind === 'ip4') return { kind: 'ip4', ip4: p.first, ip6: null, labels: [], key: p.key };
  if (p.kind === 'ip6') return { kind: 'ip6', ip4: -1, ip6: p.addr, labels: [], key: p.key };
  return { kind: 'domain', ip4: -1, ip6: null, labels: p.key.split('.'), key: p.key };
}

const iso = (ms: number | null | undefined) => (ms ? new Date(ms).toISOString() : null);

function words(ip16: Uint8Array): Uint32Array {
  const w = new Uint32Array(4);
  for (let k = 0; k < 4; k++) w[k] = ((ip16[k * 4]! << 24) | (ip16[k * 4 + 1]! << 16) | (ip16[k * 4 + 2]! << 8) | ip16[k * 4 + 3]!) >>> 0;
  return w;
}

function cmp(a: Uint32Array, ai: number, b: Uint32Array, bi: number): number {
  for (let k = 0; k < 4; k++) if (a[ai + k] !== b[bi + k]) return a[ai + k]! < b[bi + k]! ? -1 : 1;
  return 0;
}

function bytesAt(w: Uint32Array, i: number): Uint8Array {
  const b = new Uint8Array(16);
  for (let k = 0; k < 4; k++) new DataView(b.buffer).setUint32(k * 4, w[i * 4 + k]!);
  return b;
}

/** 'a-b' (or 'a' for one address) of the range of `r` holding the key, or null. */
function rangeText4(r: RangeSet4, ip: number): string | null {
  const i = indexOf4(r, ip);
  if (i < 0) return null;
  return r.start[i] === r.end[i] ? ip4Dotted(ip) : `${ip4Dotted(r.start[i]!)}-${ip4Dotted(r.end[i]!)}`;
}

function rangeText6(r: RangeSet6, ip16: Uint8Array): string | null {
  const q = words(ip16);
  let lo = 0;
  let hi = (r.start.length >>> 2) - 1;
  let i = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    if (cmp(r.start, mid * 4, q, 0) <= 0) {
      i = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  if (i < 0 || cmp(r.end, i * 4, q, 0) < 0) return null;
  const a = formatIp6(bytesAt(r.start, i));
  const b = formatIp6(bytesAt(r.end, i));
  return a === b ? a : `${a}-${b}`;
}

/** The entry of a sorted domain list covering a name: itself or its nearest '*.' ancestor. */
function domainText(list: readonly string[], name: string): string | null {
  const has = (k: string) => {
    let lo = 0;
    let hi = list.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (list[mid] === k) return true;
      if (list[mid]! < k) lo = mid + 1;
      else hi = mid - 1;
    }
    return false;
  };
  if (has(name)) return name;
  for (let j = name.indexOf('.'); j >= 0; j = name.indexOf('.', j + 1)) if (has('*.' + name.slice(j + 1))) return '*.' + name.slice(j + 1);
  return null;
}

function inRange(r: ProviderRange, kind: KeyKind, ip4: number, ip6w: Uint32Array | null): boolean {
  if (kind === 'ip4' || ip4 >= 0) return r.family === 4 && r.start[0]! <= ip4 && ip4 <= r.end[0]!;
  if (!ip6w || r.family !== 6) return false;
  const s = Uint32Array.from(r.start);
  const e = Uint32Array.from(r.end);
  return cmp(s, 0, ip6w, 0) <= 0 && cmp(e, 0, ip6w, 0) >= 0;
}

export function explain(keyText: string, ctx: ExplainContext): Explanation {
  const k = parseKey(keyText);
  const view = ctx.view;
  const e = view.evidence;
  const t = newTrace();
  // the same calls the DNS datasets make
  const v: Verdict = k.kind === 'ip4' ? view.eval4(k.ip4, t) : k.kind === 'ip6' ? view.eval6(k.ip6!, t) : view.evalDomain(k.labels, t);
  const now = ctx.now ?? Date.now();
  const asIp4 = t.ip4; // a v4-mapped IPv6 key was looked up as IPv4
  const isDomain = k.kind === 'domain';
  const cls = t.cls;
  const smask = cls >= 0 ? e.classSources[cls]! : 0;
  const pmask = cls >= 0 && !isDomain ? e.classProviders[cls]! : 0;

  let interval: string | null = null;
  if (cls >= 0 && t.at >= 0) {
    if (isDomain) interval = e.domains[t.at]!;
    else if (asIp4 >= 0) interval = `${ip4Dotted(e.starts4[t.at]!)}-${ip4Dotted(t.at + 1 < e.starts4.length ? e.starts4[t.at + 1]! - 1 : 0xffffffff)}`;
    else {
      const n = e.starts6.length >>> 2;
      const last = new Uint32Array(4).fill(0xffffffff);
      if (t.at + 1 < n) {
        // next start - 1, with borrow
        let borrow = 1;
        for (let j = 3; j >= 0; j--) {
          const w = e.starts6[(t.at + 1) * 4 + j]! - borrow;
          last[j] = w >>> 0;
          borrow = w < 0 ? 1 : 0;
        }
      }
      interval = `${formatIp6(bytesAt(e.starts6, t.at))}-${formatIp6(bytesAt(last, 0))}`;
    }
  }

  const sources: Explanation['sources'] = [];
  e.sourceNames.forEach((name, i) => {
    if (!(smask & (1 << i))) return;
    const src = ctx.sources?.find((s) => s.name === name);
    let entry: string | null = null;
    if (src) {
      if (isDomain) entry = domainText(src.domains, k.key);
      else if (asIp4 >= 0) entry = rangeText4(src.v4, asIp4);
      else entry = rangeText6(src.v6, k.ip6!);
    }
    sources.push({
      name,
      weight: view.policyEngine.weight(i),
      entry,
      lastSuccess: iso(src?.lastSuccess),
      ageSeconds: src?.lastSuccess ? Math.round((now - src.lastSuccess) / 1000) : null,
    });
  });

  const providers: Explanation['providers'] = [];
  const ip6w = k.ip6 && asIp4 < 0 ? words(k.ip6) : null;
  e.providerNames.forEach((name, i) => {
    if (!(pmask & (1 << i))) return;
    const p = ctx.providers?.[i];
    const range = p ? (asIp4 >= 0 ? rangeText4(p.v4, asIp4) : rangeText6(p.v6, k.ip6!)) : null;
    const detail = (p?.ranges ?? [])
      .filter((r) => inRange(r, k.kind, asIp4, ip6w))
      .map((r) => ({ cidr: r.cidr, detail: r.detail, ...(r.lowConfidence ? { lowConfidence: true, confidenceNote: r.confidenceNote ?? '' } : {}) }));
    providers.push({ name, feed: p?.feed ?? null, fetchedAt: iso(p?.fetchedAt), range, detail });
  });

  const dotted = (a: number) => ip4Dotted(a);
  const key = k.key;
  return {
    key,
    kind: k.kind,
    serial: e.serial,
    builtAt: new Date(e.builtAt).toISOString(),
    block: v.block,
    reasons: [...v.reasons],
    allow: v.allow,
    answer: {
      zone: isDomain ? 'dbl' : 'bl',
      a: v.block ? v.a.map(dotted) : [],
      txt: v.block ? blockTxt(v, key, e, ctx.txt) : null,
      wl: !isDomain && v.wl ? dotted(v.wl) : null,
      wlTxt: !isDomain && v.wl ? allowTxt(v, e, ctx.txt) : null,
    },
    test: !!v.test,
    class: {
      id: cls,
      sources: e.sourceNames.filter((_, i) => smask & (1 << i)),
      providers: e.providerNames.filter((_, i) => pmask & (1 << i)),
      interval,
    },
    sources,
    providers,
    protectedBy: isDomain && !v.test ? view.policyEngine.protectedBy(key) : null,
    reputation: { score: roundScore(t.facts.score), events: ctx.events ? ctx.events(key, k.kind) : [] },
    override: t.facts.override ?? null,
    arithmetic: [...v.arithmetic],
  };
}

/** The explanation as text for a terminal. */
export function formatExplanation(x: Explanation): string {
  const lines: string[] = [];
  lines.push(`${x.key} (${x.kind}): ${x.block ? 'BLOCK' : x.allow ? 'ALLOW' : 'not listed'}   snapshot serial ${x.serial}, built ${x.builtAt}`);
  lines.push(`  ${x.answer.zone}: ${x.answer.a.length ? x.answer.a.join(' ') : 'NXDOMAIN'}${x.answer.txt ? `  "${x.answer.txt}"` : ''}`);
  if (x.kind !== 'domain') lines.push(`  wl: ${x.answer.wl ?? 'NXDOMAIN'}${x.answer.wlTxt ? `  "${x.answer.wlTxt}"` : ''}`);
  if (x.test) lines.push('  RFC 5782 test point');
  for (const s of x.sources) {
    lines.push(`  source ${s.name} (weight ${s.weight}): ${s.entry ?? 'entry not in the current copy'}, data ${s.ageSeconds === null ? 'age unknown' : `${fmtAge(s.ageSeconds)} old (fetched ${s.lastSuccess})`}`);
  }
  for (const p of x.providers) {
    lines.push(`  provider ${p.name}${p.feed ? ` feed ${p.feed}` : ''}: ${p.range ?? '?'}${p.fetchedAt ? `, fetched ${p.fetchedAt}` : ''}`);
    for (const d of p.detail) lines.push(`    ${d.cidr}: ${d.detail}${d.lowConfidence ? ` (low confidence: ${d.confidenceNote})` : ''}`);
  }
  if (x.protectedBy) lines.push(`  protected domain: ${x.protectedBy}`);
  if (x.override) lines.push(`  override #${x.override.id} ${x.override.action} on ${x.override.key}: ${x.override.reason}`);
  if (x.reputation.score || x.reputation.events.length) {
    lines.push(`  reputation score ${x.reputation.score.toFixed(2)}`);
    for (const ev of x.reputation.events) lines.push(`    ${new Date(ev.at).toISOString()} ${ev.kind} ${ev.weight} by ${ev.reporter}`);
  }
  for (const a of x.arithmetic) lines.push(`  = ${a}`);
  return lines.join('\n');
}

function fmtAge(s: number): string {
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  if (s < 172800) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86400)} d`;
}
