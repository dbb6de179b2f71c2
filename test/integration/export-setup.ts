// The state the export tests work on: the incident fixtures (a SpamCop-like list over Microsoft
// 365 ranges, a PSBL-like list with IPv4 and IPv6, an informational whole-network list, a domain
// list) and the Microsoft 365 ranges as a static provider list, synced into a fresh state
// directory; overrides of every shape; a random sample of keys over all of it.

import assert from 'node:assert/strict';
import { chmodSync, copyFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, freePort, makeTmpDir, runQuorumbl, writeConfig } from './helpers.ts';

export const INC = join(ROOT, 'test', 'fixtures', 'incidents');
export const BASE = 'dnsbl.test';

export function fixtureLines(file: string): string[] {
  return readFileSync(join(INC, file), 'utf8').split('\n').map((l) => l.replace(/#.*$/, '').trim()).filter((l) => l && !l.startsWith(':'));
}

function source(name: string, fetch: string, format: string, extra = ''): string {
  const kind = format === 'domains' ? 'domain' : 'ip';
  return `  - { name: ${name}, kind: ${kind}, fetch: ${fetch}, format: ${format}, schedule: "0 0 1 1 *", min_interval: 1w${extra} }`;
}

export interface ExportState {
  dir: string;
  cfg: string;
  dns: number;
  web: number;
}

/** A config over the incident fixtures, synced (no serve running). */
export async function syncedState(): Promise<ExportState> {
  const dir = makeTmpDir('quorumbl-export-');
  const dns = await freePort();
  const web = await freePort();
  const staticList = join(dir, 'm365-static.txt');
  copyFileSync(join(INC, 'm365-static.txt'), staticList);
  chmodSync(staticList, 0o644);
  const cfg = writeConfig(dir, [
    `server: { listen: ["127.0.0.1:${dns}"] }`,
    `web: { listen: "127.0.0.1:${web}" }`,
    'state_dir: state',
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
  ].join('\n'));
  const s = await runQuorumbl(['sync', '--config', cfg], { timeoutMs: 60000 });
  assert.equal(s.code, 0, s.output);
  return { dir, cfg, dns, web };
}

export const OVERRIDES = {
  allow: ['40.107.22.41', 'cheap-pills.example', '2001:db8:bad::/48'],
  deny: ['192.0.2.250', '198.51.100.0/29', '40.92.200.0/24', 'fresh-spam.example', '*.deny-zone.example', '2001:db8:ffff::1'],
};

/** Adds the overrides through the CLI (a running serve picks them up from the database). */
export async function addOverrides(cfg: string): Promise<void> {
  for (const [action, keys] of Object.entries(OVERRIDES)) {
    for (const key of keys) {
      const r = await runQuorumbl(['override', 'add', action, key, '--reason', 'export test', '--config', cfg]);
      assert.equal(r.code, 0, r.output);
    }
  }
}

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

function ip4Num(ip: string): number {
  return ip.split('.').reduce((a, o) => a * 256 + Number(o), 0);
}

const num4 = (n: number): string => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');

/** Full 32-nibble hex of an IPv6 address. */
export function hex6(addr: string): string {
  const [head, tail] = addr.includes('::') ? addr.split('::') : [addr, undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  return groups.map((g) => g.padStart(4, '0')).join('').toLowerCase();
}

export type Zone = 'bl' | 'wl' | 'dbl';

/** A query: the name below the zone, and the zone. */
export interface Ask {
  key: string;
  zone: Zone;
  name: string;
}

/** `n` distinct random keys as questions: listed, exempt (provider ranges), overridden,
 *  unlisted; IPv4 and IPv6 asked in bl and wl, domains in dbl. Seeded: the same sample on every
 *  run. */
export function sampleKeys(n: number, seed = 20261206): Ask[] {
  const r = rng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const byte = () => Math.floor(r() * 256);
  const hex = (max: number) => Math.floor(r() * max).toString(16);
  const spam = fixtureLines('spamcop-m365.ip4tset').filter((l) => /^\d+\.\d+\.\d+\.\d+$/.test(l));
  const psbl = fixtureLines('psbl-like.txt');
  const psbl4 = psbl.filter((l) => /^\d+\.\d+\.\d+\.\d+$/.test(l));
  const psbl6 = psbl.filter((l) => l.includes(':') && !l.includes('/'));
  const domains = fixtureLines('domains.txt').map((d) => d.replace(/^\*?\./, ''));
  const m365 = ['40.92.0.0/15', '40.107.0.0/16', '52.100.0.0/14', '104.47.0.0/17'].map((c) => {
    const [a, p] = c.split('/');
    return [ip4Num(a!), 2 ** (32 - Number(p))] as const;
  });
  const gens: (() => string)[] = [
    () => pick(spam),
    () => pick(psbl4),
    () => pick(psbl6),
    () => num4(ip4Num(pick(spam)) ^ (byte() & 7)), // neighbours of listings
    () => { const [s, size] = pick(m365); return num4(s + Math.floor(r() * size)); }, // exempt
    () => `${pick(['192.0.2', '198.51.100', '203.0.113'])}.${byte()}`,
    () => `198.${18 + (byte() & 1)}.${byte()}.${byte()}`,
    () => `${1 + (byte() % 223)}.${byte()}.${byte()}.${byte()}`,
    () => pick(['192.0.2.250', '198.51.100.3', '198.51.100.7', '198.51.100.8', '40.92.200.17', '40.92.201.17', '40.107.22.41', '127.0.0.2', '127.0.0.1']),
    () => `2001:db8:${pick(['bad', 'ffff', hex(65536)])}:${hex(4)}::${hex(4)}`,
    () => `2a01:111:f40${pick(['0', '3'])}:${hex(256)}::${hex(256)}`,
    () => `2a02:${hex(65536)}::${hex(65536)}`,
    () => pick(domains),
    () => `${pick(['a', 'www', 'mail', 'x.y'])}.${pick(domains)}`,
    () => pick(['fresh-spam.example', 'x.deny-zone.example', 'y.x.deny-zone.example', 'cheap-pills.example', 'test', 'invalid', 'google.com']),
    () => `clean-${byte()}-${byte()}.example.org`,
  ];
  const out: Ask[] = [];
  const seen = new Set<string>();
  while (seen.size < n) {
    const key = pick(gens)();
    if (seen.has(key)) continue;
    seen.add(key);
    if (key.includes(':')) {
      const name = hex6(key).split('').reverse().join('.');
      out.push({ key, zone: 'bl', name }, { key, zone: 'wl', name });
    } else if (/^\d+\.\d+\.\d+\.\d+$/.test(key)) {
      const name = key.split('.').reverse().join('.');
      out.push({ key, zone: 'bl', name }, { key, zone: 'wl', name });
    } else out.push({ key, zone: 'dbl', name: key });
  }
  return out;
}
