// The servers the fuzzer runs against: a real `bin/quorumbl serve` with the merged bl/wl/dbl
// zones (three synced sources + a static provider list), a mirror per source and rbldnsd zones
// of several dataset types; and `bin/quorumbl rbldnsd` with the same rbldnsd zones. Also the
// names the fuzzer's valid queries ask for and a known-good query with its expected answer.

import { copyFileSync, chmodSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import dnsPacket from 'dns-packet';
import {
  FIXTURES, ROOT, dig, freePort, ip4Labels, ip6Labels, makeTmpDir, runQuorumbl, spawnQuorumbl, waitForLog, waitReady,
  writeConfig, type Proc,
} from '../integration/helpers.ts';
import { buildQuery } from '../differential/wire.ts';

const INC = join(ROOT, 'test', 'fixtures', 'incidents');
const RBL = join(ROOT, 'test', 'fixtures', 'rbldnsd');
export const BASE = 'fuzz.test';

/** rbldnsd zones: name, dataset type, file. */
const RBLDNSD_ZONES: Array<[string, string, string]> = [
  ['bl.quorumbl.test', 'ip4set', join(FIXTURES, 'ip4set.txt')],
  ['bl.quorumbl.test', 'dnset', join(FIXTURES, 'dnset.txt')],
  ['comb.quorumbl.test', 'combined', join(FIXTURES, 'combined.txt')],
  ['trie.quorumbl.test', 'ip4trie', join(RBL, 'ip4trie.txt')],
  ['v6.quorumbl.test', 'ip6tset', join(RBL, 'ip6tset.txt')],
  ['gen.quorumbl.test', 'generic', join(RBL, 'generic.txt')],
];

const T2 = ip6Labels('00000000000000000000ffff7f000002');
const RBLDNSD_NAMES = [
  'bl.quorumbl.test', `2.0.0.127.bl.quorumbl.test`, `1.0.0.127.bl.quorumbl.test`, `${ip4Labels('192.0.2.5')}.bl.quorumbl.test`,
  `${T2}.bl.quorumbl.test`, 'test.bl.quorumbl.test', 'x.evil.example.bl.quorumbl.test', '127.bl.quorumbl.test',
  'comb.quorumbl.test', `${ip4Labels('203.0.113.7')}.relays.comb.quorumbl.test`, 'relays.comb.quorumbl.test',
  'trie.quorumbl.test', `${ip4Labels('10.11.12.13')}.trie.quorumbl.test`, `${ip4Labels('10.9.1.1')}.trie.quorumbl.test`,
  'v6.quorumbl.test', `${ip6Labels('20010db8000100020000000000000001')}.v6.quorumbl.test`,
  'gen.quorumbl.test', 'multi.gen.quorumbl.test', 'ns1.gen.quorumbl.test', 'quoted.gen.quorumbl.test',
  'example.org', 'quorumbl.test', '.', 'www.example.com',
];

function firstLines(file: string, n: number, pred: (l: string) => boolean): string[] {
  return readFileSync(file, 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#') && !l.startsWith(':') && pred(l)).slice(0, n);
}
const isV4 = (s: string) => /^\d+\.\d+\.\d+\.\d+$/.test(s);

const SPAM = firstLines(join(INC, 'spamcop-m365.ip4tset'), 400, isV4).filter((ip) => ip.startsWith('192.0.2.') || ip.startsWith('198.51.') || ip.startsWith('203.0.'));
const M365 = firstLines(join(INC, 'spamcop-m365.ip4tset'), 400, (l) => l.startsWith('40.107.')).slice(0, 3);
const PSBL = firstLines(join(INC, 'psbl-like.txt'), 100000, isV4).filter((ip) => ip !== '127.0.0.2');
/** Listed by the SpamCop-like source alone: bl answers its code only (no consensus code). */
const SPAM_ONLY = SPAM.filter((ip) => !PSBL.includes(ip) && !ip.startsWith('203.0.113.'));
const DOMAINS = firstLines(join(INC, 'domains.txt'), 10, () => true);

const SERVE_NAMES = [
  ...RBLDNSD_NAMES,
  `bl.${BASE}`, `wl.${BASE}`, `dbl.${BASE}`, `2.0.0.127.bl.${BASE}`, `1.0.0.127.bl.${BASE}`, `2.0.0.127.wl.${BASE}`,
  `${T2}.bl.${BASE}`, `127.bl.${BASE}`, `0.0.127.bl.${BASE}`, `test.dbl.${BASE}`, `invalid.dbl.${BASE}`,
  ...SPAM.slice(0, 5).map((ip) => `${ip4Labels(ip)}.bl.${BASE}`),
  ...M365.map((ip) => `${ip4Labels(ip)}.wl.${BASE}`),
  ...DOMAINS.slice(0, 4).map((d) => `${d}.dbl.${BASE}`),
  `psbl.mirror.${BASE}`, ...PSBL.slice(0, 3).map((ip) => `${ip4Labels(ip)}.psbl.mirror.${BASE}`),
  `spamcop.mirror.${BASE}`, `${ip4Labels(SPAM[0]!)}.spamcop.mirror.${BASE}`, `dom.mirror.${BASE}`,
  `mirror.${BASE}`, BASE,
];

export interface FuzzWorld {
  mode: 'serve' | 'rbldnsd';
  proc: Proc;
  port: number;
  names: readonly string[];
  /** A listed name whose A reply must be exactly `sentinelA`. */
  sentinel: Buffer;
  sentinelOk: (reply: Buffer) => string | null;
  /** Known answers that must hold after the run: [name, expected A list or 'NXDOMAIN']. */
  known: Array<[string, string[] | 'NXDOMAIN']>;
}

function sentinelCheck(want: string): (reply: Buffer) => string | null {
  return (reply) => {
    try {
      const p = dnsPacket.decode(reply) as { rcode?: string; answers?: Array<{ type: string; data?: unknown }> };
      const a = (p.answers ?? []).filter((x) => x.type === 'A').map((x) => String(x.data));
      if (p.rcode !== 'NOERROR' || a.length !== 1 || a[0] !== want) return `expected NOERROR A ${want}, got ${p.rcode} ${a.join(' ')}`;
      return null;
    } catch (e) {
      return `undecodable: ${(e as Error).message}`;
    }
  };
}

function fixture(dir: string, file: string): string {
  const dst = join(dir, file.split('/').pop()!);
  copyFileSync(file, dst);
  chmodSync(dst, 0o644);
  return dst;
}

/** `bin/quorumbl serve`: sources synced once with `quorumbl sync`, then served; resolves after the first merge. */
export async function startServeWorld(): Promise<FuzzWorld> {
  const dir = makeTmpDir('quorumbl-fuzz-');
  const port = await freePort();
  const src = (name: string, file: string, format: string, extra = '') =>
    `  - { name: ${name}, kind: ${format === 'domains' ? 'domain' : 'ip'}, fetch: ${fixture(dir, file)}, format: ${format}, schedule: "0 0 1 1 *", min_interval: 1w${extra} }`;
  const cfg = writeConfig(
    dir,
    [
      `server: { listen: ["127.0.0.1:${port}"] }`,
      'web: { enabled: false }',
      'state_dir: state',
      `base: ${BASE}`,
      'sync: { enabled: false }',
      'sources:',
      src('spamcop', join(INC, 'spamcop-m365.ip4tset'), 'rbldnsd', ', rbldnsd_type: ip4tset, weight: 1'),
      src('psbl', join(INC, 'psbl-like.txt'), 'plain', ', weight: 1'),
      src('dom', join(INC, 'domains.txt'), 'domains', ', weight: 1'),
      'providers:',
      `  - { provider: microsoft365, type: static, file: ${fixture(dir, join(INC, 'm365-static.txt'))} }`,
      'zones:',
      ...groupZones().map(([z, ds]) => `  - name: ${z}\n    datasets:\n${ds.map(([t, f]) => `      - { type: ${t}, files: [${fixture(dir, f)}] }`).join('\n')}`),
      '',
    ].join('\n'),
  );
  const s = await runQuorumbl(['sync', '--config', cfg], { timeoutMs: 60000 });
  if (s.code !== 0) throw new Error(`quorumbl sync failed:\n${s.output}`);
  const proc = spawnQuorumbl(['serve', '--config', cfg]);
  await waitReady(proc, '127.0.0.1', port, `bl.${BASE}`);
  await waitForLog(proc, 0, (r) => r.msg === 'merged zones served', 'first merge', 60000);
  return {
    mode: 'serve',
    proc,
    port,
    names: SERVE_NAMES,
    sentinel: buildQuery(0, `2.0.0.127.bl.${BASE}`, 1),
    sentinelOk: sentinelCheck('127.0.0.2'),
    known: [
      [`2.0.0.127.bl.${BASE}`, ['127.0.0.2']],
      [`1.0.0.127.bl.${BASE}`, 'NXDOMAIN'],
      [`${ip4Labels(SPAM_ONLY[0]!)}.bl.${BASE}`, ['127.0.0.2']],
      [`${ip4Labels(M365[0]!)}.bl.${BASE}`, 'NXDOMAIN'],
      [`${ip4Labels(M365[0]!)}.wl.${BASE}`, ['127.0.10.2']],
      [`${ip4Labels(PSBL[0]!)}.psbl.mirror.${BASE}`, ['127.0.0.2']],
      [`${ip4Labels('192.0.2.5')}.bl.quorumbl.test`, ['127.0.0.3']],
      [`${ip4Labels('10.11.12.13')}.trie.quorumbl.test`, ['127.0.0.12']],
    ],
  };
}

function groupZones(): Array<[string, Array<[string, string]>]> {
  const m = new Map<string, Array<[string, string]>>();
  for (const [z, t, f] of RBLDNSD_ZONES) m.set(z, [...(m.get(z) ?? []), [t, f]]);
  return [...m];
}

/** `bin/quorumbl rbldnsd` with the rbldnsd zones, as an rbldnsd command line. */
export async function startRbldnsdWorld(): Promise<FuzzWorld> {
  const dir = makeTmpDir('quorumbl-fuzz-rbl-');
  const port = await freePort();
  const zones = RBLDNSD_ZONES.map(([z, t, f]) => `${z}:${t}:${fixture(dir, f).split('/').pop()}`);
  const proc = spawnQuorumbl(['rbldnsd', '-n', '-b', `127.0.0.1/${port}`, '-w', dir, ...zones]);
  await waitReady(proc, '127.0.0.1', port, 'bl.quorumbl.test');
  return {
    mode: 'rbldnsd',
    proc,
    port,
    names: RBLDNSD_NAMES,
    sentinel: buildQuery(0, '2.0.0.127.bl.quorumbl.test', 1),
    sentinelOk: sentinelCheck('127.0.0.2'),
    known: [
      ['2.0.0.127.bl.quorumbl.test', ['127.0.0.2']],
      ['1.0.0.127.bl.quorumbl.test', 'NXDOMAIN'],
      [`${ip4Labels('192.0.2.5')}.bl.quorumbl.test`, ['127.0.0.3']],
      [`${ip4Labels('10.11.12.13')}.trie.quorumbl.test`, ['127.0.0.12']],
    ],
  };
}

/** Mismatches between the world's known answers and what dig gets now, over UDP and TCP. */
export async function knownAnswerErrors(w: FuzzWorld): Promise<string[]> {
  const errs: string[] = [];
  for (const tcp of [false, true]) {
    for (const [name, want] of w.known) {
      const r = await dig('127.0.0.1', w.port, [...(tcp ? ['+tcp'] : []), name, 'A']);
      const a = r.answer.filter((x) => x.type === 'A').map((x) => x.data).sort();
      const ok = want === 'NXDOMAIN' ? r.status === 'NXDOMAIN' : r.status === 'NOERROR' && JSON.stringify(a) === JSON.stringify(want);
      if (!ok) errs.push(`${tcp ? 'tcp' : 'udp'} ${name}: want ${JSON.stringify(want)}, got ${r.status} ${a.join(' ')}`);
    }
  }
  return errs;
}
