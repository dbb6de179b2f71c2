// `quorumbl status` on real state: a source synced by `quorumbl sync`, then a real `serve`.
// Without serve it reports the state on disk and says DNS does not answer (exit 1); with serve
// every zone is asked over DNS and answers from data, the merge is persisted, exit 0.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, makeTmpDir, poll, runQuorumbl, spawnQuorumbl, stopAll, type Proc } from '../integration/helpers.ts';
import type { StatusReport } from '../../cli/status.ts';

let serve: Proc | undefined;
after(() => stopAll(serve));

async function status(config: string, cwd: string): Promise<{ code: number | null; r: StatusReport; out: string }> {
  const s = await runQuorumbl(['status', '--json', '--config', config], { cwd });
  assert.equal(s.stderr, '', s.output);
  return { code: s.code, r: JSON.parse(s.stdout) as StatusReport, out: s.output };
}

test('status from a synced state directory, then with serve answering', async () => {
  const dir = makeTmpDir('quorumbl-status-');
  const cwd = makeTmpDir('quorumbl-cwd-');
  const [port, web] = [await freePort(), await freePort()];
  mkdirSync(join(dir, 'lists'));
  writeFileSync(join(dir, 'local.txt'), '192.0.2.9\n');
  writeFileSync(join(dir, 'lists', 'mylist.txt'), ['# list', ...Array.from({ length: 40 }, (_, i) => `198.51.100.${i + 1}`)].join('\n') + '\n');
  const config = join(dir, 'quorumbl.yaml');
  writeFileSync(config, [
    `server: { listen: ["127.0.0.1:${port}"] }`,
    `web: { listen: "127.0.0.1:${web}" }`,
    'state_dir: state',
    'base: dnsbl.test',
    'zones: [{ name: local.test, datasets: [{ type: ip4set, files: [local.txt] }] }]',
    'sources:',
    '  - { name: mylist, kind: ip, fetch: lists/mylist.txt, format: plain, schedule: "0 0 1 1 *" }',
    'providers: []',
    '',
  ].join('\n'));
  const synced = await runQuorumbl(['sync', '--config', config], { cwd });
  assert.equal(synced.code, 0, synced.output);

  // No serve: the state on disk, and the first alert says DNS does not answer and how to start it.
  const off = await status(config, cwd);
  assert.equal(off.code, 1, off.out);
  assert.equal(off.r.config, config);
  assert.equal(off.r.state_dir, join(dir, 'state'));
  assert.deepEqual(off.r.serve, { dns: { address: `127.0.0.1:${port}`, answering: false }, web: null });
  assert.deepEqual(off.r.zones.map((z) => [z.name, z.kind, z.answers]), [
    ['local.test', 'configured', 'no answer'], ['mylist.mirror.dnsbl.test', 'mirror', 'no answer'],
    ['bl.dnsbl.test', 'merged', 'no answer'], ['wl.dnsbl.test', 'merged', 'no answer'], ['dbl.dnsbl.test', 'merged', 'no answer'],
  ]);
  assert.equal(off.r.zones[1]!.entries, 40);
  const src = off.r.sources[0]!;
  assert.equal(src.name, 'mylist');
  assert.equal(src.last_outcome, 'ok');
  assert.ok(src.last_success !== null && src.last_attempt !== null && src.last_success >= src.last_attempt, JSON.stringify(src));
  assert.equal(off.r.merge.ready, false, 'nothing merged before serve');
  assert.equal(off.r.alerts[0]!.level, 'bad');
  assert.match(off.r.alerts[0]!.what, new RegExp(`does not answer DNS on 127\\.0\\.0\\.1:${port}`));
  assert.match(off.r.alerts[0]!.todo, new RegExp(`quorumbl serve --config ${config}`));

  // serve: every zone answers from data once the first merge is done; readyz is read.
  serve = spawnQuorumbl(['serve', '--config', config], { cwd });
  const on = await poll(async () => {
    if (serve!.exitStatus) throw new Error(`serve exited: ${serve!.tail()}`);
    const s = await status(config, cwd);
    return s.r.zones.every((z) => z.answers === 'data') && s.r.merge.ready ? s : undefined;
  }, 'every zone answering and the merge persisted', { timeoutMs: 120_000, intervalMs: 500 });
  assert.equal(on.code, 0, on.out);
  assert.equal(on.r.serve.dns.answering, true);
  assert.equal(on.r.serve.web?.status, 'ready', on.out);
  assert.deepEqual(on.r.alerts, []);
  // serve gives its own zones (mirrors, bl/wl/dbl) a SOA; local.txt has none of its own
  assert.deepEqual(on.r.zones.map((z) => typeof z.soa_serial), ['object', 'number', 'number', 'number', 'number'], on.out);
  assert.equal(on.r.zones.find((z) => z.name === 'dbl.dnsbl.test')!.entries, 0);
  assert.equal(typeof on.r.merge.evidence_serial, 'number');
  assert.equal(on.r.disk?.writable, true);
  const used = JSON.parse(readFileSync(join(dir, 'state', 'config-used.json'), 'utf8')) as { file: string; command: string };
  assert.deepEqual([used.file, used.command], [config, 'serve']);

  // The text a person reads: alerts first, then zones, merge and sources.
  const text = await runQuorumbl(['status', '--config', config], { cwd });
  assert.equal(text.code, 0, text.output);
  assert.match(text.stdout, /ALERTS\n  none/);
  assert.match(text.stdout, /^mylist\.mirror\.dnsbl\.test\s+from data\s+40\s+\d+$/m);
  assert.match(text.stdout, /^merge: evidence serial \d+/m);
  assert.match(text.stdout, /^mylist\s+\d+ s ago\s+ok, \d+ s ago\s+40\s+no$/m);
});
