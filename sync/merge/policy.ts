// The policy: weighted sources, consensus, provider exemptions, protected domains, local
// reputation and overrides combine into a verdict. Verdicts for neutral local facts depend only
// on the evidence class (and, for domains, on whether the name is protected), so they are
// memoized per class: a policy change clears the memo and needs no rebuild.

import type { Evidence, LocalFacts } from './types.ts';

export interface Policy {
  /** Weighted sum of listing sources at or above this -> listed by policy (code .2). */
  threshold: number;
  /** This many listing sources or more -> consensus (code .3). */
  consensus: number;
  /** Provider ranges are not listed on public sources' word alone. */
  providerExempt: boolean;
  /** Local reputation score from which a provider-covered (exempt) key is listed anyway. */
  providerBar: number;
  /** Local reputation score from which any other key is listed (code .4). */
  reputationBar: number;
  /** Names (and their subdomains) public sources can never put into dbl. */
  protectedDomains: string[];
  /** Weight per evidence source (index = Evidence.sourceNames); missing -> the build-time weight. */
  weights: number[];
}

/** Reason codes: the last octet of the A records (127.0.0.x in bl, 127.0.1.x in dbl). */
export const REASON = { policy: 2, consensus: 3, reputation: 4, deny: 5 } as const;
/** wl codes: 127.0.10.x. */
export const ALLOW = { manual: 1, provider: 2, both: 3 } as const;

export const BL_BASE = 0x7f000000;
export const DBL_BASE = 0x7f000100;
export const WL_BASE = 0x7f000a00;

export interface Verdict {
  block: boolean;
  /** Reason codes present (ascending, from REASON); empty when not blocked. */
  reasons: readonly number[];
  /** wl code (from ALLOW), 0 = nothing to say in wl. */
  allow: number;
  /** The A records of the block zone (bl for addresses, dbl for domains): one per reason. */
  a: readonly number[];
  /** The wl A record, 0 = not in wl. */
  wl: number;
  /** Human-readable trace of how the verdict came about. */
  arithmetic: readonly string[];
  /** Evidence behind it (for TXT and explain). */
  sources: number;
  providers: number;
  /** An RFC 5782 test point. */
  test?: boolean;
}

function verdictOf(
  block: boolean, reasons: number[], allow: number, isDomain: boolean, arithmetic: string[],
  sources: number, providers: number, test = false,
): Verdict {
  const base = isDomain ? DBL_BASE : BL_BASE;
  const v: Verdict = {
    block,
    reasons: Object.freeze(reasons),
    allow,
    a: Object.freeze(reasons.map((r) => base + r)),
    wl: allow ? WL_BASE + allow : 0,
    arithmetic: Object.freeze(arithmetic),
    sources,
    providers,
    ...(test ? { test } : {}),
  };
  return Object.freeze(v);
}

/** RFC 5782 test points: listed (127.0.0.2 / 'test') and never listed (127.0.0.1 / 'invalid'). */
/** wl's answer for the test point: its own code (as dnswl.org's 127.0.10.0), not one a real
 *  allow uses, so an MTA that weights wl 127.0.10.[1..3] negatively still rejects 127.0.0.2. */
export const WL_TEST = WL_BASE;
export const TEST_IP: Verdict = Object.freeze({
  ...verdictOf(true, [REASON.policy], 0, false, ['RFC 5782 test point: always listed'], 0, 0, true),
  wl: WL_TEST,
});
export const TEST_DOMAIN = verdictOf(true, [REASON.policy], 0, true, ['RFC 5782 test point: always listed'], 0, 0, true);
export const NEVER_IP = verdictOf(false, [], 0, false, ['RFC 5782 test point: never listed'], 0, 0, true);
export const NEVER_DOMAIN = verdictOf(false, [], 0, true, ['RFC 5782 test point: never listed'], 0, 0, true);

/** A reputation score as it is compared with the bars and shown (explain, traces): two decimals.
 *  Three weight-1 reports a few seconds apart sum to 2.99998 after their decay; that is 3.00 and
 *  reaches a bar of 3. What a person reads is what was compared, never "3.0 < 3.0". */
export function roundScore(x: number): number {
  const r = Math.round(x * 100) / 100;
  return r === 0 ? 0 : r; // no -0
}

/** 1.0, 2.5, 0.333 */
export function fmt(x: number): string {
  return Number.isInteger(x) ? x.toFixed(1) : String(Math.round(x * 1000) / 1000);
}

function popcount(x: number): number {
  x = x - ((x >>> 1) & 0x55555555);
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  return (((x + (x >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
}

/** The protected name covering `name` (itself or a parent), or null. */
export function protectedBy(set: ReadonlySet<string>, name: string): string | null {
  if (!set.size) return null;
  if (set.has(name)) return name;
  for (let j = name.indexOf('.'); j >= 0; j = name.indexOf('.', j + 1)) {
    const p = name.slice(j + 1);
    if (set.has(p)) return p;
  }
  return null;
}

/** Applies a policy to an evidence snapshot's classes, with the per-class memo. */
export class PolicyEngine {
  private policy!: Policy;
  private protectedSet!: Set<string>;
  private memoIp: (Verdict | undefined)[] = [];
  private memoDomain: (Verdict | undefined)[] = [];
  private memoProtected: (Verdict | undefined)[] = [];

  constructor(policy: Policy, readonly evidence: Evidence) {
    this.setPolicy(policy);
  }

  get current(): Policy {
    return this.policy;
  }

  /** A new policy: the memo is cleared, the evidence stays. */
  setPolicy(policy: Policy): void {
    this.policy = policy;
    this.protectedSet = new Set(policy.protectedDomains.map((d) => d.toLowerCase().replace(/\.$/, '')));
    this.memoIp = [];
    this.memoDomain = [];
    this.memoProtected = [];
  }

  weight(i: number): number {
    return this.policy.weights[i] ?? this.evidence.sourceWeights[i] ?? 1;
  }

  /** The protected name covering a domain, or null. */
  protectedBy(name: string): string | null {
    return protectedBy(this.protectedSet, name);
  }

  /** The verdict for a class and local facts; `domain` (lowercase, no trailing dot) for dbl keys. */
  verdict(cls: number, facts: LocalFacts, isDomain: boolean, domain?: string): Verdict {
    const neutral = facts.override === undefined && facts.score === 0;
    // protection only matters when some public source lists the name
    const prot = isDomain && domain !== undefined && this.evidence.classSources[cls] !== 0 ? this.protectedBy(domain) : null;
    if (!neutral) return this.compute(cls, facts, isDomain, prot);
    const memo = !isDomain ? this.memoIp : prot ? this.memoProtected : this.memoDomain;
    return memo[cls] ?? (memo[cls] = this.compute(cls, facts, isDomain, prot));
  }

  private compute(cls: number, facts: LocalFacts, isDomain: boolean, prot: string | null): Verdict {
    const p = this.policy;
    const e = this.evidence;
    const smask = e.classSources[cls] ?? 0;
    const pmask = isDomain ? 0 : e.classProviders[cls] ?? 0;
    const trace: string[] = [];
    const reasons: number[] = [];
    const exempt = pmask !== 0 && p.providerExempt;
    const score = roundScore(facts.score);
    if (smask !== 0) {
      const parts: string[] = [];
      let sum = 0;
      for (let i = 0; i < e.sourceNames.length; i++) {
        if (!(smask & (1 << i))) continue;
        const w = this.weight(i);
        sum += w;
        parts.push(`${e.sourceNames[i]} ${fmt(w)}`);
      }
      // Local evidence against a listing (ham, false-positive reports) counts against the
      // public sources: a negative local score is added to their sum.
      if (score < 0) {
        sum += score;
        parts.push(`local score ${fmt(score)}`);
      }
      sum = Math.round(sum * 1e9) / 1e9; // 0.1 + 0.2 is 0.3 here
      const byPolicy = sum >= p.threshold;
      trace.push(`${parts.join(' + ').replace(/\+ local score -/, '- local score ')} = ${fmt(sum)} ${byPolicy ? '>=' : '<'} threshold ${fmt(p.threshold)}`);
      const n = popcount(smask);
      // Local evidence that pulled the sum below the threshold also cancels the consensus code.
      const vetoed = score < 0 && !byPolicy;
      const byConsensus = p.consensus > 0 && n >= p.consensus && !vetoed;
      trace.push(`${n} listing source${n === 1 ? '' : 's'} ${n >= p.consensus ? '>=' : '<'} consensus ${p.consensus}${vetoed && n >= p.consensus ? ', outweighed by local evidence' : ''}`);
      if (byPolicy || byConsensus) {
        if (exempt) {
          trace.push(`provider ${this.providerList(pmask)} exempt: public sources alone cannot list it`);
        } else if (prot) {
          trace.push('protected domain: public sources alone cannot list it');
        } else {
          if (byPolicy) reasons.push(REASON.policy);
          if (byConsensus) reasons.push(REASON.consensus);
        }
      }
    } else {
      trace.push('no public source lists it');
    }
    if (pmask !== 0 && !exempt) trace.push(`provider ${this.providerList(pmask)} covers it (exemption off)`);
    if (score > 0) {
      const bar = exempt ? p.providerBar : p.reputationBar;
      const hit = score >= bar;
      trace.push(`local score ${fmt(score)} ${hit ? '>=' : '<'} ${exempt ? 'provider bar' : 'bar'} ${fmt(bar)}`);
      if (hit) reasons.push(REASON.reputation);
    }
    const ov = facts.override;
    if (ov?.action === 'deny') {
      reasons.push(REASON.deny);
      trace.push(`manual deny #${ov.id} on ${ov.key}: ${ov.reason}`);
    }
    let allow = 0;
    if (ov?.action === 'allow') {
      trace.push(`manual allow #${ov.id} on ${ov.key}: ${ov.reason}${reasons.length ? ' (overrides the listing)' : ''}`);
      reasons.length = 0;
      allow = ALLOW.manual;
    }
    const block = reasons.length > 0;
    // wl speaks only for keys that are not blocked: a manual deny or strong local evidence wins
    if (!block && pmask !== 0 && !isDomain) allow = allow ? ALLOW.both : ALLOW.provider;
    trace.push(block ? 'verdict: block' : allow ? 'verdict: allow' : 'verdict: not listed');
    return verdictOf(block, reasons, allow, isDomain, trace, smask, pmask);
  }

  private providerList(pmask: number): string {
    const names: string[] = [];
    this.evidence.providerNames.forEach((n, i) => {
      if (pmask & (1 << i)) names.push(n);
    });
    return [...new Set(names)].join(', ');
  }
}

/** Policy weights in the order of an evidence snapshot's sources, from a name -> weight map
 *  (config); names the map lacks keep the weight the evidence was built with. */
export function weightsFor(e: Evidence, byName: Readonly<Record<string, number>>): number[] {
  return e.sourceNames.map((n, i) => byName[n] ?? e.sourceWeights[i] ?? 1);
}
