// SPF expansion against a real DNS server (knotd on loopback) serving the fixture zone of
// sources.md section 2.4, extra cases (a/mx, qualifiers, macros, TCP fallback, DNS failures), and
// the real published Microsoft, Google and Amazon SES records.

import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { after, before, describe, test } from 'node:test';
import { contains4 } from '../../../core/ranges.ts';
import { DnsClient, DnsError } from '../../../sync/providers/dns.ts';
import { expandSpf, fetchSpf, type SpfExpansion } from '../../../sync/providers/spf.ts';
import { toolsOrSkip } from '../fetch/helpers.ts';
import { BIG_COUNT, SpfDnsServer } from './dns-server.ts';

const skip = toolsOrSkip(['knotd'], 'knot');

describe('SPF expansion over DNS', { skip }, () => {
  let server: SpfDnsServer;
  before(async () => {
    server = await new SpfDnsServer().start();
  });
  after(async () => {
    await server?.stop();
  });

  const expand = (name: string, over: { maxLookups?: number; maxDepth?: number } = {}): Promise<SpfExpansion> =>
    expandSpf(name, { dns: new DnsClient({ resolver: server.resolver, timeoutMs: 2000 }), ...over });
  const cidrs = (x: SpfExpansion) => x.ranges.map((r) => r.cidr).sort();

  test('example.com: the include chain gives the three netblocks with 3 lookups', async () => {
    const x = await expand('example.com');
    assert.deepEqual(cidrs(x), ['192.0.2.0/24', '198.51.100.0/25', '2001:db8:100::/48']);
    assert.equal(x.lookups, 3);
    assert.equal(x.voidLookups, 0);
    assert.equal(x.wouldPermerror, false);
    assert.deepEqual(x.permerror, []);
    assert.ok(x.ranges.every((r) => !r.lowConfidence));
    const nb1 = x.ranges.find((r) => r.cidr === '192.0.2.0/24')!;
    assert.equal(nb1.detail, 'spf example.com > include:_spf.mailhost.example > include:_nb1.mailhost.example');
  });

  test('redirect.example: same set through redirect=, 3 lookups', async () => {
    const x = await expand('redirect.example');
    assert.deepEqual(cidrs(x), ['192.0.2.0/24', '198.51.100.0/25', '2001:db8:100::/48']);
    assert.equal(x.lookups, 3);
    assert.equal(x.wouldPermerror, false);
  });

  test('redirect= is ignored when the record has an all mechanism', async () => {
    const x = await expand('redirect-with-all.example');
    assert.deepEqual(cidrs(x), ['203.0.113.9/32']);
    assert.equal(x.lookups, 0);
  });

  test('loop-a.example: the include loop is detected and the walk ends', async () => {
    const x = await expand('loop-a.example');
    assert.deepEqual(x.loops, ['loop-a.example -> loop-b.example -> loop-a.example']);
    assert.equal(x.lookups, 2);
    assert.equal(x.wouldPermerror, true);
    assert.deepEqual(x.ranges, []);
  });

  test('twospf.example: two v=spf1 records are a permerror, nothing collected', async () => {
    const x = await expand('twospf.example');
    assert.equal(x.wouldPermerror, true);
    assert.match(x.permerror.join(), /twospf\.example has 2 v=spf1 records/);
    assert.deepEqual(x.ranges, []);
  });

  test('deep.example: all 11 /32s collected, 11 lookups, would permerror, the 11th flagged', async () => {
    const x = await expand('deep.example');
    assert.equal(x.ranges.length, 11);
    for (let i = 1; i <= 11; i++) assert.ok(x.ranges.some((r) => r.cidr === `203.0.113.${i}/32`), `203.0.113.${i}`);
    assert.equal(x.lookups, 11);
    assert.equal(x.wouldPermerror, true);
    assert.deepEqual(x.permerror, []);
    const low = x.ranges.filter((r) => r.lowConfidence).map((r) => r.cidr);
    assert.deepEqual(low, ['203.0.113.11/32']);
    assert.equal(x.ranges.find((r) => r.lowConfidence)!.confidenceNote, 'beyond RFC 7208 lookup limit');
  });

  test('ghost.example: 3 void lookups and includes without SPF: permerror, nothing collected', async () => {
    const x = await expand('ghost.example');
    assert.equal(x.voidLookups, 3);
    assert.equal(x.lookups, 3);
    assert.equal(x.wouldPermerror, true);
    assert.equal(x.permerror.length, 3);
    assert.match(x.permerror[0]!, /include:nx1\.example in ghost\.example: nx1\.example has no SPF record/);
    assert.deepEqual(x.ranges, []);
  });

  test('softfail-range.example: only the + range, the ~ range is excluded', async () => {
    const x = await expand('softfail-range.example');
    assert.deepEqual(cidrs(x), ['203.0.113.128/25']);
    assert.deepEqual(x.excluded, ['203.0.113.0/24 (qualifier ~ in softfail-range.example)']);
  });

  test('-include and ?include contribute nothing; their lookups still count', async () => {
    const x = await expand('minus-include.example');
    assert.deepEqual(cidrs(x), ['203.0.113.7/32']);
    assert.equal(x.lookups, 2);
    assert.ok(x.excluded.some((e) => e.startsWith('192.0.2.0/24')));
    assert.ok(x.excluded.some((e) => e.startsWith('2001:db8:100::/48')));
  });

  test('a and mx are resolved now and flagged dynamic; ~a is excluded', async () => {
    const x = await expand('dynamic.example');
    assert.deepEqual(cidrs(x), ['192.0.2.0/24', '198.51.100.10/32', '198.51.100.200/32', '2001:db8:200::10/128', '2001:db8:300::1/128']);
    const dyn = x.ranges.filter((r) => r.lowConfidence).map((r) => r.cidr).sort();
    assert.deepEqual(dyn, ['192.0.2.0/24', '198.51.100.10/32', '2001:db8:200::10/128', '2001:db8:300::1/128']);
    assert.ok(x.ranges.filter((r) => r.lowConfidence).every((r) => r.confidenceNote === 'dynamic'));
    assert.ok(x.excluded.some((e) => e.startsWith('198.51.100.11/32')));
    assert.equal(x.lookups, 3); // a, mx, ~a
    assert.match(x.ranges.find((r) => r.cidr === '2001:db8:300::1/128')!.detail, /> mx:dynamic\.example \(mx1\.example\)$/);
  });

  test('ptr, exists and macros are recorded as unexpandable, never guessed', async () => {
    const x = await expand('unexpandable.example');
    assert.deepEqual(cidrs(x), ['198.51.100.201/32']);
    assert.equal(x.unexpandable.length, 3);
    assert.match(x.unexpandable.join('\n'), /^ptr in unexpandable\.example/m);
    assert.match(x.unexpandable.join('\n'), /exists:%\{i\}/);
    assert.match(x.unexpandable.join('\n'), /include:%\{d\}\.x\.example .*macro/);
    assert.equal(x.lookups, 3);
  });

  test('include of a name with TXT records but no SPF: permerror', async () => {
    const x = await expand('include-nospf.example');
    assert.deepEqual(x.ranges, []);
    assert.equal(x.voidLookups, 0); // it has TXT records: not void
    assert.match(x.permerror.join(), /txt-not-spf\.example has no SPF record/);
  });

  test('syntax errors and unknown mechanisms are permerrors', async () => {
    assert.match((await expand('bad-syntax.example')).permerror.join(), /bad address/);
    assert.match((await expand('unknown-mech.example')).permerror.join(), /unknown mechanism "foo:bar"/);
  });

  test('the strings of one TXT record are joined', async () => {
    assert.deepEqual(cidrs(await expand('multi-string.example')), ['192.0.2.1/32', '192.0.2.2/32']);
  });

  test('a record too big for UDP is fetched over TCP', async () => {
    const dns = new DnsClient({ resolver: server.resolver });
    const x = await expandSpf('big.example', { dns });
    assert.equal(x.ranges.length, BIG_COUNT);
    assert.equal(dns.exchanges, 2); // the truncated UDP answer, then TCP
  });

  test('safety budget: the walk stops, what was found is kept, the hit is reported', async () => {
    const x = await expand('deep.example', { maxLookups: 5 });
    assert.equal(x.ranges.length, 5);
    assert.match(x.warnings.join(), /safety budget of 5 lookups spent/);
    assert.equal(x.lookups, 11); // still counted like a receiver
  });

  test('safety depth: deeper includes are not expanded', async () => {
    const x = await expand('example.com', { maxDepth: 1 });
    assert.deepEqual(x.ranges, []);
    assert.match(x.warnings.join(), /safety depth of 1 reached/);
  });

  test('a REFUSED answer anywhere in the chain is an error (temperror), not an empty set', async () => {
    await assert.rejects(expand('refused.example'), (e: Error) => e instanceof DnsError && /REFUSED/.test(e.message));
  });

  test('a name without SPF at the top is a permerror', async () => {
    const x = await expand('nothing-here.example');
    assert.match(x.permerror.join(), /nothing-here\.example has no SPF record/);
  });

  test('real published records: Google, gmail.com redirect, Microsoft, Amazon SES', async () => {
    const g = await expand('_spf.google.com');
    assert.equal(g.ranges.filter((r) => r.cidr.includes('.')).length, 11);
    assert.equal(g.ranges.filter((r) => r.cidr.includes(':')).length, 6);
    assert.equal(g.lookups, 2);
    const gm = await expand('gmail.com');
    assert.deepEqual(cidrs(gm), cidrs(g));
    assert.equal(gm.lookups, 3);
    const ms = await expand('spf.protection.outlook.com');
    assert.equal(ms.ranges.length, 11);
    assert.equal(ms.lookups, 0);
    const ses = await expand('amazonses.com');
    assert.equal(ses.ranges.length, 13);
  });

  test('fetchSpf: a feed result with provenance, merged sets and the RFC counters', async () => {
    const r = await fetchSpf({ provider: 'microsoft365', feed: 'spf-outlook', domain: 'spf.protection.outlook.com' }, { stateDir: '/nonexistent', resolver: server.resolver, now: () => 1717200000000 });
    assert.equal(r.provider, 'microsoft365');
    assert.equal(r.ranges.length, 11);
    assert.ok(r.ranges.every((x) => x.provider === 'microsoft365' && x.feed === 'spf-outlook' && x.fetchedAt === 1717200000000));
    assert.equal(r.ranges[0]!.detail, 'spf spf.protection.outlook.com');
    assert.equal(r.lookups, 0);
    assert.equal(r.wouldPermerror, false);
    // 52.100.0.0/15 + 52.102.0.0/16 + 52.103.0.0/17 merge into one range
    assert.equal(r.v4.start.length, 4);
    assert.ok(contains4(r.v4, (40 << 24) | (107 << 16) | (20 << 8) | 108));
    assert.ok(contains4(r.v4, ((52 << 24) | (103 << 16) | (34 << 8) | 90) >>> 0));
    assert.ok(!contains4(r.v4, ((52 << 24) | (103 << 16) | (200 << 8) | 1) >>> 0));
    assert.equal(r.v6.start.length / 4, 4); // f400::/48, f403:0-9fff, f403:c000-dfff, f403:f000-ffff

    const broken = await fetchSpf({ provider: 'x', feed: 'ghost', domain: 'ghost.example' }, { stateDir: '/nonexistent', resolver: server.resolver });
    assert.equal(broken.ranges.length, 0);
    assert.equal(broken.voidLookups, 3);
    assert.match(broken.warnings.join('\n'), /permerror: include:nx1\.example/);
    assert.match(broken.warnings.join('\n'), /3 void lookups/);
  });
});

describe('DNS client failures', () => {
  let mute: Socket;
  let port = 0;
  before(async () => {
    mute = createSocket('udp4');
    await new Promise<void>((r) => mute.bind(0, '127.0.0.1', r));
    port = mute.address().port;
  });
  after(() => mute.close());

  test('a server that never answers: the query fails after its retries', async () => {
    let got = 0;
    mute.on('message', () => got++);
    const dns = new DnsClient({ resolver: { address: '127.0.0.1', port }, timeoutMs: 150, retries: 1 });
    await assert.rejects(dns.query('example.com', 'TXT'), (e: Error) => e instanceof DnsError && /no answer within 150 ms/.test(e.message));
    assert.equal(got, 2);
  });

  test('fetchSpf propagates the failure (the caller keeps its previous ranges)', async () => {
    await assert.rejects(
      fetchSpf({ provider: 'x', feed: 'y', domain: 'example.com' }, { stateDir: '/nonexistent', resolver: { address: '127.0.0.1', port }, timeoutMs: 100 }),
      DnsError,
    );
  });
});
