// Sync end to end as an admin runs it: a real HTTP upstream on loopback, `quorumbl sync`,
// `quorumbl sources`, the mirror zone served by `quorumbl serve`, a bad update quarantined
// while the last good copy keeps answering, and `sources accept`.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { dig, freePort, makeTmpDir, poll, runQuorumbl, spawnQuorumbl, stopAll, toolsOrSkip, waitReady, writeConfig, type Proc } from './helpers.ts';

const skip = toolsOrSkip(['dig']);
let upstream: Server;
let body = '';
let etag = '"v1"';
let hits = 0;
let notModified = 0;

function list(n: number, extra = ''): string {
  const lines = ['# synthetic plain list', '127.0.0.2'];
  for (let i = 0; i < n; i++) lines.push(`198.51.${100 + (i >> 8)}.${i & 255}`);
  return lines.join('\n') + '\n' + extra;
}

before(async () => {
  upstream = createServer((req, res) => {
    hits++;
    if (req.headers['if-none-match'] === etag) {
      notModified++;
      res.writeHead(304).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'text/plain', etag }).end(body);
  });
  upstream.listen(0, '127.0.0.1');
  await once(upstream, 'listening');
});

let serve: Proc | undefined;
after(async () => {
  await stopAll(serve);
  upstream.close();
});

test('sync, serve the mirror, quarantine a 90% shrink, accept it', { skip }, async () => {
  const dir = makeTmpDir();
  const port = await freePort();
  const url = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}/list.txt`;
  const cfg = writeConfig(
    dir,
    [
      `server: { listen: ["127.0.0.1:${port}"] }`,
      'state_dir: state',
      'reload: { check_interval: 1s }',
      'base: dnsbl.test',
      'sources:',
      '  - name: trap',
      '    kind: ip',
      `    fetch: ${url}`,
      '    format: plain',
      '    schedule: "0 0 1 1 *"',
      '    max_prefix: { v4: 24 }',
      '    guards: { max_shrink: 0.5, test_point: true }',
      '    answer: { a: 127.0.0.4, txt: "Trap hit by $" }',
      '',
    ].join('\n'),
  );
  body = list(1000);
  const first = await runQuorumbl(['sync', '--config', cfg]);
  assert.equal(first.code, 0, first.output);
  const st = await runQuorumbl(['sources', '--config', cfg, '--json']);
  assert.equal(st.code, 0, st.output);
  assert.match(st.stdout, /"trap"/);
  assert.match(st.stdout, /"entries":\s*1001/);

  const again = await runQuorumbl(['sync', '--config', cfg, 'trap']);
  assert.equal(again.code, 0, again.output);
  assert.equal(notModified, 1, 'the second sync sent If-None-Match and got a 304');

  serve = spawnQuorumbl(['serve', '--config', cfg]);
  await waitReady(serve, '127.0.0.1', port, 'trap.mirror.dnsbl.test');
  const z = 'trap.mirror.dnsbl.test';
  const listed = await dig('127.0.0.1', port, [`5.100.51.198.${z}`, 'ANY']);
  assert.equal(listed.status, 'NOERROR');
  assert.deepEqual(listed.answer.map((r) => r.data).sort(), ['"Trap hit by 198.51.100.5"', '127.0.0.4']);
  assert.equal((await dig('127.0.0.1', port, [`1.0.0.127.${z}`, 'A'])).status, 'NXDOMAIN');
  assert.equal((await dig('127.0.0.1', port, [`2.0.0.127.${z}`, 'A'])).status, 'NOERROR');

  // Upstream shrinks by 90%: quarantined, exit 1, the zone still answers the old data.
  body = list(100);
  etag = '"v2"';
  const bad = await runQuorumbl(['sync', '--config', cfg]);
  assert.equal(bad.code, 1, bad.output);
  const shown = await runQuorumbl(['sources', '--config', cfg]);
  assert.match(shown.stdout, /quarantin/i);
  assert.match(shown.stdout, /shr/i);
  assert.equal((await dig('127.0.0.1', port, [`5.103.51.198.${z}`, 'A'])).status, 'NOERROR', 'old data (entry 773) still served');

  // The operator accepts it: the running server picks the new copy up by itself.
  const ok = await runQuorumbl(['sources', '--config', cfg, 'accept', 'trap']);
  assert.equal(ok.code, 0, ok.output);
  await poll(async () => ((await dig('127.0.0.1', port, [`5.103.51.198.${z}`, 'A'])).status === 'NXDOMAIN' ? true : undefined), 'accepted copy served');
  assert.equal((await dig('127.0.0.1', port, [`5.100.51.198.${z}`, 'A'])).status, 'NOERROR');
  assert.ok(hits >= 3);
});

test('a source that cannot be reached: sync exits 1 and says why; serve still starts', { skip }, async () => {
  const dir = makeTmpDir();
  const port = await freePort();
  const dead = await freePort();
  const cfg = writeConfig(
    dir,
    [
      `server: { listen: ["127.0.0.1:${port}"] }`,
      'state_dir: state',
      'sources:',
      '  - { name: dead, kind: ip, fetch: "http://127.0.0.1:' + dead + '/x", format: plain, retries: 0, schedule: "0 0 1 1 *" }',
      '',
    ].join('\n'),
  );
  const r = await runQuorumbl(['sync', '--config', cfg]);
  assert.equal(r.code, 1);
  assert.match(r.output, /ECONNREFUSED|refused/i);
  const p = spawnQuorumbl(['serve', '--config', cfg]);
  try {
    await waitReady(p, '127.0.0.1', port, 'dead.mirror.dnsbl.internal');
    assert.equal((await dig('127.0.0.1', port, ['2.0.0.127.dead.mirror.dnsbl.internal', 'A'])).status, 'SERVFAIL', 'no data yet');
  } finally {
    await stopAll(p);
  }
});
