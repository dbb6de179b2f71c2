// records() of a mirror of a non-rbldnsd list (SourceDataset) against its own query(), with a
// secondary-like zone over the records (RecordsDataset) as the oracle.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RangeBuilder4, RangeBuilder6 } from '../../../core/ranges.ts';
import { SourceDataset } from '../../../core/datasets/source.ts';
import { RecordsDataset } from '../../../core/datasets/records.ts';
import type { MaterialiseOptions } from '../../../core/zones/records.ts';
import { formatIp6 } from '../../../core/ip6.ts';
import { ask, ip, ip6Bytes, rng } from '../../sync/merge/helpers.ts';

const dotted = (x: number): string => `${x >>> 24}.${(x >>> 16) & 255}.${(x >>> 8) & 255}.${x & 255}`;

function opts(max = 65536): MaterialiseOptions & { problems: string[] } {
  const problems: string[] = [];
  return { maxExpansion: max, report: (p) => problems.push(p), problems };
}

function source(seed: number, txt: string | null) {
  const r = rng(seed);
  const v4 = new RangeBuilder4();
  const v6 = new RangeBuilder6();
  const keys: string[] = [];
  for (let i = 0; i < 500; i++) {
    const base = [ip('1.2.0.0'), ip('10.20.0.0'), ip('192.0.0.0'), ip('3.4.0.0')][i % 4]!;
    const a = base + Math.floor(r() * 65536);
    const len = [1, 1, 256, 128, 1000, 40][Math.floor(r() * 6)]!;
    const start = len === 256 || len === 128 ? a - (a % len) : a;
    const b = start + len - 1;
    v4.add(start, b);
    keys.push(...[start - 1, start, b, b + 1, start + Math.floor(r() * len)].map(dotted));
  }
  v4.add(ip('5.0.0.0'), ip('5.255.255.255'));
  for (let i = 0; i < 40; i++) {
    const a = ip6Bytes('2001:db8::');
    for (let k = 4; k < 16; k++) a[k] = Math.floor(r() * 256);
    const bits = [128, 64, 33, 56][i % 4]!;
    for (let bit = bits; bit < 128; bit++) a[bit >> 3]! &= ~(0x80 >> (bit & 7));
    const b = Uint8Array.from(a);
    for (let bit = bits; bit < 128; bit++) b[bit >> 3]! |= 0x80 >> (bit & 7);
    v6.add(a, b);
    keys.push(formatIp6(a), formatIp6(b));
  }
  v6.add(ip6Bytes('560::'), ip6Bytes('56f:ffff:ffff:ffff:ffff:ffff:ffff:ffff'));
  for (let i = 0; i < 300; i++) {
    keys.push(dotted(Math.floor(r() * 2 ** 32)), dotted(ip('0.5.6.0') + (i % 256)));
    const b = new Uint8Array(16);
    for (let k = 0; k < 16; k++) b[k] = Math.floor(r() * 256);
    b[0] = 0x50 | (b[0]! & 15);
    keys.push(formatIp6(b));
  }
  const domains = new Set<string>(['*.example', 'a.b.c.example', 'x.example', '*.b.c.example', '*.shop.net', 'shop.net', 'q.w.e.shop.net', 'test']);
  const L = ['a', 'b', 'c', 'www', 'mail'];
  for (let i = 0; i < 200; i++) {
    const l = [['com', 'net', 'example'][i % 3]!];
    for (let d = Math.floor(r() * 4); d > 0; d--) l.unshift(L[Math.floor(r() * L.length)]!);
    const n = l.join('.');
    domains.add(r() < 0.3 ? '*.' + n : n);
    keys.push(n, 'zz.' + n, 'a.b.' + n);
  }
  keys.push('example', 'c.example', 'b.c.example', 'z.b.c.example', 'e.shop.net', 'w.e.shop.net', 'z.w.e.shop.net', 'test', 'x.test');
  const ds = new SourceDataset(v4.build(), v6.build(), [...domains].sort(), { a: ip('127.0.0.2'), txt, ttl: 900 });
  return { ds, keys };
}

for (const txt of ['Listed by the test list', 'Listed, see https://example.org/q?$', null]) {
  test(`a mirror's records answer every key as the mirror does (TXT ${txt === null ? 'none' : JSON.stringify(txt)})`, () => {
    const { ds, keys } = source(11, txt);
    const o = opts();
    const recs = [...ds.records!(o)];
    assert.deepEqual(o.problems, []);
    const sec = new RecordsDataset(recs, {});
    let listed = 0;
    const keyed = txt !== null && txt.includes('$');
    for (const k of keys) {
      const q = ask(ds, k);
      const s = ask(sec, k);
      assert.deepEqual(s.a, q.a, `${k}: A`);
      // domains: `$` is exact even under wildcards; addresses under a wildcard show the CIDR
      const isAddr = /^[\d.]+$/.test(k) || k.includes(':');
      if (keyed && isAddr) assert.equal(s.txt.length, q.txt.length, `${k}: TXT presence`);
      else assert.deepEqual(s.txt, q.txt, `${k}: TXT`);
      if (q.a.length) listed++;
    }
    assert.ok(listed > 1000, `${listed} listed of ${keys.length}`);
    if (keyed) {
      const w = recs.find((x) => x.name === '*.20.10' || x.name.endsWith('.20.10') && x.name.startsWith('*.'));
      assert.ok(w, 'some wildcard under 10.20/16');
      const t = recs.find((x) => x.name === w!.name && x.type === 16)!;
      assert.match(t.data, /q\?10\.20\.\d+\.0\/(24|16)$/, 'a wildcard TXT names its CIDR');
    }
  });
}

test('a range over max_expansion is left out of the mirror records and reported', () => {
  const v4 = new RangeBuilder4();
  v4.add(ip('5.0.0.0'), ip('6.255.255.255'));
  v4.add(ip('192.0.2.1'), ip('192.0.2.1'));
  const ds = new SourceDataset(v4.build(), new RangeBuilder6().build(), [], { a: ip('127.0.0.2'), txt: null, ttl: 60 });
  const o = opts(50000);
  const sec = new RecordsDataset([...ds.records!(o)], {});
  assert.deepEqual(o.problems, ['IPv4 range 5.0.0.0-6.255.255.255 needs 56612 names, more than max_expansion 50000: left out']);
  assert.equal(ask(sec, '5.1.2.3').found, false);
  assert.deepEqual(ask(sec, '192.0.2.1').a, ['127.0.0.2']);
});
