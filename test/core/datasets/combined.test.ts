import { test } from 'node:test';
import assert from 'node:assert/strict';
// Through the registry, as the server loads it (combined restores sub-datasets by type name).
import { datasetType } from '../../../core/datasets/index.ts';
import { CombinedDataset } from '../../../core/datasets/combined.ts';
import { resetGenericRotation } from '../../../core/datasets/generic.ts';
import type { Dataset } from '../../../core/datasets/types.ts';
import { loadDataset, LoadError } from '../../../core/rbldnsd/reader.ts';
import { defaultLoadOptions } from '../../../core/rbldnsd/state.ts';
import { encodeSnapshot, decodeSnapshot } from '../../../core/snapshot.ts';
import { askName as ask, dig as digInOrder, loadTexts, serverForm, startRbldnsd, tempDir, toolsMissing, writeFiles } from './helpers.ts';

const combined = datasetType('combined')!;
const combName = (i: number) => `comb${i + 1}.txt`;

function load(...texts: string[]) {
  const { ds, warnings, files } = loadTexts(combined, texts, {}, { name: combName });
  return { ds: ds as CombinedDataset, warnings, files };
}

// The section 3.8 example extended with more subzones; a second file continues the last section.
const COMB1 = `# common section
$NS 1w ns1.example.net ns2.example.net
$SOA 1w ns1.example.net admin.example.net 0 2h 2h 1w 1h
$TTL 10m
$1 one
$DATASET ip4set:proxy proxies @ # comment here
:2:Open proxy, see http://bl.example/proxy/$ [$1]
127.0.0.2
$DATASET generic:common proxies @
@ A 127.0.0.8
@ MX 10 mx.example.net
$TTL 20m
www A 192.0.2.80
$DATASET ip4set:relay relays @
$TTL 5m
$1 uno
:3:Open relay, see $ [$1]
127.0.0.2
127.0.0.10
$DATASET dnset rhs
:4:domain $
example.com
$DATASET ip4set x.relays
:5:deep
127.0.0.3
`;
const COMB2 = `#$ any special line re-opens the section the previous file ended in
127.0.0.4
$DATASET generic second
@ TXT in second file
`;

// Answers recorded from rbldnsd 1.0~20210120 for comb.example:combined:comb1.txt,comb2.txt.
test('routing, inheritance and apex rules match rbldnsd (section 3.8 example)', () => {
  const { ds, warnings } = load(COMB1, COMB2);
  assert.equal(warnings.length, 1); // the `#$ ...` line: an invalid special, as rbldnsd says too
  assert.deepEqual(ds.meta.ns, { ttl: 604800, names: ['ns1.example.net', 'ns2.example.net'] });
  assert.equal(ds.meta.soa?.minimum, 3600);
  const rr = (n: string, t: string) => ask(ds, n, t).rrs;
  // several sub-datasets of the base zone merge; $1 is inherited and cannot be redefined
  assert.deepEqual(rr('2.0.0.127', 'ANY'), [
    'A 127.0.0.2', 'TXT "Open proxy, see http://bl.example/proxy/127.0.0.2 [one]"',
    'A 127.0.0.3', 'TXT "Open relay, see 127.0.0.2 [one]"',
  ]);
  assert.deepEqual(ask(ds, '2.0.0.127', 'ANY').ttls, [600, 600, 300, 300]);
  // a subzone apex: generic records of the subzone
  assert.deepEqual(rr('proxies', 'ANY'), ['A 127.0.0.8', 'MX 10 mx.example.net.']);
  assert.deepEqual(rr('@', 'A'), ['A 127.0.0.8']);
  // a subzone apex without records is still found (NODATA)
  assert.deepEqual(ask(ds, 'rhs', 'A'), { found: true, rrs: [], ttls: [] });
  assert.deepEqual(ask(ds, 'relays', 'TXT'), { found: true, rrs: [], ttls: [] });
  assert.deepEqual(ask(ds, 'x.relays', 'A'), { found: true, rrs: [], ttls: [] });
  // the @ subzone is not consulted for names inside another subzone
  assert.equal(ask(ds, '10.0.0.127.proxies', 'A').found, false);
  assert.deepEqual(rr('10.0.0.127', 'A'), ['A 127.0.0.3']);
  assert.equal(ask(ds, '3.0.0.127.relays', 'ANY').found, false);
  assert.deepEqual(rr('3.0.0.127.x.relays', 'ANY'), ['A 127.0.0.5', 'TXT "deep"']);
  // the second file continued the x.relays section with its default
  assert.deepEqual(rr('4.0.0.127.x.relays', 'ANY'), ['A 127.0.0.5', 'TXT "deep"']);
  // TTLs: generic per record ($TTL 20m before www), dnset inherits the container's 10m
  assert.deepEqual(ask(ds, 'www.proxies', 'ANY'), { found: true, rrs: ['A 192.0.2.80'], ttls: [1200] });
  assert.deepEqual(ask(ds, 'www', 'A').ttls, [1200]);
  assert.deepEqual(ask(ds, 'example.com.rhs', 'ANY'), { found: true, rrs: ['A 127.0.0.4', 'TXT "domain example.com"'], ttls: [600, 600] });
  assert.deepEqual(rr('second', 'TXT'), ['TXT "in second file"']);
  assert.equal(ask(ds, 'foo.second', 'A').found, false);
  assert.equal(ask(ds, 'zz', 'A').found, false);
  assert.equal(ds.ttl, 600);
  assert.equal(ds.labels[0], 'proxy');
});

test('fatal errors: data before $DATASET, unknown or forbidden types', () => {
  const fatal = (re: RegExp, ...texts: string[]) =>
    assert.throws(() => load(...texts), (e: unknown) => e instanceof LoadError && re.test((e as Error).message), texts.join('|'));
  fatal(/comb1\.txt:2: .*\$DATASET/, '$TTL 60\n203.0.113.8\n$DATASET ip4set @\n');
  fatal(/comb1\.txt:1: unknown dataset type 'IP4SET'/, '$DATASET IP4SET x\n1.2.3.4\n'); // type names are case-sensitive
  fatal(/comb1\.txt:1: dataset type 'acl' cannot be used inside combined/, '$DATASET acl x\n');
  fatal(/comb1\.txt:1: dataset type 'combined' cannot be used inside combined/, '$DATASET combined x\n');
  // a $DATASET line holding only a comment closes the section: the next data line is fatal
  fatal(/comb1\.txt:4: /, '$DATASET generic @\nw A 1\n$DATASET # only comment\nv A 2\n');
  // a new file starting with a data line (before any `$` line) is fatal too
  fatal(/comb2\.txt:1: /, '$DATASET ip4set @\n127.0.0.2\n', '127.0.0.3\n');
});

test('$DATASET edge cases: no subzones, bare keyword, long labels, shared subzones', () => {
  const a = load('$DATASET ip4set\n127.0.0.2\n$DATASET generic:abcdefghijklmnopqrstuvwxyz @\nw A 1\n');
  assert.deepEqual(a.warnings, ['1: no subzone(s) specified for dataset, data will be ignored']);
  assert.equal(ask(a.ds, '2.0.0.127', 'A').found, false);
  assert.equal(a.ds.labels[1], 'abcdefghijklmnopqrst');
  assert.equal(a.ds.size, 2);

  // `$DATASET` alone is an unknown special: the section goes on
  const b = load('$DATASET generic @\nw A 1\n$DATASET\nv A 2\n');
  assert.equal(b.warnings.length, 1);
  assert.deepEqual(ask(b.ds, 'v', 'A').rrs, ['A 0.0.0.2']);

  // recorded from rbldnsd: a subzone listed by several sections is served by all of them
  const c = load('$DATASET generic:one a\nw A 1\n$DATASET generic:two a b..c @\nw A 2\n$DATASET ip4set a\n127.0.0.2\n');
  assert.deepEqual(ask(c.ds, 'w.a', 'A').rrs, ['A 0.0.0.1', 'A 0.0.0.2']);
  assert.deepEqual(ask(c.ds, 'w.b.c', 'A').rrs, ['A 0.0.0.2']);
  assert.deepEqual(ask(c.ds, 'w', 'A').rrs, ['A 0.0.0.2']);
  assert.deepEqual(ask(c.ds, '2.0.0.127.a', 'A').rrs, ['A 127.0.0.2']);
  assert.deepEqual(ask(c.ds, 'a', 'TXT'), { found: true, rrs: [], ttls: [] });
  assert.equal(ask(c.ds, 'b', 'A').found, false);
  assert.equal(ask(c.ds, 'x.b.c', 'A').found, false);
  assert.deepEqual(
    c.ds.subzones().map((z) => z.labels.join('.')),
    ['a', 'b.c', ''],
  );
});

test('$MAXRANGE4 holds for the rest of the load, across sections (as in rbldnsd)', () => {
  const { ds, warnings } = load('$DATASET ip4set a\n$MAXRANGE4 /24\n$DATASET ip4set b\n10.0.0.0/16\n10.1.1.0/24\n');
  assert.equal(warnings.length, 1);
  assert.equal(ask(ds, '1.0.0.10.b', 'A').found, false);
  assert.equal(ask(ds, '1.1.1.10.b', 'A').found, true);
});

test('glue: A records of a name inside the combined zone', () => {
  const { ds } = load(COMB1, COMB2);
  assert.deepEqual(ds.glue(['www']), [{ ip: 0xc0000250, ttl: 1200 }]);
  assert.deepEqual(ds.glue(['www', 'proxies']), [{ ip: 0xc0000250, ttl: 1200 }]);
  assert.deepEqual(ds.glue(['proxies']), [{ ip: 0x7f000008, ttl: 600 }]);
  assert.deepEqual(ds.glue(['ns1']), []);
});

test('dump: $ORIGIN per subzone in rbldnsd order, then each sub-dataset', () => {
  const { ds } = load(COMB1, COMB2);
  const lines: string[] = [];
  ds.dump('comb.example', (l) => lines.push(l));
  const origins = lines.filter((l) => l.startsWith('$ORIGIN'));
  // the order rbldnsd -d prints (children before their parents)
  assert.deepEqual(origins, [
    '$ORIGIN proxies.comb.example.',
    '$ORIGIN x.relays.comb.example.',
    '$ORIGIN relays.comb.example.',
    '$ORIGIN rhs.comb.example.',
    '$ORIGIN second.comb.example.',
    '$ORIGIN comb.example.',
  ]);
  const second = lines.indexOf('$ORIGIN second.comb.example.');
  assert.equal(lines[second + 1], '@\t600\tTXT\t"in second file"');
  assert.ok(lines.includes('www\t1200\tA\t192.0.2.80'));
});

test('snapshot round trip answers identically', () => {
  const { ds } = load(COMB1, COMB2);
  const file = decodeSnapshot(Buffer.concat(encodeSnapshot({ key: 'k', stamps: [], part: ds.snapshot() })));
  const back = combined.fromSnapshot(file.part) as CombinedDataset;
  assert.equal(back.size, ds.size);
  assert.equal(back.ttl, ds.ttl);
  assert.deepEqual(back.meta, ds.meta);
  const names = ['2.0.0.127', '10.0.0.127', 'proxies', '@', 'rhs', 'www', 'www.proxies', '10.0.0.127.proxies', 'example.com.rhs',
    'x.example.com.rhs', '3.0.0.127.x.relays', '4.0.0.127.x.relays', 'second', 'zz', 'relays'];
  for (const n of names) {
    for (const t of ['A', 'TXT', 'MX', 'ANY', 'AAAA']) {
      resetGenericRotation(3);
      const a = ask(ds, n, t);
      resetGenericRotation(3);
      assert.deepEqual(ask(back, n, t), a, `${n} ${t}`);
    }
  }
  const d1: string[] = [];
  const d2: string[] = [];
  ds.dump('comb.example', (l) => d1.push(l));
  back.dump('comb.example', (l) => d2.push(l));
  assert.deepEqual(d2, d1);
  assert.deepEqual(back.glue(['www']), ds.glue(['www']));
});

// ---------------------------------------------------------------------------------------------
// Differential check against the real rbldnsd on the same two files.

/** dig's answer, records sorted. */
function dig(port: number, name: string, type: string): { status: string; rrs: string[] } {
  const d = digInOrder(port, name, type);
  return { status: d.status, rrs: d.rrs.sort() };
}

/** Our answer in dig's form after the server's rules (dedup, one TTL per type), sorted. */
function ours(ds: Dataset, name: string, type: string): { status: string; rrs: string[] } {
  const r = ask(ds, name, type);
  const status = r.found || name === '@' ? 'NOERROR' : 'NXDOMAIN';
  return { status, rrs: serverForm(r).sort() };
}

test('differential: the same combined files answer like rbldnsd', async (t) => {
  if (toolsMissing(t)) return;
  const dir = tempDir('qbl-combined-');
  const files = writeFiles(dir, [COMB1, COMB2], combName);
  const { port, proc } = await startRbldnsd(dir, 'comb.example:combined:comb1.txt,comb2.txt');
  try {
    const { dataset } = loadDataset(combined, files, defaultLoadOptions());
    const names = ['2.0.0.127', '10.0.0.127', '3.0.0.127', 'proxies', 'rhs', 'relays', 'x.relays', 'www', 'www.proxies',
      '10.0.0.127.proxies', '2.0.0.127.proxies', 'example.com.rhs', 'x.example.com.rhs', '3.0.0.127.x.relays',
      '4.0.0.127.x.relays', '3.0.0.127.relays', 'second', 'foo.second', 'zz', '@'];
    for (const n of names) {
      for (const ty of ['A', 'TXT', 'MX', 'ANY', 'AAAA']) {
        if (n === '@' && ty === 'ANY') continue; // apex ANY carries the server's SOA/NS
        const qn = n === '@' ? 'comb.example' : `${n}.comb.example`;
        assert.deepEqual(ours(dataset, n, ty), dig(port, qn, ty), `${qn} ${ty}`);
      }
    }
  } finally {
    proc.kill();
  }
});
