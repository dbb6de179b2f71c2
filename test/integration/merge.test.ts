// The merge end to end, from the real incidents (reference/sources.md section 3): public lists
// synced with `quorumbl sync` from local fixture files, `quorumbl serve` answering bl/wl/dbl on
// loopback, provider ranges from a static list or a loopback Microsoft 365 web service, local
// evidence through the CLI and the REST API, and every verdict checked with `dig`.
//
//   3.1  a SpamCop-like list names Microsoft 365 outbound IPs beside genuine spam sources
//   3.6  an L3-style list of whole networks, weighted as informational only
//   plus: spam-trap evidence above the provider bar, a provider feed that fails or empties, a
//   protected domain in a domain list, a false-positive report, explain == the DNS answer.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import {
  ROOT, digRaw, freePort, ip4Labels, makeTmpDir, poll, runQuorumbl, spawnQuorumbl, stopAll, toolsOrSkip,
  waitForLog, waitReady, writeConfig, type DigReply, type Proc,
} from './helpers.ts';

const skip = toolsOrSkip(['dig']);
const INC = join(ROOT, 'test', 'fixtures', 'incidents');
const BASE = 'dnsbl.test';

// ---------------------------------------------------------------------------------------------
// Fixture contents

function lines(file: string): string[] {
  return readFileSync(join(INC, file), 'utf8').split('\n').map((l) => l.replace(/#.*$/, '').trim()).filter((l) => l && !l.startsWith(':'));
}

function ip4Num(ip: string): number {
  return ip.split('.').reduce((a, o) => a * 256 + Number(o), 0);
}

const M365_V4: Array<[number, number]> = ['40.92.0.0/15', '40.107.0.0/16', '52.100.0.0/14', '104.47.0.0/17'].map((c) => {
  const [a, p] = c.split('/');
  const start = ip4Num(a!);
  return [start, start + 2 ** (32 - Number(p)) - 1];
});
const inM365 = (ip: string) => M365_V4.some(([s, e]) => ip4Num(ip) >= s && ip4Num(ip) <= e);
const isV4 = (s: string) => /^\d+\.\d+\.\d+\.\d+$/.test(s);

const spamcop = lines('spamcop-m365.ip4tset').filter((l) => l !== '127.0.0.2');
const M365_LISTED = spamcop.filter(inM365);
const SPAM = spamcop.filter((ip) => !inM365(ip));
const psbl = lines('psbl-like.txt').filter((l) => l !== '127.0.0.2');
const PSBL_V4 = psbl.filter(isV4);
const PSBL_V6 = psbl.filter((l) => l.includes(':') && !l.includes('/'));
const inL3 = (ip: string) => ip.startsWith('203.0.113.') || (ip4Num(ip) >= ip4Num('198.18.0.0') && ip4Num(ip) <= ip4Num('198.19.255.255'));
/** Spam IPs that only the SpamCop-like list (weight 1 = threshold) names. */
const SPAMCOP_ONLY = SPAM.filter((ip) => !PSBL_V4.includes(ip) && !inL3(ip));

// ---------------------------------------------------------------------------------------------
// DNS and API plumbing

/** Full 32-nibble hex of an IPv6 address (embedded dotted IPv4 tail allowed). */
function hex6(addr: string): string {
  let a = addr.toLowerCase();
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(a);
  if (v4) a = a.slice(0, -v4[1]!.length) + (ip4Num(v4[1]!) >>> 16).toString(16) + ':' + (ip4Num(v4[1]!) & 0xffff).toString(16);
  const [head, tail] = a.includes('::') ? a.split('::') : [a, undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  if (groups.length !== 8) throw new Error(`bad IPv6 ${addr}`);
  return groups.map((g) => g.padStart(4, '0')).join('');
}

type KeyKind = 'ip4' | 'ip6' | 'domain';
const kindOf = (k: string): KeyKind => (isV4(k) ? 'ip4' : k.includes(':') ? 'ip6' : 'domain');

/** The query name of a key in a zone (bl, wl, dbl). */
function qname(key: string, zone: 'bl' | 'wl' | 'dbl'): string {
  const k = kindOf(key);
  const owner = k === 'ip4' ? ip4Labels(key) : k === 'ip6' ? hex6(key).split('').reverse().join('.') : key;
  return `${owner}.${zone}.${BASE}`;
}

interface Answer {
  name: string;
  status: string;
  a: string[];
  txt: string[];
}

function toAnswer(r: DigReply): Answer {
  const name = (/^;([^\s]+)\s+IN\s+/m.exec(r.raw)?.[1] ?? '').toLowerCase().replace(/\.$/, '');
  return {
    name,
    status: r.status,
    a: r.answer.filter((x) => x.type === 'A').map((x) => x.data).sort(),
    txt: r.answer.filter((x) => x.type === 'TXT').map((x) => x.data),
  };
}

/** Many names in one `dig -f` run; answers in the order asked (checked by name). */
async function digMany(port: number, names: string[], type = 'A'): Promise<Answer[]> {
  const out: Answer[] = [];
  const dir = makeTmpDir('quorumbl-dig-');
  for (let i = 0; i < names.length; i += 200) {
    const chunk = names.slice(i, i + 200);
    const file = join(dir, `batch-${i}`);
    writeFileSync(file, chunk.map((n) => `${n} ${type}`).join('\n') + '\n');
    const r = await digRaw('127.0.0.1', port, ['-f', file]);
    assert.equal(r.replies.length, chunk.length, `dig -f: ${r.replies.length} replies for ${chunk.length} names\n${r.stderr}`);
    r.replies.forEach((rep, j) => {
      const a = toAnswer(rep);
      assert.equal(a.name, chunk[j]!.toLowerCase(), 'dig -f answers in order');
      out.push(a);
    });
  }
  return out;
}

async function digOne(port: number, name: string, type = 'A'): Promise<Answer> {
  return (await digMany(port, [name], type))[0]!;
}

const listed = (a: Answer) => (a.status === 'NOERROR' && a.a.length > 0 ? a.a : null);

class Api {
  constructor(readonly base: string, readonly token: string) {}
  async call(method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
    const res = await fetch(this.base + path, {
      method,
      headers: { authorization: `Bearer ${this.token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    let json: unknown = null;
    try {
      json = JSON.parse(text);
    } catch {
      json = text;
    }
    return { status: res.status, json };
  }
  async explain(key: string): Promise<any> {
    const r = await this.call('GET', `/api/v1/explain/${encodeURIComponent(key)}`);
    assert.equal(r.status, 200, `explain ${key}: ${JSON.stringify(r.json)}`);
    return r.json;
  }
}

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

function source(name: string, fetch: string, format: string, extra = ''): string {
  const kind = format === 'domains' ? 'domain' : 'ip';
  return `  - { name: ${name}, kind: ${kind}, fetch: ${fetch}, format: ${format}, schedule: "0 0 1 1 *", min_interval: 1w${extra} }`;
}

async function startServe(cfg: string, dnsPort: number, what: string): Promise<Proc> {
  const p = spawnQuorumbl(['serve', '--config', cfg]);
  await waitReady(p, '127.0.0.1', dnsPort, `bl.${BASE}`);
  await waitForLog(p, 0, (r) => r.msg === 'merged zones served', `${what}: first merge`, 30000);
  return p;
}

async function createToken(cfg: string): Promise<string> {
  const r = await runQuorumbl(['token', 'create', '--name', 'it', '--scope', 'admin', '--config', cfg]);
  assert.equal(r.code, 0, r.output);
  const token = r.stdout.trim();
  assert.match(token, /^\S{20,}$/, r.output);
  return token;
}

/** Every M365 address the fixture lists: not in bl, in wl with the provider code. */
async function assertM365Exempt(port: number, why: string, except: string[] = []): Promise<void> {
  const ips = M365_LISTED.filter((ip) => !except.includes(ip));
  const bl = await digMany(port, ips.map((ip) => qname(ip, 'bl')));
  const wl = await digMany(port, ips.map((ip) => qname(ip, 'wl')));
  ips.forEach((ip, i) => {
    assert.equal(bl[i]!.status, 'NXDOMAIN', `${why}: ${ip} must not be in bl, got ${bl[i]!.status} ${bl[i]!.a.join(' ')}`);
    assert.deepEqual(wl[i]!.a, ['127.0.10.2'], `${why}: ${ip} in wl with the provider code`);
  });
}

// ---------------------------------------------------------------------------------------------
// Serve A: SpamCop-like, PSBL-like, L3-like and a domain list; M365 as a static provider list;
// sync.enabled false (nothing but loopback and local files).

describe('incident scenarios (static provider list)', { skip }, () => {
  let dir: string;
  let cfg: string;
  let dns: number;
  let serve: Proc | undefined;
  let api: Api;
  let staticList: string;

  before(async () => {
    dir = makeTmpDir();
    dns = await freePort();
    const web = await freePort();
    staticList = join(dir, 'm365-static.txt');
    copyFileSync(join(INC, 'm365-static.txt'), staticList);
    chmodSync(staticList, 0o644);
    cfg = writeConfig(
      dir,
      [
        `server: { listen: ["127.0.0.1:${dns}"] }`,
        `web: { listen: "127.0.0.1:${web}" }`,
        'state_dir: state',
        'reload: { check_interval: 1s }',
        `base: ${BASE}`,
        'sync: { enabled: false }',
        'policy: { threshold: 1, consensus: 2, provider_bar: 5, reputation: { bar: 3 } }',
        'sources:',
        source('spamcop', join(INC, 'spamcop-m365.ip4tset'), 'rbldnsd', ', rbldnsd_type: ip4tset, weight: 1'),
        source('psbl', join(INC, 'psbl-like.txt'), 'plain', ', weight: 1'),
        source('l3', join(INC, 'l3-like.txt'), 'plain', ', weight: 0.25'),
        source('dom', join(INC, 'domains.txt'), 'domains', ', weight: 1'),
        'providers:',
        `  - { provider: microsoft365, type: static, file: ${staticList} }`,
        '',
      ].join('\n'),
    );
    const s = await runQuorumbl(['sync', '--config', cfg], { timeoutMs: 60000 });
    assert.equal(s.code, 0, s.output);
    api = new Api(`http://127.0.0.1:${web}`, await createToken(cfg));
    serve = await startServe(cfg, dns, 'serve A');
  });

  after(async () => {
    await stopAll(serve);
  });

  test('the zones published at start change no input: the merge runs once, not twice', async () => {
    await waitForLog(serve!, 0, (r) => r.msg === 'merge skipped: no source or provider range changed', 'the skipped merge');
    const merges = serve!.output().split('\n').filter((l) => l.includes('"merge done: bl/wl/dbl updated"'));
    assert.equal(merges.length, 1, merges.join('\n'));
  });

  test('3.1: the Microsoft 365 IPs a public list names are not in bl and are in wl; the spam IPs are in bl', async () => {
    assert.ok(M365_LISTED.length >= 50 && SPAM.length >= 50, 'fixture sizes');
    await assertM365Exempt(dns, 'static M365 list');
    const bl = await digMany(dns, SPAM.map((ip) => qname(ip, 'bl')));
    SPAM.forEach((ip, i) => assert.ok(listed(bl[i]!)?.includes('127.0.0.2'), `${ip} listed with 127.0.0.2, got ${bl[i]!.status} ${bl[i]!.a}`));
    // Spam IPs two lists agree on carry the consensus code too; none of them is in wl.
    const both = SPAM.filter((ip) => PSBL_V4.includes(ip));
    assert.ok(both.length > 5);
    for (const [i, a] of (await digMany(dns, both.map((ip) => qname(ip, 'bl')))).entries()) assert.deepEqual(a.a, ['127.0.0.2', '127.0.0.3'], both[i]);
    const wl = await digMany(dns, SPAM.map((ip) => qname(ip, 'wl')));
    wl.forEach((a, i) => assert.equal(a.status, 'NXDOMAIN', `${SPAM[i]} not in wl`));
    // RFC 5782 test points.
    assert.deepEqual((await digOne(dns, qname('127.0.0.2', 'bl'))).a, ['127.0.0.2']);
    assert.equal((await digOne(dns, qname('127.0.0.1', 'bl'))).status, 'NXDOMAIN');
    // TXT: safe for an outside sender, names the sources, <= 255 bytes.
    const txt = await digOne(dns, qname(SPAMCOP_ONLY[0]!, 'bl'), 'TXT');
    assert.equal(txt.status, 'NOERROR');
    assert.match(txt.txt.join(''), /spamcop/);
    assert.ok(txt.txt.join('').length <= 257);
  });

  test('3.6: an informational whole-network list alone lists nothing', async () => {
    const keys = ['198.18.0.1', '198.19.200.7', '203.0.113.1'].filter((k) => !SPAM.includes(k) && !PSBL_V4.includes(k));
    for (const a of await digMany(dns, keys.map((k) => qname(k, 'bl')))) assert.equal(a.status, 'NXDOMAIN', a.name);
  });

  test('a protected domain in a domain source is not in dbl; the spam domains are', async () => {
    const blocked = ['cheap-pills.example', 'phish-login.example', 'invoice-update.test', 'a.tracker.example', 'spam-redirect.example', 'x.spam-redirect.example', 'bulk-sender.example.net'];
    for (const a of await digMany(dns, blocked.map((d) => qname(d, 'dbl')))) assert.deepEqual(a.a, ['127.0.1.2'], a.name);
    const clean = ['mail.google.com', 'linkedin.com', 'outlook.com', 'eur.outlook.com', 'google.com'];
    for (const a of await digMany(dns, clean.map((d) => qname(d, 'dbl')))) assert.equal(a.status, 'NXDOMAIN', `${a.name}: ${a.a}`);
    // Parents of listed names (*.tracker.example) are empty non-terminals: NODATA, not NXDOMAIN (RFC 8020).
    for (const a of await digMany(dns, ['tracker.example', 'example'].map((d) => qname(d, 'dbl')))) {
      assert.deepEqual([a.status, a.a], ['NOERROR', []], a.name);
    }
    const why = await api.explain('mail.google.com');
    assert.equal(why.protectedBy, 'google.com');
    assert.deepEqual(why.class.sources, ['dom']);
  });

  test('local spam-trap evidence above the provider bar lists a Microsoft 365 IP (127.0.0.4)', async () => {
    const ip = '40.107.20.127';
    assert.ok(M365_LISTED.includes(ip));
    const trap = () => runQuorumbl(['report', ip, '--kind', 'trap', '--reporter', 'trap-mx', '--config', cfg]);
    for (let i = 0; i < 2; i++) assert.equal((await trap()).code, 0);
    // Two trap hits (score ~4) are above the ordinary bar (3) but below the provider bar (5).
    await poll(async () => ((await api.explain(ip)).reputation.score > 3.9 ? true : undefined), 'the CLI reports reach serve');
    assert.equal((await digOne(dns, qname(ip, 'bl'))).status, 'NXDOMAIN', 'below the provider bar: still exempt');
    assert.equal((await trap()).code, 0);
    const a = await poll(async () => listed(await digOne(dns, qname(ip, 'bl'))) ?? undefined, `${ip} listed after the third trap hit`);
    assert.deepEqual(a, ['127.0.0.4'], 'the local reason only: the public sources stay exempt');
    assert.equal((await digOne(dns, qname(ip, 'wl'))).status, 'NXDOMAIN', 'a blocked key is not in wl');
    const why = await api.explain(ip);
    assert.equal(why.reputation.events.length, 3);
    assert.ok(why.arithmetic.some((l: string) => /provider bar/.test(l)), why.arithmetic.join('\n'));
  });

  test('a false-positive report drops a single-source listing; the audit log shows it', async () => {
    const ip = SPAMCOP_ONLY[0]!;
    assert.deepEqual((await api.explain(ip)).class.sources, ['spamcop'], 'listed by one source of weight 1 = threshold');
    assert.deepEqual((await digOne(dns, qname(ip, 'bl'))).a, ['127.0.0.2']);
    const r = await api.call('POST', '/api/v1/reports', { key: ip, kind: 'false-positive', note: 'customer mail bounced, ticket 4711' });
    assert.equal(r.status, 201, JSON.stringify(r.json));
    assert.ok(r.json.score < 0);
    // The API answers after the overlay has the change: the next answer is already NXDOMAIN.
    assert.equal((await digOne(dns, qname(ip, 'bl'))).status, 'NXDOMAIN');
    const audit = await api.call('GET', `/api/v1/audit?target=${ip}`);
    assert.equal(audit.status, 200);
    const e = audit.json.entries.find((x: any) => x.action === 'reputation.false-positive');
    assert.ok(e, JSON.stringify(audit.json));
    assert.equal(e.target, ip);
    assert.equal(e.actor, 'token:it');
    assert.match(JSON.stringify(e.after), /ticket 4711/);
    const why = await api.explain(ip);
    assert.equal(why.block, false);
    assert.ok(why.arithmetic.some((l: string) => /- local score 1\.0 = 0\.0 < threshold/.test(l)), why.arithmetic.join('\n'));
    // Another spam IP is unaffected.
    assert.deepEqual((await digOne(dns, qname(SPAMCOP_ONLY[1]!, 'bl'))).a, ['127.0.0.2']);
  });

  test('explain over the API equals the DNS answer (bl/wl/dbl A records) for a sample of keys', async () => {
    // Overrides of every shape first, so the sample has overridden keys.
    const add = async (action: string, key: string) => {
      const r = await api.call('POST', '/api/v1/overrides', { action, key, reason: 'scenario test' });
      assert.equal(r.status, 201, `${action} ${key}: ${JSON.stringify(r.json)}`);
    };
    const overridden = {
      allow: [SPAMCOP_ONLY[2]!, '40.107.22.41', 'cheap-pills.example', '2001:db8:bad::/48', PSBL_V4.filter((ip) => SPAM.includes(ip))[0]!],
      deny: ['192.0.2.250', '198.51.100.0/29', '40.92.200.0/24', 'fresh-spam.example', '*.deny-zone.example', '2001:db8:ffff::1', 'linkedin.com'],
    };
    for (const k of overridden.allow) await add('allow', k);
    for (const k of overridden.deny) await add('deny', k);

    const rnd = rng(20240124);
    const pick = <T>(xs: T[], n: number) => Array.from({ length: n }, () => xs[Math.floor(rnd() * xs.length)]!);
    const byte = () => Math.floor(rnd() * 256);
    const keys = new Set<string>([
      '127.0.0.2', '127.0.0.1', '::ffff:7f00:2', '::ffff:7f00:1', 'test', 'invalid',
      ...SPAM, ...PSBL_V4, ...pick(M365_LISTED, 40), '40.107.20.127', ...PSBL_V6,
      // documentation space around the listings: some listed, most not
      ...Array.from({ length: 40 }, () => `${pick(['192.0.2', '198.51.100', '203.0.113'], 1)[0]}.${byte()}`),
      ...Array.from({ length: 15 }, () => `198.${18 + (byte() & 1)}.${byte()}.${byte()}`),
      // provider ranges, unlisted
      ...Array.from({ length: 30 }, () => {
        const [s, e] = pick(M365_V4, 1)[0]!;
        const n = s + Math.floor(rnd() * (e - s + 1));
        return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
      }),
      // overridden keys and addresses inside overridden prefixes
      '192.0.2.250', '198.51.100.3', '198.51.100.7', '198.51.100.8', '40.92.200.17', '40.92.201.17',
      '2001:db8:bad::1', '2001:db8:bad:1::1', '2001:db8:ffff::1', '2001:db8:ffff::2',
      ...overridden.allow.filter((k) => !k.includes('/')),
      // IPv6: M365 ranges, listed prefix, random, v4-mapped forms of listed keys
      ...Array.from({ length: 10 }, () => `2a01:111:f40${pick(['0', '3'], 1)[0]}:${byte().toString(16)}::${byte().toString(16)}`),
      ...Array.from({ length: 10 }, () => `2001:db8:${byte().toString(16)}::${byte().toString(16)}`),
      ...Array.from({ length: 5 }, () => `2a02:${byte().toString(16)}::${byte().toString(16)}`),
      ...pick(SPAM, 5).map((ip) => `::ffff:${ip}`),
      ...pick(M365_LISTED, 3).map((ip) => `::ffff:${ip}`),
      // random public addresses
      ...Array.from({ length: 20 }, () => `${1 + (byte() % 100)}.${byte()}.${byte()}.${byte()}`),
      // domains: listed, wildcards, protected, overridden, unlisted
      ...lines('domains.txt').map((d) => d.replace(/^\*?\./, '')),
      'a.tracker.example', 'b.c.tracker.example', 'www.spam-redirect.example', 'mail.cheap-pills.example', 'www.outlook.com',
      'google.com', 'www.linkedin.com', 'fresh-spam.example', 'x.deny-zone.example', 'deny-zone.example', 'y.x.deny-zone.example',
      ...Array.from({ length: 15 }, (_, i) => `clean-${i}-${byte()}.example.org`),
    ]);
    const sample = [...keys];
    const ENT_PARENTS = new Set(['tracker.example', 'deny-zone.example', 'c.tracker.example', 'x.deny-zone.example']);
    assert.ok(sample.length >= 300, `sample of ${sample.length} keys`);

    const explained = [] as { key: string; zone: 'bl' | 'dbl'; a: string[]; wl: string | null }[];
    for (const key of sample) {
      const x = await api.explain(key);
      explained.push({ key, zone: x.answer.zone, a: [...x.answer.a].sort(), wl: x.answer.wl });
    }
    const blAnswers = await digMany(dns, explained.map((x) => qname(x.key, x.zone)));
    const wlKeys = explained.filter((x) => kindOf(x.key) !== 'domain');
    const wlAnswers = await digMany(dns, wlKeys.map((x) => qname(x.key, 'wl')));
    const mismatch: string[] = [];
    explained.forEach((x, i) => {
      const d = blAnswers[i]!;
      // not listed: NXDOMAIN, or NODATA for a parent of listed names (an empty non-terminal)
      const notListed = ENT_PARENTS.has(x.key) ? d.status === 'NOERROR' && d.a.length === 0 : d.status === 'NXDOMAIN';
      const ok = x.a.length ? d.status === 'NOERROR' && JSON.stringify(d.a) === JSON.stringify(x.a) : notListed;
      if (!ok) mismatch.push(`${x.key} ${x.zone}: explain [${x.a}] dig ${d.status} [${d.a}]`);
    });
    wlKeys.forEach((x, i) => {
      const d = wlAnswers[i]!;
      const ok = x.wl ? d.status === 'NOERROR' && JSON.stringify(d.a) === JSON.stringify([x.wl]) : d.status === 'NXDOMAIN';
      if (!ok) mismatch.push(`${x.key} wl: explain ${x.wl} dig ${d.status} [${d.a}]`);
    });
    assert.deepEqual(mismatch, [], `${mismatch.length} of ${sample.length} keys differ`);

    // The sample covers every kind of answer.
    const codes = new Set(explained.flatMap((x) => [...x.a, ...(x.wl ? [x.wl] : [])]));
    for (const c of ['127.0.0.2', '127.0.0.3', '127.0.0.4', '127.0.0.5', '127.0.1.2', '127.0.1.5', '127.0.10.1', '127.0.10.2', '127.0.10.3']) {
      assert.ok(codes.has(c), `the sample has an answer with ${c}`);
    }
    assert.ok(explained.some((x) => kindOf(x.key) === 'ip6' && x.a.length > 0), 'a listed IPv6 key');
    assert.ok(explained.some((x) => kindOf(x.key) === 'ip6' && x.wl === '127.0.10.2'), 'an IPv6 key in a provider range');
    assert.ok(explained.filter((x) => x.a.length === 0 && !x.wl).length > 50, 'many unlisted keys');
  });

  test('the static provider list made invalid: the previous ranges stay after a restart', async () => {
    writeFileSync(staticList, 'this is not a CIDR\n40.107.0.0/99\n');
    await stopAll(serve);
    serve = await startServe(cfg, dns, 'serve A restarted');
    // (less the trap-hit address and the one with a manual allow, checked above)
    await assertM365Exempt(dns, 'after the static list broke', ['40.107.20.127', '40.107.22.41']);
    assert.deepEqual((await digOne(dns, qname('40.107.20.127', 'bl'))).a, ['127.0.0.4']);
    assert.deepEqual((await digOne(dns, qname('40.107.22.41', 'wl'))).a, ['127.0.10.3']);
  });
});

// ---------------------------------------------------------------------------------------------
// Serve B: the Microsoft 365 web service on loopback (base_url), refreshed every second; it
// fails (HTTP 500) and then answers without the mail endpoint set: the last good ranges stay.

describe('provider feed failure (loopback M365 web service)', { skip }, () => {
  let http: Server;
  let mode: 'ok' | 'fail' | 'no-smtp' = 'ok';
  let version = '2024011500';
  const hits = { version: 0, endpoints: 0 };
  let dir: string;
  let cfg: string;
  let dns: number;
  let serve: Proc | undefined;
  let list: string;
  const endpoints = readFileSync(join(INC, 'm365-endpoints.json'), 'utf8');

  before(async () => {
    http = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      if (mode === 'fail') {
        res.writeHead(500, { 'content-type': 'text/plain' }).end('internal error');
        return;
      }
      if (url.pathname === '/version/Worldwide' && url.searchParams.get('ClientRequestId')) {
        hits.version++;
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ instance: 'Worldwide', latest: version }));
      } else if (url.pathname === '/endpoints/Worldwide' && url.searchParams.get('ServiceAreas') === 'Exchange') {
        hits.endpoints++;
        const sets = JSON.parse(endpoints) as { id: number }[];
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(mode === 'no-smtp' ? sets.filter((s) => s.id !== 10) : sets));
      } else res.writeHead(404).end();
    });
    http.listen(0, '127.0.0.1');
    await once(http, 'listening');

    dir = makeTmpDir();
    dns = await freePort();
    const web = await freePort();
    list = join(dir, 'spamcop.txt');
    copyFileSync(join(INC, 'spamcop-m365.ip4tset'), list);
    chmodSync(list, 0o644);
    cfg = writeConfig(
      dir,
      [
        `server: { listen: ["127.0.0.1:${dns}"] }`,
        `web: { listen: "127.0.0.1:${web}" }`,
        'state_dir: state',
        'reload: { check_interval: 1s }',
        `base: ${BASE}`,
        // Provider feeds are refreshed only with sync enabled; every upstream here is on loopback
        // (the source is a local file last synced by the CLI, so its scheduler does not fire).
        'sync: { enabled: true }',
        'sources:',
        source('spamcop', list, 'rbldnsd', ', rbldnsd_type: ip4tset'),
        'providers:',
        `  - { provider: microsoft365, type: m365, base_url: "http://127.0.0.1:${(http.address() as AddressInfo).port}", interval: 1 }`,
        '',
      ].join('\n'),
    );
    const s = await runQuorumbl(['sync', '--config', cfg]);
    assert.equal(s.code, 0, s.output);
  });

  after(async () => {
    await stopAll(serve);
    http.close();
  });

  /** Adds a spam IP to the source and syncs it: proves a new merge ran. */
  async function newMerge(ip: string): Promise<void> {
    writeFileSync(list, readFileSync(list, 'utf8') + `${ip}\n`);
    const s = await runQuorumbl(['sync', '--config', cfg]);
    assert.equal(s.code, 0, s.output);
    await poll(async () => listed(await digOne(dns, qname(ip, 'bl'))) ?? undefined, `${ip} listed after the next merge`, { timeoutMs: 30000 });
  }

  // The helpers turn sync off for every serve; this one needs the provider refresh.
  const env = { QUORUMBL_SYNC__ENABLED: 'true' };

  test('the M365 feed fetched from the web service exempts the listed Microsoft IPs', async () => {
    serve = spawnQuorumbl(['serve', '--config', cfg], { env });
    await waitReady(serve, '127.0.0.1', dns, `bl.${BASE}`);
    await waitForLog(serve, 0, (r) => r.msg === 'provider feed checked' && r.status === 'updated', 'the first M365 fetch', 30000);
    await poll(async () => ((await digOne(dns, qname(M365_LISTED[0]!, 'wl'))).a[0] === '127.0.10.2' ? true : undefined), 'the merge with the M365 ranges');
    await assertM365Exempt(dns, 'M365 web service');
    assert.ok(hits.version >= 1 && hits.endpoints === 1, `version polled, endpoints fetched once: ${JSON.stringify(hits)}`);
    assert.deepEqual((await digOne(dns, qname(SPAM[0]!, 'bl'))).a, ['127.0.0.2']);
  });

  test('the web service answering HTTP 500: the previous ranges stay through the next merge', async () => {
    const from = serve!.output().length;
    mode = 'fail';
    await waitForLog(serve!, from, (r) => r.msg === 'provider feed not updated; previous ranges kept' && r.status === 'failed', 'a failed refresh');
    await newMerge('198.51.100.251');
    await assertM365Exempt(dns, 'after HTTP 500');
  });

  test('a new version without the mail endpoint set is refused: the previous ranges stay', async () => {
    const from = serve!.output().length;
    version = '2024020100';
    mode = 'no-smtp';
    const rec = await waitForLog(serve!, from, (r) => r.msg === 'provider feed not updated; previous ranges kept' && r.status === 'rejected', 'a refused refresh');
    assert.match(JSON.stringify(rec.reasons), /empty/);
    await newMerge('198.51.100.252');
    await assertM365Exempt(dns, 'after an emptied feed');
  });

  test('a restart while the service fails answers from the last good copy at once', async () => {
    mode = 'fail';
    await stopAll(serve);
    serve = spawnQuorumbl(['serve', '--config', cfg], { env });
    await waitReady(serve, '127.0.0.1', dns, `bl.${BASE}`);
    await waitForLog(serve, 0, (r) => r.msg === 'merged zones served', 'first merge after restart', 30000);
    await assertM365Exempt(dns, 'after a restart with the feed down');
  });
});
