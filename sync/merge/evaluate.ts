// The one evaluation of a key: evidence class + overlay facts + policy -> verdict. The DNS
// datasets (datasets.ts) and explain (explain.ts) both call these functions, so an
// answer and its explanation cannot disagree. Holds the current evidence, overlay and policy;
// each can be swapped on its own (a new merge, an override, a policy change).

import { class4, classDomain, domainEntry, interval4, interval6 } from './evidence.ts';
import { NEVER_DOMAIN, NEVER_IP, PolicyEngine, TEST_DOMAIN, TEST_IP, type Policy, type Verdict } from './policy.ts';
import { NEUTRAL, type Evidence, type LocalFacts, type OverlayView } from './types.ts';
import { nextSerial } from './serial.ts';

/** What explain wants to know beyond the verdict (filled only when asked for). */
export interface EvalTrace {
  /** Evidence class id (-1 for test points). */
  cls: number;
  facts: LocalFacts;
  /** Elementary interval index (addresses) or domain entry index (domains), -1 when none. */
  at: number;
  /** The IPv4 address actually looked up (a v4-mapped IPv6 key is looked up as IPv4), or -1. */
  ip4: number;
}

export function newTrace(): EvalTrace {
  return { cls: -1, facts: NEUTRAL, at: -1, ip4: -1 };
}

const TEST4 = 0x7f000002;
const NEVER4 = 0x7f000001;

export class MergeView {
  private ev: Evidence;
  private engine: PolicyEngine;
  private ov: OverlayView | null;
  /** SOA serial of bl/wl/dbl (read by the responder at every SOA it writes): rises with every
   *  swap below. The owner may set it at start (e.g. from the last serial it persisted). */
  serial = nextSerial(0);
  /** Called with each new serial (MergeService keeps one that runs ahead of the clock on disk,
   *  so a restart never serves an older serial). */
  onSerial: ((serial: number) => void) | null = null;
  /** Proper ancestors of the evidence's domain entries (dbl's empty non-terminals); null while
   *  a big evidence is still being indexed. */
  private parents: Set<string> | null = null;
  private parentsGen = 0;

  constructor(evidence: Evidence, policy: Policy, overlay: OverlayView | null = null) {
    this.ev = evidence;
    this.engine = new PolicyEngine(policy, evidence);
    this.ov = overlay;
    this.indexParents(evidence);
  }

  /** Indexes the parents of the entries the public evidence lists (under the current policy:
   *  an entry below the threshold or protected lists nothing). */
  private indexParents(e: Evidence): void {
    const d = e.domains;
    const p = new Set<string>();
    const gen = ++this.parentsGen;
    const engine = this.engine;
    this.parents = null;
    const add = (i: number): void => {
      const entry = d[i]!;
      const name = entry.startsWith('*.') ? entry.slice(2) : entry;
      if (engine.verdict(e.domCls[i]!, NEUTRAL, true, name).block) addParents(p, entry);
    };
    if (d.length <= PARENTS_SYNC_MAX) {
      for (let i = 0; i < d.length; i++) add(i);
      this.parents = p;
      return;
    }
    let i = 0;
    const slice = (): void => {
      if (this.parentsGen !== gen) return; // new evidence or policy meanwhile
      const until = performance.now() + PARENTS_SLICE_MS;
      while (i < d.length) {
        const end = Math.min(i + 256, d.length);
        for (; i < end; i++) add(i);
        if (performance.now() >= until) break;
      }
      if (i < d.length) setImmediate(slice).unref();
      else this.parents = p;
    };
    setImmediate(slice).unref();
  }

  get evidence(): Evidence {
    return this.ev;
  }
  get policy(): Policy {
    return this.engine.current;
  }
  get policyEngine(): PolicyEngine {
    return this.engine;
  }
  get overlay(): OverlayView | null {
    return this.ov;
  }

  /** A copy that keeps today's evidence, policy and overlay whatever is swapped into this view
   *  later (a long materialisation reads one state). Its own policy engine: setPolicy changes
   *  the shared one in place. */
  frozen(): MergeView {
    const f = Object.create(MergeView.prototype) as MergeView;
    f.ev = this.ev;
    f.engine = new PolicyEngine(this.engine.current, this.ev);
    f.ov = this.ov;
    f.parents = this.parents;
    f.parentsGen = 0;
    f.serial = this.serial;
    return f;
  }

  /** A new SOA serial for a change of content. */
  bumpSerial(): void {
    this.serial = nextSerial(this.serial);
    this.onSerial?.(this.serial);
  }

  /** A new merge: class ids change, so the memo goes with the old engine. */
  setEvidence(e: Evidence): void {
    this.engine = new PolicyEngine(this.engine.current, e);
    this.ev = e;
    this.indexParents(e);
    this.bumpSerial();
  }
  setPolicy(p: Policy): void {
    this.engine.setPolicy(p);
    this.indexParents(this.ev);
    this.bumpSerial();
  }
  setOverlay(o: OverlayView | null): void {
    this.ov = o;
    this.bumpSerial();
  }

  private overlayOn(): OverlayView | null {
    const o = this.ov;
    return o !== null && !(o.isEmpty !== undefined && o.isEmpty()) ? o : null;
  }

  /** IPv4 key (uint32). */
  eval4(ip: number, t?: EvalTrace): Verdict {
    ip >>>= 0;
    if (t) t.ip4 = ip;
    if (ip === TEST4) return TEST_IP;
    if (ip === NEVER4) return NEVER_IP;
    const e = this.ev;
    const o = this.overlayOn();
    const facts = o === null ? NEUTRAL : o.lookup4(ip);
    if (t) {
      t.at = interval4(e, ip);
      t.cls = e.cls4[t.at]!;
      t.facts = facts;
    }
    return this.engine.verdict(class4(e, ip), facts, false);
  }

  /** IPv6 key (16 bytes); v4-mapped addresses are IPv4 keys. */
  eval6(ip16: Uint8Array, t?: EvalTrace): Verdict {
    if (isV4Mapped(ip16)) return this.eval4(((ip16[12]! << 24) | (ip16[13]! << 16) | (ip16[14]! << 8) | ip16[15]!) >>> 0, t);
    const e = this.ev;
    const i = interval6(e, ip16);
    const cls = e.cls6[i]!;
    const o = this.overlayOn();
    const facts = o === null ? NEUTRAL : o.lookup6(ip16);
    if (t) {
      t.at = i;
      t.cls = cls;
      t.facts = facts;
    }
    return this.engine.verdict(cls, facts, false);
  }

  /** True when a name the sources list, or an overlay key, lies strictly below `name`
   *  (lowercase): an empty non-terminal of dbl, answered NODATA so QNAME-minimising resolvers
   *  go on. */
  hasDomainBelow(name: string): boolean {
    const p = this.parents;
    // Still indexing a big evidence: NODATA for every name, which hides nothing (NXDOMAIN is the
    // answer that could hide a listing below).
    if (p === null || p.has(name)) return true;
    const o = this.overlayOn();
    return o !== null && o.hasDomainBelow !== undefined && o.hasDomainBelow(name);
  }

  /** Domain key: labels in wire order, lowercase. */
  evalDomain(labels: readonly string[], t?: EvalTrace): Verdict {
    if (labels.length === 1) {
      if (labels[0] === 'test') return TEST_DOMAIN;
      if (labels[0] === 'invalid') return NEVER_DOMAIN;
    }
    const e = this.ev;
    const name = labels.join('.');
    const o = this.overlayOn();
    const facts = o === null ? NEUTRAL : o.lookupDomain(labels);
    const cls = e.domains.length ? classDomain(e, name) : 0;
    if (t) {
      t.at = domainEntry(e, name);
      t.cls = cls;
      t.facts = facts;
    }
    return this.engine.verdict(cls, facts, true, name);
  }
}

/** Adds the proper ancestors of a listed domain entry to `p` ('*.x' counts x too: names below it are listed). */
function addParents(p: Set<string>, d: string): void {
  const name = d.startsWith('*.') ? d.slice(2) : d;
  if (name !== d) p.add(name);
  for (let i = name.indexOf('.'); i >= 0; i = name.indexOf('.', i + 1)) p.add(name.slice(i + 1));
}

/** Up to this many domain entries are indexed at once; more in slices between DNS packets
 *  (1M entries take ~0.5-2.5 s). */
const PARENTS_SYNC_MAX = 50_000;
/** Milliseconds of indexing per event-loop turn. */
const PARENTS_SLICE_MS = 4;

export function isV4Mapped(b: Uint8Array): boolean {
  for (let i = 0; i < 10; i++) if (b[i] !== 0) return false;
  return b[10] === 0xff && b[11] === 0xff;
}
