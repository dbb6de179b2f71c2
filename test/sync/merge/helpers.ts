// Shared by the merge tests: small evidence built from readable inputs, a map-backed overlay,
// a recording RecordSink.

import { RangeBuilder4, RangeBuilder6, type RangeSet4, type RangeSet6 } from '../../../core/ranges.ts';
import { parseIp6Cidr } from '../../../core/ip6.ts';
import { makeQuery, ip4ToString } from '../../../core/query.ts';
import type { Dataset, RecordSink } from '../../../core/datasets/types.ts';
import type { LocalFacts, OverlayView } from '../../../sync/merge/types.ts';
import { NEUTRAL } from '../../../sync/merge/types.ts';
import type { Policy } from '../../../sync/merge/policy.ts';

export { unitRandom as rng } from '../../bench/datagen.ts';

export function ip(text: string): number {
  return text.split('.').reduce((a, o) => a * 256 + Number(o), 0);
}

/** '1.2.3.4', '10.0.0.0/8', '1.2.3.4-1.2.3.9' */
export function set4(entries: string[]): RangeSet4 {
  const b = new RangeBuilder4();
  for (const e of entries) {
    if (e.includes('/')) {
      const [a, bits] = e.split('/');
      const size = 2 ** (32 - Number(bits));
      b.add(ip(a!), ip(a!) + size - 1);
    } else if (e.includes('-')) {
      const [a, z] = e.split('-');
      b.add(ip(a!), ip(z!));
    } else b.add(ip(e), ip(e));
  }
  return b.build();
}

export function set6(cidrs: string[]): RangeSet6 {
  const b = new RangeBuilder6();
  for (const c of cidrs) {
    const p = parseIp6Cidr(c.includes('/') ? c : `${c}/128`);
    if (typeof p === 'string') throw new Error(`${c}: ${p}`);
    const end = Uint8Array.from(p.addr);
    for (let bit = p.bits; bit < 128; bit++) end[bit >> 3]! |= 0x80 >> (bit & 7);
    b.add(p.addr, end);
  }
  return b.build();
}

export function ip6Bytes(text: string): Uint8Array {
  const hex = text.replace(/(\d+)\.(\d+)\.(\d+)\.(\d+)$/, (_, a, b, c, d) => `${((+a << 8) | +b).toString(16)}:${((+c << 8) | +d).toString(16)}`);
  const p = parseIp6Cidr(`${hex}/128`);
  if (typeof p === 'string') throw new Error(p);
  return p.addr;
}

export const POLICY: Policy = {
  threshold: 1,
  consensus: 2,
  providerExempt: true,
  providerBar: 5,
  reputationBar: 3,
  protectedDomains: ['google.com', 'linkedin.com', 'microsoft.com', 'outlook.com', 'azure.com'],
  weights: [],
};

/** Overlay backed by maps (keys: dotted IPv4, formatted IPv6, domain names; '*.x' wildcards). */
export class MapOverlay implements OverlayView {
  readonly v4 = new Map<number, LocalFacts>();
  readonly v6 = new Map<string, LocalFacts>();
  readonly dom = new Map<string, LocalFacts>();
  lookups = 0;
  isEmpty(): boolean {
    return this.v4.size + this.v6.size + this.dom.size === 0;
  }
  lookup4(x: number): LocalFacts {
    this.lookups++;
    return this.v4.get(x >>> 0) ?? NEUTRAL;
  }
  lookup6(ip16: Uint8Array): LocalFacts {
    this.lookups++;
    return this.v6.get(Buffer.from(ip16).toString('hex')) ?? NEUTRAL;
  }
  lookupDomain(labels: readonly string[]): LocalFacts {
    this.lookups++;
    const name = labels.join('.');
    const f = this.dom.get(name);
    if (f) return f;
    for (let i = 1; i < labels.length; i++) {
      const w = this.dom.get('*.' + labels.slice(i).join('.'));
      if (w) return w;
    }
    return NEUTRAL;
  }
  set4(text: string, f: LocalFacts): this {
    this.v4.set(ip(text), f);
    return this;
  }
  set6(text: string, f: LocalFacts): this {
    this.v6.set(Buffer.from(ip6Bytes(text)).toString('hex'), f);
    return this;
  }
  setDomain(name: string, f: LocalFacts): this {
    this.dom.set(name, f);
    return this;
  }
}

export const deny = (id = 1, key = 'k'): LocalFacts => ({ override: { action: 'deny', id, reason: 'seen in a phishing run', key }, score: 0 });
export const allow = (id = 2, key = 'k'): LocalFacts => ({ override: { action: 'allow', id, reason: 'our partner', key }, score: 0 });
export const score = (s: number): LocalFacts => ({ score: s });

const QTYPE = { A: 1, TXT: 16, AAAA: 28, ANY: 255 } as const;

export interface Asked {
  found: boolean;
  a: string[];
  txt: string[];
}

/** Asks a dataset: IPv4 dotted, IPv6 text (as 32 nibbles) or a domain name. */
export function ask(ds: Dataset, key: string, qtype: keyof typeof QTYPE = 'ANY'): Asked {
  const t = QTYPE[qtype];
  const res: Asked = { found: false, a: [], txt: [] };
  const sink: RecordSink = {
    wantA: t === 1 || t === 255,
    wantTxt: t === 16 || t === 255,
    qtype: t,
    a: (x) => res.a.push(ip4ToString(x)),
    txt: (s) => res.txt.push(s),
    mx: () => {
      throw new Error('no MX here');
    },
  };
  let labels: string[];
  if (/^\d+\.\d+\.\d+\.\d+$/.test(key)) labels = key.split('.').reverse();
  else if (key.includes(':')) {
    const b = ip6Bytes(key);
    labels = [];
    for (let i = 15; i >= 0; i--) labels.push((b[i]! & 15).toString(16), (b[i]! >> 4).toString(16));
  } else labels = key.split('.');
  // merged zones have no rbldnsd IPv4 dataset: 32-nibble names stay IPv6 (server/zones.ts)
  res.found = ds.query(makeQuery(labels, t, false), sink);
  return res;
}
