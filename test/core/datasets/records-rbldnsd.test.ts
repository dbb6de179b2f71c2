// records() of the rbldnsd dataset types against their own query(): a secondary-like zone over
// the records (RecordsDataset) must answer every key with the same A set and TXT, including the
// 32-nibble names a zone with IPv4 datasets looks up as IPv4 (v4-mapped, 6to4).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ip4set } from '../../../core/datasets/ip4set.ts';
import { ip4trie } from '../../../core/datasets/ip4trie.ts';
import { dnset } from '../../../core/datasets/dnset.ts';
import { ip6trie } from '../../../core/datasets/ip6trie.ts';
import { ip6tset } from '../../../core/datasets/ip6tset.ts';
import { ip4tset } from '../../../core/datasets/ip4tset.ts';
import { formatIp6, parseIp6Cidr } from '../../../core/ip6.ts';
import { RecordsDataset } from '../../../core/datasets/records.ts';
import type { Dataset, DatasetType } from '../../../core/datasets/types.ts';
import type { MaterialiseOptions } from '../../../core/zones/records.ts';
import { loadTexts, query } from './helpers.ts';
import { rng } from '../../sync/merge/helpers.ts';

const dotted = (x: number): string => `${x >>> 24}.${(x >>> 16) & 255}.${(x >>> 8) & 255}.${x & 255}`;

function opts(max = 65536): MaterialiseOptions & { problems: string[] } {
  const problems: string[] = [];
  return { maxExpansion: max, report: (p) => problems.push(p), problems };
}

const labels4 = (x: number): string[] => dotted(x).split('.').reverse();
function labels6(b: Uint8Array): string[] {
  const l: string[] = [];
  for (let i = 15; i >= 0; i--) l.push((b[i]! & 15).toString(16), (b[i]! >> 4).toString(16));
  return l;
}
function embed(x: number, kind: 'mapped' | '6to4', r: () => number): Uint8Array {
  const b = new Uint8Array(16);
  const o = [x >>> 24, (x >>> 16) & 255, (x >>> 8) & 255, x & 255];
  if (kind === 'mapped') {
    b[10] = 0xff;
    b[11] = 0xff;
    b.set(o, 12);
  } else {
    b[0] = 0x20;
    b[1] = 0x02;
    b.set(o, 2);
    for (let i = 6; i < 16; i++) b[i] = Math.floor(r() * 256);
  }
  return b;
}

/** Compares A and TXT (as sets: the server dedups identical RRs) on every name. */
export function compareOn(ds: Dataset, sec: Dataset, names: string[][], txtExact: boolean): number {
  let listed = 0;
  for (const l of names) {
    const q = query(ds, l, 255);
    const s = query(sec, l, 255);
    const pick = (recs: typeof q.recs, t: string) => [...new Set(recs.filter((x) => x.type === t).map((x) => x.data))].sort();
    assert.deepEqual(pick(s.recs, 'A'), pick(q.recs, 'A'), `${ds.type} ${l.join('.')}: A`);
    if (txtExact) assert.deepEqual(pick(s.recs, 'TXT'), pick(q.recs, 'TXT'), `${ds.type} ${l.join('.')}: TXT`);
    else assert.equal(pick(s.recs, 'TXT').length, pick(q.recs, 'TXT').length, `${ds.type} ${l.join('.')}: TXT count`);
    if (pick(q.recs, 'A').length) listed++;
  }
  return listed;
}

/** Random ip4set / ip4trie data: entries of every shape near a few bases, values, exclusions. */
function ip4Data(seed: number, trie: boolean, dollar: boolean): { text: string; keys: number[] } {
  const r = rng(seed);
  const bases = [0x01020000, 0x0a140000, 0xc0000000, 0x05000000, 0x7f000000];
  const keys: number[] = [0, 2 ** 32 - 1];
  const lines: string[] = [`:127.0.0.2:Listed${dollar ? ' $' : ''}`];
  const prefix = (bits: number): string => {
    const base = bases[Math.floor(r() * bases.length)]!;
    const ip = ((base + Math.floor(r() * 65536 * 4)) & (bits === 0 ? 0 : (0xffffffff << (32 - bits)))) >>> 0;
    const end = ip + 2 ** (32 - bits) - 1;
    keys.push(ip, end, ip - 1, end + 1, ip + Math.floor(r() * 2 ** (32 - bits)));
    return bits === 32 ? dotted(ip) : `${dotted(ip)}/${bits}`;
  };
  for (let i = 0; i < 600; i++) {
    const x = r();
    const bits = [32, 32, 32, 24, 25, 30, 20, 16, 28, 8][Math.floor(r() * 10)]!;
    let key = prefix(bits);
    if (!trie && x < 0.1) {
      const [a] = key.split('/');
      const s = a!.split('.').reduce((v, o) => v * 256 + Number(o), 0);
      const e = s + Math.floor(r() * 2000);
      keys.push(e, e + 1);
      key = `${dotted(s)}-${dotted(Math.min(e, 2 ** 32 - 1))}`;
    }
    if (r() < 0.15) lines.push(`!${key}`);
    else if (r() < 0.3) lines.push(`${key} :127.0.0.${3 + Math.floor(r() * 3)}:Code ${Math.floor(r() * 3)}${dollar ? ' for $' : ''}`);
    else lines.push(key);
  }
  if (!trie) lines.push('5.0.0.0/8'); // a whole all-digit /8 (28306 names)
  for (let i = 0; i < 1500; i++) keys.push(Math.floor(r() * 2 ** 32));
  return { text: lines.join('\n') + '\n', keys: keys.filter((k) => k >= 0 && k < 2 ** 32) };
}

for (const [type, trie] of [[ip4set, false], [ip4trie, true]] as [DatasetType, boolean][]) {
  for (const dollar of [false, true]) {
    test(`${type.name} records answer as ${type.name} does (IPv4, v4-mapped, 6to4; TXT ${dollar ? 'with' : 'without'} $)`, () => {
      const { text, keys } = ip4Data(dollar ? 21 : 22, trie, dollar);
      const { ds, warnings } = loadTexts(type, [text]);
      assert.deepEqual(warnings.filter((w) => !/duplicated entry/.test(w)), []);
      const o = opts();
      const sec = new RecordsDataset([...ds.records!(o)], {});
      assert.deepEqual(o.problems, []);
      const r = rng(5);
      const names: string[][] = [];
      for (const k of keys) {
        names.push(labels4(k));
        if (r() < 0.3) names.push(labels6(embed(k, 'mapped', r)), labels6(embed(k, '6to4', r)));
      }
      // IPv6 names under the IPv4 /8s' labels: never listed by an IPv4 dataset
      for (let i = 0; i < 300; i++) {
        const b = new Uint8Array(16);
        for (let j = 0; j < 16; j++) b[j] = Math.floor(r() * 256);
        b[0] = [0x50, 0x10, 0x70][i % 3]! | (b[0]! & 15);
        names.push(labels6(b));
      }
      const listed = compareOn(ds, sec, names, !dollar);
      assert.ok(listed > 500, `${listed} listed of ${names.length}`);
    });
  }
}

test('ip4set: an exclusion inside a listed /24 is answered as not listed; a $ TXT under a wildcard names the block', () => {
  const { ds } = loadTexts(ip4set, [':127.0.0.2:Listed $\n192.0.20.0/24\n!192.0.20.7\n10.0.0.0/8 :127.0.0.4:Big\n172.20.0.0/16\n']);
  const recs = [...ds.records!(opts())];
  const sec = new RecordsDataset(recs, {});
  assert.equal(query(sec, ['7', '20', '0', '192'], 1).recs.length, 0);
  assert.deepEqual(query(sec, ['8', '20', '0', '192'], 16).recs.map((x) => x.data), ['Listed 192.0.20.8']);
  assert.deepEqual(query(sec, ['9', '9', '9', '10'], 255).recs.map((x) => x.data), ['127.0.0.4', 'Big']);
  assert.ok(recs.some((x) => x.name === '*.10' && x.data === '127.0.0.4'));
  assert.ok(recs.some((x) => x.name === '*.a.0.2.0.0.2' && x.data === 'Big'), '6to4: 10/8 is 2002:a00::/24');
  assert.ok(recs.some((x) => x.name === '*.20.172' && x.data === 'Listed 172.20.0.0/16'), 'a $ TXT under a wildcard names its CIDR');
});

test('dnset records answer as dnset does: exact entries, *.x and .x, exclusions of both scopes, $ = the matched entry', () => {
  const r = rng(31);
  const L = ['a', 'b', 'c', 'www', 'mail'];
  const lines = [':127.0.0.2:Listed $'];
  const names: string[][] = [];
  const used = new Set<string>();
  for (let i = 0; i < 400; i++) {
    const l = [['com', 'net', 'example'][i % 3]!];
    for (let d = Math.floor(r() * 4); d > 0; d--) l.unshift(L[Math.floor(r() * L.length)]!);
    const n = l.join('.');
    const form = Math.floor(r() * 3);
    const entry = form === 0 ? n : form === 1 ? `*.${n}` : `.${n}`;
    if (used.has(entry)) continue;
    used.add(entry);
    const excl = r() < 0.15;
    const value = !excl && r() < 0.3 ? ` :127.0.0.${3 + Math.floor(r() * 3)}:Code $ here` : '';
    lines.push(`${excl ? '!' : ''}${entry}${value}`);
    names.push(l, ['zz', ...l], ['a', 'b', ...l], l.slice(1));
  }
  lines.push('*.example', 'a.b.c.example', '!*.b.c.example', '!x.example'); // (random entries may repeat these)
  names.push(['x', 'example'], ['y', 'x', 'example'], ['c', 'example'], ['b', 'c', 'example'], ['z', 'b', 'c', 'example'], ['example']);
  const { ds } = loadTexts(dnset, [lines.join('\n') + '\n']);
  const o = opts();
  const recs = [...ds.records!(o)];
  assert.deepEqual(o.problems, []);
  const sec = new RecordsDataset(recs, {});
  const listed = compareOn(ds, sec, names, true);
  assert.ok(listed > 300, `${listed} listed of ${names.length}`);
  // the fixed cases alone
  const small = loadTexts(dnset, [':127.0.0.2:Listed $\n*.example\na.b.c.example\n!*.b.c.example\n!x.example\n']).ds;
  const sec2 = new RecordsDataset([...small.records!(opts())], {});
  assert.deepEqual(query(sec2, ['x', 'example'], 1).recs, [], 'an exact exclusion under *.example');
  assert.deepEqual(query(sec2, ['y', 'x', 'example'], 16).recs.map((x) => x.data), ['Listed example'], 'names below it stay listed by *.example');
  assert.deepEqual(query(sec2, ['z', 'b', 'c', 'example'], 1).recs, [], '!*.b.c.example');
  assert.deepEqual(query(sec2, ['b', 'c', 'example'], 16).recs.map((x) => x.data), ['Listed example'], 'b.c.example itself: *.example');
  assert.deepEqual(query(sec2, ['a', 'b', 'c', 'example'], 16).recs.map((x) => x.data), ['Listed a.b.c.example']);
});

const hex4 = (r: () => number): string => Math.floor(r() * 65536).toString(16);

function ip6Names(r: () => number, keys: string[]): string[][] {
  const names: string[][] = [];
  for (const k of keys) {
    const b = parseIp6(k);
    names.push(labels6(b));
    const up = Uint8Array.from(b);
    for (let i = 15; i >= 0; i--) if (++up[i]! !== 256) break; else up[i] = 0;
    names.push(labels6(up));
    const down = Uint8Array.from(b);
    for (let i = 15; i >= 0; i--) if (down[i]!-- !== 0) break; else down[i] = 255;
    names.push(labels6(down));
  }
  for (let i = 0; i < 500; i++) {
    const b = new Uint8Array(16);
    for (let j = 0; j < 16; j++) b[j] = Math.floor(r() * 256);
    if (i % 2) b.set([0x20, 0x01, 0x0d, 0xb8], 0);
    names.push(labels6(b));
  }
  // IPv4 names under the digit labels of IPv6 wildcards
  for (let i = 0; i < 200; i++) names.push(labels4(Math.floor(r() * 2 ** 32)), labels4((0x01000000 * (i % 10) + Math.floor(r() * 2 ** 24)) >>> 0));
  // 0.4.5.x: the labels x.5.4.0 an all-digit IPv6 wildcard of 450::/12 would match
  for (let i = 0; i < 256; i += 7) names.push(labels4(0x00040500 + i));
  return names;
}

function parseIp6(t: string): Uint8Array {
  const p = parseIp6Cidr(t.includes('/') ? t : `${t}/128`);
  if (typeof p === 'string') throw new Error(`${t}: ${p}`);
  return p.addr;
}

for (const dollar of [false, true]) {
  test(`ip6trie records answer as ip6trie does (longest prefix, exclusions; TXT ${dollar ? 'with' : 'without'} $)`, () => {
    const r = rng(dollar ? 41 : 42);
    const lines = [`:127.0.0.2:v6${dollar ? ' $' : ''}`];
    const keys: string[] = [];
    for (let i = 0; i < 300; i++) {
      const bits = [128, 64, 48, 33, 56, 126, 12][i % 7]!;
      const b = parseIp6(`2001:db8:${hex4(r)}:${hex4(r)}:${hex4(r)}::${hex4(r)}`);
      if (bits === 12) b.set([0x04, 0x50 | Math.floor(r() * 16)], 0); // 450::/12 etc.: three digit nibbles
      if (i % 5 === 0) b[4] = b[5] = 0; // nest under 2001:db8::/32-ish neighbours
      for (let bit = bits; bit < 128; bit++) b[bit >> 3]! &= ~(0x80 >> (bit & 7));
      const key = `${formatIp6(b)}/${bits}`;
      keys.push(formatIp6(b));
      const x = r();
      lines.push(x < 0.15 ? `!${key}` : x < 0.4 ? `${key} :127.0.0.${3 + (i % 3)}:code${dollar ? ' $' : ''}` : key);
    }
    lines.push('2001:db8::/32 :127.0.0.9:wide', '!2001:db8:0:1::/64');
    const { ds } = loadTexts(ip6trie, [lines.join('\n') + '\n']);
    const o = opts();
    const sec = new RecordsDataset([...ds.records!(o)], {});
    assert.deepEqual(o.problems, []);
    const listed = compareOn(ds, sec, ip6Names(r, keys), !dollar);
    assert.ok(listed > 300, `${listed} listed`);
  });
}

test('ip6tset and ip4tset records answer as they do', () => {
  const r = rng(51);
  const lines = [':127.0.0.4:tset $'];
  const keys: string[] = [];
  for (let i = 0; i < 200; i++) {
    const g = `2001:db8:${hex4(r)}:${hex4(r)}`;
    lines.push(g);
    keys.push(`${g}::`, `${g}::${hex4(r)}`);
    if (i % 4 === 0) {
      const x = `${g}::${hex4(r)}`;
      lines.push(`!${x}`);
      keys.push(x);
    }
  }
  const t6 = loadTexts(ip6tset, [lines.join('\n') + '\n']).ds;
  const sec6 = new RecordsDataset([...t6.records!(opts())], {});
  assert.ok(compareOn(t6, sec6, ip6Names(r, keys), false) > 200);
  const q: number[] = [];
  const l4 = [':127.0.0.3:quad $'];
  for (let i = 0; i < 2000; i++) {
    const ip = (0x0a000000 + Math.floor(r() * 5000) + (i % 3 === 0 ? 0x05000000 : 0)) >>> 0;
    l4.push(dotted(ip));
    q.push(ip, ip + 1, ip - 1);
  }
  const t4 = loadTexts(ip4tset, [l4.join('\n') + '\n']).ds;
  const sec4 = new RecordsDataset([...t4.records!(opts())], {});
  const names = q.flatMap((k) => [labels4(k), labels6(embed(k, 'mapped', r)), labels6(embed(k, '6to4', r))]);
  assert.ok(compareOn(t4, sec4, names, false) > 2000);
  // exact TXT for single addresses
  assert.ok(compareOn(t4, sec4, q.filter((_, i) => i % 3 === 0).map(labels4), false) > 0);
});
