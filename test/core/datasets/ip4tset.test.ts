import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ip4tset } from '../../../core/datasets/ip4tset.ts';
import type { Dataset, DatasetType, RecordSink } from '../../../core/datasets/types.ts';
import { loadDataset } from '../../../core/rbldnsd/reader.ts';
import { defaultLoadOptions, type LoadOptions } from '../../../core/rbldnsd/state.ts';
import { ip4ToString, makeQuery } from '../../../core/query.ts';

const QTYPE = { A: 1, TXT: 16, AAAA: 28, ANY: 255 } as const;

function load(type: DatasetType, files: string[], opts: Partial<LoadOptions> = {}): { ds: Dataset; warnings: string[] } {
  const dir = mkdtempSync(join(tmpdir(), 'ip4tset-'));
  const warnings: string[] = [];
  const paths = files.map((text, i) => {
    const p = join(dir, `f${i}.txt`);
    writeFileSync(p, text);
    return p;
  });
  const options = defaultLoadOptions({ ...opts, warn: (at, msg) => warnings.push(`${at.file.slice(dir.length + 1)}:${at.line}: ${msg}`) });
  return { ds: loadDataset(type, paths, options).dataset, warnings };
}

/** Asks `ip` (dotted) and returns null for "not found", else the records as 'A ip ttl' / 'TXT text ttl'. */
function ask(ds: Dataset, ip: string, qtype: keyof typeof QTYPE = 'ANY'): string[] | null {
  const recs: string[] = [];
  const t = QTYPE[qtype];
  const sink: RecordSink = {
    wantA: t === 1 || t === 255,
    wantTxt: t === 16 || t === 255,
    qtype: t,
    a: (ip, ttl) => recs.push(`A ${ip4ToString(ip)} ${ttl}`),
    txt: (text, ttl) => recs.push(`TXT ${text} ${ttl}`),
    mx: () => assert.fail('no MX from ip4tset'),
  };
  const labels = ip.split('.').reverse();
  return ds.query(makeQuery(labels, t), sink) ? recs : null;
}

test('complete dotted quads only; no exclusions; values after keys ignored', () => {
  const { ds, warnings } = load(ip4tset, [
    `1.2.3.4
!1.2.3.5
1.2.3.6 :127.0.0.9:ignored
1.2.3.7x
1.2.3.8/24
1.2.3
1.2.3.9:127.0.0.5:x
1.2.3.10 foo
:bad:xx
:127.0.0.4:first $
:127.0.0.5:second
1.2.3.11;x
1.2.3.256
01.2.3.12
1.2.3.4
`,
    '1.2.3.20\n:127.0.0.6:third\n1.2.3.21\n$TTL 5m\n',
  ]);
  assert.deepEqual(warnings, [
    'f0.txt:2: invalid address',
    'f0.txt:4: invalid address',
    'f0.txt:5: invalid address',
    'f0.txt:6: invalid address',
    'f0.txt:9: invalid A RR',
    'f0.txt:13: invalid address',
  ]);
  assert.equal(ds.size, 8, 'the duplicate 1.2.3.4 collapses');
  assert.equal(ds.ttl, 300);
  // the first valid default applies to the whole dataset, also to entries before it and in later files
  for (const ip of ['1.2.3.4', '1.2.3.6', '1.2.3.9', '1.2.3.10', '1.2.3.11', '1.2.3.12', '1.2.3.20', '1.2.3.21']) {
    assert.deepEqual(ask(ds, ip), ['A 127.0.0.4 300', `TXT first ${ip} 300`], ip);
  }
  for (const ip of ['1.2.3.5', '1.2.3.7', '1.2.3.8', '1.2.3.13']) assert.equal(ask(ds, ip), null, ip);
  assert.deepEqual(ask(ds, '1.2.3.4', 'AAAA'), []);
});

test('without a default line: A 127.0.0.2 and no TXT, the -t default TTL', () => {
  const { ds } = load(ip4tset, ['192.0.2.1\n'], { ttl: { def: 600, min: 0, max: 86400 } });
  assert.deepEqual(ask(ds, '192.0.2.1'), ['A 127.0.0.2 600']);
  assert.deepEqual(ask(ds, '192.0.2.1', 'TXT'), []);
  const sink: RecordSink = { wantA: true, wantTxt: true, qtype: 255, a: () => assert.fail(), txt: () => assert.fail(), mx: () => assert.fail() };
  assert.equal(ds.query(makeQuery(['1', '0', '192'], 255), sink), false);
});

test('snapshot round-trip and dump', () => {
  const { ds } = load(ip4tset, [':127.0.0.3:tset $\n9.9.9.9\n1.1.1.1\n200.1.1.1\n']);
  const part = ds.snapshot();
  const copy = ip4tset.fromSnapshot({ ...part, meta: JSON.parse(JSON.stringify(part.meta)), arrays: part.arrays.map((a) => (a as Uint32Array).slice()) });
  assert.equal(copy.ttl, ds.ttl);
  assert.equal(copy.size, 3);
  for (const ip of ['9.9.9.9', '1.1.1.1', '200.1.1.1', '1.1.1.2', '0.0.0.0']) assert.deepEqual(ask(copy, ip), ask(ds, ip), ip);
  const lines: string[] = [];
  copy.dump('z.test', (l) => lines.push(l));
  assert.deepEqual(lines, [
    '$TTL 2100',
    '1.1.1.1\tA\t127.0.0.3', '\tTXT\t"tset 1.1.1.1"',
    '9.9.9.9\tA\t127.0.0.3', '\tTXT\t"tset 9.9.9.9"',
    '1.1.1.200\tA\t127.0.0.3', '\tTXT\t"tset 200.1.1.1"',
  ]);
});

test('the byte fast path loads exactly what the text path loads (mixed random data)', () => {
  // plain quads go through addBytes; hiding it sends every line through addLine
  const textOnly: DatasetType = {
    ...ip4tset,
    createLoader(state) {
      const l = ip4tset.createLoader(state);
      l.addBytes = undefined;
      return l;
    },
  };
  let x = 12345;
  const next = (): number => ((x = (x * 1103515245 + 12345) >>> 0) >>> 8) % 256;
  const lines: string[] = [':127.0.0.2:default $'];
  for (let i = 0; i < 20_000; i++) {
    const ip = `${next() % 4}.${next() % 3}.${next()}.${next()}`;
    const r = next();
    if (r < 150) lines.push(ip);
    else if (r < 165) lines.push(`!${ip}`);
    else if (r < 180) lines.push(`${ip} :3:v${r}`);
    else if (r < 190) lines.push(`${ip.split('.').slice(0, 3).join('.')}/24`);
    else if (r < 195) lines.push(`:127.0.0.${r % 7}:d${i}`);
    else if (r < 200) lines.push(`0${ip}`);
    else if (r < 205) lines.push(` ${ip}\t\r`);
    else if (r < 210) lines.push(`${ip}.`);
    else lines.push(ip);
  }
  const text = lines.join('\n');
  const a = load(ip4tset, [text, text]);
  const b = load(textOnly, [text, text]);
  assert.deepEqual(a.warnings, b.warnings);
  const dump = (ds: Dataset): string[] => {
    const out: string[] = [];
    ds.dump('z', (l) => out.push(l));
    return out;
  };
  assert.deepEqual(dump(a.ds), dump(b.ds));
  assert.deepEqual(a.ds.snapshot(), b.ds.snapshot());
  assert.ok(a.ds.size > 1000);
});
