// Incident 3.1 with the network partly down (issue 9, requirement 2): a SpamCop-like list names
// Microsoft 365 outbound IPs, and the Microsoft 365 web service is unreachable (a closed loopback
// port) from the very first start. A real `serve` must answer from the shipped baseline at once:
// the M365 IPs are not in bl, wl has them, explain names the baseline; `quorumbl providers` and
// GET /api/v1/providers show the failure and `stale`. When the service comes up, its ranges
// replace the baseline (a range it adds exempts one more IP), and a restart with the service down
// again starts from that last good copy, not from the baseline.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { once } from 'node:events';
import { join } from 'node:path';
import {
  ROOT, digRaw, freePort, ip4Labels, makeTmpDir, poll, runQuorumbl, spawnQuorumbl, stopAll, toolsOrSkip,
  waitForLog, waitReady, writeConfig, LEVEL, type Proc,
} from './helpers.ts';

const skip = toolsOrSkip(['dig']);
const INC = join(ROOT, 'test', 'fixtures', 'incidents');
const BASE = 'dnsbl.test';

const ip4Num = (ip: string) => ip.split('.').reduce((a, o) => a * 256 + Number(o), 0);
const M365_V4 = ['40.92.0.0/15', '40.107.0.0/16', '52.100.0.0/14', '104.47.0.0/17'].map((c) => {
  const [a, p] = c.split('/');
  return [ip4Num(a!), ip4Num(a!) + 2 ** (32 - Number(p)) - 1] as const;
});
const inM365 = (ip: string) => M365_V4.some(([s, e]) => ip4Num(ip) >= s && ip4Num(ip) <= e);
const listedIps = readFileSync(join(INC, 'spamcop-m365.ip4tset'), 'utf8').split('\n')
  .map((l) => l.replace(/#.*$/, '').trim()).filter((l) => /^\d+\.\d+\.\d+\.\d+$/.test(l) && l !== '127.0.0.2');
const M365_LISTED = listedIps.filter(inM365);
const SPAM = listedIps.filter((ip) => !inM365(ip));
/** A spam IP the web service will later publish as a new Exchange range. */
const ADDED = SPAM[0]!;

interface Answer { status: string; a: string[] }

async function digMany(port: number, names: string[]): Promise<Answer[]> {
  const file = join(makeTmpDir('quorumbl-dig-'), 'names');
  writeFileSync(file, names.map((n) => `${n} A`).join('\n') + '\n');
  const r = await digRaw('127.0.0.1', port, ['-f', file]);
  assert.equal(r.replies.length, names.length, `dig -f: ${r.replies.length} replies for ${names.length} names\n${r.stderr}`);
  return r.replies.map((rep) => ({ status: rep.status, a: rep.answer.filter((x) => x.type === 'A').map((x) => x.data).sort() }));
}
const q = (ip: string, zone: 'bl' | 'wl') => `${ip4Labels(ip)}.${zone}.${BASE}`;

/** Every listed M365 IP (plus `extra`): NXDOMAIN in bl, 127.0.10.2 in wl; the spam IPs in bl. */
async function assertExempt(port: number, why: string, extra: string[] = []): Promise<void> {
  const ips = [...M365_LISTED, ...extra];
  const bl = await digMany(port, ips.map((ip) => q(ip, 'bl')));
  const wl = await digMany(port, ips.map((ip) => q(ip, 'wl')));
  ips.forEach((ip, i) => {
    assert.equal(bl[i]!.status, 'NXDOMAIN', `${why}: ${ip} must not be in bl, got ${bl[i]!.status} ${bl[i]!.a.join(' ')}`);
    assert.deepEqual(wl[i]!.a, ['127.0.10.2'], `${why}: ${ip} in wl with the provider code`);
  });
  const spam = SPAM.filter((ip) => !extra.includes(ip));
  const sb = await digMany(port, spam.map((ip) => q(ip, 'bl')));
  spam.forEach((ip, i) => assert.deepEqual(sb[i]!.a, ['127.0.0.2'], `${why}: spam ${ip} stays in bl`));
}

async function api(port: number, token: string, path: string): Promise<any> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { headers: { authorization: `Bearer ${token}` } });
  const body = await res.json();
  assert.equal(res.status, 200, `${path}: ${JSON.stringify(body)}`);
  return body;
}

async function cliProviders(cfg: string): Promise<any[]> {
  const r = await runQuorumbl(['providers', '--config', cfg, '--json']);
  assert.equal(r.code, 0, r.output);
  return JSON.parse(r.stdout);
}

describe('Microsoft 365 feed unreachable since the first start: the shipped baseline exempts', { skip }, () => {
  let dir: string;
  let cfg: string;
  let dns: number;
  let web: number;
  let m365Port: number;
  let serve: Proc | undefined;
  let http: Server | undefined;
  let token: string;
  const env = { QUORUMBL_SYNC__ENABLED: 'true' };

  before(async () => {
    dir = makeTmpDir();
    dns = await freePort();
    web = await freePort();
    m365Port = await freePort(); // nothing listens here until the service "comes back"
    const list = join(dir, 'spamcop.txt');
    copyFileSync(join(INC, 'spamcop-m365.ip4tset'), list);
    chmodSync(list, 0o644);
    cfg = writeConfig(dir, [
      `server: { listen: ["127.0.0.1:${dns}"] }`,
      `web: { listen: "127.0.0.1:${web}" }`,
      'state_dir: state',
      'reload: { check_interval: 1s }',
      `base: ${BASE}`,
      'sync: { enabled: true }',
      'sources:',
      `  - { name: spamcop, kind: ip, fetch: ${list}, format: rbldnsd, rbldnsd_type: ip4tset, weight: 1, schedule: "0 0 1 1 *", min_interval: 1w }`,
      'providers:',
      `  - { provider: microsoft365, type: m365, base_url: "http://127.0.0.1:${m365Port}", interval: 1, timeout: 5 }`,
      '',
    ].join('\n'));
    const s = await runQuorumbl(['sync', '--config', cfg], { timeoutMs: 60000 });
    assert.equal(s.code, 0, s.output);
    const t = await runQuorumbl(['token', 'create', '--name', 'it', '--scope', 'reports', '--config', cfg]);
    assert.equal(t.code, 0, t.output);
    token = t.stdout.trim();
  });

  after(async () => {
    await stopAll(serve);
    http?.close();
  });

  test('the first merge already exempts the M365 IPs from the baseline; explain, CLI and API say so', async () => {
    serve = spawnQuorumbl(['serve', '--config', cfg], { env });
    await waitReady(serve, '127.0.0.1', dns, `bl.${BASE}`);
    const merged = await waitForLog(serve, 0, (r) => r.msg === 'merge done: bl/wl/dbl updated', 'the first merge', 30000);
    assert.deepEqual(merged.providers, ['microsoft365/m365-worldwide'], 'the first merge has the M365 feed');
    await waitForLog(serve, 0, (r) => r.msg === 'provider feed not updated; previous ranges kept' && r.origin === 'baseline', 'the failed first fetch');
    const stale = serve.logs().find((r) => r.level === LEVEL.warn && /still on the shipped baseline/.test(String(r.msg)));
    assert.ok(stale, 'a stale warning at start');
    // nothing listed a provider IP at any point: no merge ran before the one with the baseline
    assert.equal(serve.logs().filter((r) => r.msg === 'merge done: bl/wl/dbl updated').length, 1);
    await assertExempt(dns, 'baseline');

    const why = await api(web, token, `/api/v1/explain/${M365_LISTED[0]}`);
    assert.equal(why.block, false);
    assert.equal(why.providers.length, 1);
    assert.match(why.providers[0].detail[0].detail, /^shipped baseline dated 2025-01-01 \(data\/providers\/microsoft365-m365-worldwide\.json\): M365 endpoint set 10 \(TCP 25\)$/);

    const [c] = await cliProviders(cfg);
    assert.deepEqual([c.origin, c.lastStatus, c.stale, c.ranges], ['baseline', 'failed', true, 6]);
    assert.match(c.lastError, /ECONNREFUSED|fetch failed|connect/i);
    const a = await api(web, token, '/api/v1/providers');
    assert.equal(a.stale, true);
    assert.deepEqual([a.providers[0].origin, a.providers[0].lastStatus], ['baseline', 'failed']);
  });

  test('the service comes back: its ranges replace the baseline, a range it adds exempts one more IP', async () => {
    assert.deepEqual((await digMany(dns, [q(ADDED, 'bl')]))[0]!.a, ['127.0.0.2'], `${ADDED} listed before`);
    const sets = JSON.parse(readFileSync(join(INC, 'm365-endpoints.json'), 'utf8')) as { id: number; ips: string[] }[];
    sets.find((s) => s.id === 10)!.ips.push(`${ADDED}/32`);
    http = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      if (url.pathname === '/version/Worldwide') res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ instance: 'Worldwide', latest: '2026120100' }));
      else if (url.pathname === '/endpoints/Worldwide') res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(sets));
      else res.writeHead(404).end();
    });
    http.listen(m365Port, '127.0.0.1');
    await once(http, 'listening');
    const from = serve!.output().length;
    await waitForLog(serve!, from, (r) => r.msg === 'provider feed checked' && r.replacedBaseline === true, 'the first good fetch', 30000);
    await poll(async () => ((await digMany(dns, [q(ADDED, 'bl')]))[0]!.status === 'NXDOMAIN' ? true : undefined), `${ADDED} leaves bl after the merge`, { timeoutMs: 30000 });
    await assertExempt(dns, 'fetched', [ADDED]);
    const why = await api(web, token, `/api/v1/explain/${M365_LISTED[0]}`);
    assert.equal(why.providers[0].detail[0].detail, 'M365 endpoint set 10 (TCP 25), version 2026120100');
    const [c] = await cliProviders(cfg);
    assert.deepEqual([c.origin, c.version, c.stale, c.ranges], ['fetched', '2026120100', false, 7]);
    assert.ok(c.lastSuccess);
  });

  test('a restart with the service down again starts from the last good copy, not the baseline', async () => {
    await stopAll(serve);
    await new Promise((r) => http!.close(r));
    http = undefined;
    serve = spawnQuorumbl(['serve', '--config', cfg], { env });
    await waitReady(serve, '127.0.0.1', dns, `bl.${BASE}`);
    await waitForLog(serve, 0, (r) => r.msg === 'merged zones served', 'the first merge after the restart', 30000);
    await assertExempt(dns, 'restart on the last good copy', [ADDED]);
    assert.ok(!serve.logs().some((r) => /still on the shipped baseline/.test(String(r.msg))), 'no baseline in use');
  });
});

describe('the embedded provider defaults with sync disabled (no network at all)', { skip }, () => {
  let serve: Proc | undefined;
  after(() => stopAll(serve));

  test('all four default feeds merge from their baselines; the M365 IPs of the list are exempt', async () => {
    const dir = makeTmpDir();
    const dns = await freePort();
    const list = join(dir, 'spamcop.txt');
    copyFileSync(join(INC, 'spamcop-m365.ip4tset'), list);
    chmodSync(list, 0o644);
    const cfg = writeConfig(dir, [
      `server: { listen: ["127.0.0.1:${dns}"] }`,
      'web: { enabled: false }',
      'state_dir: state',
      `base: ${BASE}`,
      'sync: { enabled: false }',
      'sources:',
      `  - { name: spamcop, kind: ip, fetch: ${list}, format: rbldnsd, rbldnsd_type: ip4tset, weight: 1, schedule: "0 0 1 1 *", min_interval: 1w }`,
      '',
    ].join('\n'));
    const s = await runQuorumbl(['sync', '--config', cfg], { timeoutMs: 60000 });
    assert.equal(s.code, 0, s.output);
    serve = spawnQuorumbl(['serve', '--config', cfg]);
    await waitReady(serve, '127.0.0.1', dns, `bl.${BASE}`);
    const merged = await waitForLog(serve, 0, (r) => r.msg === 'merge done: bl/wl/dbl updated', 'the first merge', 30000);
    assert.deepEqual(merged.providers, ['microsoft365/m365-worldwide', 'microsoft365/spf-spf.protection.outlook.com', 'google/spf-_spf.google.com', 'amazonses/spf-amazonses.com']);
    assert.equal(serve.logs().filter((r) => r.level === LEVEL.warn && /still on the shipped baseline/.test(String(r.msg))).length, 4);
    await assertExempt(dns, 'defaults, baselines only');
    // Google and Amazon SES baselines answer wl too
    const wl = await digMany(dns, [q('209.85.220.41', 'wl'), q('54.240.8.1', 'wl'), q('192.0.2.1', 'wl')]);
    assert.deepEqual(wl.map((x) => x.a.join()), ['127.0.10.2', '127.0.10.2', '']);
  });
});
