// The rbldnsd export answers what a standard DNS server answers over the same records
// (RecordsDataset): checked with quorumbl's own rbldnsd loader over many random zones, and
// with Debian's rbldnsd itself over hand-made and random zones.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { combined } from '../../../core/datasets/combined.ts';
import { rbldnsdChunks, type RbldnsdExportStats } from '../../../core/zones/rbldnsd-export.ts';
import type { ZoneRecord } from '../../../core/zones/records.ts';
import { loadTexts, startRbldnsd, tempDir, toolsMissing, writeFiles } from '../datasets/helpers.ts';
import { R, answerOf, askServer, oracle, rng, same, show, zoneOf } from './export-helpers.ts';

const A = 1;
const TXT = 16;
const MX = 15;

function exportText(records: readonly ZoneRecord[], problems: string[] = [], stats?: RbldnsdExportStats, zone = 'bl.example'): string {
  return [...rbldnsdChunks(zoneOf(zone, records), { maxExpansion: 65536, report: (p) => problems.push(p) }, stats)].join('');
}

const v6 = (hex32: string): string => hex32.split('').reverse().join('.');

// A bl-like zone: two reasons on one key, a TXT with `$`, wildcards with exact names inside
// (which DNS answers exactly, not from the wildcard), an empty non-terminal under a wildcard
// (which blocks it: RFC 4592), IPv6 with several values per prefix, a name with MX.
const BL: ZoneRecord[] = [
  R('2.0.0.127', A, '127.0.0.2'),
  R('2.0.0.127', TXT, 'test point $ of bl'),
  R('4.3.2.1', A, '127.0.0.2'),
  R('4.3.2.1', A, '127.0.0.5'),
  R('4.3.2.1', TXT, 'listed'),
  R('*.2.0.10', A, '127.0.0.3'),
  R('*.2.0.10', TXT, 'wide /24'),
  R('9.2.0.10', A, '127.0.0.5'),
  R('*.20', A, '127.0.0.2'),
  R('1.1.1.20', A, '127.0.0.4'), // makes 1.1.20 and 1.20 exist: *.20 no longer answers below them
  R('*.7.20', A, '127.0.0.6'),
  R(`*.${v6('20010db8').slice(0)}`, A, '127.0.0.2'),
  R(`*.${v6('20010db8')}`, A, '127.0.0.3'),
  R(`*.${v6('20010db80001')}`, A, '127.0.0.4'),
  R(v6('20010db8000100000000000000000001'), A, '127.0.0.5'),
  R(v6('20010db8000200000000000000000001'), TXT, 'txt only'),
  R('5.5.5.5', MX, '10 mx.example.'),
  R('5.5.5.5', A, '127.0.0.2'),
];

function blQueries(): string[] {
  const out = new Set<string>();
  for (const r of BL) if (!r.name.startsWith('*')) out.add(r.name);
  for (const ip of ['10.0.2.1', '10.0.2.9', '10.0.3.1', '20.1.1.1', '20.1.1.2', '20.1.2.2', '20.2.2.2', '20.7.3.3', '20.7.0.0', '1.2.3.5', '127.0.0.1'])
    out.add(ip.split('.').reverse().join('.'));
  for (const h of ['20010db8000000000000000000000001', '20010db8000100000000000000000002', '20010db8000100000000000000000001', '20010db8000200000000000000000001', '20010db8000200000000000000000002', '20010db9000000000000000000000001'])
    out.add(v6(h));
  return [...out];
}

test('bl-like zone: the exported combined file answers every key as the records do (own loader)', () => {
  const problems: string[] = [];
  const stats: RbldnsdExportStats = { points: 0, exclusions: 0, datasets: 0 };
  const text = exportText(BL, problems, stats);
  assert.match(text, /^\$SOA 300 ns1\.example\. hostmaster\.example\. 7 600 300 86400 60$/m);
  assert.match(text, /^\$NS 300 ns1\.example\. ns2\.example\.$/m);
  assert.match(text, /^1\.2\.3\.4 :127\.0\.0\.2:listed$/m);
  assert.match(text, /^1\.2\.3\.4 :127\.0\.0\.5:$/m);
  assert.match(text, /test point \$\$ of bl/);
  assert.ok(stats.exclusions > 0, 'exclusions written for names under wildcards');
  const { ds, warnings } = loadTexts(combined, [text]);
  assert.deepEqual(warnings, []);
  const want = oracle(BL);
  for (const q of blQueries()) {
    const w = answerOf(want, q);
    const g = answerOf(ds, q);
    assert.ok(same(w, g), `${q}: records say ${show(w)}, export says ${show(g)}`);
  }
  // the wildcard *.20 is blocked under 1.20 (it exists): 20.1.2.2 is NXDOMAIN in DNS
  assert.equal(answerOf(want, '2.2.1.20').found, false);
  assert.deepEqual(answerOf(ds, '2.2.1.20').a, []);
});

test('dbl-like zone: exact names, wildcards, names below an exact name', () => {
  const DBL: ZoneRecord[] = [
    R('test', A, '127.0.1.2'),
    R('evil.example', A, '127.0.1.2'),
    R('evil.example', A, '127.0.1.5'),
    R('*.evil.example', A, '127.0.1.3'),
    R('*.bad.example', A, '127.0.1.2'),
    R('*.bad.example', TXT, 'Domain $ listed'),
    R('ok.bad.example', TXT, 'not listed here'),
    R('x.y.bad.example', A, '127.0.1.4'),
  ];
  const text = exportText(DBL, [], undefined, 'dbl.example');
  const { ds, warnings } = loadTexts(combined, [text]);
  assert.deepEqual(warnings, []);
  const want = oracle(DBL);
  for (const q of ['test', 'invalid', 'evil.example', 'a.evil.example', 'a.b.evil.example', 'bad.example', 'q.bad.example', 'ok.bad.example', 'z.ok.bad.example', 'y.bad.example', 'z.y.bad.example', 'x.y.bad.example', 'example', 'other.example']) {
    const w = answerOf(want, q);
    const g = answerOf(ds, q);
    assert.ok(same(w, g), `${q}: records say ${show(w)}, export says ${show(g)}`);
  }
});

/** A random zone over a small key space, so wildcards, exact names and empty non-terminals
 *  collide often. */
function randomZone(seed: number): { records: ZoneRecord[]; queries: string[] } {
  const r = rng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const oct = ['1', '2', '3'];
  const nib = ['0', 'a'];
  const codes = ['127.0.0.2', '127.0.0.3', '127.0.0.5'];
  const records: ZoneRecord[] = [];
  const add = (name: string): void => {
    const n = 1 + Math.floor(r() * 2);
    for (let i = 0; i < n; i++) records.push(R(name, A, pick(codes), pick([300, 300, 600])));
    if (r() < 0.4) records.push(R(name, TXT, `${name} listed $ ${Math.floor(r() * 3)}`, 300));
  };
  const v6name = (depth: number): string => Array.from({ length: depth }, () => pick(nib)).concat(Array(32 - depth).fill('f')).reverse().join('.');
  for (let i = 0; i < 12; i++) add(Array.from({ length: 4 }, () => pick(oct)).join('.'));
  for (let i = 0; i < 6; i++) add(`*.${Array.from({ length: 1 + Math.floor(r() * 3) }, () => pick(oct)).join('.')}`);
  // IPv6 below ffff...: variation in the last 4 nibbles
  for (let i = 0; i < 8; i++) add(v6name(4).split('.').slice(0).join('.'));
  for (let i = 0; i < 5; i++) add(`*.${v6name(4).split('.').slice(1 + Math.floor(r() * 3)).join('.')}`);
  const queries: string[] = [];
  for (const a of oct) for (const b of oct) for (const c of oct) for (const d of oct) queries.push(`${a}.${b}.${c}.${d}`);
  for (const a of nib) for (const b of nib) for (const c of nib) for (const d of nib) queries.push(`${a}.${b}.${c}.${d}.${Array(28).fill('f').join('.')}`);
  // a few TTL-mixed names make several sub-datasets
  return { records, queries };
}

test('random zones (200 seeds): every key answers as the records do (own loader)', () => {
  for (let seed = 1; seed <= 200; seed++) {
    const { records, queries } = randomZone(seed);
    const text = exportText(records);
    const { ds, warnings } = loadTexts(combined, [text]);
    assert.deepEqual(warnings, [], `seed ${seed}`);
    const want = oracle(records);
    for (const q of queries) {
      const w = answerOf(want, q);
      const g = answerOf(ds, q);
      assert.ok(same(w, g), `seed ${seed}, ${q}: records say ${show(w)}, export says ${show(g)}\n${text}`);
    }
  }
});

test("Debian's rbldnsd loading the export answers as the records do (hand-made and random zones)", async (t) => {
  if (toolsMissing(t)) return;
  const zones: { records: ZoneRecord[]; queries: string[] }[] = [{ records: BL, queries: blQueries() }];
  for (const seed of [3, 17, 42, 99]) zones.push(randomZone(seed));
  for (const [i, z] of zones.entries()) {
    const dir = tempDir('qbl-export-');
    writeFiles(dir, [exportText(z.records)], () => 'bl.rbldnsd');
    const { port, proc } = await startRbldnsd(dir, 'bl.example:combined:bl.rbldnsd');
    try {
      const got = await askServer(port, 'bl.example', z.queries);
      const want = oracle(z.records);
      const bad = z.queries.filter((q, k) => !same(answerOf(want, q), got[k]!)).map((q) => `${q}: records ${show(answerOf(want, q))}, rbldnsd ${show(got[z.queries.indexOf(q)]!)}`);
      assert.deepEqual(bad, [], `zone ${i}`);
    } finally {
      proc.kill();
      rmSync(dir, { recursive: true, force: true });
    }
  }
});

test('what rbldnsd cannot say is reported, never dropped silently', () => {
  const problems: string[] = [];
  exportText([R('*.foo', MX, '10 mx.example.'), R('a.b.c.d', TXT, 'two\nlines'), R('*', A, '127.0.0.2'), R('1.2.3.4', A, '127.0.0.2')], problems);
  assert.ok(problems.some((p) => p.startsWith('*.foo: a wildcard with no A')), problems.join('\n'));
  assert.ok(problems.some((p) => /a\.b\.c\.d: TXT with a line break/.test(p)), problems.join('\n'));
  assert.ok(problems.some((p) => /^\*: a wildcard at the apex/.test(p)), problems.join('\n'));
});
