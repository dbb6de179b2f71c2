// Collisions end to end (issue 10, the Exemptions page's data): a real `quorumbl serve` merging a
// SpamCop-like list that names Microsoft 365 outbound addresses and a PSBL-like one (with M365
// IPv6 addresses) against a static M365 provider list. GET /api/v1/collisions and
// `quorumbl collisions` report exactly the listed M365 addresses (computed here from the fixture
// files, independently of the server), with samples naming the M365 ranges; the source grows by
// more M365 addresses (file rewritten + `quorumbl sync`): the count rises, a rise alert appears
// and one warning is logged; a restart keeps the result readable, and a lost result file is
// recomputed at the restart without a merge.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, copyFileSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  LEVEL, ROOT, freePort, makeTmpDir, runQuorumbl, spawnQuorumbl, stopAll, toolsOrSkip, waitForLog, waitReady, writeConfig, type Proc,
} from './helpers.ts';

const skip = toolsOrSkip(['dig']);
const INC = join(ROOT, 'test', 'fixtures', 'incidents');
const BASE = 'dnsbl.test';

// ---- the expected numbers, from the fixture files ----

function lines(text: string): string[] {
  return text.split('\n').map((l) => l.replace(/#.*$/, '').trim()).filter((l) => l && !l.startsWith(':'));
}

const ip4 = (ip: string) => ip.split('.').reduce((a, o) => a * 256 + Number(o), 0);
const dotted = (n: number) => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');

/** The static M365 list: IPv4 CIDRs as [start, end, cidr], IPv6 CIDRs as [prefix bits of text]. */
const m365Lines = lines(readFileSync(join(INC, 'm365-static.txt'), 'utf8'));
const M365_V4 = m365Lines.filter((l) => !l.includes(':')).map((c) => {
  const [a, p] = c.split('/');
  return { start: ip4(a!), end: ip4(a!) + 2 ** (32 - Number(p)) - 1, cidr: c };
});
const M365_V6 = m365Lines.filter((l) => l.includes(':'));
assert.deepEqual(M365_V6, ['2a01:111:f400::/48', '2a01:111:f403::/48'], 'the fixture as this test reads it');
const inM365v6 = (a: string) => /^2a01:111:f40[03]:/.test(a);

/** The listed IPv4 addresses (single addresses only in these fixtures) inside M365, sorted. */
function m365Addresses(text: string): number[] {
  const all = lines(text).filter((l) => /^\d+\.\d+\.\d+\.\d+$/.test(l) && l !== '127.0.0.2').map(ip4);
  return [...new Set(all)].filter((n) => M365_V4.some((r) => n >= r.start && n <= r.end)).sort((a, b) => a - b);
}

/** The collision pieces the console should show: runs of consecutive listed addresses. */
function pieces(addrs: number[]): { listed: string; providerRange: string }[] {
  const out: { listed: string; providerRange: string }[] = [];
  for (let i = 0; i < addrs.length; ) {
    let j = i;
    while (j + 1 < addrs.length && addrs[j + 1] === addrs[j]! + 1) j++;
    const s = addrs[i]!;
    const e = addrs[j]!;
    const size = e - s + 1;
    const text = s === e ? dotted(s) : Number.isInteger(Math.log2(size)) && s % size === 0 ? `${dotted(s)}/${32 - Math.log2(size)}` : `${dotted(s)}-${dotted(e)}`;
    out.push({ listed: text, providerRange: M365_V4.find((r) => s >= r.start && s <= r.end)!.cidr });
    i = j + 1;
  }
  return out;
}

const SPAMCOP_TEXT = readFileSync(join(INC, 'spamcop-m365.ip4tset'), 'utf8');
const SPAMCOP_M365 = m365Addresses(SPAMCOP_TEXT);
const PSBL_TEXT = readFileSync(join(INC, 'psbl-like.txt'), 'utf8');
const PSBL_M365_V4 = m365Addresses(PSBL_TEXT);
const PSBL_M365_V6 = lines(PSBL_TEXT).filter((l) => l.includes(':') && inM365v6(l));

/** The SpamCop-like list after an incident day: more M365 addresses (every other one of a /24,
 *  so none merge), at least the rise threshold max(10, 50%) above the first count. */
function grown(): { text: string; added: string[] } {
  const need = Math.max(10, Math.ceil(SPAMCOP_M365.length * 0.5)) + 5;
  const added: string[] = [];
  for (let i = 0; added.length < need; i++) {
    const a = `52.102.77.${2 * i + 1}`;
    if (!SPAMCOP_M365.includes(ip4(a))) added.push(a);
  }
  return { text: SPAMCOP_TEXT + '\n# incident day: more EOP outbound addresses\n' + added.join('\n') + '\n', added };
}

// ---- plumbing ----

async function api(base: string, token: string | null, path: string): Promise<{ status: number; json: any }> {
  const res = await fetch(base + path, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  return { status: res.status, json: await res.json() };
}

function pair(report: any, source: string): any {
  const p = report.pairs.find((x: any) => x.source === source && String(x.provider).startsWith('microsoft365/'));
  assert.ok(p, `a ${source} x microsoft365 pair in ${JSON.stringify(report.pairs.map((x: any) => `${x.source}/${x.provider}`))}`);
  return p;
}

const rises = (p: Proc) => p.output().split('\n').filter((l) => l.includes('collisions rose sharply'));

describe('collisions: listed keys inside provider ranges (static M365 list)', { skip }, () => {
  let dir: string;
  let cfg: string;
  let dns: number;
  let web: string;
  let serve: Proc | undefined;
  let token: string;
  let spamcopFile: string;
  let firstSerial = 0;

  const start = async (what: string): Promise<Proc> => {
    const p = spawnQuorumbl(['serve', '--config', cfg]);
    await waitReady(p, '127.0.0.1', dns, `bl.${BASE}`);
    await waitForLog(p, 0, (r) => r.msg === 'merged zones served', `${what}: first merge`, 60000);
    return p;
  };

  before(async () => {
    assert.ok(SPAMCOP_M365.length >= 50, `fixture: ${SPAMCOP_M365.length} M365 addresses`);
    assert.deepEqual([PSBL_M365_V4.length, PSBL_M365_V6.length], [1, 2], 'fixture: psbl-like lists one M365 IPv4 and two IPv6 addresses');
    dir = makeTmpDir('quorumbl-collisions-');
    dns = await freePort();
    const webPort = await freePort();
    web = `http://127.0.0.1:${webPort}`;
    const staticList = join(dir, 'm365-static.txt');
    copyFileSync(join(INC, 'm365-static.txt'), staticList);
    spamcopFile = join(dir, 'spamcop.ip4tset');
    copyFileSync(join(INC, 'spamcop-m365.ip4tset'), spamcopFile);
    chmodSync(staticList, 0o644);
    chmodSync(spamcopFile, 0o644);
    const source = (name: string, fetch: string, format: string, extra = '') =>
      `  - { name: ${name}, kind: ip, fetch: ${fetch}, format: ${format}, schedule: "0 0 1 1 *", min_interval: 1w${extra} }`;
    cfg = writeConfig(dir, [
      `server: { listen: ["127.0.0.1:${dns}"] }`,
      `web: { listen: "127.0.0.1:${webPort}" }`,
      'state_dir: state',
      'reload: { check_interval: 1s }',
      `base: ${BASE}`,
      'sync: { enabled: false }',
      'sources:',
      source('spamcop', spamcopFile, 'rbldnsd', ', rbldnsd_type: ip4tset'),
      source('psbl', join(INC, 'psbl-like.txt'), 'plain'),
      'providers:',
      `  - { provider: microsoft365, type: static, file: ${staticList} }`,
      '',
    ].join('\n'));
    const s = await runQuorumbl(['sync', '--config', cfg], { timeoutMs: 60000 });
    assert.equal(s.code, 0, s.output);
    const t = await runQuorumbl(['token', 'create', '--name', 'viewer', '--scope', 'reports', '--config', cfg]);
    assert.equal(t.code, 0, t.output);
    token = t.stdout.trim();
    serve = await start('serve');
  });

  after(async () => {
    await stopAll(serve);
  });

  test('GET /api/v1/collisions: the exact listed M365 addresses and ranges per source, samples naming the M365 ranges', async () => {
    assert.equal((await api(web, null, '/api/v1/collisions')).status, 401, 'a token is required');
    const r = await api(web, token, '/api/v1/collisions');
    assert.equal(r.status, 200, JSON.stringify(r.json));
    const sc = pair(r.json, 'spamcop');
    const want = pieces(SPAMCOP_M365);
    assert.equal(sc.keys, SPAMCOP_M365.length);
    assert.equal(sc.addresses4, SPAMCOP_M365.length);
    assert.equal(sc.ranges, want.length);
    assert.equal(sc.ranges6, 0);
    assert.deepEqual(sc.samples.map((s: any) => ({ listed: s.listed, providerRange: s.providerRange })), want.slice(0, 100));
    assert.equal(sc.truncated, want.length > 100);
    // IPv6: each listed range counts as one key
    const ps = pair(r.json, 'psbl');
    assert.deepEqual([ps.addresses4, ps.ranges6, ps.keys, ps.ranges], [1, 2, 3, 3]);
    assert.deepEqual(ps.samples.map((s: any) => [s.listed, s.providerRange]), [
      [dotted(PSBL_M365_V4[0]!), M365_V4.find((x) => PSBL_M365_V4[0]! >= x.start && PSBL_M365_V4[0]! <= x.end)!.cidr],
      ...PSBL_M365_V6.map((a) => [a, a.startsWith('2a01:111:f400:') ? '2a01:111:f400::/48' : '2a01:111:f403::/48']),
    ]);
    assert.deepEqual(r.json.alerts, [], 'the first counts are a baseline, not a rise');
    assert.ok(r.json.serial > 0 && !Number.isNaN(Date.parse(r.json.computedAt)));
    firstSerial = r.json.serial;
    assert.deepEqual(rises(serve!), []);
  });

  test('quorumbl collisions (text and --json) reads what serve stored', async () => {
    const j = await runQuorumbl(['collisions', '--json', '--config', cfg]);
    assert.equal(j.code, 0, j.output);
    const rep = JSON.parse(j.stdout);
    assert.equal(rep.serial, firstSerial);
    assert.equal(pair(rep, 'spamcop').keys, SPAMCOP_M365.length);
    const t = await runQuorumbl(['collisions', '--config', cfg]);
    assert.equal(t.code, 0, t.output);
    assert.match(t.stdout, new RegExp(`^spamcop\\s+microsoft365/\\S+\\s+${SPAMCOP_M365.length}\\s`, 'm'), t.stdout);
    assert.match(t.stdout, /^psbl\s+microsoft365\/\S+\s+3\s+3\s+1\s+2$/m, t.stdout);
    assert.match(t.stdout, new RegExp(`  ${dotted(SPAMCOP_M365[0]!).replace(/\./g, '\\.')} in ${pieces(SPAMCOP_M365)[0]!.providerRange.replace(/\./g, '\\.')}`));
    // a one-shot merge (`quorumbl explain`) leaves serve's result alone
    const file = join(dir, 'state', 'merge', 'collisions.json');
    const stored = readFileSync(file, 'utf8');
    const ex = await runQuorumbl(['explain', dotted(SPAMCOP_M365[0]!), '--config', cfg], { timeoutMs: 60000 });
    assert.equal(ex.code, 0, ex.output);
    assert.equal(readFileSync(file, 'utf8'), stored);
    const bad = await runQuorumbl(['collisions', '--bogus', '--config', cfg]);
    assert.notEqual(bad.code, 0);
    assert.match(bad.output, /bogus/);
  });

  test('the source grows by more M365 addresses: the count rises, a rise alert appears, one warning is logged', async () => {
    const { text, added } = grown();
    const from = serve!.output().length;
    writeFileSync(spamcopFile, text);
    const s = await runQuorumbl(['sync', '--config', cfg, 'spamcop'], { timeoutMs: 60000 });
    assert.equal(s.code, 0, s.output);
    const warn = await waitForLog(serve!, from, (r) => r.msg?.startsWith('collisions rose sharply') === true, 'the rise warning', 60000);
    assert.equal(warn.level, LEVEL.warn);
    const now = SPAMCOP_M365.length + added.length;
    assert.deepEqual([warn.source, warn.before, warn.now], ['spamcop', SPAMCOP_M365.length, now]);
    const r = await api(web, token, '/api/v1/collisions');
    assert.equal(r.status, 200);
    assert.ok(r.json.serial > firstSerial);
    const expected = m365Addresses(text);
    assert.equal(expected.length, now, 'independent count of the grown file');
    assert.equal(pair(r.json, 'spamcop').keys, now);
    assert.equal(pair(r.json, 'psbl').keys, 3, 'the other source is unchanged');
    assert.deepEqual(r.json.alerts.map((a: any) => [a.source, a.provider.split('/')[0], a.before, a.now]), [['spamcop', 'microsoft365', SPAMCOP_M365.length, now]]);
    assert.ok(!Number.isNaN(Date.parse(r.json.alerts[0].since)));
    // the CLI shows the alert too
    const t = await runQuorumbl(['collisions', '--config', cfg]);
    assert.match(t.stdout, new RegExp(`ALERTS[^\\n]*\\n  spamcop in microsoft365/\\S+: ${SPAMCOP_M365.length} -> ${now} keys`), t.stdout);
    // a merge that changes nothing more: no second warning
    writeFileSync(spamcopFile, text + '192.0.2.77\n');
    const from2 = serve!.output().length;
    assert.equal((await runQuorumbl(['sync', '--config', cfg, 'spamcop'], { timeoutMs: 60000 })).code, 0);
    await waitForLog(serve!, from2, (r) => r.msg === 'collisions computed', 'the next merge', 60000);
    assert.equal(rises(serve!).length, 1, rises(serve!).join('\n'));
  });

  test('a restart keeps the last result readable (merge skipped, nothing warned again); a lost result file is recomputed', async () => {
    const before = await api(web, token, '/api/v1/collisions');
    await stopAll(serve);
    // readable while serve is down
    const down = await runQuorumbl(['collisions', '--json', '--config', cfg]);
    assert.equal(down.code, 0, down.output);
    assert.deepEqual(JSON.parse(down.stdout).pairs, before.json.pairs);
    serve = await start('restart');
    assert.match(serve.output(), /merge skipped: the persisted evidence was built from these inputs/);
    const after1 = await api(web, token, '/api/v1/collisions');
    assert.equal(after1.status, 200);
    assert.equal(after1.json.serial, before.json.serial);
    assert.deepEqual(after1.json.pairs, before.json.pairs);
    assert.equal(after1.json.alerts.length, 1, 'the alert is still within its day');
    assert.deepEqual(rises(serve), [], 'warned once, before the restart');
    // the result file lost (a crash between the evidence write and it): recomputed at start
    await stopAll(serve);
    const file = join(dir, 'state', 'merge', 'collisions.json');
    assert.ok(existsSync(file));
    rmSync(file);
    const none = await runQuorumbl(['collisions', '--config', cfg]);
    assert.equal(none.code, 1);
    assert.match(none.stderr, /no collisions yet/);
    serve = await start('restart without the result file');
    assert.match(serve.output(), /merge skipped: the persisted evidence was built from these inputs/);
    const after2 = await api(web, token, '/api/v1/collisions');
    assert.equal(after2.status, 200, JSON.stringify(after2.json));
    assert.equal(after2.json.serial, before.json.serial);
    assert.deepEqual(after2.json.pairs, before.json.pairs);
    assert.equal(after2.json.alerts.length, 1);
    assert.deepEqual(rises(serve), [], 'an open alert is not warned again');
    assert.ok(existsSync(file));
  });
});
