// `quorumbl rbldnsd` as an rbldnsd init script runs it: -l query log, -s statistics, -p pid
// file, -u user switch, -q quick start, -d dump.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, chmodSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { dig, freePort, makeTmpDir, poll, replaceFile, runQuorumbl, spawnQuorumbl, stopAll, toolsOrSkip, waitReady, type Proc } from '../integration/helpers.ts';

const skip = toolsOrSkip(['dig']);
const procs: Proc[] = [];
after(() => stopAll(...procs));

const DATA = '$SOA 1h ns.example.net. hm.example.net. 7 1h 1h 1w 5m\n$NS 1h ns.example.net\n:127.0.0.2:Listed $\n192.0.2.1\n';

test('-l logs each query, -s appends statistics, -p writes the pid, -u switches user', { skip }, async () => {
  const dir = makeTmpDir();
  chmodSync(dir, 0o755);
  writeFileSync(join(dir, 'bl.txt'), DATA, { mode: 0o644 });
  const port = await freePort();
  const args = ['rbldnsd', '-n', '-c', '1', '-l', join(dir, 'q.log'), '-s', join(dir, 'stats'), '-p', join(dir, 'pid'), '-b', `127.0.0.1/${port}`, '-w', dir];
  const root = process.getuid?.() === 0;
  if (root) args.push('-u', 'nobody');
  const p = spawnQuorumbl([...args, 'bl.example:ip4set:bl.txt']);
  procs.push(p);
  await waitReady(p, '127.0.0.1', port, 'bl.example');
  const r = await dig('127.0.0.1', port, ['1.2.0.192.BL.example', 'TXT']);
  assert.equal(r.status, 'NOERROR');
  await poll(async () => (/ 1\.2\.0\.192\.BL\.example TXT IN: NOERROR\/1\/\d+$/m.test(readFileSync(join(dir, 'q.log'), 'utf8')) ? true : undefined), 'query log line');
  await poll(async () => (/^\d+ bl\.example:\d+:\d+:\d+:\d+:\d+ \*:\d+/m.test(readFileSync(join(dir, 'stats'), 'utf8')) ? true : undefined), 'statistics line');
  const pid = Number(readFileSync(join(dir, 'pid'), 'utf8'));
  assert.ok(pid > 0);
  if (root) {
    const uid = /^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1];
    assert.equal(uid, '65534', 'runs as nobody after binding');
    // A reload after the switch still works (files are world-readable, as rbldnsd requires).
    replaceFile(join(dir, 'bl.txt'), DATA + '192.0.2.99\n');
    await poll(async () => ((await dig('127.0.0.1', port, ['99.2.0.192.bl.example', 'A'])).status === 'NOERROR' ? true : undefined), 'reload as nobody');
  }
});

test('-q answers at once (SERVFAIL) and serves the data when it appears; without -q a missing file aborts', { skip }, async () => {
  const dir = makeTmpDir();
  chmodSync(dir, 0o755);
  const port = await freePort();
  const p = spawnQuorumbl(['rbldnsd', '-q', '-c', '1', '-b', `127.0.0.1/${port}`, '-w', dir, 'bl.example:ip4set:bl.txt']);
  procs.push(p);
  await waitReady(p, '127.0.0.1', port, 'bl.example');
  assert.equal((await dig('127.0.0.1', port, ['1.2.0.192.bl.example', 'A'])).status, 'SERVFAIL');
  writeFileSync(join(dir, 'bl.txt'), DATA, { mode: 0o644 });
  await poll(async () => ((await dig('127.0.0.1', port, ['1.2.0.192.bl.example', 'A'])).status === 'NOERROR' ? true : undefined), 'data after -q');

  const strict = await runQuorumbl(['rbldnsd', '-b', `127.0.0.1/${await freePort()}`, '-w', dir, 'bl.example:ip4set:missing.txt']);
  assert.equal(strict.code, 1);
  assert.match(strict.stderr, /zone loading errors, aborting[\s\S]*missing\.txt.*ENOENT/);
});

test('-d dumps the zone in BIND format and exits', async () => {
  const dir = makeTmpDir();
  writeFileSync(join(dir, 'bl.txt'), DATA);
  const r = await runQuorumbl(['rbldnsd', '-d', '-w', dir, 'bl.example:ip4set:bl.txt']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^\$ORIGIN bl\.example\.$/m);
  assert.match(r.stdout, /^1\.2\.0\.192\s.*A\s+127\.0\.0\.2$/m);
  assert.match(r.stdout, /TXT\s+"Listed 192\.0\.2\.1"/);
  assert.ok(!existsSync(join(dir, 'pid')));
});

test('usage errors exit 2 and say what is wrong', async () => {
  const r = await runQuorumbl(['rbldnsd', '-b', '127.0.0.1/1', 'z:ip5set:f']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /unknown dataset type "ip5set"/);
});
