// Shapes shared by the merge: what the overlay (overrides + local reputation) tells about a key,
// the inputs of the evidence sweep, and the evidence snapshot itself.

import type { RangeSet4, RangeSet6 } from '../../core/ranges.ts';

/** What local state says about one key. A neutral answer (no override, score 0) lets the
 *  verdict come from the per-class memo. */
export interface LocalFacts {
  override?: { action: 'allow' | 'deny'; id: number; reason: string; key: string };
  score: number;
}

/** The neutral facts; an overlay may return this very object for "nothing known". */
export const NEUTRAL: LocalFacts = Object.freeze({ score: 0 });

/** Overrides and reputation, consulted before the policy (sync/local/overlay.ts implements it). */
export interface OverlayView {
  lookup4(ip: number): LocalFacts;
  lookup6(ip16: Uint8Array): LocalFacts;
  /** Labels in wire order, lowercase (`www.example.com` -> ['www','example','com']). */
  lookupDomain(labels: readonly string[]): LocalFacts;
  /** Optional: true when the overlay holds nothing, so the DNS path skips the lookups. */
  isEmpty?(): boolean;
  /** Optional: true when a domain key of the overlay lies strictly below `name` (lowercase),
   *  which makes `name` an empty non-terminal of dbl (NODATA, not NXDOMAIN). */
  hasDomainBelow?(name: string): boolean;
}

/** One public source as the sweep sees it. */
export interface EvidenceSource {
  name: string;
  weight: number;
  v4: RangeSet4;
  v6: RangeSet6;
  /** Sorted; '*.x' = every name strictly below x. */
  domains: string[];
}

/** One provider feed (ranges exempt from public listings). */
export interface EvidenceProvider {
  name: string;
  v4: RangeSet4;
  v6: RangeSet6;
}

export interface EvidenceInputs {
  sources: EvidenceSource[];
  providers: EvidenceProvider[];
  /** Snapshot serial (default: unix seconds at build time). */
  serial?: number;
  /** Buffers of a retired evidence to write the new one into (build.ts, retireEvidence). */
  spare?: EvidenceSpare;
}

/** The IPv4 columns of an evidence nobody reads any more, given back for the next merge: on a
 *  VM, faulting in hundreds of MB of fresh memory costs the kernel as much CPU as the sweep. */
export interface EvidenceSpare {
  starts: ArrayBuffer;
  cls: ArrayBuffer;
  index?: ArrayBuffer;
}

/** A class: which sources list a key (bit i = sources[i]) and which provider feeds cover it. */
export interface EvidenceClass {
  sources: number;
  providers: number;
}

/** at[b] = the first interval whose start is in bucket b or above (bucket = address >>> shift);
 *  at[buckets] = starts4.length. A lookup searches one bucket: a few cache lines, not the
 *  ~25 cache misses of a binary search over a 100+ MB column. */
export interface Index4 {
  shift: number;
  at: Uint32Array<ArrayBuffer>;
}

/** The merged, immutable evidence: elementary intervals with a class id each. */
export interface Evidence {
  serial: number;
  builtAt: number;
  sourceNames: string[];
  /** Weights as given at build time (the policy holds the ones in force). */
  sourceWeights: number[];
  providerNames: string[];
  /** Interval starts, sorted; starts4[0] = 0, interval i runs to starts4[i+1]-1 (the last to 2^32-1). */
  starts4: Uint32Array<ArrayBuffer>;
  cls4: Uint16Array<ArrayBuffer>;
  /** Bucket index over starts4 (evidence.ts, index4Of); built with the evidence, or on first use. */
  index4?: Index4;
  /** IPv6: 4 words per start (most significant first); starts at :: the same way. */
  starts6: Uint32Array<ArrayBuffer>;
  cls6: Uint16Array<ArrayBuffer>;
  /** Sorted names and '*.x' wildcards; domCls[i] is the class of domains[i], wildcard ancestors included. */
  domains: string[];
  domCls: Uint16Array<ArrayBuffer>;
  /** Class table as columns; class 0 = nothing. */
  classSources: Uint32Array<ArrayBuffer>;
  classProviders: Uint32Array<ArrayBuffer>;
}
