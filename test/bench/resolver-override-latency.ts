// Override latency through a caching resolver (issue 9, requirement 7): a client behind Unbound
// (default cache limits, strict QNAME minimisation) has "not listed" (NXDOMAIN) cached for a key;
// `quorumbl override add deny KEY` runs; how long until the client sees the listing. Bounded by
// policy.negative_ttl (min(SOA TTL, SOA MINIMUM) in the negative answer), default 60 s.
//
//   node --import tsx test/bench/resolver-override-latency.ts     (about 70 s)
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { digRaw, freePort, makeTmpDir, runQuorumbl, spawnQuorumbl, stopAll, waitForLog, waitReady, writeConfig, Proc } from '../integration/helpers.ts';
const BASE = 'dnsbl.test';
async function main(): Promise<void> {
const qport = await freePort();
const uport = await freePort();
const dir = makeTmpDir();
const cfg = writeConfig(dir, `server:\n  listen: ["127.0.0.1:${qport}"]\nstate_dir: ./state\nbase: ${BASE}\nweb: { enabled: false }\nproviders: []\n`);
const serve = spawnQuorumbl(['serve', '--config', cfg]);
let unbound: Proc | undefined;
try {
  await waitReady(serve, '127.0.0.1', qport, `bl.${BASE}`);
  await waitForLog(serve, 0, (r) => r.msg === 'merged zones served', 'merge', 30000);
  const udir = join(dir, 'u'); mkdirSync(udir);
  const conf = join(udir, 'unbound.conf');
  writeFileSync(conf, `server:\n  interface: 127.0.0.1\n  port: ${uport}\n  num-threads: 1\n  do-not-query-localhost: no\n  username: ""\n  chroot: ""\n  directory: "${udir}"\n  pidfile: "${udir}/pid"\n  module-config: "iterator"\n  auto-trust-anchor-file: ""\n  local-zone: "." refuse\n  local-zone: "${BASE}." transparent\n  qname-minimisation-strict: yes\n  use-syslog: no\n  logfile: ""\nstub-zone:\n  name: "bl.${BASE}"\n  stub-addr: 127.0.0.1@${qport}\nremote-control:\n  control-enable: no\n`);
  execFileSync('unbound-checkconf', [conf]);
  unbound = new Proc('unbound', 'unbound', ['-d', '-c', conf], { cwd: udir });
  await waitReady(unbound, '127.0.0.1', uport, `bl.${BASE}`);
  const name = `200.2.0.192.bl.${BASE}`;
  const first = (await digRaw('127.0.0.1', uport, [name, 'A'], { recurse: true })).replies[0]!;
  const cachedAt = Date.now();
  console.log(`first answer ${first.status}, negative TTL in the resolver's answer ${first.authority[0]?.ttl} s`);
  const r = await runQuorumbl(['override', 'add', 'deny', '192.0.2.200', '--reason', 'lat', '--config', cfg]);
  const added = Date.now();
  console.log(`override add: exit ${r.code}, ${added - cachedAt} ms`);
  for (;;) {
    const x = (await digRaw('127.0.0.1', uport, [name, 'A'], { recurse: true })).replies[0]!;
    if (x.status === 'NOERROR' && x.answer.length) break;
    await new Promise((res) => setTimeout(res, 250));
  }
  const seen = Date.now();
  console.log(`deny visible through Unbound ${seen - added} ms after override add returned; ${seen - cachedAt} ms after NXDOMAIN was cached`);
} finally {
  await stopAll(unbound, serve);
}
}
void main().then(() => process.exit(0));
