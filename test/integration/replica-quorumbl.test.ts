// A quorumbl replica of a quorumbl primary (transfer: with TSIG, its catalog, NOTIFY to the
// replica): the replica finds bl/wl/dbl through the catalog, 10,000 random keys
// answer the same on both (checkSecondary of test/integration/secondaries.ts), and an override
// on the primary reaches the replica by NOTIFY and IXFR.

import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { T } from '../../core/dns/message.ts';
import {
  freePort, ip4Labels, makeTmpDir, poll, runQuorumbl, spawnQuorumbl, stopAll, toolsOrSkip, waitForLog, waitReady, writeConfig, type Proc,
} from './helpers.ts';
import { checkSecondary, describeMismatches, soaSerial, udpAsker, type Question } from './secondaries.ts';

const skip = toolsOrSkip(['dig']);
const BASE = 'rep.test';
const KEY = { name: 'rep-key', algorithm: 'hmac-sha256', secret: Buffer.alloc(32, 0x42).toString('base64') };

/** Seeded: the same sample every run. */
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
const R = rng(7);
const int = (n: number) => Math.floor(R() * n);
const pick = <X>(a: readonly X[]): X => a[int(a.length)]!;
const hex4 = () => int(0x10000).toString(16);

const SINGLES4 = Array.from({ length: 300 }, () => `${pick([45, 62, 77, 185])}.${int(256)}.${int(256)}.${int(256)}`);
const SINGLES6 = Array.from({ length: 100 }, () => `2001:db8:ff${int(256).toString(16).padStart(2, '0')}:${hex4()}::${hex4()}`);
const RANGES4 = ['192.0.2.0/26', '198.51.100.0/24', '94.16.0.0/16'];
const DOMAINS = Array.from({ length: 150 }, (_, i) => `spam${i}-${int(1e6)}.example`);
const PROVIDER = ['94.16.128.0/17'];

function inRange(cidr: string): string {
  const [a, p] = cidr.split('/');
  const n = a!.split('.').reduce((x, o) => x * 256 + Number(o), 0) + int(2 ** (32 - Number(p)));
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

function owner6(a: string): string {
  const [h, t] = a.split('::');
  const hs = h ? h.split(':') : [];
  const ts = t ? t.split(':') : [];
  const g = [...hs, ...Array(8 - hs.length - ts.length).fill('0'), ...ts].map((x) => parseInt(x, 16));
  return g.map((x) => x.toString(16).padStart(4, '0')).join('').split('').reverse().join('.');
}

function sample(): Question[] {
  const qs: Question[] = [];
  const ip = (): string => {
    const r = R();
    if (r < 0.25) return ip4Labels(pick(SINGLES4));
    if (r < 0.35) return owner6(pick(SINGLES6));
    if (r < 0.6) return ip4Labels(inRange(pick(RANGES4)));
    if (r < 0.85) return ip4Labels(`${1 + int(223)}.${int(256)}.${int(256)}.${int(256)}`);
    return owner6(`2001:db8:${hex4()}:${hex4()}::${hex4()}`);
  };
  const dom = (): string => {
    const r = R();
    if (r < 0.5) return pick(DOMAINS);
    if (r < 0.7) return `x${int(100)}.${pick(DOMAINS)}`;
    return `other${int(1e6)}.example`;
  };
  for (let i = 0; i < 10_000; i++) {
    const r = R();
    const name = r < 0.55 ? `${ip()}.bl.${BASE}` : r < 0.75 ? `${ip()}.wl.${BASE}` : `${dom()}.dbl.${BASE}`;
    qs.push({ name, type: T.A });
    if (i % 5 === 0) qs.push({ name, type: T.TXT });
  }
  qs.push({ name: `2.0.0.127.bl.${BASE}`, type: T.A });
  return qs;
}

describe('a quorumbl replica of a quorumbl primary', { skip }, () => {
  const dir = makeTmpDir('qbl-rep-primary-');
  const rdir = makeTmpDir('qbl-rep-replica-');
  let primary: Proc | undefined;
  let replica: Proc | undefined;
  let pPort = 0;
  let rPort = 0;
  let pCfg = '';
  // the mirrors are in the primary's catalog too, but not transferable yet (see the report)
  const ZONES = ['bl', 'wl', 'dbl'].map((z) => `${z}.${BASE}`);

  before(async () => {
    pPort = await freePort();
    rPort = await freePort();
    writeFileSync(join(dir, 'a.txt'), [...SINGLES4, ...SINGLES6, ...RANGES4].join('\n') + '\n');
    writeFileSync(join(dir, 'b.txt'), [...SINGLES4.slice(0, 100), RANGES4[1]].join('\n') + '\n');
    writeFileSync(join(dir, 'dom.txt'), DOMAINS.join('\n') + '\n');
    writeFileSync(join(dir, 'provider.txt'), PROVIDER.join('\n') + '\n');
    const src = (n: string, f: string, fmt: string, kind = 'ip') =>
      `  - { name: ${n}, kind: ${kind}, fetch: ${join(dir, f)}, format: ${fmt}, schedule: "0 0 1 1 *", min_interval: 1w, weight: 1 }`;
    pCfg = writeConfig(dir, [
      `server: { listen: ["127.0.0.1:${pPort}"] }`,
      'web: { enabled: false }',
      'state_dir: state',
      `base: ${BASE}`,
      'sync: { enabled: false }',
      'policy: { threshold: 1, consensus: 2, provider_bar: 5 }',
      'sources:',
      src('a', 'a.txt', 'plain'),
      src('b', 'b.txt', 'plain'),
      src('dom', 'dom.txt', 'domains', 'domain'),
      'providers:',
      `  - { provider: testprov, type: static, file: ${join(dir, 'provider.txt')} }`,
      'transfer:',
      `  keys: [{ name: ${KEY.name}, algorithm: ${KEY.algorithm}, secret: "${KEY.secret}" }]`,
      `  acl: { "*": { allow: [127.0.0.1/32], keys: [${KEY.name}] } }`,
      `  notify: [{ address: "127.0.0.1:${rPort}", key: ${KEY.name}, zones: ["*"] }]`,
      '  delay: 1s',
      `  catalog: catalog.${BASE}`,
      '',
    ].join('\n'));
    const s = await runQuorumbl(['sync', '--config', pCfg], { timeoutMs: 90000 });
    assert.equal(s.code, 0, s.output);
    primary = spawnQuorumbl(['serve', '--config', pCfg]);
    await waitReady(primary, '127.0.0.1', pPort, `bl.${BASE}`);
    await waitForLog(primary, 0, (r) => r.msg === 'merged zones served', 'first merge', 90000);
  });

  after(async () => {
    await stopAll(replica, primary);
  });

  test('the catalog brings bl/wl/dbl; 10,000 random keys answer as on the primary', async () => {
    const rCfg = writeConfig(rdir, `server: { listen: ["127.0.0.1:${rPort}"] }
state_dir: state
base: ${BASE}
replica:
  primary: 127.0.0.1:${pPort}
  tsig: { name: ${KEY.name}, algorithm: ${KEY.algorithm}, secret: "${KEY.secret}" }
  first_retry: 1s
`);
    replica = spawnQuorumbl(['serve', '--config', rCfg]);
    await waitReady(replica, '127.0.0.1', rPort, `bl.${BASE}`);
    for (const z of ZONES) {
      const want = await poll(async () => (await soaSerial('127.0.0.1', pPort, z)) ?? undefined, `primary SOA of ${z}`);
      await poll(async () => ((await soaSerial('127.0.0.1', rPort, z)) === want ? true : undefined), `the replica to serve ${z} at ${want}`,
        { timeoutMs: 90000, describe: () => replica!.tail() });
    }
    const bad = await checkSecondary('replica', udpAsker('127.0.0.1', rPort), udpAsker('127.0.0.1', pPort), sample());
    assert.equal(bad.length, 0, describeMismatches('replica', bad));
  });

  test('an override on the primary reaches the replica by a signed NOTIFY and IXFR', async () => {
    const key = '203.0.113.77';
    const name = `${ip4Labels(key)}.bl.${BASE}`;
    const ask = udpAsker('127.0.0.1', rPort);
    assert.equal((await ask([{ name, type: T.A }]))[0]!.rcode, 3);
    const from = replica!.output().length;
    const pFrom = primary!.output().length;
    const o = await runQuorumbl(['override', 'add', 'deny', key, '--reason', 'replica test', '--config', pCfg]);
    assert.equal(o.code, 0, o.output);
    const applied = await waitForLog(replica!, from, (l) => l.msg === 'replica: IXFR applied' && l.zone === `bl.${BASE}`, 'the IXFR of bl', 60000);
    assert.ok(Number(applied.added) >= 1 && Number(applied.added) <= 4, `only the difference: ${JSON.stringify(applied)}`);
    await poll(async () => ((await ask([{ name, type: T.A }]))[0]!.rcode === 0 ? true : undefined), 'the new verdict on the replica');
    const [p, r] = await Promise.all([udpAsker('127.0.0.1', pPort)([{ name, type: T.A }]), ask([{ name, type: T.A }])]);
    assert.deepEqual(r, p);
    // the primary's signed NOTIFY got a reply whose TSIG verified
    const failed = primary!.output().slice(pFrom).split('\n').filter((l) => l.includes(`NOTIFY of bl.${BASE} to`) && l.includes('failed'));
    assert.deepEqual(failed, []);
  });
});
