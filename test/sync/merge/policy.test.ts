import { test } from 'node:test';
import assert from 'node:assert/strict';
import { emptyRangeSet4, emptyRangeSet6 } from '../../../core/ranges.ts';
import { buildEvidence } from '../../../sync/merge/evidence.ts';
import { MergeView } from '../../../sync/merge/evaluate.ts';
import type { Policy, Verdict } from '../../../sync/merge/policy.ts';
import type { EvidenceInputs } from '../../../sync/merge/types.ts';
import { MapOverlay, POLICY, allow, deny, ip, ip6Bytes, score, set4, set6 } from './helpers.ts';

function view(inputs: EvidenceInputs, policy: Partial<Policy> = {}, overlay: MapOverlay | null = null): MergeView {
  return new MergeView(buildEvidence(inputs), { ...POLICY, ...policy }, overlay);
}

const codes = (v: Verdict) => ({ block: v.block, a: v.a.map((x) => `127.${(x >>> 16) & 255}.${(x >>> 8) & 255}.${x & 255}`), wl: v.wl ? `127.0.10.${v.wl & 255}` : null });

const threeSources: EvidenceInputs = {
  sources: [
    { name: 'psbl', weight: 1, v4: set4(['192.0.2.1', '192.0.2.2', '192.0.2.3']), v6: set6(['2001:db8::1']), domains: [] },
    { name: 'spamhaus-drop', weight: 2, v4: set4(['192.0.2.0/30']), v6: emptyRangeSet6(), domains: [] },
    { name: 'weak', weight: 0.5, v4: set4(['198.51.100.1', '198.51.100.2']), v6: set6(['2001:db8::1']), domains: [] },
    { name: 'weak2', weight: 0.5, v4: set4(['198.51.100.2']), v6: emptyRangeSet6(), domains: [] },
  ],
  providers: [],
};

test('weighted sum against the threshold gives .2, the number of sources against consensus gives .3', () => {
  const v = view(threeSources);
  const one = v.eval4(ip('198.51.100.1'));
  assert.deepEqual(codes(one), { block: false, a: [], wl: null });
  assert.ok(one.arithmetic.includes('weak 0.5 = 0.5 < threshold 1.0'), one.arithmetic.join('\n'));
  const two = v.eval4(ip('198.51.100.2'));
  assert.deepEqual(codes(two).a, ['127.0.0.2', '127.0.0.3']);
  assert.ok(two.arithmetic.includes('weak 0.5 + weak2 0.5 = 1.0 >= threshold 1.0'));
  assert.ok(two.arithmetic.includes('2 listing sources >= consensus 2'));
  const drop = v.eval4(ip('192.0.2.0'));
  assert.deepEqual(codes(drop).a, ['127.0.0.2']);
  assert.ok(drop.arithmetic.includes('spamhaus-drop 2.0 = 2.0 >= threshold 1.0'));
  assert.ok(drop.arithmetic.includes('1 listing source < consensus 2'));
  assert.deepEqual(codes(v.eval4(ip('192.0.2.1'))).a, ['127.0.0.2', '127.0.0.3']);
  assert.equal(v.eval4(ip('192.0.2.1')).arithmetic[0], 'psbl 1.0 + spamhaus-drop 2.0 = 3.0 >= threshold 1.0');
  // IPv6 keys go through the same rules
  assert.deepEqual(codes(v.eval6(ip6Bytes('2001:db8::1'))).a, ['127.0.0.2', '127.0.0.3']);
  assert.equal(v.eval6(ip6Bytes('2001:db8::2')).block, false);
});

test('consensus alone lists when the weights do not reach the threshold', () => {
  const v = view(threeSources, { threshold: 10 });
  assert.deepEqual(codes(v.eval4(ip('192.0.2.1'))).a, ['127.0.0.3']);
  assert.equal(v.eval4(ip('192.0.2.0')).block, false);
});

test('policy weights override the build-time weights; a policy change needs no rebuild', () => {
  const v = view(threeSources);
  const e = v.evidence;
  assert.equal(v.eval4(ip('192.0.2.0')).block, true);
  v.setPolicy({ ...POLICY, weights: [1, 0.25, 0.5, 0.5] });
  assert.equal(v.evidence, e, 'same evidence object');
  const after = v.eval4(ip('192.0.2.0'));
  assert.equal(after.block, false);
  assert.ok(after.arithmetic.includes('spamhaus-drop 0.25 = 0.25 < threshold 1.0'));
  v.setPolicy({ ...POLICY, threshold: 0.2, weights: [1, 0.25, 0.5, 0.5] });
  assert.equal(v.eval4(ip('192.0.2.0')).block, true);
});

test('neutral verdicts are memoized per class, facts with an override or a score are not', () => {
  const o = new MapOverlay().set4('192.0.2.2', score(1));
  const v = view(threeSources, {}, o);
  assert.equal(v.eval4(ip('192.0.2.1')), v.eval4(ip('192.0.2.3')), 'same class, same verdict object');
  assert.notEqual(v.eval4(ip('192.0.2.2')), v.eval4(ip('192.0.2.1')));
  assert.ok(v.eval4(ip('192.0.2.2')).arithmetic.includes('local score 1.0 < bar 3.0'));
});

test('local reputation at or above the bar gives .4; a deny override .5; an allow override wins', () => {
  const o = new MapOverlay()
    .set4('203.0.113.1', score(3))
    .set4('203.0.113.2', score(2.9))
    .set4('203.0.113.3', deny(7, '203.0.113.0/24'))
    .set4('192.0.2.1', deny(8, '192.0.2.1'))
    .set4('192.0.2.2', allow(9, '192.0.2.0/29'))
    .set4('192.0.2.3', { score: 4, override: { action: 'allow', id: 10, reason: 'partner', key: '192.0.2.3' } });
  const v = view(threeSources, {}, o);
  const rep = v.eval4(ip('203.0.113.1'));
  assert.deepEqual(codes(rep).a, ['127.0.0.4']);
  assert.ok(rep.arithmetic.includes('local score 3.0 >= bar 3.0'));
  assert.equal(v.eval4(ip('203.0.113.2')).block, false);
  const d = v.eval4(ip('203.0.113.3'));
  assert.deepEqual(codes(d).a, ['127.0.0.5']);
  assert.ok(d.arithmetic.includes('manual deny #7 on 203.0.113.0/24: seen in a phishing run'));
  assert.deepEqual(codes(v.eval4(ip('192.0.2.1'))).a, ['127.0.0.2', '127.0.0.3', '127.0.0.5'], 'one A per reason present');
  const a = v.eval4(ip('192.0.2.2'));
  assert.deepEqual(codes(a), { block: false, a: [], wl: '127.0.10.1' });
  assert.ok(a.arithmetic.some((l) => l.startsWith('manual allow #9') && l.endsWith('(overrides the listing)')));
  assert.deepEqual(codes(v.eval4(ip('192.0.2.3'))), { block: false, a: [], wl: '127.0.10.1' });
});

// sources.md 3.1: a SpamCop-like list holding Microsoft 365 outbound IPs beside genuine spam IPs
const M365 = ['40.92.0.0/15', '40.107.0.0/16', '52.100.0.0/14', '104.47.0.0/17'];
const M365_LISTED = ['40.107.20.108', '40.107.20.127', '40.107.22.41', '40.92.18.103', '40.93.198.108', '52.100.5.17', '52.101.66.23', '52.103.34.90', '104.47.11.201'];
const SPAM = ['192.0.2.66', '198.51.100.14', '203.0.113.250'];
const spamcop: EvidenceInputs = {
  sources: [{ name: 'spamcop', weight: 1, v4: set4(['127.0.0.2', ...M365_LISTED, ...SPAM]), v6: set6(['2a01:111:f400::25']), domains: [] }],
  providers: [{ name: 'microsoft-365', v4: set4(M365), v6: set6(['2a01:111:f400::/48', '2a01:111:f403::/48']) }],
};

test('SpamCop lists Microsoft 365 outbound IPs: not in bl, in wl with the provider code; spam still listed', () => {
  const v = view(spamcop);
  for (const x of M365_LISTED) {
    const r = v.eval4(ip(x));
    assert.deepEqual(codes(r), { block: false, a: [], wl: '127.0.10.2' }, x);
    assert.ok(r.arithmetic.includes('provider microsoft-365 exempt: public sources alone cannot list it'), r.arithmetic.join('\n'));
  }
  for (const x of SPAM) assert.deepEqual(codes(v.eval4(ip(x))), { block: true, a: ['127.0.0.2'], wl: null }, x);
  assert.deepEqual(codes(v.eval6(ip6Bytes('2a01:111:f400::25'))), { block: false, a: [], wl: '127.0.10.2' });
  // an unlisted Microsoft IP is still allow data
  assert.equal(codes(v.eval4(ip('40.107.1.1'))).wl, '127.0.10.2');
});

test('a provider IP is listed by local evidence above the provider bar or by a manual deny, not below', () => {
  const o = new MapOverlay()
    .set4('40.107.20.108', score(5.5))
    .set4('40.107.20.127', score(4))
    .set4('52.100.5.17', deny(3, '52.100.5.17'))
    .set4('40.92.18.103', allow(4, '40.92.0.0/15'));
  const v = view(spamcop, {}, o);
  const hot = v.eval4(ip('40.107.20.108'));
  assert.deepEqual(codes(hot), { block: true, a: ['127.0.0.4'], wl: null });
  assert.ok(hot.arithmetic.includes('local score 5.5 >= provider bar 5.0'));
  const warm = v.eval4(ip('40.107.20.127'));
  assert.deepEqual(codes(warm), { block: false, a: [], wl: '127.0.10.2' }, 'above the normal bar, below the provider bar');
  assert.ok(warm.arithmetic.includes('local score 4.0 < provider bar 5.0'));
  assert.deepEqual(codes(v.eval4(ip('52.100.5.17'))), { block: true, a: ['127.0.0.5'], wl: null });
  assert.deepEqual(codes(v.eval4(ip('40.92.18.103'))), { block: false, a: [], wl: '127.0.10.3' }, 'manual allow and provider: both');
});

test('with provider_exempt off, public sources list provider IPs; wl still names the provider when not blocked', () => {
  const v = view(spamcop, { providerExempt: false });
  assert.deepEqual(codes(v.eval4(ip('40.107.20.108'))), { block: true, a: ['127.0.0.2'], wl: null });
  assert.ok(v.eval4(ip('40.107.20.108')).arithmetic.includes('provider microsoft-365 covers it (exemption off)'));
  assert.deepEqual(codes(v.eval4(ip('40.107.1.1'))), { block: false, a: [], wl: '127.0.10.2' });
});

const domainSources: EvidenceInputs = {
  sources: [
    { name: 'dbl-a', weight: 1, v4: emptyRangeSet4(), v6: emptyRangeSet6(), domains: ['*.linkedin.com', 'evil.example', 'mail.google.com', 'microsoft.com'].sort() },
    { name: 'dbl-b', weight: 1, v4: emptyRangeSet4(), v6: emptyRangeSet6(), domains: ['*.evil.example', 'google.com'].sort() },
  ],
  providers: [],
};

test('protected domains and their subdomains never reach dbl on public sources; local evidence or a deny can list them', () => {
  const o = new MapOverlay().setDomain('mail.google.com', deny(5, 'mail.google.com')).setDomain('www.linkedin.com', score(3.2));
  const v = view(domainSources, {}, o);
  const d = (n: string) => codes(v.evalDomain(n.split('.')));
  for (const n of ['google.com', 'microsoft.com', 'news.linkedin.com']) {
    assert.deepEqual(d(n), { block: false, a: [], wl: null }, n);
    assert.ok(v.evalDomain(n.split('.')).arithmetic.includes('protected domain: public sources alone cannot list it'));
  }
  assert.deepEqual(d('evil.example').a, ['127.0.1.2']);
  assert.deepEqual(d('x.evil.example').a, ['127.0.1.2']);
  assert.deepEqual(d('mail.google.com').a, ['127.0.1.5']);
  assert.deepEqual(d('www.linkedin.com').a, ['127.0.1.4']);
  // protection is by name, not by substring
  assert.equal(v.evalDomain(['notgoogle', 'com']).block, false, 'not listed at all');
  v.setPolicy({ ...POLICY, protectedDomains: [] });
  assert.deepEqual(d('google.com').a, ['127.0.1.2']);
});
