import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { generic, resetGenericRotation, parseGenericA, glueRecords, GenericDataset } from '../../../core/datasets/generic.ts';
import type { Dataset } from '../../../core/datasets/types.ts';
import { loadDataset, LoadError } from '../../../core/rbldnsd/reader.ts';
import { defaultLoadOptions } from '../../../core/rbldnsd/state.ts';
import { encodeSnapshot, decodeSnapshot } from '../../../core/snapshot.ts';
import { askName as ask, dig, loadTexts, serverForm, startRbldnsd, tempDir, toolsMissing } from './helpers.ts';

function load(text: string, opts: { ttl?: { def: number; min: number; max: number } } = {}) {
  const { ds, warnings } = loadTexts(generic, [text], opts, { name: () => 'data.txt' });
  return { ds, warnings };
}

test('record syntax: A forms, TXT quotes, MX, IN class, bad lines are warnings', () => {
  const { ds, warnings } = load(
    [
      'a1 A 1', // a bare number is 0.0.0.n in generic (not 127.0.0.n as in A:TXT values)
      'a2 A 5.6',
      'a3 A 1.2.3',
      'a4 A 1.2.3.4.5', // parsing stops after four octets
      'a5 A 127.0.0.3 junk after',
      'a6 IN A 0.0.0.0',
      'bad1 A 1.2.3.',
      'bad2 CNAME foo.example.net',
      'bad3 MX 65536 mx.example.net',
      'bad4 A',
      't1 TXT "hello world"',
      't2 TXT no quotes "here" $ and $1',
      't3 TXT "',
      't4 TXT ""',
      't5 TXT ""inner" quotes"',
      'm1 mx 20 MX2.Example.NET.',
      'm2 MX 65535 mx.example.net',
      'Upper A 127.0.0.11',
      'sub.deep A 127.0.0.12',
    ].join('\n') + '\n',
  );
  assert.deepEqual(ask(ds, 'a1', 'A').rrs, ['A 0.0.0.1']);
  assert.deepEqual(ask(ds, 'a2', 'A').rrs, ['A 5.0.0.6']);
  assert.deepEqual(ask(ds, 'a3', 'A').rrs, ['A 1.2.0.3']);
  assert.deepEqual(ask(ds, 'a4', 'A').rrs, ['A 1.2.3.4']);
  assert.deepEqual(ask(ds, 'a5', 'A').rrs, ['A 127.0.0.3']);
  assert.deepEqual(ask(ds, 'a6', 'A').rrs, ['A 0.0.0.0']);
  for (const n of ['bad1', 'bad2', 'bad3', 'bad4']) assert.equal(ask(ds, n, 'ANY').found, false, n);
  assert.equal(warnings.length, 4);
  assert.deepEqual(ask(ds, 't1', 'TXT').rrs, ['TXT "hello world"']);
  assert.deepEqual(ask(ds, 't2', 'TXT').rrs, ['TXT "no quotes "here" $ and $1"']);
  assert.deepEqual(ask(ds, 't3', 'TXT').rrs, ['TXT """']);
  assert.deepEqual(ask(ds, 't4', 'TXT').rrs, ['TXT ""']);
  assert.deepEqual(ask(ds, 't5', 'TXT').rrs, ['TXT ""inner" quotes"']);
  assert.deepEqual(ask(ds, 'm1', 'MX').rrs, ['MX 20 MX2.Example.NET.']);
  assert.deepEqual(ask(ds, 'm2', 'MX').rrs, ['MX 65535 mx.example.net.']);
  assert.deepEqual(ask(ds, 'upper', 'A').rrs, ['A 127.0.0.11']);
  assert.deepEqual(ask(ds, 'sub.deep', 'A').rrs, ['A 127.0.0.12']);
  assert.equal(ds.size, 15);
});

test('generic A parser', () => {
  assert.equal(parseGenericA('8'), 8);
  assert.equal(parseGenericA('127.0.0.2'), 0x7f000002);
  assert.equal(parseGenericA('0001.2.3.4'), 0x01020304);
  assert.equal(parseGenericA('256.1.1.1'), undefined);
  assert.equal(parseGenericA('x'), undefined);
  assert.equal(parseGenericA('1..2'), undefined);
});

test('a TXT longer than 255 bytes is cut with a warning', () => {
  const { ds, warnings } = load(`long TXT "${'x'.repeat(300)}"\n`);
  assert.equal(ask(ds, 'long', 'TXT').rrs[0], `TXT "${'x'.repeat(255)}"`);
  assert.equal(warnings.length, 1);
});

test('TTL: explicit (clamped), 0 = $TTL in effect, else $TTL at that line or the -t default', () => {
  const { ds } = load(
    ['before A 1', '$TTL 10m', 'a A 2', 'b 300 A 3', 'c 0 TXT zero', 'd 1000w A 4', 'e 1s A 5', '$TTL 20m', 'f A 6', '$TTL 0', 'g A 7'].join('\n') + '\n',
    { ttl: { def: 2100, min: 60, max: 86400 } },
  );
  const ttl = (n: string, t = 'ANY') => ask(ds, n, t).ttls[0];
  assert.equal(ttl('before'), 2100);
  assert.equal(ttl('a'), 600);
  assert.equal(ttl('b'), 300);
  assert.equal(ttl('c'), 600);
  assert.equal(ttl('d'), 86400);
  assert.equal(ttl('e'), 60);
  assert.equal(ttl('f'), 1200);
  assert.equal(ttl('g'), 2100);
});

test('bad TTL or bad MX exchange abort the load, as in rbldnsd', () => {
  for (const line of ['x 10x A 1.2.3.4', 'x 99999999999 A 1.2.3.4', 'x MX 10', 'x MX 10 a.b c']) {
    assert.throws(() => load(`ok A 1\n${line}\n`), (e: unknown) => e instanceof LoadError && /:2: /.test((e as Error).message), line);
  }
  // `10:` is a TTL followed by an unknown type `:foo` (a warning, not fatal)
  assert.equal(load('x 10:foo A 1.2.3.4\n').warnings.length, 1);
});

test('exact-name lookups: NODATA for other types, apex by @, no parent/child matches', () => {
  const { ds } = load(['@ A 127.0.0.8', '@ TXT apex', 'www A 192.0.2.80', 'a.b A 192.0.2.1'].join('\n') + '\n');
  assert.deepEqual(ask(ds, '@', 'A').rrs, ['A 127.0.0.8']);
  assert.deepEqual(ask(ds, '@', 'TXT').rrs, ['TXT "apex"']);
  for (const t of ['AAAA', 'MX', 'NS', 'SOA', 'TXT']) {
    const r = ask(ds, 'www', t);
    assert.deepEqual([r.found, r.rrs], [true, []], t);
  }
  assert.equal(ask(ds, 'b', 'A').found, false); // empty non-terminal: not found, like rbldnsd
  assert.equal(ask(ds, 'x.www', 'A').found, false);
  assert.equal(ask(ds, 'nope', 'A').found, false);
});

// Transcripts from rbldnsd 1.0~20210120 (fresh process, so its rotation counter starts at 0).
const ROTATION_FILE = [
  '$TTL 600',
  'x A 1',
  'x A 2',
  'a A 9',
  'x 300 IN A 127.0.0.3 junk',
  'x TXT "hello world"',
  'x TXT no quotes "here"',
  'x MX 10 mx.example.net',
  'x mx 20 MX2.Example.NET.',
  '@ A 127.0.0.8',
  '@ TXT apex',
  'y 0 A 5.6',
  '$TTL 0',
  'z A 1.2.3',
  'w A 1.2.3.4.5',
  'v A 1.2.3.',
  'u CNAME foo',
  't TXT "',
  's 1d TXT ""',
].join('\n') + '\n';

test('rotation: one process-wide counter, advanced by each answer of several records', () => {
  const { ds } = load(ROTATION_FILE);
  resetGenericRotation(0);
  assert.deepEqual(ask(ds, 'x', 'A').rrs, ['A 0.0.0.1', 'A 0.0.0.2', 'A 127.0.0.3']);
  assert.deepEqual(ask(ds, 'x', 'A').rrs, ['A 0.0.0.2', 'A 127.0.0.3', 'A 0.0.0.1']);
  assert.deepEqual(ask(ds, 'x', 'A').rrs, ['A 127.0.0.3', 'A 0.0.0.1', 'A 0.0.0.2']);
  assert.deepEqual(ask(ds, 'x', 'TXT').rrs, ['TXT "no quotes "here""', 'TXT "hello world"']);
  assert.deepEqual(ask(ds, 'x', 'MX').rrs, ['MX 10 mx.example.net.', 'MX 20 MX2.Example.NET.']);
  assert.deepEqual(ask(ds, 'a', 'A').rrs, ['A 0.0.0.9']); // a single record does not advance it

  resetGenericRotation(0);
  // ANY: grouped A, MX, TXT; each group takes the next offset
  assert.deepEqual(ask(ds, 'x', 'ANY').rrs, [
    'A 0.0.0.1', 'A 0.0.0.2', 'A 127.0.0.3',
    'MX 20 MX2.Example.NET.', 'MX 10 mx.example.net.',
    'TXT "hello world"', 'TXT "no quotes "here""',
  ]);
  assert.deepEqual(ask(ds, 'x', 'ANY').rrs, [
    'A 0.0.0.1', 'A 0.0.0.2', 'A 127.0.0.3',
    'MX 10 mx.example.net.', 'MX 20 MX2.Example.NET.',
    'TXT "no quotes "here""', 'TXT "hello world"',
  ]);
  // the counter is shared by all generic datasets
  const other = load('y A 1\ny A 2\n').ds;
  resetGenericRotation(0);
  assert.deepEqual(ask(other, 'y', 'A').rrs, ['A 0.0.0.1', 'A 0.0.0.2']);
  assert.deepEqual(ask(ds, 'x', 'A').rrs, ['A 0.0.0.2', 'A 127.0.0.3', 'A 0.0.0.1']);
});

test('record order follows rbldnsd\'s (unstable) sort, not the file order', () => {
  const { ds } = load('x A 1\nx A 2\na A 9\n');
  resetGenericRotation(0);
  assert.deepEqual(ask(ds, 'x', 'A').rrs, ['A 0.0.0.2', 'A 0.0.0.1']); // rbldnsd answers the same
});

test('glue: the A records of a name, with their TTLs', () => {
  const { ds } = load('$TTL 10m\nns1 A 192.0.2.53\nns2 3600 A 192.0.2.54\nns3 TXT no address\n');
  const g = ds as GenericDataset;
  assert.deepEqual(g.glue(['ns1']), [{ ip: 0xc0000235, ttl: 600 }]);
  assert.deepEqual(glueRecords(ds, ['ns2']), [{ ip: 0xc0000236, ttl: 3600 }]);
  assert.deepEqual(g.glue(['ns3']), []);
  assert.deepEqual(g.glue(['nope']), []);
});

test('dump writes BIND master lines like rbldnsd -d', () => {
  const { ds } = load('$TTL 600\nx A 1\n@ A 127.0.0.8\n@ TXT "say \\"hi\\""\nx MX 10 mx.example.net\nb TXT plain\n');
  const lines: string[] = [];
  ds.dump('gen.example', (l) => lines.push(l));
  assert.deepEqual(lines, [
    '@\t600\tA\t127.0.0.8',
    '\t600\tTXT\t"say \\\\\\"hi\\\\\\""',
    'b\t600\tTXT\t"plain"',
    'x\t600\tA\t0.0.0.1',
    '\t600\tMX\t10\tmx.example.net.',
  ]);
});

test('snapshot round trip (through the binary snapshot format) answers identically', () => {
  const { ds } = load(ROTATION_FILE + '@ A 127.0.0.8\nlatin TXT caf\xe9 \x01\n', {});
  const file = decodeSnapshot(Buffer.concat(encodeSnapshot({ key: 'k', stamps: [], part: ds.snapshot() })));
  const back = generic.fromSnapshot(file.part);
  assert.equal(back.size, ds.size);
  assert.equal(back.ttl, ds.ttl);
  for (const [n, t] of [['x', 'ANY'], ['x', 'A'], ['x', 'TXT'], ['@', 'A'], ['a', 'MX'], ['nope', 'A'], ['latin', 'TXT']] as const) {
    resetGenericRotation(5);
    const a = ask(ds, n, t);
    resetGenericRotation(5);
    assert.deepEqual(ask(back, n, t), a, `${n} ${t}`);
  }
  const d1: string[] = [];
  const d2: string[] = [];
  ds.dump('z', (l) => d1.push(l));
  back.dump('z', (l) => d2.push(l));
  assert.deepEqual(d2, d1);
});

// ---------------------------------------------------------------------------------------------
// Differential check against the real rbldnsd: same file, same query sequence, same answers in
// the same order (after the server-side rules: duplicates dropped, one TTL per RRset).

/** Our answer in dig's form, after the server's rules (dedup, min TTL per type). */
function ours(ds: Dataset, name: string, type: string): { status: string; rrs: string[] } {
  const r = ask(ds, name, type);
  return { status: r.found ? 'NOERROR' : 'NXDOMAIN', rrs: serverForm(r) };
}

test('differential: answers and their order match rbldnsd for a generated file', async (t) => {
  if (toolsMissing(t)) return;
  const dir = tempDir('qbl-generic-');
  const names = ['a', 'b', 'x', 'yy', 'c.d', '@', 'Q'];
  let seed = 7;
  const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
  const lines = ['$TTL 10m'];
  for (let i = 0; i < 120; i++) {
    const n = names[rnd(names.length)]!;
    const k = rnd(5);
    const ttl = rnd(4) === 0 ? `${60 * (1 + rnd(30))} ` : '';
    if (k < 3) lines.push(`${n} ${ttl}A 10.0.${rnd(5)}.${i + 1}`);
    else if (k === 3) lines.push(`${n} ${ttl}TXT "t${i}"`);
    else lines.push(`${n} ${ttl}MX ${rnd(3)} mx${i}.example.net`);
    if (i === 60) lines.push('$TTL 20m');
  }
  const file = join(dir, 'gen.txt');
  writeFileSync(file, lines.join('\n') + '\n');
  chmodSync(file, 0o644);
  const { port, proc } = await startRbldnsd(dir, 'gen.example:generic:gen.txt', ['-t', '35m:1m:1d']);
  try {
    const { dataset } = loadDataset(generic, [file], defaultLoadOptions({ ttl: { def: 2100, min: 60, max: 86400 } }));
    resetGenericRotation(0);
    for (let round = 0; round < 3; round++) {
      for (const n of [...names, 'nope']) {
        for (const ty of ['A', 'TXT', 'MX', 'ANY', 'AAAA']) {
          if (n === '@' && ty === 'ANY') continue; // apex ANY is the server's SOA/NS business
          const qn = n === '@' ? 'gen.example' : `${n}.gen.example`;
          assert.deepEqual(ours(dataset, n.toLowerCase(), ty), dig(port, qn, ty), `${qn} ${ty} (round ${round})`);
        }
      }
    }
  } finally {
    proc.kill();
  }
});
