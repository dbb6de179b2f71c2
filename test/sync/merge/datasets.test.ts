import { test } from 'node:test';
import assert from 'node:assert/strict';
import { emptyRangeSet4, emptyRangeSet6 } from '../../../core/ranges.ts';
import { mergedDatasets } from '../../../sync/merge/datasets.ts';
import { buildEvidence, evidenceFromSnapshot } from '../../../sync/merge/evidence.ts';
import { MergeView } from '../../../sync/merge/evaluate.ts';
import type { EvidenceInputs, OverlayView } from '../../../sync/merge/types.ts';
import { MapOverlay, POLICY, ask, deny, allow, score, set4, set6 } from './helpers.ts';
import { makeQuery } from '../../../core/query.ts';
import { Overlay } from '../../../sync/local/overlay.ts';
import { nextSerial } from '../../../sync/merge/serial.ts';
import type { Dataset } from '../../../core/datasets/types.ts';

const inputs: EvidenceInputs = {
  sources: [
    { name: 'psbl', weight: 1, v4: set4(['192.0.2.1', '192.0.2.2', '40.107.20.108']), v6: set6(['2001:db8::1']), domains: ['evil.example', 'google.com'] },
    { name: 'spamhaus-drop', weight: 2, v4: set4(['192.0.2.0/30']), v6: emptyRangeSet6(), domains: ['evil.example'] },
  ],
  providers: [{ name: 'microsoft-365', v4: set4(['40.107.0.0/16']), v6: emptyRangeSet6() }],
  serial: 7,
};

function zones(overlay: OverlayView | null = null, lookupUrl: string | null = 'https://dnsbl.example.org/lookup?q=$') {
  const view = new MergeView(buildEvidence(inputs), POLICY, overlay);
  return { view, ...mergedDatasets(view, { base: 'dnsbl.internal', lookupUrl, ttl: 300 }) };
}

test('bl: one A per reason and one TXT naming the sources and the lookup URL', () => {
  const { bl } = zones();
  assert.deepEqual(ask(bl, '192.0.2.1'), {
    found: true,
    a: ['127.0.0.2', '127.0.0.3'],
    txt: ['Listed by dnsbl.internal (sources: psbl, spamhaus-drop); see https://dnsbl.example.org/lookup?q=192.0.2.1'],
  });
  assert.deepEqual(ask(bl, '192.0.2.3').a, ['127.0.0.2']);
  assert.deepEqual(ask(bl, '192.0.2.3', 'A'), { found: true, a: ['127.0.0.2'], txt: [] });
  assert.deepEqual(ask(bl, '192.0.2.3', 'TXT').a, []);
  assert.equal(ask(bl, '192.0.2.3', 'AAAA').found, true, 'listed name, other type: NODATA');
  assert.deepEqual(ask(bl, '192.0.2.9'), { found: false, a: [], txt: [] });
  assert.deepEqual(ask(bl, '2001:db8::1').a, ['127.0.0.2']);
  assert.equal(ask(bl, '2001:db8::1').txt[0], 'Listed by dnsbl.internal (sources: psbl); see https://dnsbl.example.org/lookup?q=2001:db8::1');
  assert.equal(ask(bl, '2001:db8::2').found, false);
  assert.equal(ask(bl, '40.107.20.108').found, false, 'provider exempt');
});

test('TXT without a lookup URL, for local reasons, and capped at 255 bytes with many long source names', () => {
  const o = new MapOverlay().set4('203.0.113.5', { score: 9, override: { action: 'deny', id: 1, reason: 'internal ticket 4711, Bob says', key: '203.0.113.5' } });
  const { bl } = zones(o, null);
  const r = ask(bl, '203.0.113.5');
  assert.deepEqual(r.a, ['127.0.0.4', '127.0.0.5']);
  assert.deepEqual(r.txt, ['Listed by dnsbl.internal (local reports; local policy)'], 'no reason, reporter or score leaks');
  const many: EvidenceInputs = {
    sources: Array.from({ length: 32 }, (_, i) => ({ name: `a-rather-long-source-name-number-${i}`, weight: 1, v4: set4(['192.0.2.1']), v6: emptyRangeSet6(), domains: ['x'.repeat(60) + '.example'] })),
    providers: [],
  };
  const view = new MergeView(buildEvidence(many), POLICY);
  const { bl: bl2, dbl } = mergedDatasets(view, { base: 'dnsbl.internal', lookupUrl: 'https://dnsbl.example.org/a/very/long/lookup/path/for/the/listing?key=$&from=quorumbl', ttl: 60 });
  const t = ask(bl2, '192.0.2.1').txt[0]!;
  assert.ok(t.length <= 255, `${t.length} bytes`);
  assert.match(t, /^Listed by dnsbl.internal \(sources: a-rather-long-source-name-number-0, .* \+\d+ more\); see https:/);
  const long = 'x'.repeat(60) + '.example';
  const lbl = ask(dbl, `${'y'.repeat(63)}.${'z'.repeat(63)}.${long}`);
  assert.equal(lbl.found, false);
  const d = ask(dbl, long).txt[0]!;
  assert.ok(d.length <= 255);
});

test('RFC 5782 test points: 127.0.0.2 and ::ffff:7f00:2 listed with .2, 127.0.0.1 never; test / invalid in dbl', () => {
  const o = new MapOverlay().set4('127.0.0.1', deny()).setDomain('invalid', deny());
  const { bl, wl, dbl } = zones(o);
  assert.deepEqual(ask(bl, '127.0.0.2').a, ['127.0.0.2']);
  assert.deepEqual(ask(bl, '::ffff:7f00:2').a, ['127.0.0.2']);
  assert.match(ask(bl, '127.0.0.2').txt[0]!, /^Listed by dnsbl.internal \(RFC 5782 test point\)/);
  assert.equal(ask(bl, '127.0.0.1').found, false, 'even with a deny override');
  assert.equal(ask(bl, '::ffff:7f00:1').found, false);
  assert.deepEqual(ask(dbl, 'test').a, ['127.0.1.2']);
  assert.equal(ask(dbl, 'invalid').found, false);
  assert.deepEqual(ask(wl, '127.0.0.2').a, ['127.0.10.0'], 'its own code: not the manual-allow 127.0.10.1 an MTA weights negatively');
  assert.deepEqual(ask(wl, '::ffff:7f00:2').a, ['127.0.10.0']);
  assert.equal(ask(wl, '127.0.0.1').found, false);
});

test('wl: provider ranges .10.2, manual allow .10.1, both .10.3; nothing for blocked keys', () => {
  const o = new MapOverlay().set4('40.107.1.1', allow()).set4('198.51.100.7', allow()).set4('40.107.1.2', deny());
  const { wl, bl } = zones(o);
  assert.deepEqual(ask(wl, '40.107.20.108'), { found: true, a: ['127.0.10.2'], txt: ['Allowed by dnsbl.internal (provider: microsoft-365)'] });
  assert.deepEqual(ask(wl, '40.107.1.1').a, ['127.0.10.3']);
  assert.deepEqual(ask(wl, '198.51.100.7'), { found: true, a: ['127.0.10.1'], txt: ['Allowed by dnsbl.internal (local policy)'] });
  assert.equal(ask(wl, '40.107.1.2').found, false);
  assert.deepEqual(ask(bl, '40.107.1.2').a, ['127.0.0.5']);
  assert.equal(ask(wl, '192.0.2.1').found, false);
});

test('dbl: policy codes in 127.0.1.x, protected domains left out', () => {
  const o = new MapOverlay().setDomain('phish.example', score(3));
  const { dbl } = zones(o);
  assert.deepEqual(ask(dbl, 'evil.example'), { found: true, a: ['127.0.1.2', '127.0.1.3'], txt: ['Listed by dnsbl.internal (sources: psbl, spamhaus-drop); see https://dnsbl.example.org/lookup?q=evil.example'] });
  assert.equal(ask(dbl, 'google.com').found, false);
  assert.deepEqual(ask(dbl, 'phish.example').a, ['127.0.1.4']);
  assert.equal(ask(dbl, 'sub.evil.example').found, false, 'no wildcard: only the name itself');
});

test('an empty overlay is not consulted; an override shows in the next answer without a rebuild', () => {
  const o = new MapOverlay();
  o.lookup4 = () => {
    throw new Error('an empty overlay must not be asked');
  };
  const { bl, view } = zones(o);
  assert.deepEqual(ask(bl, '192.0.2.3').a, ['127.0.0.2']);
  const o2 = new MapOverlay().set4('192.0.2.3', allow()).set4('198.51.100.1', deny());
  view.setOverlay(o2);
  assert.equal(ask(bl, '192.0.2.3').found, false);
  assert.deepEqual(ask(bl, '198.51.100.1').a, ['127.0.0.5']);
  assert.ok(o2.lookups > 0);
});

test('snapshot holds the evidence; the view swaps to new evidence atomically', () => {
  const { bl, view } = zones();
  const part = bl.snapshot();
  assert.equal(part.type, 'merged-bl');
  const restored = evidenceFromSnapshot(part.children![0]!);
  assert.equal(restored.serial, 7);
  view.setEvidence(buildEvidence({ sources: [{ name: 'psbl', weight: 1, v4: set4(['198.51.100.1']), v6: emptyRangeSet6(), domains: [] }], providers: [], serial: 8 }));
  assert.equal(ask(bl, '192.0.2.1').found, false);
  assert.deepEqual(ask(bl, '198.51.100.1').a, ['127.0.0.2']);
  const lines: string[] = [];
  bl.dump('bl.dnsbl.internal', (l) => lines.push(l));
  assert.deepEqual(lines, ['$TTL 300', '2.0.0.127\tA\t127.0.0.2', '1.100.51.198\tA\t127.0.0.2\t; 198.51.100.1-198.51.100.1']);
  void emptyRangeSet4;
});

/** found = NOERROR (NODATA when no records), not found = NXDOMAIN; raw labels below the zone. */
function found(ds: Dataset, name: string): boolean {
  const sink = { wantA: true, wantTxt: true, qtype: 255, a: () => {}, txt: () => {}, mx: () => {} };
  return ds.query(makeQuery(name === '' ? [] : name.split('.'), 255, false), sink);
}

test('empty non-terminals: every proper prefix of an address name in bl/wl, parents of listed names in dbl', () => {
  const { bl, wl, dbl } = zones();
  for (const ds of [bl, wl]) {
    for (const ent of ['127', '0.127', '0.0.127', '255.255.255', '001.0', '2', '0.2', '0.0.2', '1.0.0.2', 'b.d.0.1.0.0.2', 'F.e.d.c.b.a.9.8.7.6.5.4.3.2.1.0.f.e.d.c.b.a.9.8.7.6.5.4.3.2.1']) {
      assert.equal(found(ds, ent), true, `${ds.type} ${ent}: NODATA`);
    }
    // Not a prefix of any address name: NXDOMAIN as before.
    for (const nx of ['256', 'x.127', '1.0.0.0.127', '1.0.0.127', '0001', '12.0.0.0.0', 'g', '0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0']) {
      assert.equal(found(ds, nx), false, `${ds.type} ${nx}: NXDOMAIN`);
    }
  }
  assert.equal(found(bl, '2.0.0.127'), true);
  // dbl: evil.example is listed, so example is an empty non-terminal; google.com has nothing below.
  assert.equal(found(dbl, 'example'), true);
  assert.equal(found(dbl, 'com'), false, 'google.com is protected: the entry lists nothing, so com is no parent of a listing');
  assert.equal(found(dbl, 'org'), false);
  assert.equal(found(dbl, 'other.example'), false);
});

test('dbl empty non-terminals follow wildcard entries and overlay keys (overrides, reports)', () => {
  const w: EvidenceInputs = { sources: [{ name: 's', weight: 1, v4: emptyRangeSet4(), v6: emptyRangeSet6(), domains: ['*.spam.example.net', 'a.b.c.example.org'] }], providers: [] };
  const overlay = new Overlay(
    [{ id: 1, kind: 'domain', key: 'mail.bad.example.com', action: 'deny', reason: 'r', author: 'a', created: 0, expires: null } as never],
    [{ keyKind: 'domain', key: 'phish.example.info', score: 5, at: Date.now(), events: 2 } as never],
    { halfLife: 86400 },
  );
  const view = new MergeView(buildEvidence(w), POLICY, overlay);
  const { dbl } = mergedDatasets(view, { base: 'dnsbl.internal', lookupUrl: null, ttl: 60 });
  for (const ent of ['net', 'example.net', 'spam.example.net', 'org', 'example.org', 'c.example.org', 'b.c.example.org', 'com', 'example.com', 'bad.example.com', 'info', 'example.info']) {
    assert.equal(found(dbl, ent), true, `${ent}: NODATA`);
  }
  assert.equal(found(dbl, 'x.spam.example.net'), true, 'listed by the wildcard');
  assert.equal(found(dbl, 'mail.bad.example.com'), true, 'denied');
  for (const nx of ['other.net', 'x.a.b.c.example.org', 'd.example.org', 'x.mail.bad.example.com', 'good.example.com', 'invalid']) {
    assert.equal(found(dbl, nx), false, `${nx}: NXDOMAIN`);
  }
  // A policy change re-indexes: protecting example.org unlists a.b.c.example.org, so its parents go.
  view.setPolicy({ ...POLICY, protectedDomains: ['example.org'] });
  assert.equal(found(dbl, 'c.example.org'), false);
  assert.equal(found(dbl, 'example.net'), true);
});

test('SOA serial: the zones carry the view as a live serial that rises with each swap and never goes back', () => {
  const { bl, view } = zones();
  assert.equal(bl.meta.liveSerial, undefined, 'no SOA given, no serial');
  const withSoa = mergedDatasets(view, { base: 'b', lookupUrl: null, ttl: 60, meta: { soa: { ttl: 60, mname: 'a', rname: 'b', serial: 0, refresh: 1, retry: 1, expire: 1, minimum: 60 } } });
  assert.equal(withSoa.bl.meta.liveSerial, view);
  const s0 = view.serial;
  view.setOverlay(new MapOverlay());
  const s1 = view.serial;
  view.setPolicy(POLICY);
  const s2 = view.serial;
  view.setEvidence(buildEvidence(inputs));
  const s3 = view.serial;
  assert.ok(s0 < s1 && s1 < s2 && s2 < s3, `${s0} ${s1} ${s2} ${s3}`);
  assert.equal(nextSerial(0, 1_800_000_000), 1_800_000_000);
  assert.equal(nextSerial(1_800_000_005, 1_800_000_000), 1_800_000_006, 'a serial ahead of the clock still rises');
  assert.equal(nextSerial(1_700_000_000, 1_800_000_000), 1_800_000_000, 'after a restart: the clock');
});

test('dbl parents of a big source are indexed between packets: NODATA for every name meanwhile, then exact', async () => {
  const domains = Array.from({ length: 60_000 }, (_, i) => `d${i}.big${i % 10}.example`).sort();
  const view = new MergeView(buildEvidence({ sources: [{ name: 's', weight: 1, v4: emptyRangeSet4(), v6: emptyRangeSet6(), domains }], providers: [] }), POLICY);
  assert.equal(view.hasDomainBelow('unrelated.test'), true, 'still indexing: NODATA hides nothing');
  for (let i = 0; i < 10_000 && view.hasDomainBelow('unrelated.test'); i++) await new Promise((r) => setImmediate(r));
  assert.equal(view.hasDomainBelow('unrelated.test'), false, 'indexed');
  assert.equal(view.hasDomainBelow('big7.example'), true);
  assert.equal(view.hasDomainBelow('example'), true);
  assert.equal(view.hasDomainBelow('d7.big7.example'), false);
});
