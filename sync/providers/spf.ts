// SPF include-chain expansion (RFC 7208) into an inventory of the addresses a provider says it
// sends from. This is not a receiver's check_host(): there is no sender IP, so every term is
// walked. What we collect and what we only count:
//   ip4/ip6 with '+' (or no) qualifier      collected; '-', '~', '?' ranges are not authorised
//   include:<d>                             recurse; its '+' ranges count only under a '+include'
//   redirect=<d>                            only when the record has no 'all'
//   a[:d][/n][//n6], mx[:d][/n][//n6]       resolved now (A and AAAA), flagged low confidence
//                                           ('dynamic': the answer may change any time)
//   ptr, exists:, any %{macro}              sender-dependent: recorded as unexpandable, never guessed
// The RFC 7208 §4.6.4 limits are counted exactly as a receiver would count them (lookups,
// voidLookups, wouldPermerror) but do NOT cut the walk: ranges found past the 10th lookup are kept
// with a low-confidence flag. Work is bounded by a separate safety budget (lookups, depth) and
// include/redirect loops are detected on the current path.
// A real permerror (two v=spf1 records, include of a name without SPF, syntax errors) makes the
// whole chain unusable for receivers: nothing is collected then.

import { isIP } from 'node:net';
import { parseProviderCidr } from './cidr.ts';
import { DnsClient, DnsError, txtText, type ResolverAddress } from './dns.ts';
import { finishResult, type ProviderContext, type ProviderFeedResult, type RawRange } from './types.ts';

export interface SpfOptions {
  dns: DnsClient;
  /** safety budget: DNS-querying terms walked in total (default 50) */
  maxLookups?: number;
  /** safety budget: include/redirect nesting (default 10) */
  maxDepth?: number;
}

export interface SpfExpansion {
  domain: string;
  /** authorised ranges (empty when permerror is set) */
  ranges: RawRange[];
  /** ranges seen with a '-', '~' or '?' qualifier (or under such an include): not collected */
  excluded: string[];
  /** RFC 7208 DNS-querying terms (include, redirect, a, mx, ptr, exists) over the whole walk */
  lookups: number;
  /** lookups that found nothing (NXDOMAIN or no records) */
  voidLookups: number;
  /** a receiver would return permerror: > 10 lookups, > 2 void lookups, a loop, or a permerror */
  wouldPermerror: boolean;
  /** why the chain is broken for every receiver (nothing collected) */
  permerror: string[];
  /** sender-dependent terms that cannot be expanded offline */
  unexpandable: string[];
  /** include/redirect loops found (each as a path) */
  loops: string[];
  /** budget hits and other notes */
  warnings: string[];
}

const RFC_LOOKUPS = 10;
const RFC_VOID = 2;
const RFC_MX_HOSTS = 10;

type Outcome = 'ok' | 'none' | 'permerror';

interface Term {
  kind: 'mechanism' | 'modifier';
  qualifier: '+' | '-' | '~' | '?';
  name: string;
  /** mechanism argument after ':' (or the modifier value) */
  arg?: string;
  cidr4?: number;
  cidr6?: number;
  text: string;
}

class Walk {
  readonly out: SpfExpansion;
  private readonly dns: DnsClient;
  private readonly maxLookups: number;
  private readonly maxDepth: number;
  private budgetHit = false;
  private readonly excludedSet = new Set<string>();
  private readonly byCidr = new Map<string, RawRange>();

  constructor(domain: string, opts: SpfOptions) {
    this.dns = opts.dns;
    this.maxLookups = opts.maxLookups ?? 50;
    this.maxDepth = opts.maxDepth ?? 10;
    this.out = { domain, ranges: [], excluded: [], lookups: 0, voidLookups: 0, wouldPermerror: false, permerror: [], unexpandable: [], loops: [], warnings: [] };
  }

  /** Counts one DNS-querying term; false when the safety budget is spent (do not query). */
  private lookup(where: string): boolean {
    this.out.lookups++;
    if (this.out.lookups > this.maxLookups) {
      if (!this.budgetHit) this.out.warnings.push(`safety budget of ${this.maxLookups} lookups spent at ${where}: the rest of the chain was not expanded`);
      this.budgetHit = true;
      return false;
    }
    return true;
  }

  private void(): void {
    this.out.voidLookups++;
  }

  /** The v=spf1 records of a name; a NXDOMAIN or empty answer is a void lookup when counted. */
  private async records(domain: string, countVoid: boolean): Promise<string[]> {
    const r = await this.dns.query(domain, 'TXT');
    if (countVoid && (r.rcode === 'NXDOMAIN' || r.answers.length === 0)) this.void();
    return r.answers.map(txtText).filter((t) => /^v=spf1( |$)/i.test(t));
  }

  private collect(text: string, detail: string, extra: { low?: string } = {}): void {
    const cidr = canonical(text);
    const r: RawRange = { cidr, detail };
    // a receiver stops at permerror after the 10th lookup: what lies beyond is not really usable
    const low = extra.low ?? (this.out.lookups > RFC_LOOKUPS ? 'beyond RFC 7208 lookup limit' : undefined);
    if (low) {
      r.lowConfidence = true;
      r.confidenceNote = low;
    }
    // one entry per range: the first path wins, but a confident path clears a doubtful one
    const old = this.byCidr.get(cidr);
    if (old) {
      if (old.lowConfidence && !low) {
        delete old.lowConfidence;
        delete old.confidenceNote;
        old.detail = detail;
      }
      return;
    }
    this.byCidr.set(cidr, r);
    this.out.ranges.push(r);
  }

  private exclude(text: string, why: string): void {
    const cidr = canonical(text);
    const key = `${cidr} (${why})`;
    if (this.excludedSet.has(key)) return;
    this.excludedSet.add(key);
    this.out.excluded.push(key);
  }

  /** Walks one name's record. `path` holds the names from the root to this one (loop check). */
  async domain(domain: string, path: string[], detail: string, authorised: boolean, countVoid: boolean): Promise<Outcome> {
    const recs = await this.records(domain, countVoid);
    if (recs.length === 0) return 'none';
    if (recs.length > 1) {
      this.out.permerror.push(`${domain} has ${recs.length} v=spf1 records`);
      return 'permerror';
    }
    const terms = parseRecord(recs[0]!);
    if (typeof terms === 'string') {
      this.out.permerror.push(`${domain}: ${terms}`);
      return 'permerror';
    }
    const hasAll = terms.some((t) => t.kind === 'mechanism' && t.name === 'all');
    let redirect: Term | undefined;
    for (const t of terms) {
      if (t.kind === 'modifier') {
        if (t.name === 'redirect') {
          if (redirect) {
            this.out.permerror.push(`${domain}: more than one redirect=`);
            return 'permerror';
          }
          redirect = t;
        }
        continue; // exp= and unknown modifiers: nothing to expand
      }
      const ok = authorised && t.qualifier === '+';
      const notOk = authorised ? `qualifier ${t.qualifier} in ${domain}` : `under a non-pass include, in ${domain}`;
      switch (t.name) {
        case 'ip4':
        case 'ip6': {
          const cidr = t.name === 'ip4' ? `${t.arg}/${t.cidr4 ?? 32}` : `${t.arg}/${t.cidr6 ?? 128}`;
          if (ok) this.collect(cidr, detail);
          else this.exclude(cidr, notOk);
          break;
        }
        case 'include':
          await this.nested(domain, t, path, detail, ok, 'include');
          break;
        case 'a':
        case 'mx':
          await this.addresses(domain, t, detail, ok, notOk);
          break;
        case 'ptr':
        case 'exists':
          this.lookup(`${t.text} in ${domain}`);
          this.out.unexpandable.push(`${t.text} in ${domain} (sender-dependent)`);
          break;
        case 'all':
          break;
      }
    }
    if (redirect && !hasAll) await this.nested(domain, redirect, path, detail, authorised, 'redirect');
    return 'ok';
  }

  /** include:<d> or redirect=<d>. */
  private async nested(domain: string, t: Term, path: string[], detail: string, authorised: boolean, how: 'include' | 'redirect'): Promise<void> {
    const target = t.arg!.toLowerCase().replace(/\.$/, '');
    const label = how === 'include' ? `include:${target}` : `redirect=${target}`;
    if (!this.lookup(`${label} in ${domain}`)) return;
    if (target.includes('%')) {
      this.out.unexpandable.push(`${t.text} in ${domain} (macro)`);
      return;
    }
    if (path.includes(target)) {
      this.out.loops.push([...path, target].join(' -> '));
      return;
    }
    if (path.length > this.maxDepth) {
      this.out.warnings.push(`safety depth of ${this.maxDepth} reached at ${label} in ${domain}: not expanded`);
      return;
    }
    const r = await this.domain(target, [...path, target], `${detail} > ${label}`, authorised, true);
    if (r === 'none') this.out.permerror.push(`${label} in ${domain}: ${target} has no SPF record`);
  }

  /** a / mx: resolve now, flag 'dynamic'. */
  private async addresses(domain: string, t: Term, detail: string, ok: boolean, notOk: string): Promise<void> {
    const spec = (t.arg ?? domain).toLowerCase().replace(/\.$/, '');
    if (!this.lookup(`${t.text} in ${domain}`)) return;
    if (spec.includes('%')) {
      this.out.unexpandable.push(`${t.text} in ${domain} (macro)`);
      return;
    }
    const hosts: string[] = [];
    if (t.name === 'mx') {
      const mx = await this.dns.query(spec, 'MX');
      if (mx.answers.length === 0) this.void();
      for (const a of mx.answers) hosts.push(String((a as { data: { exchange: string } }).data.exchange).toLowerCase());
      if (hosts.length > RFC_MX_HOSTS) {
        this.out.permerror.push(`${t.text} in ${domain}: ${hosts.length} MX hosts (limit ${RFC_MX_HOSTS})`);
        return;
      }
    } else hosts.push(spec);
    const where = `${detail} > ${t.name === 'a' ? 'a' : 'mx'}${t.arg ? `:${spec}` : ''}`;
    for (const h of hosts) {
      const [a4, a6] = await Promise.all([this.dns.query(h, 'A'), this.dns.query(h, 'AAAA')]);
      if (t.name === 'a' && a4.answers.length === 0 && a6.answers.length === 0) this.void();
      for (const a of [...a4.answers, ...a6.answers]) {
        const ip = String((a as { data: string }).data);
        const cidr = isIP(ip) === 4 ? `${ip}/${t.cidr4 ?? 32}` : `${ip}/${t.cidr6 ?? 128}`;
        if (ok) this.collect(cidr, t.name === 'mx' ? `${where} (${h})` : where, { low: 'dynamic' });
        else this.exclude(cidr, notOk);
      }
    }
  }
}

/** Network form of a CIDR (an a/mx address under a /24 becomes the /24); unchanged when invalid
 *  (finishResult reports it). */
function canonical(text: string): string {
  return parseProviderCidr(text)?.cidr ?? text;
}

/** Splits a record into terms; a syntax error text on failure. */
export function parseRecord(record: string): Term[] | string {
  const words = record.trim().split(/ +/).slice(1);
  const terms: Term[] = [];
  for (const text of words) {
    const mod = /^([a-z][a-z0-9_.-]*)=(.*)$/i.exec(text);
    if (mod) {
      const name = mod[1]!.toLowerCase();
      if ((name === 'redirect' || name === 'exp') && !mod[2]) return `empty ${name}=`;
      terms.push({ kind: 'modifier', qualifier: '+', name, arg: mod[2]!, text });
      continue;
    }
    const m = /^([+\-~?]?)([a-z][a-z0-9]*)(.*)$/i.exec(text);
    if (!m) return `bad term "${text}"`;
    const qualifier = (m[1] || '+') as Term['qualifier'];
    const name = m[2]!.toLowerCase();
    const rest = m[3]!;
    const term: Term = { kind: 'mechanism', qualifier, name, text };
    switch (name) {
      case 'all':
        if (rest) return `bad term "${text}"`;
        break;
      case 'include':
      case 'exists':
        if (!rest.startsWith(':') || rest.length < 2) return `"${text}" needs a domain`;
        term.arg = rest.slice(1);
        break;
      case 'ptr':
        if (rest && !rest.startsWith(':')) return `bad term "${text}"`;
        if (rest) term.arg = rest.slice(1);
        break;
      case 'ip4':
      case 'ip6': {
        const ip = /^:([^/]+)(?:\/(\d+))?$/.exec(rest);
        const fam = name === 'ip4' ? 4 : 6;
        if (!ip || isIP(ip[1]!) !== fam) return `bad address in "${text}"`;
        term.arg = ip[1]!;
        if (ip[2] !== undefined) {
          const n = Number(ip[2]);
          if (n > (fam === 4 ? 32 : 128) || (ip[2].length > 1 && ip[2].startsWith('0'))) return `bad prefix length in "${text}"`;
          if (fam === 4) term.cidr4 = n;
          else term.cidr6 = n;
        }
        break;
      }
      case 'a':
      case 'mx': {
        const am = /^(?::([^/]+))?(?:\/(\d+))?(?:\/\/(\d+))?$/.exec(rest);
        if (!am) return `bad term "${text}"`;
        if (am[1] !== undefined) term.arg = am[1];
        if (am[2] !== undefined) {
          if (Number(am[2]) > 32) return `bad prefix length in "${text}"`;
          term.cidr4 = Number(am[2]);
        }
        if (am[3] !== undefined) {
          if (Number(am[3]) > 128) return `bad prefix length in "${text}"`;
          term.cidr6 = Number(am[3]);
        }
        break;
      }
      default:
        return `unknown mechanism "${text}"`;
    }
    terms.push(term);
  }
  return terms;
}

/** Expands the SPF chain of one name. DNS failures (timeouts, SERVFAIL, REFUSED) throw DnsError. */
export async function expandSpf(domain: string, opts: SpfOptions): Promise<SpfExpansion> {
  const root = domain.toLowerCase().replace(/\.$/, '');
  const w = new Walk(root, opts);
  const r = await w.domain(root, [root], `spf ${root}`, true, false);
  const out = w.out;
  if (r === 'none') out.permerror.push(`${root} has no SPF record`);
  out.wouldPermerror = out.permerror.length > 0 || out.loops.length > 0 || out.lookups > RFC_LOOKUPS || out.voidLookups > RFC_VOID;
  if (out.permerror.length > 0) out.ranges = [];
  return out;
}

export interface SpfFeedConfig {
  provider: string;
  feed: string;
  domain: string;
  max_lookups?: number;
  max_depth?: number;
}

/** An SPF feed as a ProviderFeedResult. A broken chain gives an empty result with the reasons in
 *  warnings (the guard then keeps the previous ranges); DNS failures throw. */
export async function fetchSpf(cfg: SpfFeedConfig, ctx: ProviderContext): Promise<ProviderFeedResult> {
  const fetchedAt = (ctx.now ?? Date.now)();
  const opts: { resolver?: ResolverAddress; timeoutMs?: number; signal?: AbortSignal } = {};
  if (ctx.resolver) opts.resolver = ctx.resolver;
  if (ctx.timeoutMs !== undefined) opts.timeoutMs = Math.min(ctx.timeoutMs, 5000);
  if (ctx.signal) opts.signal = ctx.signal;
  const dns = new DnsClient(opts);
  const spfOpts: SpfOptions = { dns };
  if (cfg.max_lookups !== undefined) spfOpts.maxLookups = cfg.max_lookups;
  if (cfg.max_depth !== undefined) spfOpts.maxDepth = cfg.max_depth;
  const x = await expandSpf(cfg.domain, spfOpts);
  const warnings: string[] = [
    ...x.permerror.map((p) => `permerror: ${p}`),
    ...x.loops.map((l) => `include loop: ${l}`),
    ...x.unexpandable.map((u) => `unexpandable: ${u}`),
    ...x.warnings,
  ];
  if (x.lookups > RFC_LOOKUPS) warnings.push(`${x.lookups} DNS lookups: receivers stop at ${RFC_LOOKUPS} (permerror)`);
  if (x.voidLookups > RFC_VOID) warnings.push(`${x.voidLookups} void lookups: receivers stop at ${RFC_VOID}`);
  const res = finishResult(cfg.provider, cfg.feed, fetchedAt, x.ranges, {
    lookups: x.lookups,
    voidLookups: x.voidLookups,
    wouldPermerror: x.wouldPermerror,
    warnings,
  });
  if (x.unexpandable.length > 0) res.unexpandable = x.unexpandable;
  return res;
}

export { DnsError };
