// Differential test: `bin/quorumbl rbldnsd ...` must answer exactly what Debian's rbldnsd
// answers for the same data files and the same argv (corpus in test/fixtures/rbldnsd).
//
// QUORUMBL_DIFF_TARGET=rbldnsd runs the oracle against itself (harness self-check).
// Deliberate differences (TC + TCP, CRLF, EDNS OPT echo) have their own tests at the end.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { renameSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { UdpClient } from './client.ts';
import { compareQueries, compareRaw, formatMismatches, lines } from './compare.ts';
import { INSTANCES, TOPICS, v4, type InstanceName } from './corpus.ts';
import { RAW_CASES } from './malformed.ts';
import { haveDig, haveQuorumbl, haveRbldnsd, makeDataDir, prepareDataDir, removeDataDir, startServer, writeDataFile, type Impl, type Server } from './servers.ts';
import { buildQuery, normalize, QTYPE, type Normalized } from './wire.ts';

const CI = process.env.CI === 'true';
const TARGET: Impl = process.env.QUORUMBL_DIFF_TARGET === 'rbldnsd' ? 'rbldnsd' : 'quorumbl';

function why(): string | null {
  if (!haveRbldnsd()) return 'rbldnsd is not installed (/usr/sbin/rbldnsd; apt-get install rbldnsd)';
  if (TARGET === 'quorumbl' && !haveQuorumbl()) return 'bin/quorumbl is missing';
  return null;
}
const missing = why();
// Outside CI a missing rbldnsd skips; in CI (and for a missing bin/quorumbl) the tests fail.
const skip = missing && !CI && !haveRbldnsd() ? `skipped: ${missing}` : false;

type Pair = { ref: Server; ours: Server };
const pairs: Partial<Record<InstanceName, Pair>> = {};
const startErrors: Partial<Record<InstanceName, Error>> = {};
let startError: Error | null = null;
let dir = '';

/** Starts both servers of a pair; whatever started is returned for stopping even if the other failed. */
async function startPair(d: string, opts: string[], zones: string[]): Promise<{ pair?: Pair; started: Server[]; error?: Error }> {
  const rs = await Promise.allSettled([startServer('rbldnsd', d, opts, zones), startServer(TARGET, d, opts, zones)]);
  const started = rs.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const failed = rs.find((r) => r.status === 'rejected') as PromiseRejectedResult | undefined;
  if (failed) return { started, error: failed.reason as Error };
  return { pair: { ref: started[0]!, ours: started[1]! }, started };
}

const running: Server[] = [];

before(async () => {
  if (skip) return;
  if (missing) {
    startError = new Error(missing);
    return;
  }
  dir = prepareDataDir();
  await Promise.all((['A', 'B', 'C'] as const).map(async (k) => {
    const r = await startPair(dir, INSTANCES[k].opts, INSTANCES[k].zones);
    running.push(...r.started);
    if (r.pair) pairs[k] = r.pair;
    else startErrors[k] = r.error!;
  }));
});

after(async () => {
  await Promise.all(running.map((s) => s.stop()));
  if (dir) removeDataDir(dir);
});

function pair(k: InstanceName): Pair {
  if (startError) throw startError;
  if (startErrors[k]) throw startErrors[k];
  const p = pairs[k];
  if (!p) throw new Error(`instance ${k} not started`);
  return p;
}

for (const topic of TOPICS) {
  const todo = TARGET === 'quorumbl' && topic.unsupported ? topic.unsupported : undefined;
  test(`same answers as rbldnsd: ${topic.title}`, { skip, todo }, async () => {
    const { ref, ours } = pair(topic.instance);
    const { mismatches, total } = await compareQueries(ref.port, ours.port, topic.queries);
    assert.ok(total > 0);
    assert.equal(mismatches.length, 0,
      `${mismatches.length}/${total} queries differ\n${formatMismatches(mismatches, 'rbldnsd', TARGET)}`);
  });
}

for (const k of ['A', 'B'] as const) {
  test(`same reply-or-drop as rbldnsd for malformed and unusual packets (instance ${k})`, { skip }, async () => {
    const { ref, ours } = pair(k);
    const { mismatches, total } = await compareRaw(ref.port, ours.port, RAW_CASES);
    assert.equal(mismatches.length, 0,
      `${mismatches.length}/${total} packets differ\n${formatMismatches(mismatches, 'rbldnsd', TARGET, 40)}`);
  });
}

// ---- deliberate, documented differences ------------------------------------------------------

const onlyQuorumbl = skip || (TARGET !== 'quorumbl' ? 'deliberate differences only apply to quorumbl' : false);

async function ask(port: number, name: string, qtype: number, build?: (id: number) => Buffer): Promise<Normalized> {
  const c = new UdpClient(port);
  try {
    const r = await c.exchange(build ?? ((id) => buildQuery(id, name, qtype)));
    assert.ok(r, `no reply for ${name}`);
    return normalize(r);
  } finally {
    c.close();
  }
}

function dig(port: number, args: string[]): string {
  return execFileSync('dig', ['@127.0.0.1', '-p', String(port), '+nocookie', '+noedns', '+norec', '+tries=1', '+time=3', ...args], { encoding: 'utf8' });
}

test('big answer: rbldnsd drops records without TC, we set TC and answer fully over TCP', { skip: onlyQuorumbl }, async () => {
  const { ref, ours } = pair('A');
  const name = v4('192.0.2.1', 'big.example');
  const r = await ask(ref.port, name, QTYPE.TXT!);
  assert.doesNotMatch(r.header.flags, /\btc\b/, 'rbldnsd sets no TC');
  assert.ok(r.answer.length > 0 && r.answer.length < 12, `rbldnsd drops records: ${r.answer.length}`);
  const o = await ask(ours.port, name, QTYPE.TXT!);
  assert.match(o.header.flags, /\btc\b/, `we set TC:\n${lines(o).join('\n')}`);
  assert.equal(o.header.rcode, 'NOERROR');
  assert.ok(haveDig() || !CI, 'dig is required in CI');
  if (!haveDig()) return;
  const out = dig(ours.port, ['+tcp', name, 'TXT']);
  assert.match(out, /status: NOERROR/);
  assert.doesNotMatch(out, /flags:[^;]*\btc\b/);
  const txts = out.split('\n').filter((l) => /^\S+\s+\d+\s+IN\s+TXT\s/.test(l));
  assert.equal(txts.length, 12, out);
});

test('TCP answers equal rbldnsd UDP answers (rbldnsd has no TCP)', { skip: onlyQuorumbl }, async () => {
  const { ref, ours } = pair('A');
  if (!haveDig()) {
    assert.ok(!CI, 'dig is required in CI');
    return;
  }
  const cases: [string, string][] = [
    [v4('192.0.2.2', 'ip4set.bl.example'), 'ANY'],
    [v4('198.51.100.7', 'ip4set.bl.example'), 'A'],
    ['ip4set.bl.example', 'SOA'],
    ['x.evil.test.dnset.example', 'TXT'],
  ];
  for (const [name, type] of cases) {
    const viaUdp = dig(ref.port, ['+notcp', '+noall', '+answer', '+authority', name, type]);
    const viaTcp = dig(ours.port, ['+tcp', '+noall', '+answer', '+authority', name, type]);
    const norm = (s: string) => s.split('\n').filter((l) => l && !l.startsWith(';')).map((l) => l.replace(/\s+/g, ' ')).sort();
    assert.deepEqual(norm(viaTcp), norm(viaUdp), `${name} ${type}`);
  }
});

test('CRLF data file: rbldnsd keeps the CR in TXT and rejects bare addresses, we strip the CR', { skip: onlyQuorumbl }, async () => {
  const { ref, ours } = pair('A');
  const t = QTYPE.TXT!;
  const refTxt = await ask(ref.port, v4('192.0.2.1', 'crlf.example'), t);
  assert.ok(refTxt.answer.some((l) => l.endsWith('"text\\013"')), lines(refTxt).join('\n'));
  const ourTxt = await ask(ours.port, v4('192.0.2.1', 'crlf.example'), t);
  assert.ok(ourTxt.answer.some((l) => l.endsWith(' TXT "text"')), lines(ourTxt).join('\n'));
  const refBare = await ask(ref.port, v4('192.0.2.2', 'crlf.example'), QTYPE.A!);
  assert.equal(refBare.header.rcode, 'NXDOMAIN');
  const ourBare = await ask(ours.port, v4('192.0.2.2', 'crlf.example'), QTYPE.A!);
  assert.equal(ourBare.header.rcode, 'NOERROR');
  assert.ok(ourBare.answer.some((l) => l.endsWith(' A 127.0.0.2')), lines(ourBare).join('\n'));
  const ourA = await ask(ours.port, v4('192.0.2.3', 'crlf.example'), QTYPE.A!);
  assert.ok(ourA.answer.some((l) => l.endsWith(' A 127.0.0.3')), lines(ourA).join('\n'));
  const soa = await ask(ours.port, 'crlf.example', QTYPE.SOA!);
  assert.equal(soa.header.rcode, 'NOERROR', lines(soa).join('\n'));
  assert.equal(soa.answer.length, 1, 'the CRLF $SOA line is understood');
});

test('EDNS query: same records as rbldnsd, plus an OPT record in our reply', { skip: onlyQuorumbl }, async () => {
  const { ref, ours } = pair('A');
  const withOpt = (name: string, size: number) => (id: number) => {
    const q = buildQuery(id, name, QTYPE.ANY!);
    q.writeUInt16BE(1, 10); // ARCOUNT 1
    return Buffer.concat([q, Buffer.from([0, 0, 41, size >> 8, size & 0xff, 0, 0, 0, 0, 0, 0])]);
  };
  // a small answer, and the 12-TXT answer that needs more than 512 bytes (rbldnsd: all fit in EDNS 4096)
  for (const [name, size] of [[v4('192.0.2.2', 'ip4set.bl.example'), 1232], [v4('192.0.2.1', 'big.example'), 4096]] as const) {
    const r = await ask(ref.port, name, 0, withOpt(name, size));
    const o = await ask(ours.port, name, 0, withOpt(name, size));
    assert.deepEqual(o.answer, r.answer, name);
    assert.deepEqual(o.authority, r.authority, name);
    assert.deepEqual(o.header.flags, r.header.flags, name);
    assert.ok(o.additional.some((l) => / OPT /.test(l)), lines(o).join('\n'));
  }
});

// ---- reload on SIGHUP -----------------------------------------------------------------------

const RELOAD_SOA = '$SOA 1h ns1.example.net hostmaster.example.net 0 1h 10m 1w 3m\n$NS 1h ns1.example.net\n';
const reloadVersion = (tag: string, a: string, ips: string[]) => `${RELOAD_SOA}:${a}:${tag} $\n${ips.join('\n')}\n`;
const RELOAD_ZONES = ['reload.example:ip4set:reload.txt', 'reload.example:generic:reload-gen.txt'];
const RELOAD_QUERIES = ['192.0.2.1', '192.0.2.2', '192.0.2.3', '192.0.2.4']
  .flatMap((ip) => [QTYPE.A!, QTYPE.TXT!].map((qtype) => ({ name: v4(ip, 'reload.example'), qtype })))
  .concat([{ name: 'reload.example', qtype: QTYPE.SOA! }, { name: 'www.reload.example', qtype: QTYPE.A! }]);

/** Polls until the zone's SOA serial is `serial` (or the rcode is `rcode`); false after ~30 s. */
async function waitFor(port: number, pred: (n: Normalized) => boolean): Promise<boolean> {
  for (let i = 0; i < 150; i++) {
    const n = await ask(port, 'reload.example', QTYPE.SOA!);
    if (pred(n)) return true;
    await new Promise((r) => setTimeout(r, 200));
  }
  return false;
}
const hasSerial = (serial: number) => (n: Normalized) => n.answer.some((l) => l.includes(` ${serial} 3600 600 604800 180`));

test('reload on SIGHUP: same answers as rbldnsd after a good reload; a failed reload keeps our old data', { skip }, async () => {
  if (missing) throw new Error(missing);
  const rdir = makeDataDir({
    'reload.txt': reloadVersion('v1', '127.0.0.2', ['192.0.2.1', '192.0.2.2']),
    'reload-gen.txt': 'www A 127.0.0.8\n',
  });
  const { pair: p, started: servers, error } = await startPair(rdir, [], RELOAD_ZONES);
  try {
    if (!p) throw error;
    const { ref, ours } = p;
    const check = async (stage: string) => {
      const { mismatches, total } = await compareQueries(ref.port, ours.port, RELOAD_QUERIES);
      assert.equal(mismatches.length, 0, `${stage}: ${mismatches.length}/${total} differ\n${formatMismatches(mismatches, 'rbldnsd', TARGET)}`);
    };
    await check('initial load');

    writeDataFile(rdir, 'reload.txt', reloadVersion('v2', '127.0.0.3', ['192.0.2.2', '192.0.2.3']), 1700000500);
    ref.signal('SIGHUP');
    ours.signal('SIGHUP');
    assert.ok(await waitFor(ref.port, hasSerial(1700000500)), 'rbldnsd reloaded');
    assert.ok(await waitFor(ours.port, hasSerial(1700000500)), `${TARGET} reloaded`);
    await check('after a good reload');

    // Failed reload: the file disappears. rbldnsd drops the dataset (SERVFAIL); we keep v2.
    renameSync(join(rdir, 'reload.txt'), join(rdir, 'reload.txt.gone'));
    ref.signal('SIGHUP');
    ours.signal('SIGHUP');
    assert.ok(await waitFor(ref.port, (n) => n.header.rcode === 'SERVFAIL'), 'rbldnsd answers SERVFAIL after a failed load');
    if (TARGET === 'quorumbl') {
      await new Promise((r) => setTimeout(r, 2000)); // give the reload time to fail; the answer must not change
      const n = await ask(ours.port, v4('192.0.2.3', 'reload.example'), QTYPE.TXT!);
      assert.equal(n.header.rcode, 'NOERROR', lines(n).join('\n'));
      assert.ok(n.answer.some((l) => l.endsWith('"v2 192.0.2.3"')), lines(n).join('\n'));
    }

    writeDataFile(rdir, 'reload.txt', reloadVersion('v3', '127.0.0.4', ['192.0.2.4', '192.0.2.1']), 1700000900);
    ref.signal('SIGHUP');
    ours.signal('SIGHUP');
    assert.ok(await waitFor(ref.port, hasSerial(1700000900)), 'rbldnsd recovered');
    assert.ok(await waitFor(ours.port, hasSerial(1700000900)), `${TARGET} recovered`);
    await check('after recovery');
  } finally {
    await Promise.all(servers.map((s) => s.stop()));
    removeDataDir(rdir);
  }
});
