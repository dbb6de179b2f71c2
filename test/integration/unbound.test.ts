// Unbound as the site's internal resolver, with a stub zone pointing at quorumbl: the path every
// MTA query takes in production. Unbound keeps its defaults (qname minimisation on), and refuses
// every other name so nothing leaves the machine.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  toolsOrSkip, makeTmpDir, freePort, spawnQuorumbl, stopAll, waitReady, dig, digRaw, show, txtStrings,
  copyFixture, writeConfig, ip4Labels, ip6Labels, replaceFile, poll, Proc, type DigReply,
} from './helpers.ts';

const skip = toolsOrSkip(['dig', 'unbound', 'unbound-checkconf']);
const Z = 'bl.quorumbl.test';

/** Short TTLs everywhere so a data change reaches the resolver's clients quickly. */
function ip4setData(extra: string[]): string {
  return [
    '$SOA 1 ns1.quorumbl.test hostmaster.quorumbl.test 0 1h 10m 1w 1',
    '$NS 1 ns1.quorumbl.test',
    '$TTL 1',
    ':127.0.0.2:Listed in the test list, see https://lookup.quorumbl.test/?ip=$',
    '127.0.0.2',
    ...extra,
    '',
  ].join('\n');
}

function unboundConf(dir: string, port: number, upstreamPort: number): string {
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
  # nothing leaves the machine: only our zone is resolved, everything else is refused
  local-zone: "." refuse
  local-zone: "${Z}." transparent
  verbosity: 1
  use-syslog: no
  logfile: ""
  cache-max-ttl: 1
  cache-max-negative-ttl: 1

stub-zone:
  name: "${Z}"
  stub-addr: 127.0.0.1@${upstreamPort}

remote-control:
  control-enable: no
`;
}

describe('unbound with a stub zone pointing at quorumbl', { skip }, () => {
  let qproc: Proc | undefined;
  let uproc: Proc | undefined;
  let qport = 0;
  let uport = 0;
  let dataFile = '';
  /** A query as an MTA's resolver library sends it: RD set, to the site resolver. */
  const viaResolver = (name: string, type = 'A') => dig('127.0.0.1', uport, [name, type], { recurse: true });

  before(async () => {
    qport = await freePort();
    uport = await freePort();
    const dir = makeTmpDir();
    const data = join(dir, 'data');
    mkdirSync(data, { mode: 0o755 });
    dataFile = join(data, 'ip4set.txt');
    writeFileSync(dataFile, ip4setData(['192.0.2.0/24 :127.0.0.3:Test net $']), { mode: 0o644 });
    copyFixture('dnset.txt', data);
    const cfg = writeConfig(
      dir,
      `server:
  listen: ["127.0.0.1:${qport}"]
reload: { check_interval: 1s }
state_dir: ./state
zones:
  - name: ${Z}
    datasets:
      - { type: ip4set, files: [data/ip4set.txt] }
      - { type: dnset, files: [data/dnset.txt] }
`,
    );
    qproc = spawnQuorumbl(['serve', '--config', cfg]);
    await waitReady(qproc, '127.0.0.1', qport, Z);

    const udir = join(dir, 'unbound');
    mkdirSync(udir, { mode: 0o755 });
    const conf = join(udir, 'unbound.conf');
    writeFileSync(conf, unboundConf(udir, uport, qport));
    execFileSync('unbound-checkconf', [conf], { stdio: 'pipe' }); // throws with its message if invalid
    uproc = new Proc('unbound', 'unbound', ['-d', '-c', conf], { cwd: udir });
    await waitReady(uproc, '127.0.0.1', uport, Z);
  });
  after(() => stopAll(uproc, qproc));

  const failInfo = (r: DigReply) => `${show(r)}\n--- unbound ---\n${uproc!.tail(1500)}\n--- quorumbl ---\n${qproc!.tail(1500)}`;

  function assertResolved(r: DigReply, type: string, data: string[]): void {
    assert.equal(r.status, 'NOERROR', failInfo(r));
    assert.ok(r.flags.includes('ra'), `the answer comes from the recursive resolver\n${failInfo(r)}`);
    const got = r.answer.filter((x) => x.type === type).map((x) => (type === 'TXT' ? txtStrings(x.data).join('') : x.data));
    assert.deepEqual(got, data, failInfo(r));
  }

  test('a listed IPv4 name: A and TXT come through the resolver', async () => {
    assertResolved(await viaResolver(`2.0.0.127.${Z}`), 'A', ['127.0.0.2']);
    assertResolved(await viaResolver(`2.0.0.127.${Z}`, 'TXT'), 'TXT', ['Listed in the test list, see https://lookup.quorumbl.test/?ip=127.0.0.2']);
    assertResolved(await viaResolver(`${ip4Labels('192.0.2.44')}.${Z}`, 'TXT'), 'TXT', ['Test net 192.0.2.44']);
  });

  test('an unlisted name is NXDOMAIN through the resolver', async () => {
    for (const name of [`1.0.0.127.${Z}`, `${ip4Labels('198.51.100.1')}.${Z}`, `invalid.${Z}`]) {
      const r = await viaResolver(name);
      assert.equal(r.status, 'NXDOMAIN', failInfo(r));
    }
  });

  test('domain and IPv6 (32-label) test points come through', async () => {
    assertResolved(await viaResolver(`test.${Z}`), 'A', ['127.0.0.2']);
    assertResolved(await viaResolver(`test.${Z}`, 'TXT'), 'TXT', ['Domain test is listed']);
    assertResolved(await viaResolver(`${ip6Labels('00000000000000000000ffff7f000002')}.${Z}`), 'A', ['127.0.0.2']);
    const r = await viaResolver(`${ip6Labels('00000000000000000000ffff7f000001')}.${Z}`);
    assert.equal(r.status, 'NXDOMAIN', failInfo(r));
  });

  test('the resolver refuses other names (nothing leaves the machine)', async () => {
    const r = await viaResolver('www.example.com');
    assert.equal(r.status, 'REFUSED', failInfo(r));
  });

  test('a data file change is visible through the resolver once the short TTL has passed', async () => {
    const added = `${ip4Labels('198.51.100.20')}.${Z}`;
    const removed = `${ip4Labels('192.0.2.44')}.${Z}`;
    assert.equal((await viaResolver(added)).status, 'NXDOMAIN', 'precondition: not listed yet (and negatively cached)');
    replaceFile(dataFile, ip4setData(['198.51.100.20 :127.0.0.7:Added $']));
    let last: DigReply | undefined;
    await poll(
      async () => {
        last = await viaResolver(added);
        return last.status === 'NOERROR' && last.answer.some((x) => x.type === 'A' && x.data === '127.0.0.7') ? true : undefined;
      },
      'the new listing through unbound',
      { timeoutMs: 30000, intervalMs: 500, describe: () => (last ? failInfo(last) : '') },
    );
    await poll(
      async () => {
        last = await viaResolver(removed);
        return last.status === 'NXDOMAIN' ? true : undefined;
      },
      'the removed listing to disappear through unbound',
      { timeoutMs: 30000, intervalMs: 500, describe: () => (last ? failInfo(last) : '') },
    );
  });

  test('several names in a row over TCP to the resolver', async () => {
    const r = await digRaw('127.0.0.1', uport, ['+tcp', '+keepopen', `2.0.0.127.${Z}`, 'A', `1.0.0.127.${Z}`, 'A', `test.${Z}`, 'TXT'], { recurse: true });
    assert.deepEqual(r.replies.map((x) => x.status), ['NOERROR', 'NXDOMAIN', 'NOERROR'], r.stdout + r.stderr);
  });
});
