// records() of bl, wl, dbl against their own query(): a secondary-like zone over the records
// (RecordsDataset, the oracle of "a standard secondary") must give every key the same A set
// and TXT as quorumbl, on random evidence, overrides, scores, exemptions and protected names.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RangeBuilder4, RangeBuilder6 } from '../../../core/ranges.ts';
import { formatIp6 } from '../../../core/ip6.ts';
import { mergedDatasets, type MergedDataset } from '../../../sync/merge/datasets.ts';
import { buildEvidence } from '../../../sync/merge/evidence.ts';
import { MergeView } from '../../../sync/merge/evaluate.ts';
import type { Policy } from '../../../sync/merge/policy.ts';
import { Overlay } from '../../../sync/local/overlay.ts';
import type { Override } from '../../../sync/local/overrides.ts';
import type { ScoreState } from '../../../sync/local/reputation.ts';
import type { KeyKind } from '../../../sync/local/keys.ts';
import { RecordsDataset } from '../../../core/datasets/records.ts';
import { RR, type MaterialiseOptions, type ZoneRecord } from '../../../core/zones/records.ts';
import { HOLE } from '../../../core/zones/domains.ts';
import type { Dataset } from '../../../core/datasets/types.ts';
import { ask, ip, ip6Bytes, rng } from './helpers.ts';

const dotted = (x: number): string => `${x >>> 24}.${(x >>> 16) & 255}.${(x >>> 8) & 255}.${x & 255}`;

function opts(max = 65536): MaterialiseOptions & { problems: string[] } {
  const problems: string[] = [];
  return { maxExpansion: max, report: (p) => problems.push(p), problems };
}

function b6(r: () => number, first?: number): Uint8Array {
  const b = new Uint8Array(16);
  for (let i = 0; i < 16; i++) b[i] = Math.floor(r() * 256);
  if (first !== undefined) b[0] = first;
  return b;
}

function addBytes(b: Uint8Array, n: number): Uint8Array {
  const out = Uint8Array.from(b);
  let carry = n;
  for (let i = 15; i >= 0 && carry !== 0; i--) {
    const v = out[i]! + carry;
    out[i] = v & 255;
    carry = v >> 8;
    if (v < 0) carry = -1;
  }
  return out;
}

const LABELS = ['a', 'b', 'mail', 'www', 'x1', 'shop'];
const TLDS = ['com', 'net', 'example'];

function randomName(r: () => number, depth: number): string {
  const l: string[] = [TLDS[Math.floor(r() * TLDS.length)]!];
  for (let i = 1; i < depth; i++) l.unshift(LABELS[Math.floor(r() * LABELS.length)]!);
  return l.join('.');
}

interface World {
  view: MergeView;
  zones: Record<'bl' | 'wl' | 'dbl', MergedDataset>;
  keys4: number[];
  keys6: Uint8Array[];
  names: string[];
}

/** Random evidence (3 sources, 1 provider feed), overrides, scores and protected names. */
function world(seed: number, lookupUrl: string | null): World {
  const r = rng(seed);
  const keys4: number[] = [ip('127.0.0.1'), ip('127.0.0.2'), ip('127.0.0.3'), 0, 2 ** 32 - 1];
  const keys6: Uint8Array[] = [];
  const names: string[] = ['test', 'invalid', 'zz.test', 'a.invalid'];
  const bases4 = [ip('1.2.0.0'), ip('10.20.0.0'), ip('192.0.0.0'), ip('2.0.0.0'), ip('127.0.0.0')];
  const bases6 = [ip6Bytes('2001:db8::'), ip6Bytes('123::'), ip6Bytes('2000::'), ip6Bytes('fe80::')];
  const range4 = (): [number, number] => {
    const base = bases4[Math.floor(r() * bases4.length)]!;
    const x = Math.floor(r() * 8);
    let a: number, b: number;
    if (x === 0) {
      a = base + Math.floor(r() * 65536);
      b = a;
    } else if (x === 1) {
      a = base + Math.floor(r() * 256) * 256;
      b = a + 255; // /24
    } else if (x === 2) {
      a = base + Math.floor(r() * 512) * 128;
      b = a + 127; // /25
    } else if (x === 3) {
      a = base + Math.floor(r() * 64) * 1024;
      b = a + 1023; // /22
    } else if (x === 4 && r() < 0.2) {
      a = base & 0xffff0000;
      b = a + 65535; // /16
    } else {
      a = base + Math.floor(r() * 65536);
      b = Math.min(a + Math.floor(r() * 3000), 2 ** 32 - 1);
    }
    keys4.push(a, b, a - 1, b + 1, a + Math.floor(r() * (b - a + 1)));
    return [a >>> 0, b >>> 0];
  };
  const range6 = (): [Uint8Array, Uint8Array] => {
    const base = bases6[Math.floor(r() * bases6.length)]!;
    const a = Uint8Array.from(base);
    const x = Math.floor(r() * 4);
    let bits = x === 0 ? 128 : x === 1 ? 48 : x === 2 ? 33 : 64;
    for (let i = 2; i < 16; i++) a[i] = Math.floor(r() * 256);
    if (bits === 48 && base[0] === 0x01) bits = 12; // 120::/12: all-digit and short
    for (let bit = bits; bit < 128; bit++) a[bit >> 3]! &= ~(0x80 >> (bit & 7));
    if (bits === 12) a[1] = 0x20;
    const b = Uint8Array.from(a);
    for (let bit = bits; bit < 128; bit++) b[bit >> 3]! |= 0x80 >> (bit & 7);
    keys6.push(a, b, addBytes(a, -1), addBytes(b, 1), addBytes(a, 7));
    return [a, b];
  };
  const sources = [0, 1, 2].map((k) => {
    const v4 = new RangeBuilder4();
    const v6 = new RangeBuilder6();
    for (let i = 0; i < 400; i++) v4.add(...range4());
    if (k === 2) v4.add(ip('2.0.0.0'), ip('2.255.255.255')); // a whole all-digit /8
    if (k === 2) v6.add(ip6Bytes('450::'), ip6Bytes('45f:ffff:ffff:ffff:ffff:ffff:ffff:ffff')); // 3 all-digit nibbles
    for (let i = 0; i < 40; i++) v6.add(...range6());
    const domains = new Set<string>();
    for (let i = 0; i < 150; i++) {
      const d = randomName(r, 1 + Math.floor(r() * 4));
      domains.add(r() < 0.3 ? '*.' + d : d);
      names.push(d);
    }
    return { name: `src${k}`, weight: k === 2 ? 2 : 1, v4: v4.build(), v6: v6.build(), domains: [...domains].sort() };
  });
  const pv4 = new RangeBuilder4();
  for (let i = 0; i < 30; i++) pv4.add(...range4());
  const pv6 = new RangeBuilder6();
  for (let i = 0; i < 5; i++) pv6.add(...range6());
  const evidence = buildEvidence({ sources, providers: [{ name: 'feed', v4: pv4.build(), v6: pv6.build() }], serial: 1 });
  const policy: Policy = {
    threshold: 2, consensus: 2, providerExempt: true, providerBar: 5, reputationBar: 3,
    protectedDomains: [randomName(r, 2), randomName(r, 3), 'shop.com', 'b.a.net'],
    weights: [],
  };
  for (const p of policy.protectedDomains) names.push(p, 'a.' + p, 'zz.' + p);
  // overrides: IPv4 /32, /24, /16 (nested allowed), IPv6, domains, wildcards
  const overrides: Override[] = [];
  const seen = new Set<string>();
  const add = (key: string, kind: KeyKind): void => {
    if (seen.has(key)) return;
    seen.add(key);
    overrides.push({ id: overrides.length + 1, key, kind, action: r() < 0.5 ? 'allow' : 'deny', reason: 'test', author: 't', created: 0, expires: null });
  };
  for (let i = 0; i < 60; i++) {
    const [a] = range4();
    const len = [32, 32, 24, 16, 28][Math.floor(r() * 5)]!;
    const net = len === 32 ? a : (a >>> (32 - len)) << (32 - len) >>> 0;
    add(len === 32 ? dotted(net) : `${dotted(net)}/${len}`, 'ip4');
    keys4.push(net, net - 1, net + 2 ** (32 - len), net + 2 ** (32 - len) - 1);
  }
  for (let i = 0; i < 15; i++) {
    const [a] = range6();
    const len = [128, 64, 48][Math.floor(r() * 3)]!;
    const n = Uint8Array.from(a);
    for (let bit = len; bit < 128; bit++) n[bit >> 3]! &= ~(0x80 >> (bit & 7));
    add(len === 128 ? formatIp6(n) : `${formatIp6(n)}/${len}`, 'ip6');
  }
  for (let i = 0; i < 40; i++) {
    const d = r() < 0.5 ? names[Math.floor(r() * names.length)]! : randomName(r, 1 + Math.floor(r() * 4));
    if (d === 'test' || d === 'invalid') continue;
    if (r() < 0.35) add('*.' + d, 'wildcard');
    else add(d, 'domain');
    names.push(d, 'zz.' + d, 'a.' + d);
  }
  const now = Date.now();
  const scores: ScoreState[] = [];
  for (let i = 0; i < 50; i++) {
    const [a] = range4();
    scores.push({ key: dotted(a), keyKind: 'ip4', score: r() < 0.6 ? 6 : -3, at: now, events: 2 });
  }
  for (let i = 0; i < 10; i++) {
    const [a] = range6();
    scores.push({ key: formatIp6(a), keyKind: 'ip6', score: 6, at: now, events: 2 });
  }
  for (let i = 0; i < 20; i++) {
    const d = names[Math.floor(r() * names.length)]!;
    if (d === 'test' || d === 'invalid') continue;
    scores.push({ key: d, keyKind: 'domain', score: r() < 0.6 ? 6 : -3, at: now, events: 2 });
    names.push('zz.' + d);
  }
  const overlay = new Overlay(overrides, scores, { halfLife: 1e9, builtAt: now });
  const view = new MergeView(evidence, policy, overlay);
  const zones = mergedDatasets(view, { base: 'dnsbl.internal', lookupUrl, ttl: 300 });
  // random keys anywhere, IPv6 keys under the IPv4 /8s' and /24s' digit labels, v4-mapped keys
  for (let i = 0; i < 2000; i++) keys4.push(Math.floor(r() * 2 ** 32));
  // IPv4 names an all-digit IPv6 wildcard of 450::/12 (labels 5.4.0) would match
  for (let i = 0; i < 100; i++) keys4.push(ip('0.4.5.0') + Math.floor(r() * 256));
  for (let i = 0; i < 500; i++) {
    keys6.push(b6(r, 0x20 | Math.floor(r() * 10)), b6(r, 0x10 | Math.floor(r() * 10)), b6(r, 0x01), b6(r));
    const m = new Uint8Array(16);
    m[10] = 0xff;
    m[11] = 0xff;
    const v = keys4[Math.floor(r() * keys4.length)]! >>> 0;
    m[12] = v >>> 24;
    m[13] = (v >>> 16) & 255;
    m[14] = (v >>> 8) & 255;
    m[15] = v & 255;
    keys6.push(m);
  }
  for (let i = 0; i < 1000; i++) names.push(randomName(r, 1 + Math.floor(r() * 6)));
  return { view, zones, keys4: keys4.filter((k) => k >= 0 && k < 2 ** 32), keys6, names };
}

function materialise(ds: Dataset, o = opts()): RecordsDataset {
  const recs = [...ds.records!(o)];
  return new RecordsDataset(recs, {});
}

/** Compares quorumbl and the secondary on every key; TXT exactly unless `txtPresence`. */
function compare(ds: Dataset, sec: RecordsDataset, keys: string[], txtPresence: boolean): number {
  let listed = 0;
  for (const k of keys) {
    const q = ask(ds, k);
    const s = ask(sec, k);
    assert.deepEqual(s.a.sort(), q.a.sort(), `${ds.type} ${k}: A`);
    if (txtPresence) assert.equal(s.txt.length, q.txt.length, `${ds.type} ${k}: TXT presence`);
    else assert.deepEqual(s.txt, q.txt, `${ds.type} ${k}: TXT`);
    if (q.a.length) listed++;
  }
  return listed;
}

function ip6Text(b: Uint8Array): string {
  return formatIp6(b);
}

for (const [seed, url] of [[1, null], [2, 'https://dnsbl.example.org/lookup?q=$'], [3, null]] as const) {
  test(`bl, wl, dbl records answer every key as quorumbl does (seed ${seed}, lookup URL ${url ?? 'none'})`, () => {
    const w = world(seed, url);
    const addrKeys = [...w.keys4.map(dotted), ...w.keys6.map(ip6Text)];
    for (const kind of ['bl', 'wl'] as const) {
      const o = opts();
      const sec = materialise(w.zones[kind], o);
      assert.deepEqual(o.problems, [], 'nothing left out');
      const listed = compare(w.zones[kind], sec, addrKeys, url !== null);
      assert.ok(listed > 200, `${kind}: ${listed} listed keys of ${addrKeys.length} compared`);
    }
    const sec = materialise(w.zones.dbl);
    const listed = compare(w.zones.dbl, sec, w.names, url !== null);
    assert.ok(listed > 100, `dbl: ${listed} listed of ${w.names.length}`);
  });
}

test('exact names under a wildcard: listed ENTs re-state the wildcard, a protected name is a hole', () => {
  const evidence = buildEvidence({
    sources: [{ name: 's', weight: 1, v4: new RangeBuilder4().build(), v6: new RangeBuilder6().build(), domains: ['*.example', 'a.b.c.example', 'shop.example'].sort() }],
    providers: [],
  });
  const now = Date.now();
  const overlay = new Overlay([
    { id: 1, key: 'ok.example', kind: 'domain', action: 'allow', reason: 'r', author: 'a', created: 0, expires: null },
  ], [], { halfLife: 1e9, builtAt: now });
  const policy: Policy = { threshold: 1, consensus: 0, providerExempt: true, providerBar: 5, reputationBar: 3, protectedDomains: ['safe.example'], weights: [] };
  const view = new MergeView(evidence, policy, overlay);
  const { dbl } = mergedDatasets(view, { base: 'b', lookupUrl: null, ttl: 60 });
  const recs = [...dbl.records!(opts())];
  const by = (n: string) => recs.filter((x) => x.name === n).map((x) => `${x.type} ${x.data}`);
  assert.deepEqual(by('*.example'), ['1 127.0.1.2', '16 Listed by b (sources: s)']);
  // c.example and b.c.example exist (above a.b.c.example): each answers what *.example gives it
  assert.deepEqual(by('c.example'), ['1 127.0.1.2', '16 Listed by b (sources: s)']);
  assert.deepEqual(by('*.c.example'), ['1 127.0.1.2', '16 Listed by b (sources: s)']);
  assert.deepEqual(by('b.c.example'), ['1 127.0.1.2', '16 Listed by b (sources: s)']);
  // the protected name and everything below it: a hole (no A, no TXT), no wildcard below it
  assert.deepEqual(by('safe.example'), [`${HOLE.type} ${HOLE.data}`]);
  assert.deepEqual(by('*.safe.example'), []);
  // an allowed exact name: not listed itself, names below it are (*.ok.example makes it exist)
  assert.deepEqual(by('ok.example'), []);
  assert.deepEqual(by('*.ok.example'), ['1 127.0.1.2', '16 Listed by b (sources: s)']);
  const sec = new RecordsDataset(recs, {});
  compare(dbl, sec, ['x.example', 'c.example', 'x.c.example', 'b.c.example', 'x.b.c.example', 'a.b.c.example', 'safe.example', 'x.safe.example',
    'y.x.safe.example', 'ok.example', 'x.ok.example', 'example', 'test', 'invalid', 'x.test', 'shop.example', 'x.shop.example'], false);
  assert.equal(ask(sec, 'safe.example', 'A').found, true, 'the hole exists: NODATA for A');
});

test('one state: a merge or override swapped in during iteration does not show in the records', () => {
  const w = world(5, null);
  const it = w.zones.bl.records!(opts())[Symbol.iterator]();
  const first = it.next();
  assert.ok(!first.done);
  const before = [first.value as ZoneRecord];
  // deny everything in 100.64.0.0/10 and swap in an empty evidence meanwhile
  w.view.setOverlay(new Overlay([{ id: 1, key: '100.64.0.0/10', kind: 'ip4', action: 'deny', reason: 'r', author: 'a', created: 0, expires: null }], [], { halfLife: 1e9 }));
  w.view.setEvidence(buildEvidence({ sources: [], providers: [] }));
  for (let n = it.next(); !n.done; n = it.next()) before.push(n.value);
  const sec = new RecordsDataset(before, {});
  assert.equal(ask(sec, '100.64.1.1').found, false, 'the new override is not in this version');
  assert.ok(before.length > 1000, 'the old evidence is');
  const after = materialise(w.zones.bl);
  assert.deepEqual(ask(after, '100.64.1.1').a, ['127.0.0.5']);
  assert.deepEqual(ask(after, '127.0.0.2').a, ['127.0.0.2'], 'the test point stays');
  assert.equal(ask(after, '127.0.0.1').found, false);
});

test('records are deterministic and carry the zone TTL; no apex wildcard', () => {
  const w = world(9, null);
  const a = [...w.zones.bl.records!(opts())];
  const b = [...w.zones.bl.records!(opts())];
  assert.deepEqual(a, b);
  assert.ok(a.every((x) => x.ttl === 300 && (x.type === RR.A || x.type === RR.TXT)));
  assert.ok(!a.some((x) => x.name === '*'));
});

test('a run over max_expansion is left out of the records and reported', () => {
  const evidence = buildEvidence({
    sources: [{ name: 's', weight: 1, v4: (() => { const b = new RangeBuilder4(); b.add(ip('1.0.0.0'), ip('1.255.255.255')); return b.build(); })(), v6: new RangeBuilder6().build(), domains: [] }],
    providers: [],
  });
  const view = new MergeView(evidence, { threshold: 1, consensus: 0, providerExempt: true, providerBar: 5, reputationBar: 3, protectedDomains: [], weights: [] });
  const { bl } = mergedDatasets(view, { base: 'b', lookupUrl: null, ttl: 60 });
  const o = opts(10000);
  const sec = materialise(bl, o);
  assert.equal(o.problems.length, 1);
  assert.match(o.problems[0]!, /IPv4 range 1\.0\.0\.0-1\.255\.255\.255 needs 28306 names, more than max_expansion 10000: left out/);
  assert.equal(ask(sec, '1.2.3.4').found, false);
  assert.deepEqual(ask(sec, '::ffff:1.2.3.4').a, ['127.0.0.2'], 'its v4-mapped names need no expansion');
  assert.deepEqual(ask(sec, '127.0.0.2').a, ['127.0.0.2']);
});

test('scores added since the last full build (the index layer) are pieces too', async () => {
  const { ScoreIndex } = await import('../../../sync/local/overlay.ts');
  const now = Date.now();
  let scores = ScoreIndex.build([{ key: '198.51.100.7', keyKind: 'ip4', score: 6, at: now, events: 2 }], now, 1e9);
  scores = scores.with({ key: '198.51.100.9', keyKind: 'ip4', score: 6, at: now, events: 2 });
  scores = scores.with({ key: '198.51.100.7', keyKind: 'ip4', score: 0, at: now, events: 2 }); // gone again
  scores = scores.with({ key: '2001:db8::5', keyKind: 'ip6', score: 6, at: now, events: 2 });
  const view = new MergeView(buildEvidence({ sources: [], providers: [] }),
    { threshold: 1, consensus: 0, providerExempt: true, providerBar: 5, reputationBar: 3, protectedDomains: [], weights: [] },
    new Overlay([], scores, { halfLife: 1e9, builtAt: now }));
  const { bl } = mergedDatasets(view, { base: 'b', lookupUrl: null, ttl: 60 });
  const sec = materialise(bl);
  for (const k of ['198.51.100.7', '198.51.100.8', '198.51.100.9', '198.51.100.10', '2001:db8::5', '2001:db8::4', '::ffff:198.51.100.9']) {
    assert.deepEqual(ask(sec, k), { ...ask(bl, k), found: ask(sec, k).found }, k);
  }
  assert.deepEqual(ask(sec, '198.51.100.9').a, ['127.0.0.4']);
  assert.deepEqual(ask(sec, '2001:db8::5').a, ['127.0.0.4']);
  assert.equal(ask(sec, '198.51.100.7').found, false);
});
