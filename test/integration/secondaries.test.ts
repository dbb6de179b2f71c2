// Standard secondaries of a real `quorumbl serve` on loopback (issue 12, requirement 6): Knot DNS
// and NSD transfer bl/wl/dbl with TSIG and answer 10,000 random keys (listed, exempt by a
// provider range, unlisted; IPv4, IPv6, domains) exactly as quorumbl does; an override reaches
// them by NOTIFY and an IXFR that holds only the difference; a wrong key and an address outside
// the ACL are refused; Knot configured with nothing but the catalog zone serves bl/wl/dbl and
// follows zones a reload adds and removes.
//
// Harness (knotd/nsd configs, bulk asker, checkSecondary): ./secondaries.ts.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  freePort, ip4Labels, makeTmpDir, poll, runQuorumbl, spawnQuorumbl, stopAll, toolsOrSkip, waitForLog, waitReady, writeConfig,
  type Proc,
} from './helpers.ts';
import {
  checkSecondary, describeMismatches, kdig, serialGte, soaSerial, startSecondary, udpAsker, type Question, type Secondary,
} from './secondaries.ts';
import { T } from '../../core/dns/message.ts';
import { recipe } from './recipes.ts';
import { execFile } from 'node:child_process';
import { startKnotPrimary } from './secondaries.ts';

const skip = toolsOrSkip(['knotd', 'nsd', 'kdig']);
const BASE = 'xfr.test';
const KEY = { name: 'xfr-key', algorithm: 'hmac-sha256', secret: Buffer.alloc(32, 0x5a).toString('base64') };
const WRONG = Buffer.alloc(32, 0x33).toString('base64');

/** A small seeded generator: the sample is the same on every run. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const R = rng(12);
const int = (n: number) => Math.floor(R() * n);
const pick = <X>(a: readonly X[]): X => a[int(a.length)]!;
const hex4 = () => int(0x10000).toString(16);

// ---------------------------------------------------------------------------------------------
// Data: two IP lists (overlapping: consensus), ranges aligned and not, a provider range carved
// out of a listed block, and a domain list with wildcards.

const SINGLES4 = Array.from({ length: 400 }, () => `${pick([45, 62, 77, 91, 185])}.${int(256)}.${int(256)}.${int(256)}`);
const SINGLES6 = Array.from({ length: 200 }, () => `2001:db8:ff${int(256).toString(16).padStart(2, '0')}:${hex4()}::${hex4()}`);
const RANGES4 = ['192.0.2.0/26', '198.51.100.0/24', '81.200.0.0/20', '94.16.0.0/16'];
const RANGES6 = ['2001:db8:1::/48', '2001:db8:2::/45'];
const PROVIDER = ['81.200.4.0/22', '94.16.128.0/17', '2001:db8:1:8000::/49'];
const DOMAINS = Array.from({ length: 200 }, (_, i) => `spam${i}-${int(1e6)}.example`);
const WILD = ['*.wild.example', '.both.example'];

function randomIn(cidr: string): string {
  const [a, p] = cidr.split('/');
  const bits = Number(p);
  if (a!.includes(':')) {
    // fill the bits below the prefix (prefixes here are multiples of 16 or nibble-ish)
    const groups = expand6(a!);
    for (let g = 0; g < 8; g++) {
      const lo = g * 16;
      if (lo + 16 <= bits) continue;
      const keep = Math.max(0, bits - lo);
      const mask = keep === 0 ? 0 : (0xffff << (16 - keep)) & 0xffff;
      groups[g] = (groups[g]! & mask) | (int(0x10000) & ~mask & 0xffff);
    }
    return groups.map((g) => g.toString(16)).join(':');
  }
  const n = a!.split('.').reduce((x, o) => x * 256 + Number(o), 0);
  const v = n + int(2 ** (32 - bits));
  return [v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255].join('.');
}

function expand6(a: string): number[] {
  const [h, t] = a.split('::');
  const hs = h ? h.split(':') : [];
  const ts = t ? t.split(':') : [];
  return [...hs, ...Array(8 - hs.length - ts.length).fill('0'), ...ts].map((x) => parseInt(x, 16));
}

function owner(key: string): string {
  if (/^\d+\.\d+\.\d+\.\d+$/.test(key)) return ip4Labels(key);
  if (key.includes(':')) return expand6(key).map((g) => g.toString(16).padStart(4, '0')).join('').split('').reverse().join('.');
  return key;
}

/** 10,000 A questions over bl/wl/dbl, and a TXT question for every fifth. */
function sample(): Question[] {
  const qs: Question[] = [];
  const ipKey = (): string => {
    const r = R();
    if (r < 0.2) return pick(SINGLES4);
    if (r < 0.3) return pick(SINGLES6);
    if (r < 0.5) return randomIn(pick(RANGES4));
    if (r < 0.6) return randomIn(pick(RANGES6));
    if (r < 0.72) return randomIn(pick(PROVIDER));
    if (r < 0.87) return `${1 + int(223)}.${int(256)}.${int(256)}.${int(256)}`; // mostly unlisted
    return `2001:db8:${hex4()}:${hex4()}::${hex4()}`;
  };
  const domKey = (): string => {
    const r = R();
    if (r < 0.4) return pick(DOMAINS);
    if (r < 0.55) return `x${int(100)}.${pick(DOMAINS)}`;
    if (r < 0.7) return `h${int(1000)}.wild.example`;
    if (r < 0.75) return 'wild.example';
    if (r < 0.85) return pick(['both.example', `a${int(50)}.both.example`]);
    return `other${int(1e6)}.example`;
  };
  for (let i = 0; i < 10_000; i++) {
    const r = R();
    const name = r < 0.55 ? `${owner(ipKey())}.bl.${BASE}` : r < 0.75 ? `${owner(ipKey())}.wl.${BASE}` : `${owner(domKey())}.dbl.${BASE}`;
    qs.push({ name, type: T.A });
    if (i % 5 === 0) qs.push({ name, type: T.TXT });
  }
  // the RFC 5782 test points
  qs.push({ name: `2.0.0.127.bl.${BASE}`, type: T.A }, { name: `1.0.0.127.bl.${BASE}`, type: T.A });
  return qs;
}

function source(name: string, file: string, format: string, kind = 'ip'): string {
  return `  - { name: ${name}, kind: ${kind}, fetch: ${file}, format: ${format}, schedule: "0 0 1 1 *", min_interval: 1w, weight: 1 }`;
}

interface Primary {
  dir: string;
  cfg: string;
  dns: number;
  serve: Proc;
}

function transferYaml(notify: number[], extra: string[] = []): string[] {
  return [
    'transfer:',
    `  keys: [{ name: ${KEY.name}, algorithm: ${KEY.algorithm}, secret: "${KEY.secret}" }]`,
    `  acl: { "*": { allow: [127.0.0.1/32], keys: [${KEY.name}] } }`,
    `  notify: [${notify.map((p) => `{ address: "127.0.0.1:${p}", key: ${KEY.name}, zones: ["*"] }`).join(', ')}]`,
    '  delay: 1s',
    ...extra,
  ];
}

async function startPrimary(notify: number[], extra: { transfer?: string[]; zones?: string[] } = {}, dir = makeTmpDir()): Promise<Primary> {
  const dns = await freePort();
  writeFileSync(join(dir, 'a.txt'), [...SINGLES4, ...SINGLES6, ...RANGES4, ...RANGES6].join('\n') + '\n');
  writeFileSync(join(dir, 'b.txt'), [...SINGLES4.slice(0, 150), ...SINGLES6.slice(0, 50), RANGES4[1], RANGES6[0]].join('\n') + '\n');
  writeFileSync(join(dir, 'dom.txt'), [...DOMAINS, ...WILD].join('\n') + '\n');
  writeFileSync(join(dir, 'provider.txt'), PROVIDER.join('\n') + '\n');
  const lines = [
    `server: { listen: ["127.0.0.1:${dns}"] }`,
    'web: { enabled: false }',
    'state_dir: state',
    `base: ${BASE}`,
    'sync: { enabled: false }',
    'policy: { threshold: 1, consensus: 2, provider_bar: 5 }',
    'sources:',
    source('a', join(dir, 'a.txt'), 'plain'),
    source('b', join(dir, 'b.txt'), 'plain'),
    source('dom', join(dir, 'dom.txt'), 'domains', 'domain'),
    'providers:',
    `  - { provider: testprov, type: static, file: ${join(dir, 'provider.txt')} }`,
    ...(extra.zones ?? []),
    ...transferYaml(notify, extra.transfer),
    '',
  ];
  const cfg = writeConfig(dir, lines.join('\n'));
  const s = await runQuorumbl(['sync', '--config', cfg], { timeoutMs: 60000 });
  assert.equal(s.code, 0, s.output);
  const serve = spawnQuorumbl(['serve', '--config', cfg]);
  await waitReady(serve, '127.0.0.1', dns, `bl.${BASE}`);
  await waitForLog(serve, 0, (r) => r.msg === 'merged zones served', 'first merge', 60000);
  return { dir, cfg, dns, serve };
}

const ZONES = ['bl', 'wl', 'dbl'].map((z) => `${z}.${BASE}`);

/** Waits until the secondary serves every zone at the primary's current serial. */
async function inStep(p: Primary, sec: Secondary, zones = ZONES): Promise<void> {
  for (const z of zones) {
    const want = await poll(async () => (await soaSerial('127.0.0.1', p.dns, z)) ?? undefined, `primary SOA of ${z}`);
    await sec.waitSerial(z, want, 60000);
  }
}

function countRecords(kdigOut: string): { soa: number; total: number; lines: string[] } {
  const lines = kdigOut.split('\n').filter((l) => l && !l.startsWith(';') && /\sIN\s/.test(l));
  return { soa: lines.filter((l) => /\sSOA\s/.test(l)).length, total: lines.length, lines };
}

describe('Knot and NSD as secondaries of quorumbl serve', { skip }, () => {
  let p: Primary;
  let knot: Secondary;
  let nsd: Secondary;

  before(async () => {
    const knotPort = await freePort();
    const nsdPort = await freePort();
    p = await startPrimary([knotPort, nsdPort]);
    const primary = { host: '127.0.0.1', port: p.dns };
    knot = await startSecondary({ kind: 'knot', primary, key: KEY, zones: ZONES, port: knotPort });
    nsd = await startSecondary({ kind: 'nsd', primary, key: KEY, zones: ZONES, port: nsdPort });
    await inStep(p, knot);
    await inStep(p, nsd);
  });

  after(async () => {
    await stopAll(p?.serve);
    await knot?.stop();
    await nsd?.stop();
  });

  test('after the AXFR, 10,000 random keys answer the same on quorumbl, Knot and NSD', async () => {
    const qs = sample();
    const ref = udpAsker('127.0.0.1', p.dns);
    // the sample is not trivial: listed, unlisted and exempt keys all occur
    const answers = await ref(qs);
    const listed = answers.filter((a) => a.rcode === 0 && a.a.length > 0).length;
    const nx = answers.filter((a) => a.rcode === 3).length;
    assert.ok(listed > 2000 && nx > 2000, `listed ${listed}, NXDOMAIN ${nx} of ${qs.length}`);
    assert.ok(answers.some((a, i) => qs[i]!.name.includes('.wl.') && a.a.length > 0), 'some keys are exempt (in wl)');
    for (const [name, sec] of [['knot', knot], ['nsd', nsd]] as const) {
      const bad = await checkSecondary(name, udpAsker('127.0.0.1', sec.port), ref, qs);
      assert.equal(bad.length, 0, describeMismatches(name, bad));
    }
  });

  test('an override: NOTIFY, an IXFR with only the difference, the new verdict on both secondaries', async () => {
    const ip = '203.0.113.77';
    const q = { name: `${ip4Labels(ip)}.bl.${BASE}`, type: T.A };
    const before = await soaSerial('127.0.0.1', p.dns, `bl.${BASE}`);
    assert.notEqual(before, null);
    assert.equal((await udpAsker('127.0.0.1', knot.port)([q]))[0]!.rcode, 3, 'not listed before');
    const knotLogBefore = knot.log().length;
    const r = await runQuorumbl(['override', 'add', 'deny', ip, '--reason', 'secondaries test', '--config', p.cfg]);
    assert.equal(r.code, 0, r.output);
    const after = await poll(async () => {
      const s = await soaSerial('127.0.0.1', p.dns, `bl.${BASE}`);
      return s !== null && s !== before ? s : undefined;
    }, 'the primary serial to rise');
    assert.ok(serialGte(after, before!));
    // SOA refresh is 3600 s: only the NOTIFY gets the new serial to them within the wait
    await knot.waitSerial(`bl.${BASE}`, after, 20000);
    await nsd.waitSerial(`bl.${BASE}`, after, 20000);
    for (const sec of [knot, nsd]) {
      const [a] = await udpAsker('127.0.0.1', sec.port)([q]);
      assert.equal(a!.rcode, 0, `${sec.kind}: listed after the override`);
      assert.ok(a!.a.length > 0, `${sec.kind}: an A record`);
    }
    // Knot says how it transferred: an IXFR, not an AXFR
    const log = knot.log().slice(knotLogBefore);
    assert.match(log, new RegExp(`\\[bl\\.${BASE.replace('.', '\\.')}\\.\\] IXFR, incoming.*finished`), log);
    assert.doesNotMatch(log, /\[bl\.xfr\.test\.\] AXFR, incoming/, log);
    // ...and the IXFR the primary hands out from `before` holds just the override's records
    const ixfr = await kdig(['-p', String(p.dns), '@127.0.0.1', '-y', `hmac-sha256:${KEY.name}:${KEY.secret}`, `bl.${BASE}`, `IXFR=${before}`]);
    const c = countRecords(ixfr.out);
    assert.equal(c.soa, 4, `IXFR: new SOA, old SOA (deletions), new SOA (additions), new SOA\n${ixfr.out}`);
    const body = c.lines.filter((l) => !/\sSOA\s/.test(l));
    assert.ok(body.length >= 1 && body.length <= 8, `only the override's records:\n${ixfr.out}`);
    // the override's name, and its IPv4-mapped IPv6 name (::ffff:203.0.113.77), nothing else
    const mapped = 'cb00714d'.split('').reverse().join('.') + '.f.f.f.f' + '.0'.repeat(20);
    for (const l of body) {
      const owner = l.toLowerCase().split(/\s/)[0]!;
      assert.ok(owner === `${ip4Labels(ip)}.bl.${BASE}.` || owner === `${mapped}.bl.${BASE}.`, `record of the override only: ${l}`);
    }
  });

  test('a wrong key, no key, or an address outside the ACL: the transfer is refused', async () => {
    const base = ['-p', String(p.dns), '@127.0.0.1', `bl.${BASE}`, 'AXFR'];
    const wrong = await kdig(['-y', `hmac-sha256:${KEY.name}:${WRONG}`, ...base]);
    assert.ok(countRecords(wrong.out).total === 0, wrong.out);
    assert.match(wrong.out, /NOTAUTH|BADSIG|TSIG/i, wrong.out);
    const unsigned = await kdig(base);
    assert.equal(countRecords(unsigned.out).total, 0, unsigned.out);
    assert.match(unsigned.out, /REFUSED/, unsigned.out);
    const outside = await kdig(['-b', '127.0.0.2', '-y', `hmac-sha256:${KEY.name}:${KEY.secret}`, ...base]);
    assert.equal(countRecords(outside.out).total, 0, outside.out);
    assert.match(outside.out, /REFUSED/, outside.out);
    const ok = await kdig(['-y', `hmac-sha256:${KEY.name}:${KEY.secret}`, ...base]);
    assert.ok(countRecords(ok.out).soa === 2, `the right key from 127.0.0.1 transfers:\n${ok.out.slice(0, 2000)}`);
  });
  // Knot refreshes an unchanged zone with a signed SOA query (UDP) and rejects an unsigned reply
  // ("failed to verify TSIG": primary not usable until the retry); left so, a zone that does not
  // change for soa.expire (1 week) would expire on Knot (server/xfr/sign-answer.ts signs it).
  test('a TSIG-signed SOA query gets a signed answer (Knot refreshing an unchanged zone)', async () => {
    for (const tcp of [[], ['+tcp']]) {
      const r = await kdig([...tcp, '-p', String(p.dns), '@127.0.0.1', '-y', `hmac-sha256:${KEY.name}:${KEY.secret}`, `bl.${BASE}`, 'SOA']);
      assert.match(r.out, /status: NOERROR/, r.out);
      assert.doesNotMatch(r.out, /expected a TSIG|reply verification/i, r.out);
    }
  });

  test('the primary down: both secondaries keep answering their last copy, alike', async () => {
    const qs = sample().slice(0, 3000);
    const before = await udpAsker('127.0.0.1', knot.port)(qs);
    await p.serve.stop();
    assert.equal(await soaSerial('127.0.0.1', p.dns, `bl.${BASE}`), null, 'the primary is gone');
    const bad = await checkSecondary('nsd', udpAsker('127.0.0.1', nsd.port), udpAsker('127.0.0.1', knot.port), qs);
    assert.equal(bad.length, 0, describeMismatches('nsd vs knot, primary down', bad));
    const after = await udpAsker('127.0.0.1', knot.port)(qs);
    assert.deepEqual(after, before, 'Knot answers as it did with the primary up');
    const [o] = await udpAsker('127.0.0.1', nsd.port)([{ name: `${ip4Labels('203.0.113.77')}.bl.${BASE}`, type: T.A }]);
    assert.equal(o!.rcode, 0, 'the override made before is still listed');
  });
});

describe('Knot configured with only the catalog zone', { skip }, () => {
  let p: Primary;
  let knot: Secondary;
  const CATALOG = `catalog.${BASE}`;
  const EXTRA = `extra.${BASE}`;
  let dir: string;

  before(async () => {
    dir = makeTmpDir();
    writeFileSync(join(dir, 'extra.txt'), `$SOA 300 ns.${BASE}. hostmaster.${BASE}. 0 3600 600 86400 60\n$NS 300 ns.${BASE}.\n192.0.2.9\n`);
    const knotPort = await freePort();
    p = await startPrimary([knotPort], { transfer: [`  catalog: ${CATALOG}`] }, dir);
    knot = await startSecondary({ kind: 'knot', primary: { host: '127.0.0.1', port: p.dns }, key: KEY, catalog: CATALOG, port: knotPort });
    // Knot does not answer queries for a catalog it interprets: its members show it took it
    await inStep(p, knot, ZONES);
  });

  after(async () => {
    await stopAll(p?.serve);
    await knot?.stop();
  });

  test('serves bl/wl/dbl by itself, and follows a zone a reload adds and then removes', async () => {
    const qs = sample().slice(0, 2000);
    const bad = await checkSecondary('knot (catalog)', udpAsker('127.0.0.1', knot.port), udpAsker('127.0.0.1', p.dns), qs);
    assert.equal(bad.length, 0, describeMismatches('knot (catalog)', bad));
    // a reload adds a configured zone: it joins the catalog and Knot transfers it
    const cfgText = (withExtra: boolean) =>
      (withExtra ? `zones:\n  - name: ${EXTRA}\n    datasets: [{ type: ip4set, files: [${join(dir, 'extra.txt')}] }]\n` : 'zones: []\n');
    const { readFileSync } = await import('node:fs');
    const original = readFileSync(p.cfg, 'utf8');
    writeFileSync(p.cfg, original + cfgText(true));
    const r1 = await runQuorumbl(['reload', '--wait', '--config', p.cfg]);
    assert.equal(r1.code, 0, r1.output);
    await knot.waitSerial(EXTRA, undefined, 30000);
    const [a] = await udpAsker('127.0.0.1', knot.port)([{ name: `9.2.0.192.${EXTRA}`, type: T.A }]);
    assert.equal(a!.rcode, 0, 'the added zone answers from Knot');
    assert.ok(a!.a.length > 0);
    // removed again: it leaves the catalog and Knot drops it
    writeFileSync(p.cfg, original + cfgText(false));
    const r2 = await runQuorumbl(['reload', '--wait', '--config', p.cfg]);
    assert.equal(r2.code, 0, r2.output);
    await knot.waitGone(EXTRA, 30000);
    assert.notEqual(await knot.serial(`bl.${BASE}`), null, 'bl stays');
  });
});

// ---------------------------------------------------------------------------------------------
// The harness itself and the doc's configs, without quorumbl in the loop.

function check(cmd: string, args: string[]): Promise<{ ok: boolean; out: string }> {
  return new Promise((res) => execFile(cmd, args, (err, stdout, stderr) => res({ ok: !err, out: stdout + stderr })));
}

describe('docs/integration.md secondary configs pass the real checkers', { skip: toolsOrSkip(['knotc', 'nsd-checkconf', 'named-checkconf']) }, () => {
  const cases: Array<[string, (text: string) => string, string, (f: string) => [string, string[]]]> = [
    ['knot-secondary.conf', (t) => t, 'master:', (f) => ['knotc', ['-c', f, 'conf-check']]],
    [
      'knot-catalog.conf',
      (t) => recipe('knot-secondary.conf').slice(0, recipe('knot-secondary.conf').search(/^zone:/m)) + t,
      'catalog-role:',
      (f) => ['knotc', ['-c', f, 'conf-check']],
    ],
    ['nsd-secondary.conf', (t) => t, 'request-xfr:', (f) => ['nsd-checkconf', [f]]],
    ['bind-secondary.conf', (t) => t, 'primaries {', (f) => ['named-checkconf', [f]]],
  ];
  for (const [tag, frame, word, cmd] of cases) {
    test(`${tag}: accepted as written; a misspelt copy is rejected`, async () => {
      const dir = makeTmpDir('quorumbl-xfrdoc-');
      const good = join(dir, 'good.conf');
      const bad = join(dir, 'bad.conf');
      writeFileSync(good, frame(recipe(tag)));
      writeFileSync(bad, frame(recipe(tag)).replace(word, word.replace(/^(.)/, '$1x')));
      const g = await check(...cmd(good));
      assert.ok(g.ok, `${tag}:\n${g.out}`);
      const b = await check(...cmd(bad));
      assert.ok(!b.ok, `${tag}: the checker accepted a broken copy:\n${b.out}`);
    });
  }
});

describe('the harness against a knotd primary (no quorumbl)', { skip }, () => {
  test('Knot and NSD transfer a zone with TSIG, answer as the primary, and follow its NOTIFY', async () => {
    const zone = (serial: number, extra = '') =>
      `$ORIGIN h.test.\n$TTL 60\n@ SOA ns.h.test. x.h.test. ${serial} 3600 600 86400 60\n@ NS ns.h.test.\nns A 127.0.0.1\n2.0.0.127 A 127.0.0.2\n2.0.0.127 TXT "hi"\n*.10 A 127.0.0.3\n${extra}`;
    const kp = await freePort();
    const np = await freePort();
    const prim = await startKnotPrimary({ 'h.test': zone(1) }, KEY, [{ port: kp }, { port: np }]);
    const k = await startSecondary({ kind: 'knot', primary: { host: '127.0.0.1', port: prim.port }, key: KEY, zones: ['h.test'], port: kp });
    const n = await startSecondary({ kind: 'nsd', primary: { host: '127.0.0.1', port: prim.port }, key: KEY, zones: ['h.test'], port: np });
    try {
      assert.equal(await k.waitSerial('h.test'), 1);
      assert.equal(await n.waitSerial('h.test'), 1);
      const qs: Question[] = [];
      for (let i = 0; i < 2000; i++) qs.push({ name: `${i % 256}.${i >> 8}.${i % 3 ? 10 : 0}.127.h.test`, type: i % 4 ? T.A : T.TXT });
      for (const sec of [k, n]) {
        const bad = await checkSecondary(sec.kind, udpAsker('127.0.0.1', sec.port), udpAsker('127.0.0.1', prim.port), qs);
        assert.equal(bad.length, 0, describeMismatches(sec.kind, bad));
      }
      // a broken oracle is caught: the comparison can fail
      const shifted = await checkSecondary('self', udpAsker('127.0.0.1', k.port), async (q) => (await udpAsker('127.0.0.1', k.port)(q)).map((a) => ({ ...a, rcode: a.rcode ^ 3 })), qs.slice(0, 10));
      assert.equal(shifted.length, 10);
      await prim.setZone('h.test', zone(2, '5.0.0.127 A 127.0.0.4\n'));
      assert.equal(await k.waitSerial('h.test', 2, 20000), 2);
      assert.equal(await n.waitSerial('h.test', 2, 20000), 2);
      const [a] = await udpAsker('127.0.0.1', n.port)([{ name: '5.0.0.127.h.test', type: T.A }]);
      assert.deepEqual(a!.a, ['127.0.0.4']);
    } finally {
      await Promise.all([k.stop(), n.stop(), prim.stop()]);
    }
  });
});
