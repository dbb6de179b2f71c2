// The shipped baseline (data/providers): every file parses, every default feed has one, its ranges
// agree with the published records the fixtures copy, a broken file is refused with its name, and
// a fetched feed may regroup the baseline's ranges but not empty or halve them.

import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { contains4 } from '../../../core/ranges.ts';
import { baselineFor, baselineResult, BaselineError, loadBaselines, parseBaseline } from '../../../sync/providers/baseline.ts';
import { DEFAULT_PROVIDERS, providerGuard, providerSchema, providersSchema } from '../../../sync/providers/index.ts';
import { finishResult } from '../../../sync/providers/types.ts';
import { tmpDir } from '../fetch/helpers.ts';
import { PROVIDER_FIXTURES } from './dns-server.ts';

const ip = (s: string) => s.split('.').reduce((a, o) => a * 256 + Number(o), 0) >>> 0;
const INC = new URL('../../fixtures/incidents/', import.meta.url).pathname;

test('every default provider feed has a shipped baseline with a date and a source', () => {
  const baselines = loadBaselines();
  assert.equal(baselines.length, 4, baselines.map((b) => b.file).join(', '));
  for (const cfg of providersSchema.parse(undefined)) {
    const b = baselineFor(cfg, baselines);
    assert.ok(b, `no baseline for ${cfg.provider}/${cfg.feed}`);
    assert.equal(b.provider, cfg.provider);
    assert.match(b.date, /^\d{4}-\d{2}-\d{2}$/);
    assert.ok(b.source.length > 5);
    assert.ok(b.ranges.length >= 4);
  }
  assert.equal(DEFAULT_PROVIDERS.length, 4);
});

test('the M365 baseline covers every Microsoft 365 address of the SpamCop-like incident list', () => {
  const b = baselineFor(providerSchema.parse({ provider: 'microsoft365', type: 'm365' }), loadBaselines())!;
  const r = baselineResult(b, 'microsoft365', 'm365-worldwide');
  const m365 = readFileSync(join(INC, 'spamcop-m365.ip4tset'), 'utf8').split('\n').map((l) => l.trim())
    .filter((l) => /^(40\.9[23]|40\.107|52\.10[0-3]|104\.47)\./.test(l));
  assert.ok(m365.length >= 50, `fixture has ${m365.length} M365 addresses`);
  for (const a of m365) assert.ok(contains4(r.v4, ip(a)), `${a} not in the M365 baseline`);
  // the same set the test fixture of the endpoint set 10 (TCP 25) and the static list hold
  const stat = readFileSync(join(INC, 'm365-static.txt'), 'utf8').split('\n').map((l) => l.replace(/#.*/, '').trim()).filter(Boolean);
  assert.deepEqual(r.ranges.map((x) => x.cidr).sort(), stat.sort());
});

test('the SPF baselines hold exactly the ip4/ip6 terms of the published records in the fixture zone', () => {
  const zone = JSON.parse(readFileSync(join(PROVIDER_FIXTURES, 'spf-zone.json'), 'utf8')) as { txt: Record<string, string[]> };
  const terms = (...names: string[]) => names.flatMap((n) => zone.txt[n]![0]!.split(' ').filter((t) => /^ip[46]:/.test(t)).map((t) => t.slice(4))).sort();
  const bs = loadBaselines();
  const of = (domain: string) => baselineFor(providerSchema.parse({ provider: 'x', type: 'spf', domain }), bs)!.ranges.map((r) => r.cidr).sort();
  assert.deepEqual(of('spf.protection.outlook.com'), terms('spf.protection.outlook.com'));
  assert.deepEqual(of('_spf.google.com'), terms('_netblocks.google.com', '_netblocks2.google.com'));
  assert.deepEqual(of('amazonses.com'), terms('amazonses.com'));
});

test('a baseline matches what a feed fetches, not its names; json and static feeds have none', () => {
  const bs = loadBaselines();
  assert.ok(baselineFor(providerSchema.parse({ provider: 'ms', feed: 'mine', type: 'm365', base_url: 'http://127.0.0.1:9' }), bs));
  assert.equal(baselineFor(providerSchema.parse({ provider: 'ms', type: 'm365', instance: 'China' }), bs), null);
  assert.ok(baselineFor(providerSchema.parse({ provider: 'g', type: 'spf', domain: '_SPF.Google.com.' }), bs));
  assert.equal(baselineFor(providerSchema.parse({ provider: 'g', type: 'spf', domain: 'gmail.com' }), bs), null);
  assert.equal(baselineFor(providerSchema.parse({ provider: 'p', type: 'static', cidrs: ['192.0.2.0/24'] }), bs), null);
  assert.equal(baselineFor(providerSchema.parse({ provider: 'aws', type: 'json', url: 'https://ip-ranges.amazonaws.com/ip-ranges.json', paths: ['prefixes[].ip_prefix'] }), bs), null);
});

test('a baseline result takes the feed names, dates its ranges, names the file, has no version', () => {
  const b = baselineFor(providerSchema.parse({ provider: 'google', type: 'spf', domain: '_spf.google.com' }), loadBaselines())!;
  const r = baselineResult(b, 'gmail', 'workspace');
  assert.equal(r.provider, 'gmail');
  assert.equal(r.feed, 'workspace');
  assert.equal(r.version, undefined, 'no version: the first M365 check always downloads');
  assert.equal(r.fetchedAt, Date.parse(`${b.date}T00:00:00Z`));
  assert.deepEqual(r.baseline, { file: 'google-spf.json', date: b.date, source: b.source, title: b.title });
  for (const x of r.ranges) {
    assert.equal(x.feed, 'workspace');
    assert.match(x.detail, new RegExp(`^shipped baseline dated ${b.date} \\(data/providers/google-spf\\.json\\): spf _spf\\.google\\.com > include:_netblocks2?\\.google\\.com$`));
  }
});

test('a broken baseline file is refused with its name and what is wrong', () => {
  const good = readFileSync(new URL('../../../data/providers/amazonses-spf.json', import.meta.url), 'utf8');
  const d = JSON.parse(good);
  const bad = (mut: (x: any) => void, re: RegExp) => {
    const x = structuredClone(d);
    mut(x);
    assert.throws(() => parseBaseline('amazonses-spf.json', JSON.stringify(x)), (e: Error) => e instanceof BaselineError && /amazonses-spf\.json/.test(e.message) && re.test(e.message));
  };
  bad((x) => x.ranges.push({ cidr: '54.240.0.0/33', detail: 'typo' }), /not a CIDR: "54\.240\.0\.0\/33"/);
  bad((x) => (x.date = '2025-13-01'), /"date" must be YYYY-MM-DD/);
  bad((x) => delete x.date, /"date" must be a non-empty string/);
  bad((x) => (x.match = { type: 'json' }), /"match"/);
  bad((x) => (x.ranges = []), /"ranges" must be a non-empty list/);
  bad((x) => (x.format = 2), /format must be 1/);
  assert.throws(() => parseBaseline('x.json', '{'), /x\.json: not JSON/);
  // a directory with a broken file: loadBaselines names it
  const dir = tmpDir('qbl-baseline-');
  writeFileSync(join(dir, 'ok.json'), good);
  writeFileSync(join(dir, 'broken.json'), good.replace('"format": 1', '"format": "1"'));
  assert.throws(() => loadBaselines(dir), /provider baseline broken\.json: format must be 1/);
  assert.throws(() => loadBaselines(join(dir, 'missing')), /cannot read .*missing/);
});

test('the first fetch may regroup the baseline ranges; emptied or halved coverage is refused', () => {
  const b = baselineFor(providerSchema.parse({ provider: 'microsoft365', type: 'spf', domain: 'spf.protection.outlook.com' }), loadBaselines())!;
  const base = baselineResult(b, 'microsoft365', 'spf');
  const fetched = (cidrs: string[]) => finishResult('microsoft365', 'spf', Date.now(), cidrs.map((cidr) => ({ cidr, detail: 'spf' })));
  // 11 ranges -> 5 covering the same addresses or more: accepted against a baseline...
  const regrouped = fetched(['40.92.0.0/15', '40.107.0.0/16', '52.100.0.0/14', '104.47.0.0/17', '2a01:111:f400::/46']);
  assert.deepEqual(providerGuard(base, regrouped, { countRanges: false }), []);
  // ...but refused by the count rule between two fetches (the rule the baseline must not apply)
  assert.match(providerGuard(base, regrouped).join(), /ranges shrank from 11 to 5/);
  assert.match(providerGuard(base, fetched([]), { countRanges: false }).join(), /empty while the shipped baseline had 11 ranges/);
  assert.match(providerGuard(base, fetched(['104.47.0.0/17', '2a01:111:f400::/48', '2a01:111:f403::/48']), { countRanges: false }).join(), /covered IPv4 addresses shrank/);
});
