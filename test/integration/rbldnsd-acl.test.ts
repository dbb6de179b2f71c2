// rbldnsd ACLs against the oracle: Debian's rbldnsd and `bin/quorumbl rbldnsd` serve the same
// global ACL, zone ACLs and datasets of every type, and are queried from many loopback source
// addresses (127.0.0.x), each of which hits another ACL rule. Every reply (or the lack of one)
// must be the same.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { utimesSync } from 'node:fs';
import { join } from 'node:path';
import { BASE_MTIME, haveRbldnsd, makeDataDir, removeDataDir, startServer, writeDataFile, type Server } from '../differential/servers.ts';
import { lines, formatMismatches, type Mismatch } from '../differential/compare.ts';
import { buildQuery, normalize, QCLASS, QTYPE } from '../differential/wire.ts';
import { v4, v6 } from '../differential/corpus.ts';

const CI = process.env.CI === 'true';
const skip = !haveRbldnsd() && !CI ? 'rbldnsd is not installed (/usr/sbin/rbldnsd; apt-get install rbldnsd)' : false;

const SOA = '$SOA 1h ns1.example.net hostmaster.example.net 11 1h 10m 1w 3m\n$NS 1h ns1.example.net\n';
const FILES: Record<string, string> = {
  // global: checked before anything else, for every zone
  'gacl.txt': [
    '$TTL 55', '$1 one',
    '127.0.0.2 :ignore', '127.0.0.3 :refuse', '127.0.0.4 :empty', '127.0.0.5 :127.0.0.9:global $ $1', '127.0.0.6 :pass',
    '127.0.0.0/8 :pass # everyone else: as if no entry', '::1 :refuse', '',
  ].join('\n'),
  // per zone: combined with the global verdict (ignore > refuse > empty > always listed)
  'zacl.txt': [
    '127.0.0.2 :pass', '127.0.0.3 :pass', '127.0.0.4 :127.0.0.7:zone $', '127.0.0.5 :127.0.0.8:zone $',
    '127.0.0.6 :empty', '127.0.0.7 :refuse', '127.0.0.8 :127.0.0.8:zone $', '127.0.0.9 =blackhole',
    '127.0.0.16/28 :e', '127.0.0.32/28 :127.0.0.10', '127.0.0.40 :Pass:comment', '127.0.0.48/28 =bogus',
    ':127.0.0.11:default for $', '127.0.0.64/28', '127.0.0.80/28 :127.0.0.12', '127.0.0.96/28 text only $',
    '=refuse', '127.0.0.112/28', '127.0.0.128/25 :pass', '127.0.0.200/29 :ign', '127.0.0.1/24 :refuse', '',
  ].join('\n'),
  'data.txt': `${SOA}:127.0.0.2:data $\n192.0.2.1\n`,
  'gen.txt': 'www A 127.0.0.8\nwww TXT "www text"\n@ TXT "apex record"\n',
  'dn.txt': 'evil.test :127.0.0.4:dn $\n',
  'v6.txt': '2001:db8::/32 :127.0.0.6:v6 $\n',
  'soa0.txt': '$SOA 1h ns1.example.net hostmaster.example.net 0 1h 10m 1w 3m\n192.0.2.1\n',
  'comb.txt': `${SOA}$DATASET ip4set sub @\n:127.0.0.3:comb $\n192.0.2.1\n$DATASET generic sub\nwww A 127.0.0.5\n$DATASET dnset dn\nbad.test\n`,
};
const ZONES = [
  ':acl:gacl.txt',
  'z.example:acl:zacl.txt', 'z.example:ip4set:data.txt', 'z.example:generic:gen.txt', 'z.example:dnset:dn.txt',
  'z.example:ip6trie:v6.txt',
  'c.example:combined:comb.txt', 'c.example:acl:zacl.txt',
  'y.example:ip4set:data.txt', 'y.example:generic:gen.txt',
  // serial 0 = newest mtime of the zone's data files: the (newer) acl file does not count
  's.example:acl:zacl.txt', 's.example:ip4set:soa0.txt',
];
const T = QTYPE;
const NAMES: [string, number[]][] = [
  ...['z.example', 'c.example', 'y.example', 's.example'].map((z): [string, number[]] => [z, [T.SOA!, T.NS!, T.ANY!, T.A!, T.TXT!]]),
  [v4('192.0.2.1', 'z.example'), [T.A!, T.TXT!, T.ANY!, T.AAAA!, T.MX!]],
  [v4('192.0.2.99', 'z.example'), [T.A!, T.TXT!]],
  [v4('192.0.2.1', 'y.example'), [T.TXT!, T.ANY!]],
  ['2.0.192.z.example', [T.A!]],
  ['www.z.example', [T.A!, T.TXT!, T.ANY!, T.AAAA!]],
  ['www.y.example', [T.A!]],
  ['nothing.z.example', [T.A!]],
  ['evil.test.z.example', [T.A!, T.TXT!]],
  [v6('2001:db8::1', 'z.example'), [T.A!, T.TXT!]],
  [v6('::ffff:192.0.2.1', 'z.example'), [T.A!]],
  [v4('192.0.2.1', 'sub.c.example'), [T.ANY!, T.AAAA!]],
  [v4('192.0.2.1', 'c.example'), [T.A!]],
  ['sub.c.example', [T.A!, T.TXT!]],
  ['www.sub.c.example', [T.A!, T.ANY!]],
  ['bad.test.dn.c.example', [T.TXT!]],
  ['dn.c.example', [T.A!]],
  ['www.outside.example', [T.A!]],
];
const SOURCES = [1, 2, 3, 4, 5, 6, 7, 8, 9, 17, 33, 40, 49, 65, 81, 97, 113, 129, 201, 250].map((n) => `127.0.0.${n}`);

let dir = '';
const servers: Server[] = [];

before(async () => {
  if (skip) return;
  dir = makeDataDir(FILES);
  for (const f of ['gacl.txt', 'zacl.txt']) utimesSync(join(dir, f), BASE_MTIME + 500, BASE_MTIME + 500);
  const started = await Promise.allSettled([startServer('rbldnsd', dir, ['-v'], ZONES), startServer('quorumbl', dir, ['-v'], ZONES)]);
  for (const r of started) if (r.status === 'fulfilled') servers.push(r.value);
  const failed = started.find((r) => r.status === 'rejected') as PromiseRejectedResult | undefined;
  if (failed) throw failed.reason;
});

after(async () => {
  await Promise.all(servers.map((s) => s.stop()));
  if (dir) removeDataDir(dir);
});

/** One query from `src`; null when no reply came within the timeout (the ACL dropped it). */
function ask(port: number, src: string, name: string, qtype: number, qclass = 1): Promise<Buffer | null> {
  return new Promise((resolve) => {
    const sock = dgram.createSocket('udp4');
    const done = (b: Buffer | null) => {
      clearTimeout(timer);
      sock.close();
      resolve(b);
    };
    const timer = setTimeout(() => done(null), 400);
    sock.on('message', (m) => done(m));
    sock.on('error', () => done(null));
    sock.bind(0, src, () => sock.send(buildQuery(0x4242, name, qtype, qclass), port, '127.0.0.1'));
  });
}

test('same answers as rbldnsd for every ACL verdict (global and zone ACLs, all dataset types)', { skip }, async () => {
  const [ref, ours] = servers;
  assert.ok(ref && ours, 'both servers started');
  const cases = SOURCES.flatMap((src) => [
    ...NAMES.flatMap(([name, types]) => types.map((qtype) => ({ src, name, qtype, qclass: 1 }))),
    { src, name: 'version.bind', qtype: T.TXT!, qclass: QCLASS.CH! },
  ]);
  const mismatches: Mismatch[] = [];
  let dropped = 0;
  for (let i = 0; i < cases.length; i += 32) {
    await Promise.all(cases.slice(i, i + 32).map(async (c) => {
      const [a, b] = await Promise.all([ask(ref.port, c.src, c.name, c.qtype, c.qclass), ask(ours.port, c.src, c.name, c.qtype, c.qclass)]);
      const la = lines(a ? normalize(a) : null);
      const lb = lines(b ? normalize(b) : null);
      if (!a) dropped++;
      if (la.join('\n') !== lb.join('\n')) mismatches.push({ what: `from ${c.src}: ${c.name} type ${c.qtype} class ${c.qclass}`, ref: la, ours: lb });
    }));
  }
  assert.ok(dropped > 0, 'some queries are ignored by the ACLs');
  assert.equal(mismatches.length, 0, `${mismatches.length}/${cases.length} differ\n${formatMismatches(mismatches, 'rbldnsd', 'quorumbl', 20)}`);
});

test('an edited acl file is reloaded on SIGHUP like any dataset', { skip }, async () => {
  const [ref, ours] = servers;
  assert.ok(ref && ours, 'both servers started');
  const q = v4('192.0.2.1', 'y.example');
  const rcode = async (port: number, src: string) => {
    const r = await ask(port, src, q, T.A!);
    return r ? normalize(r).header.rcode : 'dropped';
  };
  assert.equal(await rcode(ours.port, '127.0.0.1'), 'NOERROR');
  writeDataFile(dir, 'gacl.txt', '127.0.0.1 :refuse\n127.0.0.2 :empty\n', BASE_MTIME + 900);
  ref.signal('SIGHUP');
  ours.signal('SIGHUP');
  for (const s of [ref, ours]) {
    let got = '';
    for (let i = 0; i < 100 && got !== 'REFUSED'; i++) {
      got = await rcode(s.port, '127.0.0.1');
      if (got !== 'REFUSED') await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(got, 'REFUSED', `${s.impl} reloaded the global acl`);
  }
  for (const src of ['127.0.0.2', '127.0.0.3', '127.0.0.5']) {
    const [a, b] = await Promise.all([ask(ref.port, src, q, T.ANY!), ask(ours.port, src, q, T.ANY!)]);
    assert.deepEqual(lines(b ? normalize(b) : null), lines(a ? normalize(a) : null), src);
  }
});
