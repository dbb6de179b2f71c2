import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RangeBuilder4, RangeBuilder6, emptyRangeSet6 } from '../../../core/ranges.ts';
import { mergedDatasets } from '../../../sync/merge/datasets.ts';
import { ip4Dotted } from '../../../core/ip4.ts';
import { formatIp6 } from '../../../core/ip6.ts';
import { buildEvidence } from '../../../sync/merge/evidence.ts';
import { MergeView } from '../../../sync/merge/evaluate.ts';
import { explain, formatExplanation, type ExplainContext, type ExplainSource } from '../../../sync/merge/explain.ts';
import { InputError } from '../../../sync/local/keys.ts';
import { LocalStore } from '../../../sync/local/store.ts';
import { Clock, tmpDb } from '../local/helpers.ts';
import type { EvidenceInputs, LocalFacts } from '../../../sync/merge/types.ts';
import { finishResult } from '../../../sync/providers/types.ts';
import { MapOverlay, POLICY, ask, deny, allow, score, set4, set6, rng } from './helpers.ts';

const NOW = Date.parse('2024-01-20T12:00:00Z');
const TXT = { base: 'dnsbl.internal', lookupUrl: 'https://dnsbl.example.org/lookup?q=$' };

test('explain shows each source entry with its age, the provider range with provenance, reputation, override, arithmetic, serial', () => {
  const spamcop: ExplainSource = { name: 'spamcop', v4: set4(['40.107.20.108', '192.0.2.66', '198.51.100.0/24']), v6: emptyRangeSet6(), domains: [], lastSuccess: NOW - 3600_000 };
  const psbl: ExplainSource = { name: 'psbl', v4: set4(['198.51.100.14']), v6: set6(['2001:db8::/64']), domains: ['*.evil.example', 'google.com'], lastSuccess: NOW - 90_000 };
  const feed = finishResult('microsoft-365', 'm365-worldwide', NOW - 86400_000, [
    { cidr: '40.107.0.0/16', detail: 'M365 endpoint set 10 (TCP 25), version 2024053000' },
    { cidr: '40.107.20.0/24', detail: 'spf spf.protection.outlook.com', lowConfidence: true, confidenceNote: 'dynamic' },
  ]);
  const inputs: EvidenceInputs = {
    sources: [spamcop, psbl].map((s, i) => ({ ...s, weight: i === 0 ? 1 : 2 })),
    providers: [{ name: 'microsoft-365', v4: feed.v4, v6: feed.v6 }],
    serial: 2024012001,
  };
  const o = new MapOverlay().set4('40.107.20.108', score(6.2)).set4('198.51.100.14', allow(12, '198.51.100.14'));
  const view = new MergeView(buildEvidence(inputs, NOW - 60_000), POLICY, o);
  const ctx: ExplainContext = {
    view,
    txt: TXT,
    sources: [spamcop, psbl],
    providers: [{ name: 'microsoft-365', feed: feed.feed, fetchedAt: feed.fetchedAt, v4: feed.v4, v6: feed.v6, ranges: feed.ranges }],
    events: (key) => (key === '40.107.20.108' ? [{ kind: 'trap', weight: 3, reporter: 'trap-1', at: NOW - 7200_000 }, { kind: 'spam', weight: 4, reporter: 'mx1', at: NOW - 9000_000 }] : []),
    now: NOW,
  };

  const m = explain('40.107.20.108', ctx);
  assert.equal(m.serial, 2024012001);
  assert.equal(m.block, true);
  assert.deepEqual(m.answer.a, ['127.0.0.4']);
  assert.deepEqual(m.sources, [{ name: 'spamcop', weight: 1, entry: '40.107.20.108', lastSuccess: new Date(NOW - 3600_000).toISOString(), ageSeconds: 3600 }]);
  assert.equal(m.providers.length, 1);
  assert.equal(m.providers[0]!.range, '40.107.0.0-40.107.255.255');
  assert.equal(m.providers[0]!.feed, 'm365-worldwide');
  assert.deepEqual(m.providers[0]!.detail.map((d) => d.cidr), ['40.107.0.0/16', '40.107.20.0/24']);
  assert.equal(m.providers[0]!.detail[1]!.lowConfidence, true);
  assert.equal(m.reputation.score, 6.2);
  assert.equal(m.reputation.events.length, 2);
  assert.ok(m.arithmetic.includes('provider microsoft-365 exempt: public sources alone cannot list it'));
  assert.ok(m.arithmetic.includes('local score 6.2 >= provider bar 5.0'));
  const text = formatExplanation(m);
  assert.match(text, /source spamcop \(weight 1\): 40\.107\.20\.108, data 60 min old/);
  assert.match(text, /40\.107\.20\.0\/24: spf spf\.protection\.outlook\.com \(low confidence: dynamic\)/);

  const r = explain('198.51.100.14', ctx);
  assert.equal(r.block, false);
  assert.deepEqual(r.override, { action: 'allow', id: 12, reason: 'our partner', key: '198.51.100.14' });
  assert.deepEqual(r.sources.map((s) => [s.name, s.entry, s.ageSeconds]), [['spamcop', '198.51.100.0-198.51.100.255', 3600], ['psbl', '198.51.100.14', 90]]);
  assert.equal(r.arithmetic[0], 'spamcop 1.0 + psbl 2.0 = 3.0 >= threshold 1.0');
  assert.equal(r.answer.wl, '127.0.10.1');

  const six = explain('2001:db8::5', ctx);
  assert.deepEqual(six.sources.map((s) => s.entry), ['2001:db8::-2001:db8::ffff:ffff:ffff:ffff']);
  assert.equal(six.class.interval, '2001:db8::-2001:db8::ffff:ffff:ffff:ffff');

  const d = explain('Mail.Evil.Example.', ctx);
  assert.equal(d.key, 'mail.evil.example');
  assert.deepEqual(d.answer, { zone: 'dbl', a: ['127.0.1.2'], txt: 'Listed by dnsbl.internal (sources: psbl); see https://dnsbl.example.org/lookup?q=mail.evil.example', wl: null, wlTxt: null });
  assert.deepEqual(d.sources.map((s) => s.entry), ['*.evil.example']);
  const g = explain('google.com', ctx);
  assert.equal(g.block, false);
  assert.equal(g.protectedBy, 'google.com');
  assert.equal(explain('127.0.0.2', ctx).test, true);
  // Bad keys are InputErrors on field `key` saying what is wrong; the rules are the override keys'.
  const bad = (k: string, why: RegExp) => assert.throws(() => explain(k, ctx), (e: unknown) => e instanceof InputError && e.field === 'key' && why.test(e.message));
  bad('not a key!', /^key "not a key!" contains blanks/);
  bad('192.0.2.0/24', /a single address is expected here, not a CIDR/);
  bad('1:2:3', /not a valid IPv6 address/);
  bad('1.2.3.256', /256 is not an octet/);
  bad('01.2.3.4', /leading zeros/);
  bad('a..b', /empty label/);
  bad('', /key is empty/);
  assert.equal(explain('BÜCHER.de.', ctx).key, 'xn--bcher-kva.de', 'IDNs as punycode, like override keys');
});

test('explain equals the DNS answer over 12k random keys (listed, unlisted, providers, overrides, reputation, test points)', () => {
  const r = rng(4242);
  const BASE = 0x0a000000; // keys in 10.0.0.0/16 so that sources overlap densely
  const SPAN = 1 << 16;
  const pick = (n: number) => Math.floor(r() * n);
  const names = Array.from({ length: 400 }, (_, i) => `d${i}.example`);
  const sources = Array.from({ length: 5 }, (_, s) => {
    const b = new RangeBuilder4();
    for (let i = 0; i < 3000; i++) {
      const x = BASE + pick(SPAN);
      b.add(x, r() < 0.1 ? Math.min(BASE + SPAN - 1, x + pick(64)) : x);
    }
    const b6 = new RangeBuilder6();
    for (let i = 0; i < 50; i++) b6.addWords(0x20010db8, 0, 0, pick(256), 0x20010db8, 0, 0, pick(256));
    const domains = new Set<string>();
    for (let i = 0; i < 100; i++) domains.add(r() < 0.2 ? `*.${names[pick(names.length)]}` : names[pick(names.length)]!);
    if (s === 0) domains.add('*.linkedin.com');
    return { name: `src${s}`, weight: [1, 0.5, 0.5, 2, 0.25][s]!, v4: b.build(), v6: b6.build(), domains: [...domains].sort() };
  });
  const providers = [
    { name: 'microsoft-365', v4: set4(['10.0.16.0/20', '10.0.200.0/22']), v6: set6(['2001:db8::80/121']) },
    { name: 'google', v4: set4(['10.0.18.0/23', '10.0.100.0/24']), v6: emptyRangeSet6() },
  ];
  const overlay = new MapOverlay();
  const facts = (): LocalFacts => {
    const x = r();
    return x < 0.3 ? deny(pick(1000)) : x < 0.6 ? allow(pick(1000)) : x < 0.8 ? score(r() * 8) : { ...deny(pick(1000)), score: r() * 8 };
  };
  for (let i = 0; i < 2000; i++) overlay.set4(ip4Dotted(BASE + pick(SPAN)), facts());
  for (let i = 0; i < 20; i++) overlay.set6(`2001:db8::${pick(256).toString(16)}`, facts());
  for (let i = 0; i < 60; i++) overlay.setDomain(r() < 0.8 ? names[pick(names.length)]! : `x.${names[pick(names.length)]}`, facts());
  const view = new MergeView(buildEvidence({ sources, providers, serial: 99 }), { ...POLICY, weights: [1, 0.5, 0.5, 2, 0.25] }, overlay);
  const { bl, wl, dbl } = mergedDatasets(view, { ...TXT, ttl: 60 });
  const ctx: ExplainContext = { view, txt: TXT, sources: sources.map((s) => ({ ...s, lastSuccess: NOW })), now: NOW };

  const seen = { block: 0, pass: 0, wl: 0, provider: 0, override: 0, domain: 0, ip6: 0 };
  for (let i = 0; i < 12000; i++) {
    const x = r();
    let key: string;
    if (x < 0.005) key = ['127.0.0.2', '127.0.0.1', '::ffff:7f00:2', '::ffff:7f00:1', 'test', 'invalid'][pick(6)]!;
    else if (x < 0.7) key = ip4Dotted(BASE + pick(SPAN));
    else if (x < 0.8) key = formatIp6(Uint8Array.of(0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, pick(256)));
    else if (x < 0.82) key = `::ffff:${ip4Dotted(BASE + pick(SPAN))}`;
    else if (x < 0.97) key = (r() < 0.3 ? 'x.' : '') + names[pick(names.length)]!;
    else key = ['www.linkedin.com', 'mail.google.com', 'linkedin.com'][pick(3)]!;
    const m = explain(key, ctx);
    if (m.kind === 'domain') {
      seen.domain++;
      const got = ask(dbl, m.key);
      assert.deepEqual({ found: got.found, a: got.a, txt: got.txt }, { found: m.block || view.hasDomainBelow(m.key), a: m.answer.a, txt: m.answer.txt ? [m.answer.txt] : [] }, `dbl ${key}`);
    } else {
      if (m.kind === 'ip6') seen.ip6++;
      const got = ask(bl, key);
      assert.deepEqual({ found: got.found, a: got.a }, { found: m.block, a: m.answer.a }, `bl ${key}`);
      if (m.block) assert.deepEqual(got.txt, [m.answer.txt], `bl TXT ${key}`);
      const w = ask(wl, key);
      assert.deepEqual({ found: w.found, a: w.a }, { found: m.answer.wl !== null, a: m.answer.wl ? [m.answer.wl] : [] }, `wl ${key}`);
      if (m.answer.wl) seen.wl++;
      if (m.class.providers.length) seen.provider++;
    }
    if (m.block) seen.block++;
    else seen.pass++;
    if (m.override) seen.override++;
  }
  // the sample really mixes the cases
  for (const [k, n] of Object.entries(seen)) assert.ok(n >= 100, `${k}: ${n}`);
});

test('three spam reports of weight 1 reach a bar of 3: the DNS answer and explain agree, scores rounded to 2 decimals', () => {
  const clock = new Clock(NOW);
  const store = new LocalStore(tmpDb().db, { reputation: { half_life: 7 * 86400, cap: 10 }, now: clock.now });
  for (let i = 0; i < 3; i++) {
    if (i) clock.advance(10_000); // reports 10 s apart: decay leaves 2.9999...
    store.report({ key: '192.0.2.77', kind: 'spam', reporter: 'mx1' });
  }
  clock.advance(1000);
  const raw = store.overlay.lookupKey('192.0.2.77').score;
  assert.ok(raw < 3 && raw > 2.999, `the raw score ${raw} is a hair under 3`);
  const evidence = buildEvidence({ sources: [{ name: 'spamcop', weight: 1, v4: set4(['198.51.100.1']), v6: emptyRangeSet6(), domains: [] }], providers: [], serial: 7 });
  const view = new MergeView(evidence, POLICY, store.overlay);
  const { bl } = mergedDatasets(view, { ...TXT, ttl: 60 });
  const ctx: ExplainContext = { view, txt: TXT, now: clock.t };
  const m = explain('192.0.2.77', ctx);
  assert.equal(m.block, true);
  assert.deepEqual(m.answer.a, ['127.0.0.4']);
  assert.deepEqual(ask(bl, '192.0.2.77').a, ['127.0.0.4'], 'the DNS answer lists it too');
  assert.equal(m.reputation.score, 3);
  assert.ok(m.arithmetic.includes('local score 3.0 >= bar 3.0'), m.arithmetic.join('\n'));
  assert.match(formatExplanation(m), /reputation score 3\.00\n/);

  // A day later the decayed sum is 2.72: below the bar, in DNS and in explain alike.
  clock.advance(86400_000);
  const later = explain('192.0.2.77', { ...ctx, now: clock.t });
  assert.equal(later.block, false);
  assert.equal(ask(bl, '192.0.2.77').found, false);
  assert.equal(later.reputation.score, 2.72);
  assert.ok(later.arithmetic.includes('local score 2.72 < bar 3.0'), later.arithmetic.join('\n'));
  store.close();
});
