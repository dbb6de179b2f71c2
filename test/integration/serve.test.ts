// `bin/quorumbl serve` as a mail admin runs it: a config file with a zone built from an rbldnsd
// ip4set file and a dnset file, listening on IPv4 and IPv6 loopback, queried with dig.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { execFileSync } from 'node:child_process';
import {
  toolsOrSkip, makeTmpDir, freePort, spawnQuorumbl, stopAll, waitReady, dig, digRaw, show, txtStrings,
  copyFixture, writeConfig, ip6Labels, ip4Labels, tcpPipelined, buildQuery, type Proc, type DigReply,
} from './helpers.ts';

const skip = toolsOrSkip(['dig']);
const Z = 'bl.quorumbl.test';
const SOA_DATA = 'ns1.quorumbl.test. hostmaster.quorumbl.test. 2024060101 3600 600 604800 60';
const LISTED_TXT = 'Listed in the test list, see https://lookup.quorumbl.test/?ip=127.0.0.2';

function assertListedA(r: DigReply, a: string, ttl?: number): void {
  assert.equal(r.status, 'NOERROR', show(r));
  assert.ok(r.flags.includes('aa'), `AA flag expected\n${show(r)}`);
  const as = r.answer.filter((x) => x.type === 'A');
  assert.deepEqual(as.map((x) => x.data), [a], show(r));
  if (ttl !== undefined) assert.equal(as[0]!.ttl, ttl, show(r));
}

function assertNxdomainWithSoa(r: DigReply, zone = Z): void {
  assert.equal(r.status, 'NXDOMAIN', show(r));
  assert.ok(r.flags.includes('aa'), `AA flag expected\n${show(r)}`);
  assert.equal(r.answer.length, 0, show(r));
  const soa = r.authority.filter((x) => x.type === 'SOA');
  assert.equal(soa.length, 1, `NXDOMAIN must carry the zone SOA in authority\n${show(r)}`);
  assert.equal(soa[0]!.name, zone + '.', show(r));
}

/** The config a mail admin would write for one zone made of two rbldnsd files. */
function zoneDir(): string {
  const dir = makeTmpDir();
  mkdirSync(join(dir, 'data'), { mode: 0o755 });
  copyFixture('ip4set.txt', join(dir, 'data'));
  copyFixture('dnset.txt', join(dir, 'data'));
  return dir;
}

function zoneYaml(listen: string[], extra = ''): string {
  return `# integration test config
server:
  listen: [${listen.map((l) => JSON.stringify(l)).join(', ')}]
${extra}state_dir: ./state
log: { level: info }
zones:
  - name: ${Z}
    datasets:
      - { type: ip4set, files: [data/ip4set.txt] }
      - { type: dnset, files: [data/dnset.txt] }
`;
}

describe('quorumbl serve with a config file', { skip }, () => {
  let proc: Proc | undefined;
  let p4 = 0;
  let p6 = 0;
  const q = (...args: string[]) => dig('127.0.0.1', p4, args);

  before(async () => {
    p4 = await freePort();
    p6 = await freePort();
    const dir = zoneDir();
    const cfg = writeConfig(dir, zoneYaml([`127.0.0.1:${p4}`, `[::1]:${p6}`]));
    // Started from another directory: relative paths must resolve against the config file.
    proc = spawnQuorumbl(['serve', '--config', cfg], { cwd: tmpdir() });
    await waitReady(proc, '127.0.0.1', p4, Z);
  });
  after(() => stopAll(proc));

  test('RFC 5782 IPv4 test point 127.0.0.2 is listed with A and TXT', async () => {
    assertListedA(await q(`2.0.0.127.${Z}`, 'A'), '127.0.0.2', 120);
    const t = await q(`2.0.0.127.${Z}`, 'TXT');
    assert.equal(t.status, 'NOERROR', show(t));
    assert.deepEqual(t.answer.filter((x) => x.type === 'TXT').map((x) => txtStrings(x.data)), [[LISTED_TXT]], show(t));
  });

  test('RFC 5782 IPv4 test point 127.0.0.1 is not listed: NXDOMAIN with the SOA', async () => {
    const r = await q(`1.0.0.127.${Z}`, 'A');
    assertNxdomainWithSoa(r);
    const soa = r.authority.find((x) => x.type === 'SOA')!;
    assert.equal(soa.data, SOA_DATA, show(r));
    assert.equal(soa.ttl, 60, `negative answers use the SOA minimum as TTL (as rbldnsd)\n${show(r)}`);
  });

  test('IPv6 test points (v4-mapped) ::ffff:7f00:2 listed, ::ffff:7f00:1 not', async () => {
    assertListedA(await q(`${ip6Labels('00000000000000000000ffff7f000002')}.${Z}`, 'A'), '127.0.0.2');
    assertNxdomainWithSoa(await q(`${ip6Labels('00000000000000000000ffff7f000001')}.${Z}`, 'A'));
  });

  test('ip4set ranges, per-entry values and exclusions', async () => {
    assertListedA(await q(`${ip4Labels('192.0.2.5')}.${Z}`, 'A'), '127.0.0.3');
    const t = await q(`${ip4Labels('192.0.2.5')}.${Z}`, 'TXT');
    assert.deepEqual(t.answer.map((x) => txtStrings(x.data)), [['Test net 192.0.2.5']], show(t));
    assertNxdomainWithSoa(await q(`${ip4Labels('192.0.2.99')}.${Z}`, 'A'));
    assertNxdomainWithSoa(await q(`${ip4Labels('198.51.100.1')}.${Z}`, 'A'));
  });

  test('domain test points: "test" listed, "invalid" not; dnset wildcards and exclusions', async () => {
    assertListedA(await q(`test.${Z}`, 'A'), '127.0.0.2');
    const t = await q(`test.${Z}`, 'TXT');
    assert.deepEqual(t.answer.map((x) => txtStrings(x.data)), [['Domain test is listed']], show(t));
    assertNxdomainWithSoa(await q(`invalid.${Z}`, 'A'));
    const w = await q(`x.evil.example.${Z}`, 'TXT');
    assert.deepEqual(w.answer.map((x) => txtStrings(x.data)), [['Domain evil.example is listed']], show(w));
    assertNxdomainWithSoa(await q(`ok.evil.example.${Z}`, 'A'));
  });

  test('listed name, other type: NODATA with the SOA', async () => {
    const r = await q(`2.0.0.127.${Z}`, 'AAAA');
    assert.equal(r.status, 'NOERROR', show(r));
    assert.equal(r.answer.length, 0, show(r));
    assert.equal(r.authority.filter((x) => x.type === 'SOA').length, 1, show(r));
  });

  test('apex answers SOA and NS', async () => {
    const s = await q(Z, 'SOA');
    assert.equal(s.status, 'NOERROR', show(s));
    assert.ok(s.flags.includes('aa'), show(s));
    assert.deepEqual(s.answer.map((x) => [x.name, x.type, x.ttl, x.data]), [[Z + '.', 'SOA', 300, SOA_DATA]], show(s));
    const n = await q(Z, 'NS');
    assert.equal(n.status, 'NOERROR', show(n));
    assert.deepEqual(n.answer.map((x) => [x.name, x.type, x.data]), [[Z + '.', 'NS', 'ns1.quorumbl.test.']], show(n));
  });

  test('names outside the zones are REFUSED (no AA)', async () => {
    for (const name of [`${ip4Labels('192.0.2.1')}.example.org`, 'quorumbl.test', 'www.example.com']) {
      const r = await q(name, 'A');
      assert.equal(r.status, 'REFUSED', show(r));
      assert.ok(!r.flags.includes('aa'), show(r));
      assert.equal(r.answer.length, 0, show(r));
    }
  });

  test('TCP answers the same as UDP', async () => {
    assertListedA(await q('+tcp', `2.0.0.127.${Z}`, 'A'), '127.0.0.2', 120);
    assertNxdomainWithSoa(await q('+tcp', `1.0.0.127.${Z}`, 'A'));
  });

  test('several queries on one TCP connection (dig +keepopen)', async () => {
    const r = await digRaw('127.0.0.1', p4, ['+tcp', '+keepopen', `2.0.0.127.${Z}`, 'A', `1.0.0.127.${Z}`, 'A', `test.${Z}`, 'TXT', Z, 'SOA']);
    assert.deepEqual(r.replies.map((x) => x.status), ['NOERROR', 'NXDOMAIN', 'NOERROR', 'NOERROR'], r.stdout + r.stderr);
    assert.deepEqual(r.replies[0]!.answer.map((x) => x.data), ['127.0.0.2'], r.stdout);
    assert.deepEqual(r.replies[2]!.answer.map((x) => txtStrings(x.data)), [['Domain test is listed']], r.stdout);
  });

  test('pipelined queries on one TCP connection all get their reply', async () => {
    const names = [`2.0.0.127.${Z}`, `1.0.0.127.${Z}`, `test.${Z}`, `invalid.${Z}`, `${ip4Labels('192.0.2.7')}.${Z}`];
    const got = await tcpPipelined('127.0.0.1', p4, names.map((n, i) => buildQuery(0x1000 + i, n, 1)));
    const byId = new Map(got.map(([id, rcode, an]) => [id, [rcode, an]]));
    assert.deepEqual(
      names.map((_, i) => byId.get(0x1000 + i)),
      [[0, 1], [3, 0], [0, 1], [3, 0], [0, 1]], // [rcode, answers]: NOERROR=0, NXDOMAIN=3
      JSON.stringify(got),
    );
  });

  test('EDNS: a query with +bufsize=1232 gets an OPT record back; a plain query gets none', async () => {
    const e = await q('+edns=0', '+bufsize=1232', `2.0.0.127.${Z}`, 'TXT');
    assert.equal(e.status, 'NOERROR', show(e));
    assert.notEqual(e.ednsUdp, null, `reply to an EDNS query must carry OPT (RFC 6891)\n${show(e)}`);
    assert.equal(e.answer.length, 1, show(e));
    const n = await q('+noedns', `2.0.0.127.${Z}`, 'TXT');
    assert.equal(n.ednsUdp, null, show(n));
    assert.equal(n.answer.length, 1, show(n));
  });

  test('IPv6 listener answers over UDP and TCP', async () => {
    assertListedA(await dig('::1', p6, [`2.0.0.127.${Z}`, 'A']), '127.0.0.2');
    assertNxdomainWithSoa(await dig('::1', p6, [`1.0.0.127.${Z}`, 'A']));
    assertListedA(await dig('::1', p6, ['+tcp', `test.${Z}`, 'A']), '127.0.0.2');
  });
});

describe('quorumbl serve: allow_query without loopback', { skip }, () => {
  let proc: Proc | undefined;
  let port = 0;

  before(async () => {
    port = await freePort();
    const dir = zoneDir();
    const cfg = writeConfig(dir, zoneYaml([`127.0.0.1:${port}`], '  allow_query: [10.0.0.0/8, 192.168.0.0/16]\n'));
    proc = spawnQuorumbl(['serve', '--config', cfg]);
    await waitReady(proc, '127.0.0.1', port, Z);
  });
  after(() => stopAll(proc));

  test('a client outside allow_query gets REFUSED over UDP and TCP', async () => {
    for (const args of [[`2.0.0.127.${Z}`, 'A'], ['+tcp', `2.0.0.127.${Z}`, 'A'], [Z, 'SOA']]) {
      const r = await dig('127.0.0.1', port, args);
      assert.equal(r.status, 'REFUSED', show(r));
      assert.equal(r.answer.length, 0, show(r));
    }
  });
});

describe('quorumbl serve with the embedded default config', { skip }, () => {
  const D = 'demo.dnsbl.internal';
  let proc: Proc | undefined;
  let port = 0;
  const q = (...args: string[]) => dig('127.0.0.1', port, args);

  before(async () => {
    port = await freePort();
    const state = makeTmpDir();
    proc = spawnQuorumbl(['serve'], {
      cwd: tmpdir(),
      // Sync off: the default sources are real upstreams, and tests stay on loopback.
      env: { QUORUMBL_SERVER__LISTEN: `127.0.0.1:${port}`, QUORUMBL_STATE_DIR: state, QUORUMBL_SYNC__ENABLED: 'false', QUORUMBL_WEB__ENABLED: 'false' },
    });
    await waitReady(proc, '127.0.0.1', port, D);
  });
  after(() => stopAll(proc));

  test('demo zone answers the RFC 5782 IPv4 test points', async () => {
    assertListedA(await q(`2.0.0.127.${D}`, 'A'), '127.0.0.2');
    const t = await q(`2.0.0.127.${D}`, 'TXT');
    assert.equal(t.status, 'NOERROR', show(t));
    assert.equal(t.answer.filter((x) => x.type === 'TXT').length, 1, show(t));
    assertNxdomainWithSoa(await q(`1.0.0.127.${D}`, 'A'), D);
  });

  test('demo zone answers the IPv6 (v4-mapped) test points', async () => {
    assertListedA(await q(`${ip6Labels('00000000000000000000ffff7f000002')}.${D}`, 'A'), '127.0.0.2');
    assertNxdomainWithSoa(await q(`${ip6Labels('00000000000000000000ffff7f000001')}.${D}`, 'A'), D);
  });

  test('demo zone answers the domain test points', async () => {
    assertListedA(await q(`test.${D}`, 'A'), '127.0.0.2');
    assertNxdomainWithSoa(await q(`invalid.${D}`, 'A'), D);
  });

  test('demo zone apex has SOA and NS; other names are REFUSED', async () => {
    const s = await q(D, 'SOA');
    assert.equal(s.status, 'NOERROR', show(s));
    assert.equal(s.answer.filter((x) => x.type === 'SOA').length, 1, show(s));
    const n = await q(D, 'NS');
    assert.ok(n.answer.some((x) => x.type === 'NS'), show(n));
    assert.equal((await q('example.com', 'A')).status, 'REFUSED');
  });

  test('the listen override replaces the default listeners (our process does not bind 5353)', () => {
    // QUORUMBL_SERVER__LISTEN is a list override: only the given address is served.
    const ss = execFileSync('ss', ['-H', '-l', '-n', '-p', '-u', '-t'], { encoding: 'utf8' });
    const ours = ss.split('\n').filter((l) => l.includes(`pid=${proc!.pid},`));
    assert.ok(ours.some((l) => l.includes(`:${port} `)), `expected a socket on ${port}:\n${ours.join('\n')}`);
    assert.ok(!ours.some((l) => /:5353 /.test(l)), `still bound to 5353:\n${ours.join('\n')}`);
  });
});
