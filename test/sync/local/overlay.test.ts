import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openDb } from '../../../core/db.ts';
import { parseKey } from '../../../sync/local/keys.ts';
import { Overlay } from '../../../sync/local/overlay.ts';
import { Overrides, type Override } from '../../../sync/local/overrides.ts';
import { LocalStore } from '../../../sync/local/store.ts';
import type { OverlayView } from '../../../sync/merge/types.ts';
import { Clock, DAY, HOUR, T0, tmpDb } from './helpers.ts';

const CFG = { half_life: 7 * 86400, cap: 10 };
const ip = (s: string) => s.split('.').reduce((a, o) => a * 256 + Number(o), 0);
const v6 = (s: string) => { const k = parseKey(s, { cidr: false, wildcard: false }); assert.ok(k.kind === 'ip6'); return k.addr; };

let nextId = 1;
function ov(key: string, action: 'allow' | 'deny' = 'deny', expires: number | null = null): Override {
  const k = parseKey(key, { cidr: true, wildcard: true });
  return { id: nextId++, key: k.key, kind: k.kind, action, reason: `r ${key}`, author: 'a', created: T0, expires };
}
const build = (list: Override[], now = T0) => new Overlay(list, [], { halfLife: CFG.half_life, now: () => now });
const keyOf = (o: Overlay, f: (o: Overlay) => { override?: Override }) => f(o).override?.key ?? null;

test('IPv4: the most specific override wins (exact > longer CIDR > shorter)', () => {
  const o = build([ov('10.0.0.0/8'), ov('10.1.0.0/16', 'allow'), ov('10.1.2.0/24'), ov('10.1.2.3', 'allow'), ov('10.1.255.255'), ov('0.0.0.0/0', 'allow'), ov('255.255.255.255')]);
  const at = (s: string) => keyOf(o, (x) => x.lookup4(ip(s)));
  assert.equal(at('10.0.0.1'), '10.0.0.0/8');
  assert.equal(at('10.0.0.0'), '10.0.0.0/8');
  assert.equal(at('10.1.0.0'), '10.1.0.0/16');
  assert.equal(at('10.1.2.2'), '10.1.2.0/24');
  assert.equal(at('10.1.2.3'), '10.1.2.3');
  assert.equal(o.lookup4(ip('10.1.2.3')).override!.action, 'allow');
  assert.equal(at('10.1.2.4'), '10.1.2.0/24');
  assert.equal(at('10.1.3.0'), '10.1.0.0/16');
  assert.equal(at('10.1.255.255'), '10.1.255.255');
  assert.equal(at('10.2.0.0'), '10.0.0.0/8');
  assert.equal(at('10.255.255.255'), '10.0.0.0/8');
  assert.equal(at('11.0.0.0'), '0.0.0.0/0');
  assert.equal(at('0.0.0.0'), '0.0.0.0/0');
  assert.equal(at('255.255.255.254'), '0.0.0.0/0');
  assert.equal(at('255.255.255.255'), '255.255.255.255');
  assert.equal(build([]).lookup4(ip('10.0.0.1')).override, undefined);
  assert.equal(build([ov('192.0.2.0/24')]).lookup4(ip('192.0.3.0')).override, undefined);
});

/** Random nested and disjoint prefixes: the overlay agrees with a brute-force search. */
test('IPv4 and IPv6 lookups agree with brute force over random prefixes', () => {
  let seed = 7;
  const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
  const list4: Override[] = [];
  const seen = new Set<string>();
  for (let i = 0; i < 300; i++) {
    const bits = 8 + rnd(25);
    const a = (0x0a000000 + rnd(1 << 20) * 16) >>> 0; // clustered in 10/8 so prefixes nest
    const net = bits === 32 ? a : a - (a % 2 ** (32 - bits));
    const key = `${net >>> 24}.${(net >>> 16) & 255}.${(net >>> 8) & 255}.${net & 255}/${bits}`;
    const k = parseKey(key, { cidr: true, wildcard: true }).key;
    if (seen.has(k)) continue;
    seen.add(k);
    list4.push(ov(k, rnd(2) ? 'allow' : 'deny'));
  }
  const o = build(list4);
  const nets = list4.map((x) => { const k = parseKey(x.key, { cidr: true, wildcard: true }); assert.ok(k.kind === 'ip4'); return { x, first: k.first, last: k.first + 2 ** (32 - k.bits) - 1, bits: k.bits }; });
  for (let i = 0; i < 5000; i++) {
    const q = i < 2500 ? nets[rnd(nets.length)]!.first + rnd(40) - 20 : (0x0a000000 + rnd(1 << 24)) >>> 0;
    let best: (typeof nets)[0] | undefined;
    for (const n of nets) if (q >= n.first && q <= n.last && (!best || n.bits > best.bits)) best = n;
    assert.equal(o.lookup4(q).override?.id, best?.x.id, `ip ${q}`);
  }

  const list6 = ['2001:db8::/32', '2001:db8:1::/48', '2001:db8:1:2::/64', '2001:db8:1:2::5', '2001:db8:ffff::/48', '::/0', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff']
    .map((k, i) => ov(k, i % 2 ? 'allow' : 'deny'));
  const o6 = build(list6);
  const at6 = (s: string) => o6.lookup6(v6(s)).override?.key ?? null;
  assert.equal(at6('2001:db8::1'), '2001:db8::/32');
  assert.equal(at6('2001:db8:1::1'), '2001:db8:1::/48');
  assert.equal(at6('2001:db8:1:2::4'), '2001:db8:1:2::/64');
  assert.equal(at6('2001:db8:1:2::5'), '2001:db8:1:2::5');
  assert.equal(at6('2001:db8:1:2:ffff:ffff:ffff:ffff'), '2001:db8:1:2::/64');
  assert.equal(at6('2001:db8:1:3::'), '2001:db8:1::/48');
  assert.equal(at6('2001:db8:ffff:ffff::1'), '2001:db8:ffff::/48');
  assert.equal(at6('2001:db9::'), '::/0');
  assert.equal(at6('::'), '::/0');
  assert.equal(at6('ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'), 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff');
});

test('domains: exact beats wildcard, the nearest wildcard wins, *.x never covers x', () => {
  const o = build([ov('example.com', 'allow'), ov('*.example.com'), ov('*.mail.example.com', 'allow'), ov('exact.mail.example.com'), ov('*.zip')]);
  const at = (name: string) => o.lookupDomain(name.split('.')).override?.key ?? null;
  assert.equal(at('example.com'), 'example.com');
  assert.equal(at('a.example.com'), '*.example.com');
  assert.equal(at('a.b.c.example.com'), '*.example.com');
  assert.equal(at('mail.example.com'), '*.example.com');
  assert.equal(at('x.mail.example.com'), '*.mail.example.com');
  assert.equal(at('exact.mail.example.com'), 'exact.mail.example.com');
  assert.equal(at('y.exact.mail.example.com'), '*.mail.example.com');
  assert.equal(at('A.EXAMPLE.Com'), '*.example.com');
  assert.equal(at('zip'), null);
  assert.equal(at('bad.zip'), '*.zip');
  assert.equal(at('example.org'), null);
  assert.equal(at('notexample.com'), null);
  assert.equal(o.lookupKey('*.example.com').override?.key, '*.example.com');
});

test('expired overrides are ignored; the next expiry is recorded', () => {
  const o = build([ov('192.0.2.1', 'deny', T0 - 1), ov('192.0.2.0/24', 'allow', T0 + 2 * HOUR), ov('spam.example', 'deny', T0 + HOUR), ov('x.example')]);
  assert.equal(o.lookup4(ip('192.0.2.1')).override?.key, '192.0.2.0/24');
  assert.equal(o.nextExpiry, T0 + HOUR);
  assert.equal(o.overrides.length, 3);
  assert.equal(build([ov('x.example')]).nextExpiry, null);
});

test('reputation scores: exact key only, decayed at lookup time', () => {
  const { db } = tmpDb();
  const clock = new Clock();
  const store = new LocalStore(db, { reputation: CFG, now: clock.now });
  store.addOverride({ action: 'deny', key: '192.0.2.0/24', reason: 'r', author: 'a' });
  for (let i = 0; i < 4; i++) store.report({ key: '192.0.2.1', kind: 'spam', reporter: 'x' });
  store.report({ key: 'spam.example', kind: 'trap', reporter: 'x' });
  store.report({ key: '2001:db8::1', kind: 'ham', reporter: 'x' });
  const o = store.overlay;
  assert.deepEqual({ ...o.lookup4(ip('192.0.2.1')), override: undefined }, { override: undefined, score: 4, events: 4 });
  assert.equal(o.lookup4(ip('192.0.2.1')).override?.key, '192.0.2.0/24');
  assert.deepEqual(o.lookup4(ip('192.0.2.2')).score, 0);
  assert.equal(o.lookupDomain(['spam', 'example']).score, 2);
  assert.equal(o.lookupDomain(['sub', 'spam', 'example']).score, 0);
  assert.equal(o.lookup6(v6('2001:db8::1')).score, -1);
  clock.advance(7 * DAY);
  assert.equal(o.lookup4(ip('192.0.2.1')).score, 2, 'the same overlay decays with the clock');
  assert.deepEqual(o.size, { overrides: 1, scores: 3 });
});

test('LocalStore: the new overlay is published before the change returns', () => {
  const { db } = tmpDb();
  const seen: number[] = [];
  const store = new LocalStore(db, { reputation: CFG, onChange: (o) => seen.push(o.serial) });
  const before = store.overlay.serial;
  const a = store.addOverride({ action: 'deny', key: '203.0.113.9', reason: 'r', author: 'a' });
  assert.deepEqual(seen, [before + 1]);
  assert.equal(store.overlay.lookup4(ip('203.0.113.9')).override?.id, a.id);
  store.removeOverride(a.id, 'b');
  assert.equal(store.overlay.lookup4(ip('203.0.113.9')).override, undefined);
  assert.equal(seen.length, 2);
  store.close();
});

/** Waits for p, failing after ms (the store's timers are unref'd: this one keeps the test alive). */
async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, rej) => (t = setTimeout(() => rej(new Error(`timed out waiting: ${what}`)), ms)))]);
  } finally {
    clearTimeout(t);
  }
}

test('LocalStore: an override disappears when it expires; changes by another process are picked up', async () => {
  const { db, path } = tmpDb();
  let resolve!: () => void;
  let wanted = (_: Overlay) => false;
  const store = new LocalStore(db, { reputation: CFG, onChange: (o) => { if (wanted(o)) resolve(); } });
  store.watch(20);
  const gone = new Promise<void>((r) => (resolve = r));
  wanted = (o) => o.overrides.length === 0;
  store.addOverride({ action: 'deny', key: '203.0.113.10', reason: 'r', author: 'a', expires: '1s' });
  assert.equal(store.overlay.overrides.length, 1);
  await within(gone, 10_000, 'the expiry rebuild');
  assert.equal(store.overlay.lookup4(ip('203.0.113.10')).override, undefined);

  const other = openDb(path);
  const picked = new Promise<void>((r) => (resolve = r));
  wanted = (o) => o.lookupDomain(['cli', 'example']).override !== undefined;
  new Overrides(other).add({ action: 'allow', key: 'cli.example', reason: 'from the CLI', author: 'root' });
  other.close();
  await within(picked, 10_000, 'the change by another connection');
  store.close();
});

test('LocalStore: many reports update the overlay one key at a time (the layer folds correctly)', () => {
  const { db } = tmpDb();
  const clock = new Clock();
  const store = new LocalStore(db, { reputation: CFG, now: clock.now });
  for (let i = 0; i < 1500; i++) store.report({ key: `10.0.${i >> 8}.${i & 255}`, kind: 'spam', reporter: 'x' });
  store.report({ key: '10.0.0.0', kind: 'spam', reporter: 'x' });
  store.report({ key: '10.0.5.219', kind: 'false-positive', reporter: 'x' });
  store.report({ key: 'd.example', kind: 'ham', reporter: 'x' });
  const o = store.overlay;
  assert.equal(o.lookup4(ip('10.0.0.0')).score, 2);
  assert.equal(o.lookup4(ip('10.0.0.1')).score, 1);
  assert.equal(o.lookup4(ip('10.0.5.219')).score, -1);
  assert.equal(o.lookup4(ip('10.0.5.220')).score, 0);
  assert.equal(o.lookupDomain(['d', 'example']).score, -1);
  // A full rebuild from the database gives the same answers.
  const fresh = store.rebuild();
  for (const a of ['10.0.0.0', '10.0.0.1', '10.0.5.219', '10.0.5.220', '10.0.3.3']) assert.equal(fresh.lookup4(ip(a)).score, o.lookup4(ip(a)).score, a);
  assert.deepEqual(fresh.size, { overrides: 0, scores: 1501 });
});

test('the overlay is the merge\'s OverlayView; isEmpty lets the DNS path skip it', () => {
  const empty: OverlayView = build([]);
  assert.equal(empty.isEmpty?.(), true);
  assert.equal(build([ov('192.0.2.77')]).isEmpty(), false);
  assert.equal(new Overlay([], [{ key: 'x.example', keyKind: 'domain', score: 2, at: T0, events: 1 }], { halfLife: CFG.half_life, now: () => T0 }).isEmpty(), false);
});
