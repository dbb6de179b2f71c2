import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseSource } from '../../core/formats/index.ts';
import { checkGuards, statsOf, FORBIDDEN_V4, FORBIDDEN_V6, fmtPct, type GuardConfig, type ParsedLike, type SourceStats } from '../../sync/guards.ts';

// ---- a tiny local builder of parsed sources (independent of core/ranges.ts) ----------------------

function ip4(s: string): number {
  const o = s.split('.').map(Number);
  return ((o[0]! << 24) | (o[1]! << 16) | (o[2]! << 8) | o[3]!) >>> 0;
}

function range4(text: string): [number, number] {
  if (text.includes('-')) {
    const [a, b] = text.split('-') as [string, string];
    return [ip4(a), ip4(b)];
  }
  const [a, bits] = text.split('/') as [string, string | undefined];
  const n = bits === undefined ? 32 : Number(bits);
  const size = 2 ** (32 - n);
  const s = ip4(a);
  return [s, s + size - 1];
}

function ip6(text: string): bigint {
  const [head, tail] = text.includes('::') ? text.split('::') as [string, string] : [text, undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  return groups.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g, 16)), 0n);
}

function range6(text: string): [bigint, bigint] {
  const [a, bits] = text.split('/') as [string, string | undefined];
  const n = bits === undefined ? 128 : Number(bits);
  const s = ip6(a);
  return [s, s + (1n << BigInt(128 - n)) - 1n];
}

function words(x: bigint, out: Uint32Array, o: number): void {
  for (let w = 0; w < 4; w++) out[o + w] = Number((x >> BigInt((3 - w) * 32)) & 0xffffffffn);
}

/** A ParsedSource-shaped object from CIDR / a-b texts; ranges sorted and merged like the parser's. */
function parsed(opts: { v4?: string[]; v6?: string[]; domains?: string[]; lines?: number; entries?: number; errors?: number; tooWide?: number; sampleErrors?: { line: number; message: string }[] }): ParsedLike {
  const r4 = (opts.v4 ?? []).map(range4).sort((a, b) => a[0] - b[0]);
  const m4: [number, number][] = [];
  for (const [s, e] of r4) {
    const last = m4[m4.length - 1];
    if (last && s <= last[1] + 1) last[1] = Math.max(last[1], e);
    else m4.push([s, e]);
  }
  const r6 = (opts.v6 ?? []).map(range6).sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const m6: [bigint, bigint][] = [];
  for (const [s, e] of r6) {
    const last = m6[m6.length - 1];
    if (last && s <= last[1] + 1n) last[1] = last[1] > e ? last[1] : e;
    else m6.push([s, e]);
  }
  const s6 = new Uint32Array(m6.length * 4);
  const e6 = new Uint32Array(m6.length * 4);
  m6.forEach(([s, e], i) => { words(s, s6, i * 4); words(e, e6, i * 4); });
  const entries = opts.entries ?? (opts.v4?.length ?? 0) + (opts.v6?.length ?? 0) + (opts.domains?.length ?? 0);
  return {
    v4: { start: Uint32Array.from(m4.map((r) => r[0])), end: Uint32Array.from(m4.map((r) => r[1])) },
    v6: { start: s6, end: e6 },
    domains: [...(opts.domains ?? [])].sort(),
    lines: opts.lines ?? entries + (opts.errors ?? 0),
    entries,
    errors: opts.errors ?? 0,
    tooWide: opts.tooWide ?? 0,
    sampleErrors: opts.sampleErrors ?? [],
  };
}

/** n distinct single addresses in 203.0.113.0/24 onwards (documentation space and beyond). */
function singles(n: number, base = '198.18.0.0'): string[] {
  const b = ip4(base);
  return Array.from({ length: n }, (_, i) => {
    const x = b + i * 2; // not adjacent, so they stay separate ranges
    return `${x >>> 24}.${(x >>> 16) & 255}.${(x >>> 8) & 255}.${x & 255}`;
  });
}

const CFG: GuardConfig = { maxErrorRatio: 0.05, maxShrink: 0.5, maxGrow: 3, worldShareFactor: 10, requireTestPoint: false };

function reasons(stats: SourceStats, last: SourceStats | null, cfg: Partial<GuardConfig> = {}): string[] {
  const r = checkGuards(stats, last, { ...CFG, ...cfg });
  return r.ok ? [] : r.reasons;
}

// ---- statsOf ------------------------------------------------------------------------------------

test('statsOf counts covered IPv4 addresses and the widest block', () => {
  const s = statsOf(parsed({ v4: ['192.0.2.1', '198.51.100.0/24', '203.0.113.0/25', '8.8.8.0-8.8.9.127'] }));
  assert.equal(s.kind, 'ip');
  assert.equal(s.entries, 4);
  assert.equal(s.addresses4, 1 + 256 + 128 + 384);
  assert.equal(s.widest4, 24); // 8.8.8.0-8.8.9.127 holds a /24 and a /25: /24 is the widest
  assert.equal(s.widest6, null);
  assert.equal(s.addresses6Log2, undefined);
  assert.deepEqual(s.forbidden, []);
  assert.equal(s.testPoint, false);
});

test('statsOf: widest block of unaligned ranges, and of the whole space', () => {
  assert.equal(statsOf(parsed({ v4: ['10.0.0.1-10.0.0.2'] })).widest4, 32);
  assert.equal(statsOf(parsed({ v4: ['1.0.0.1-1.0.2.0'] })).widest4, 24);
  const all = statsOf(parsed({ v4: ['0.0.0.0/0'] }));
  assert.equal(all.widest4, 0);
  assert.equal(all.addresses4, 2 ** 32);
});

test('statsOf measures IPv6 coverage as log2 and the widest IPv6 block', () => {
  const s = statsOf(parsed({ v6: ['2001:db8::/32', '2001:db9::1'] }));
  assert.equal(s.widest6, 32);
  assert.ok(Math.abs(s.addresses6Log2! - 96) < 1e-9);
  assert.equal(s.addresses4, 0);
});

test('statsOf finds the test point: 127.0.0.2, ::ffff:127.0.0.2, or "test" for domain lists', () => {
  assert.equal(statsOf(parsed({ v4: ['127.0.0.2', '192.0.2.1'] })).testPoint, true);
  assert.equal(statsOf(parsed({ v6: ['::ffff:7f00:2'] })).testPoint, true);
  assert.equal(statsOf(parsed({ v4: ['127.0.0.3'] })).testPoint, false);
  const d = statsOf(parsed({ domains: ['example.com', 'test', 'zzz.example'] }));
  assert.equal(d.kind, 'domain');
  assert.equal(d.testPoint, true);
  assert.equal(statsOf(parsed({ domains: ['example.com', 'testing.example'] })).testPoint, false);
  assert.equal(statsOf(parsed({ domains: [] }), { kind: 'domain' }).kind, 'domain');
});

test('statsOf reports every forbidden IPv4 range hit, with the offending entries', () => {
  const hits = (v4: string[]) => statsOf(parsed({ v4 })).forbidden;
  assert.deepEqual(hits(['127.0.0.2']), [], 'the test point alone is allowed');
  assert.deepEqual(hits(['127.0.0.1']), ['127.0.0.0/8 (127.0.0.1)']);
  assert.deepEqual(hits(['127.0.0.2-127.0.0.3']), ['127.0.0.0/8 (127.0.0.3)']);
  assert.deepEqual(hits(['0.0.0.0']), ['0.0.0.0/8 (0.0.0.0)']);
  assert.deepEqual(hits(['10.1.0.0/16', '10.9.9.9', '10.200.0.1']), ['10.0.0.0/8 (10.1.0.0/16, 10.9.9.9 and 1 more)']);
  assert.deepEqual(hits(['172.31.255.255']), ['172.16.0.0/12 (172.31.255.255)']);
  assert.deepEqual(hits(['172.32.0.0', '172.15.255.255']), []);
  assert.deepEqual(hits(['192.168.1.1']), ['192.168.0.0/16 (192.168.1.1)']);
  assert.deepEqual(hits(['100.64.0.0/10']), ['100.64.0.0/10 (100.64.0.0/10)']);
  assert.deepEqual(hits(['100.128.0.0']), []);
  assert.deepEqual(hits(['169.254.169.254']), ['169.254.0.0/16 (169.254.169.254)']);
  assert.deepEqual(hits(['224.0.0.1']), ['224.0.0.0/4 (224.0.0.1)']);
  assert.deepEqual(hits(['255.255.255.255']), ['240.0.0.0/4 (255.255.255.255)']);
  assert.deepEqual(hits(['9.255.255.255', '11.0.0.0', '192.0.2.0/24']), []);
  // A range spanning several forbidden blocks hits each of them.
  assert.equal(hits(['0.0.0.0/0']).length, FORBIDDEN_V4.length);
});

test('statsOf reports forbidden IPv6 ranges; ::ffff:127.0.0.2 is the allowed test point', () => {
  const hits = (v6: string[]) => statsOf(parsed({ v6 })).forbidden;
  assert.deepEqual(hits(['::ffff:7f00:2']), []);
  assert.deepEqual(hits(['::ffff:7f00:1']), ['::ffff:0:0/96 (::ffff:7f00:1)']);
  assert.deepEqual(hits(['::']), ['::/128 (::)']);
  assert.deepEqual(hits(['::1']), ['::1/128 (::1)']);
  assert.deepEqual(hits(['fe80::1']), ['fe80::/10 (fe80::1)']);
  assert.deepEqual(hits(['fd00::/8']), ['fc00::/7 (fd00::/8)']);
  assert.deepEqual(hits(['ff02::1']), ['ff00::/8 (ff02::1)']);
  assert.deepEqual(hits(['2001:db8::/32', '::2', 'fec0::1']), []);
  assert.equal(hits(['::/0']).length, FORBIDDEN_V6.length);
});

test('statsOf carries entries rejected as too wide, with an example line', () => {
  const s = statsOf(parsed({ v4: ['192.0.2.1'], errors: 1, tooWide: 1, sampleErrors: [{ line: 7, message: 'wider than the allowed /8 (covers a /0)' }] }));
  assert.equal(s.tooWide, 1);
  assert.equal(s.tooWideExample, 'line 7: wider than the allowed /8 (covers a /0)');
});

// ---- checkGuards --------------------------------------------------------------------------------

const good = (n: number, extra: Partial<Parameters<typeof parsed>[0]> = {}) => statsOf(parsed({ v4: singles(n), ...extra }));

test('a normal update passes, and so does a first sync with nothing to compare to', () => {
  assert.deepEqual(checkGuards(good(1000), good(900), CFG), { ok: true });
  assert.deepEqual(checkGuards(good(1000), null, CFG), { ok: true });
});

test('parse-error ratio above the limit is rejected with the counts', () => {
  const s = good(900, { errors: 100 });
  assert.deepEqual(reasons(s, null), ['100 of 1,000 data lines could not be parsed (10%), limit 5%']);
  assert.deepEqual(reasons(good(990, { errors: 10 }), null), []);
});

test('shrinking beyond the limit is rejected: entries and covered addresses', () => {
  const r = reasons(good(100), good(1000));
  assert.deepEqual(r, [
    'entries shrank from 1,000 to 100 (-90%), limit -50%',
    'covered IPv4 addresses shrank from 1,000 to 100 (-90%), limit -50%',
  ]);
  assert.deepEqual(reasons(good(600), good(1000)), []);
  // Same entry count but a /16 turned into single addresses: the coverage guard notices.
  const wide = statsOf(parsed({ v4: ['198.18.0.0/16', ...singles(9, '203.0.113.0')] }));
  const narrow = statsOf(parsed({ v4: ['198.18.0.1', ...singles(9, '203.0.113.0')] }));
  assert.deepEqual(reasons(narrow, wide), ['covered IPv4 addresses shrank from 65,545 to 10 (-99.98%), limit -50%']);
});

test('growing beyond the limit is rejected', () => {
  assert.deepEqual(reasons(good(10_000), good(1000)), [
    'entries grew from 1,000 to 10,000 (+900%, x10), limit x3',
    'covered IPv4 addresses grew from 1,000 to 10,000 (+900%, x10), limit x3',
  ]);
  assert.deepEqual(reasons(good(2900), good(1000)), []);
});

test('tiny lists can be exempted from the relative limits with minCompare', () => {
  assert.equal(reasons(good(1), good(4)).length, 2);
  assert.deepEqual(reasons(good(1), good(4), { minCompare: 20 }), []);
});

test('an empty update replacing a non-empty copy is rejected (SORBS shutdown)', () => {
  assert.deepEqual(reasons(good(0), good(41_230)), ['is empty (0 entries) while the last good copy had 41,230 entries']);
  assert.deepEqual(reasons(good(0), good(0)), []);
  assert.deepEqual(reasons(good(0), null), []);
});

test('forbidden ranges are rejected with the ranges named', () => {
  const s = statsOf(parsed({ v4: ['127.0.0.1', '127.0.0.2', '192.0.2.1'] }));
  assert.deepEqual(reasons(s, null), ['lists special-purpose addresses no blocklist may contain: 127.0.0.0/8 (127.0.0.1)']);
});

test('one entry wider than allowed rejects the update although the error ratio is tiny', () => {
  const s = good(10_000, { errors: 1, tooWide: 1, sampleErrors: [{ line: 5000, message: 'wider than the allowed /8 (covers a /0)' }] });
  assert.deepEqual(reasons(s, good(10_000)), ['1 entry is wider than this source may list (line 5000: wider than the allowed /8 (covers a /0))']);
});

test('lists the world: above the absolute ceiling on a first sync', () => {
  const s = statsOf(parsed({ v4: ['11.0.0.0/8', '12.0.0.0/16'] }));
  assert.deepEqual(reasons(s, null), [
    'lists the world: covers 16,842,752 IPv4 addresses (0.4% of the IPv4 space, widest block /8), above the ceiling of 16,777,216 (a /8)',
  ]);
  assert.deepEqual(reasons(statsOf(parsed({ v4: ['11.0.0.0/8'] })), null), []);
  assert.deepEqual(reasons(s, null, { worldCeiling4: 2 ** 25 }), []);
});

test('the whole space listed is rejected for every reason that applies', () => {
  const s = statsOf(parsed({ v4: ['0.0.0.0/0'] }));
  const r = reasons(s, good(1000));
  assert.ok(r.some((x) => x.startsWith('lists special-purpose addresses')));
  assert.ok(r.includes('lists the world: covers 4,294,967,296 IPv4 addresses (100% of the IPv4 space, widest block /0), above the ceiling of 16,777,216 (a /8)'));
});

test('lists the world: far beyond the last good copy, even below the ceiling', () => {
  const before = statsOf(parsed({ v4: ['198.18.0.0/24', '203.0.113.0/24'] }));
  const after = statsOf(parsed({ v4: ['198.18.0.0/16', '203.0.113.0/24'] }));
  // Same 2 entries; coverage x128: the world guard speaks, the plain growth message is not repeated.
  assert.deepEqual(reasons(after, before), ["lists the world: covers 65,792 IPv4 addresses, 129 times the last good copy's 512, limit 10 times"]);
  // Once an operator accepted a copy above the ceiling, only the factor applies.
  const big = statsOf(parsed({ v4: ['11.0.0.0/8', '12.0.0.0/16'] }));
  assert.deepEqual(reasons(big, big), []);
});

test('missing test point is rejected only where the source promises one', () => {
  const without = good(100);
  assert.deepEqual(reasons(without, null), []);
  assert.deepEqual(reasons(without, null, { requireTestPoint: true }), ['the RFC 5782 test point 127.0.0.2 is missing (this source promises it)']);
  assert.deepEqual(reasons(statsOf(parsed({ v4: ['127.0.0.2', ...singles(5)] })), null, { requireTestPoint: true }), []);
  const dom = statsOf(parsed({ domains: ['spam.example'] }));
  assert.deepEqual(reasons(dom, null, { requireTestPoint: true }), ["the RFC 5782 test entry 'test' is missing (this source promises it)"]);
});

test('domain sources: entry shrink/grow apply, address guards do not', () => {
  const d = (n: number) => statsOf(parsed({ domains: Array.from({ length: n }, (_, i) => `d${i}.example`) }));
  assert.deepEqual(reasons(d(100), d(1000)), ['entries shrank from 1,000 to 100 (-90%), limit -50%']);
  assert.deepEqual(reasons(d(1000), d(900)), []);
});

test('percentages never round a real change to 0% or 100%', () => {
  assert.equal(fmtPct(0.5), '50%');
  assert.equal(fmtPct(-0.92), '-92%');
  assert.equal(fmtPct(0.9999), '99.99%');
  assert.equal(fmtPct(-0.9998), '-99.98%');
  assert.equal(fmtPct(0.0039), '0.4%');
  assert.equal(fmtPct(0.00001), '0.001%');
  assert.equal(fmtPct(1), '100%');
});

test('statsOf and the guards on the real parser output: a poisoned plain list is rejected with its lines', () => {
  const buf = Buffer.from('127.0.0.2\n192.0.2.0/24\n10.0.0.1\n0.0.0.0/0\n2001:db8::/32\n::1\n# comment\n');
  const s = statsOf(parseSource(buf, { format: 'plain', kind: 'ip', maxPrefix4: 8, maxPrefix6: 32 }), { kind: 'ip' });
  assert.equal(s.testPoint, true);
  assert.equal(s.addresses4, 1 + 256 + 1);
  const r = checkGuards(s, null, { ...CFG, maxErrorRatio: 0.5, requireTestPoint: true });
  assert.equal(r.ok, false);
  const text = r.ok ? '' : r.reasons.join('\n');
  assert.match(text, /1 entry is wider than this source may list \(line 4: /);
  assert.match(text, /10\.0\.0\.0\/8 \(10\.0\.0\.1\); ::1\/128 \(::1\)/);
});
