// DNS correctness as real clients see it (issue 9, requirement 7): a real `quorumbl serve`
// queried with the real dig and kdig, and through a real Unbound that does strict QNAME
// minimisation; rbldnsd (Debian's binary) as the oracle for a query with an OPT record in its
// authority section.
//
//   - every TXT length 0..255 and several TXTs in one answer decode in dig and kdig (a 255-byte
//     string once overflowed RDLENGTH's low byte: a malformed packet, SERVFAIL in Unbound)
//   - bl/wl/dbl answer NODATA for empty non-terminals, so a strict QNAME-minimising resolver
//     reaches the listed names below them; not-listed stays NXDOMAIN
//   - the SOA serial of bl/wl/dbl rises with an override; the negative TTL is policy.negative_ttl
//   - wl answers the RFC 5782 test point with its own code 127.0.10.0
//   - OPT in the authority section: rbldnsd mode answers as rbldnsd, serve answers FORMERR

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  digRaw, freePort, ip4Labels, makeTmpDir, poll, runQuorumbl, show, spawnQuorumbl, stopAll, toolsOrSkip, txtStrings,
  waitForLog, waitReady, writeConfig, Proc, type DigReply, type DigResult,
} from './helpers.ts';
import { RBLDNSD, haveRbldnsd, makeDataDir, removeDataDir, startServer, type Server } from '../differential/servers.ts';
import { rawProbe } from '../differential/client.ts';
import { buildHeader, encodeName } from '../differential/wire.ts';

const skip = toolsOrSkip(['dig', 'kdig', 'unbound', 'unbound-checkconf']);
const BASE = 'dnsbl.test';
const TXTZ = `txt.${BASE}`;

/** A printable text of n bytes (no quotes or backslashes, so dig and kdig print it as is). */
function text(n: number, seed = 0): string {
  const chars = 'abcdefghijklmnopqrstuvwxyz0123456789-=+.,/ABCDEFGHIJKLMNOPQRSTUVWXYZ';
  let s = '';
  for (let i = 0; i < n; i++) s += chars[(i + seed) % chars.length];
  return s;
}

function genericData(): string {
  const out = ['$SOA 60 ns1.dnsbl.test hostmaster.dnsbl.test 1 1h 10m 1w 60', '$NS 60 ns1.dnsbl.test', '$TTL 60'];
  for (let n = 0; n <= 255; n++) out.push(`l${n} TXT "${text(n)}"`);
  // several TXT records of one name (several character-strings in one answer)
  for (const n of [255, 254, 1, 0, 128]) out.push(`multi TXT "${text(n, n)}"`);
  // longer than 255: cut to 255 at load, as rbldnsd does (with a warning)
  out.push(`long TXT "${text(300)}"`);
  return out.join('\n') + '\n';
}

/** Runs kdig (one or more queries); returns stdout. */
function kdig(port: number, args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile('kdig', [`@127.0.0.1`, '-p', String(port), '+norec', '+time=2', '+retry=0', ...args], { timeout: 60000, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      const c = err ? (err as { code?: unknown }).code : 0;
      resolve({ code: typeof c === 'number' ? c : 1, out: stdout + stderr });
    });
  });
}

/** kdig's replies: status and the TXT strings of each (kdig prints one block per query). */
function parseKdig(out: string): { status: string; name: string; txt: string[][] }[] {
  const replies: { status: string; name: string; txt: string[][] }[] = [];
  for (const chunk of out.split(/^;; ->>HEADER<<-/m).slice(1)) {
    const status = /status: ([A-Z]+)/.exec(chunk)?.[1] ?? '?';
    const name = /^;; QUESTION SECTION:\n;; (\S+)/m.exec(chunk)?.[1] ?? '?';
    const txt: string[][] = [];
    const ans = /;; ANSWER SECTION:\n([\s\S]*?)(?:\n\n|\n;;|$)/.exec(chunk)?.[1] ?? '';
    for (const line of ans.split('\n')) {
      const m = /^\S+\s+\d+\s+IN\s+TXT\s+(.*)$/.exec(line);
      if (m) txt.push(txtStrings(m[1]!));
    }
    replies.push({ status, name: name.toLowerCase(), txt });
  }
  return replies;
}

function unboundConf(dir: string, port: number, qport: number): string {
  const stubs = ['bl', 'wl', 'dbl', 'txt']
    .map((z) => `stub-zone:\n  name: "${z}.${BASE}"\n  stub-addr: 127.0.0.1@${qport}\n`)
    .join('\n');
  return `server:
  interface: 127.0.0.1
  port: ${port}
  num-threads: 1
  do-not-query-localhost: no
  username: ""
  chroot: ""
  directory: "${dir}"
  pidfile: "${join(dir, 'unbound.pid')}"
  module-config: "iterator"
  auto-trust-anchor-file: ""
  local-zone: "." refuse
  local-zone: "${BASE}." transparent
  # what this test is about: minimised queries, and no fallback to the full name on NXDOMAIN
  qname-minimisation: yes
  qname-minimisation-strict: yes
  verbosity: 1
  use-syslog: no
  logfile: ""
  cache-max-ttl: 1
  cache-max-negative-ttl: 1

${stubs}
remote-control:
  control-enable: no
`;
}

function hex32(ip6: string): string {
  const [h, t] = ip6.split('::');
  const head = h ? h.split(':') : [];
  const tail = t ? t.split(':') : [];
  const groups = t === undefined ? head : [...head, ...Array(8 - head.length - tail.length).fill('0'), ...tail];
  return groups.map((g) => g.padStart(4, '0')).join('');
}
const ip6Name = (ip6: string, zone: string) => `${hex32(ip6).split('').reverse().join('.')}.${zone}.${BASE}`;

describe('DNS correctness seen by dig, kdig and a strict QNAME-minimising Unbound', { skip }, () => {
  let serve: Proc | undefined;
  let unbound: Proc | undefined;
  let qport = 0;
  let uport = 0;
  let cfg = '';

  before(async () => {
    qport = await freePort();
    uport = await freePort();
    const dir = makeTmpDir();
    mkdirSync(join(dir, 'data'), { mode: 0o755 });
    writeFileSync(join(dir, 'data', 'txt.gen'), genericData(), { mode: 0o644 });
    cfg = writeConfig(
      dir,
      `server:
  listen: ["127.0.0.1:${qport}"]
state_dir: ./state
base: ${BASE}
web: { enabled: false }
providers: []
zones:
  - name: ${TXTZ}
    datasets:
      - { type: generic, files: [data/txt.gen] }
`,
    );
    // The listings the resolver must find: overrides, set before serve starts.
    for (const [action, key] of [['deny', '192.0.2.77'], ['deny', '2001:db8:dead::/48'], ['deny', 'mail.bad.example.com'], ['allow', '198.51.100.10']]) {
      const r = await runQuorumbl(['override', 'add', action!, key!, '--reason', 'dns correctness test', '--config', cfg]);
      assert.equal(r.code, 0, r.output);
    }
    serve = spawnQuorumbl(['serve', '--config', cfg]);
    await waitReady(serve, '127.0.0.1', qport, `bl.${BASE}`);
    await waitForLog(serve, 0, (r) => r.msg === 'merged zones served', 'first merge', 30000);

    const udir = join(dir, 'unbound');
    mkdirSync(udir, { mode: 0o755 });
    const conf = join(udir, 'unbound.conf');
    writeFileSync(conf, unboundConf(udir, uport, qport));
    execFileSync('unbound-checkconf', [conf], { stdio: 'pipe' });
    unbound = new Proc('unbound', 'unbound', ['-d', '-c', conf], { cwd: udir });
    await waitReady(unbound, '127.0.0.1', uport, `bl.${BASE}`);
  });
  after(() => stopAll(unbound, serve));

  const direct = (args: string[]) => digRaw('127.0.0.1', qport, args);
  const viaUnbound = (args: string[]) => digRaw('127.0.0.1', uport, args, { recurse: true });
  const one = (r: DigResult): DigReply => {
    assert.equal(r.replies.length, 1, r.stdout + r.stderr);
    return r.replies[0]!;
  };
  const info = (r: DigReply) => `${show(r)}\n--- unbound ---\n${unbound?.tail(1500)}\n--- quorumbl ---\n${serve?.tail(1500)}`;

  test('every TXT length 0..255 decodes in dig, over UDP and TCP', async () => {
    for (const tcp of ['+notcp', '+tcp']) {
      const args = [tcp, '+ignore'];
      for (let n = 0; n <= 255; n++) args.push(`l${n}.${TXTZ}`, 'TXT');
      const r = await direct(args);
      assert.equal(r.replies.length, 256, `${tcp}: 256 replies\n${r.stderr}\n${r.stdout.slice(-3000)}`);
      assert.doesNotMatch(r.stdout + r.stderr, /malformed|FORMERR|Warning|unexpected/i, tcp);
      r.replies.forEach((rep, n) => {
        assert.equal(rep.status, 'NOERROR', `${tcp} l${n}: ${show(rep)}`);
        assert.deepEqual(rep.answer.map((x) => txtStrings(x.data)), [[text(n)]], `${tcp} l${n}`);
      });
    }
  });

  test('every TXT length 0..255 decodes in kdig, over UDP and TCP', async () => {
    for (const tcp of ['+notcp', '+tcp']) {
      const args = [tcp, '+ignore'];
      for (let n = 0; n <= 255; n++) args.push(`l${n}.${TXTZ}`, 'TXT');
      const r = await kdig(qport, args);
      const reps = parseKdig(r.out);
      assert.equal(reps.length, 256, `${tcp}: 256 replies\n${r.out.slice(-3000)}`);
      assert.doesNotMatch(r.out, /malformed|failed|WARNING/i, tcp);
      reps.forEach((rep, n) => {
        assert.equal(rep.status, 'NOERROR', `${tcp} l${n}`);
        assert.deepEqual(rep.txt, [[text(n)]], `${tcp} l${n}`);
      });
    }
  });

  test('several TXT records in one answer (255, 254, 1, 0 and 128 bytes): UDP sets TC, TCP carries them all', async () => {
    const want = [255, 254, 1, 0, 128].map((n) => [text(n, n)]).sort();
    const udp = one(await direct(['+notcp', '+noedns', '+ignore', `multi.${TXTZ}`, 'TXT']));
    assert.ok(udp.flags.includes('tc'), `641+ bytes do not fit 512: TC\n${show(udp)}`);
    const tcp = one(await direct(['+tcp', `multi.${TXTZ}`, 'TXT']));
    assert.deepEqual(tcp.answer.map((x) => txtStrings(x.data)).sort(), want, show(tcp));
    const edns = one(await direct(['+notcp', '+bufsize=1232', `multi.${TXTZ}`, 'TXT']));
    assert.deepEqual(edns.answer.map((x) => txtStrings(x.data)).sort(), want, show(edns));
    const k = parseKdig((await kdig(qport, ['+tcp', `multi.${TXTZ}`, 'TXT'])).out);
    assert.deepEqual(k[0]!.txt.sort(), want);
  });

  test('a TXT longer than 255 bytes in the data is cut to 255, as rbldnsd cuts it', async () => {
    const r = one(await direct([`long.${TXTZ}`, 'TXT']));
    assert.deepEqual(r.answer.map((x) => txtStrings(x.data)), [[text(255)]], show(r));
    assert.match(serve!.output(), /TXT RR truncated to 255 bytes/);
  });

  test('a 255-byte TXT comes through Unbound (it turned the malformed one into SERVFAIL)', async () => {
    for (const n of [0, 1, 254, 255]) {
      const r = one(await viaUnbound([`l${n}.${TXTZ}`, 'TXT']));
      assert.equal(r.status, 'NOERROR', info(r));
      assert.deepEqual(r.answer.filter((x) => x.type === 'TXT').map((x) => txtStrings(x.data)), [[text(n)]], info(r));
    }
    const m = one(await viaUnbound([`multi.${TXTZ}`, 'TXT']));
    assert.equal(m.status, 'NOERROR', info(m));
    assert.equal(m.answer.filter((x) => x.type === 'TXT').length, 5, info(m));
  });

  test('empty non-terminals of bl/wl/dbl answer NODATA with the SOA; names that cannot hold a key stay NXDOMAIN', async () => {
    const ent = [
      `127.bl.${BASE}`, `0.127.bl.${BASE}`, `0.0.127.bl.${BASE}`, `2.0.192.bl.${BASE}`, `127.wl.${BASE}`, `0.0.127.wl.${BASE}`,
      `d.a.e.d.8.b.d.0.1.0.0.2.bl.${BASE}`, `2.bl.${BASE}`, `1.0.0.2.bl.${BASE}`,
      `com.dbl.${BASE}`, `example.com.dbl.${BASE}`, `bad.example.com.dbl.${BASE}`,
    ];
    for (const name of ent) {
      const r = one(await direct([name, 'A']));
      assert.equal(r.status, 'NOERROR', `${name}: NODATA\n${show(r)}`);
      assert.equal(r.answer.length, 0, show(r));
      assert.equal(r.authority[0]?.type, 'SOA', show(r));
    }
    for (const name of [`1.0.0.127.bl.${BASE}`, `x.127.bl.${BASE}`, `256.bl.${BASE}`, `5.0.0.0.127.bl.${BASE}`, `org.dbl.${BASE}`, `good.example.com.dbl.${BASE}`, `invalid.dbl.${BASE}`]) {
      const r = one(await direct([name, 'A']));
      assert.equal(r.status, 'NXDOMAIN', `${name}\n${show(r)}`);
    }
  });

  test('listings come through Unbound with strict QNAME minimisation (IPv4, IPv6, domain, test points)', async () => {
    const cases: [string, string, string][] = [
      [`${ip4Labels('192.0.2.77')}.bl.${BASE}`, 'A', '127.0.0.5'],
      [`2.0.0.127.bl.${BASE}`, 'A', '127.0.0.2'],
      [ip6Name('2001:db8:dead::25', 'bl'), 'A', '127.0.0.5'],
      [ip6Name('::ffff:7f00:2', 'bl'), 'A', '127.0.0.2'],
      [`mail.bad.example.com.dbl.${BASE}`, 'A', '127.0.1.5'],
      [`test.dbl.${BASE}`, 'A', '127.0.1.2'],
      [`${ip4Labels('198.51.100.10')}.wl.${BASE}`, 'A', '127.0.10.1'],
      [`2.0.0.127.wl.${BASE}`, 'A', '127.0.10.0'],
    ];
    for (const [name, type, want] of cases) {
      const r = one(await viaUnbound([name, type]));
      assert.equal(r.status, 'NOERROR', `${name}\n${info(r)}`);
      assert.ok(r.flags.includes('ra'), info(r));
      assert.deepEqual(r.answer.filter((x) => x.type === type).map((x) => x.data), [want], `${name}\n${info(r)}`);
    }
    for (const name of [`1.0.0.127.bl.${BASE}`, `${ip4Labels('192.0.2.78')}.bl.${BASE}`, `invalid.dbl.${BASE}`, `good.example.com.dbl.${BASE}`]) {
      const r = one(await viaUnbound([name, 'A']));
      assert.equal(r.status, 'NXDOMAIN', `${name}\n${info(r)}`);
    }
  });

  test('the wl test point has its own code: 127.0.10.0, never a real allow code', async () => {
    const r = one(await direct([`2.0.0.127.wl.${BASE}`, 'A']));
    assert.deepEqual(r.answer.map((x) => x.data), ['127.0.10.0'], show(r));
    const six = one(await direct([ip6Name('::ffff:7f00:2', 'wl'), 'A']));
    assert.deepEqual(six.answer.map((x) => x.data), ['127.0.10.0'], show(six));
    assert.equal(one(await direct([`1.0.0.127.wl.${BASE}`, 'A'])).status, 'NXDOMAIN');
  });

  test('negative answers carry the SOA with TTL = MINIMUM = policy.negative_ttl (60 s)', async () => {
    for (const z of ['bl', 'wl', 'dbl']) {
      const r = one(await direct([`nothing-here.${z}.${BASE}`, 'A']));
      assert.equal(r.status, 'NXDOMAIN', show(r));
      const soa = r.authority.find((x) => x.type === 'SOA');
      assert.ok(soa, show(r));
      assert.equal(soa.ttl, 60, show(r));
      assert.equal(Number(soa.data.split(/\s+/)[6]), 60, `SOA minimum\n${show(r)}`);
    }
  });

  test('the SOA serial of bl/wl/dbl rises with an override; every SOA the zone writes carries it', async () => {
    const serialOf = async (z: string) => {
      const r = one(await direct([`${z}.${BASE}`, 'SOA']));
      const soa = r.answer.find((x) => x.type === 'SOA');
      assert.ok(soa, show(r));
      return Number(soa.data.split(/\s+/)[2]);
    };
    const before = await serialOf('bl');
    assert.ok(before > 1_700_000_000, `serial ${before}: unix time or later`);
    const key = '203.0.113.99';
    const add = await runQuorumbl(['override', 'add', 'deny', key, '--reason', 'serial test', '--config', cfg]);
    assert.equal(add.code, 0, add.output);
    const after = await poll(async () => {
      const r = one(await direct([`${ip4Labels(key)}.bl.${BASE}`, 'A']));
      if (r.status !== 'NOERROR' || r.answer.length === 0) return undefined;
      return serialOf('bl');
    }, 'the override in bl', { timeoutMs: 15000, intervalMs: 100 });
    assert.ok(after > before, `serial ${before} -> ${after}`);
    for (const z of ['wl', 'dbl']) assert.equal(await serialOf(z), after, `${z} shares the serial`);
    // the negative answer's SOA carries the same live serial
    const nx = one(await direct([`nothing-here.bl.${BASE}`, 'A']));
    assert.equal(Number(nx.authority.find((x) => x.type === 'SOA')!.data.split(/\s+/)[2]), after, show(nx));
  });
});

describe('a deny reaches a client behind a caching Unbound within policy.negative_ttl', { skip }, () => {
  let serve: Proc | undefined;
  let unbound: Proc | undefined;
  let qport = 0;
  let uport = 0;
  let cfg = '';

  before(async () => {
    qport = await freePort();
    uport = await freePort();
    const dir = makeTmpDir();
    cfg = writeConfig(dir, `server:\n  listen: ["127.0.0.1:${qport}"]\nstate_dir: ./state\nbase: ${BASE}\nweb: { enabled: false }\nproviders: []\nsoa: { ttl: 1h }\npolicy: { negative_ttl: 5s }\n`);
    serve = spawnQuorumbl(['serve', '--config', cfg]);
    await waitReady(serve, '127.0.0.1', qport, `bl.${BASE}`);
    await waitForLog(serve, 0, (r) => r.msg === 'merged zones served', 'first merge', 30000);
    const udir = join(dir, 'unbound');
    mkdirSync(udir, { mode: 0o755 });
    const conf = join(udir, 'unbound.conf');
    // Unbound's own caching limits left at their defaults: the negative TTL is ours alone.
    writeFileSync(conf, unboundConf(udir, uport, qport).replace(/^  cache-max-(negative-)?ttl: 1\n/gm, ''));
    execFileSync('unbound-checkconf', [conf], { stdio: 'pipe' });
    unbound = new Proc('unbound', 'unbound', ['-d', '-c', conf], { cwd: udir });
    await waitReady(unbound, '127.0.0.1', uport, `bl.${BASE}`);
  });
  after(() => stopAll(unbound, serve));

  test('the cached NXDOMAIN lives min(SOA TTL 1h, MINIMUM 5 s); then the deny is seen', async (t) => {
    const name = `${ip4Labels('192.0.2.200')}.bl.${BASE}`;
    const first = (await digRaw('127.0.0.1', uport, [name, 'A'], { recurse: true })).replies[0]!;
    assert.equal(first.status, 'NXDOMAIN', show(first));
    const soa = first.authority.find((x) => x.type === 'SOA');
    assert.ok(soa && soa.ttl <= 5, `negative TTL in the resolver's answer: ${soa?.ttl}\n${show(first)}`);
    const started = Date.now();
    const r = await runQuorumbl(['override', 'add', 'deny', '192.0.2.200', '--reason', 'latency test', '--config', cfg]);
    assert.equal(r.code, 0, r.output);
    const added = Date.now();
    await poll(async () => ((await digRaw('127.0.0.1', qport, [name, 'A'])).replies[0]?.answer.length ? true : undefined), 'the deny in serve');
    const inServe = Date.now();
    let last: DigReply | undefined;
    await poll(async () => {
      last = (await digRaw('127.0.0.1', uport, [name, 'A'], { recurse: true })).replies[0];
      return last?.status === 'NOERROR' && last.answer.some((x) => x.data === '127.0.0.5') ? true : undefined;
    }, 'the deny through the caching resolver', { timeoutMs: 5000 + 20000, intervalMs: 200, describe: () => (last ? show(last) : '') });
    t.diagnostic(`override add ran ${added - started} ms; deny in serve after ${inServe - added} ms, through Unbound after ${Date.now() - added} ms (negative_ttl 5 s)`);
  });
});

describe('OPT record in the authority section', { skip: skip || (haveRbldnsd() ? false : `${RBLDNSD} not installed`) }, () => {
  let dir = '';
  let ref: Server | undefined;
  let ours: Server | undefined;
  let serve: Proc | undefined;
  let sport = 0;

  before(async () => {
    dir = makeDataDir({ 'bl.txt': '$SOA 60 ns1.example.net hostmaster.example.net 7 1h 10m 1w 60\n$NS 60 ns1.example.net\n:127.0.0.2:Listed $\n192.0.2.1\n' });
    const zones = ['bl.example:ip4set:bl.txt'];
    ref = await startServer('rbldnsd', dir, [], zones);
    ours = await startServer('quorumbl', dir, [], zones);
    sport = await freePort();
    const cfgDir = makeTmpDir();
    const cfg = writeConfig(cfgDir, `server:\n  listen: ["127.0.0.1:${sport}"]\nstate_dir: ./state\nweb: { enabled: false }\nproviders: []\nzones:\n  - name: bl.example\n    datasets:\n      - { type: ip4set, files: [${join(dir, 'bl.txt')}] }\n`);
    serve = spawnQuorumbl(['serve', '--config', cfg]);
    await waitReady(serve, '127.0.0.1', sport, 'bl.example');
  });
  after(async () => {
    await Promise.all([ref?.stop(), ours?.stop(), stopAll(serve)]);
    if (dir) removeDataDir(dir);
  });

  /** A query for 1.2.0.192.bl.example with an OPT RR (udp 4096) in AUTHORITY (NSCOUNT 1). */
  function packet(ar = 0): Buffer {
    const opt = Buffer.from([0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, 0]);
    return Buffer.concat([buildHeader(0x1234, {}, [1, 0, 1, ar]), encodeName('1.2.0.192.bl.example'), Buffer.from([0, 1, 0, 1]), opt, ar ? opt : Buffer.alloc(0)]);
  }

  test('rbldnsd mode answers exactly what rbldnsd answers (the OPT is ignored)', async () => {
    for (const ar of [0, 1]) {
      const r = await rawProbe(ref!.port, packet(ar));
      const o = await rawProbe(ours!.port, packet(ar));
      assert.equal(r.length, 1, `rbldnsd answers (ARCOUNT ${ar})`);
      assert.equal(r[0]![3]! & 0xf, 0, 'rbldnsd: NOERROR');
      assert.equal(o.length, 1, `quorumbl rbldnsd answers (ARCOUNT ${ar})`);
      assert.equal(o[0]!.toString('hex'), r[0]!.toString('hex'), `byte for byte (ARCOUNT ${ar})`);
    }
  });

  test('serve answers FORMERR (RFC 6891: OPT belongs in the additional section)', async () => {
    for (const ar of [0, 1]) {
      const o = await rawProbe(sport, packet(ar));
      assert.equal(o.length, 1);
      assert.equal(o[0]![3]! & 0xf, 1, `FORMERR (ARCOUNT ${ar})`);
    }
  });
});
