// Which config a command runs with, as an admin meets it: QUORUMBL_CONFIG names the file for
// every command and --config wins over it; relative paths in the file (state_dir, zone files, a
// source's local `fetch:`) resolve from the file's folder, not from
// where the command runs; a command given no config at all refuses a state directory that belongs
// to another config instead of answering from the embedded default; hints repeat the --config.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeTmpDir, runQuorumbl } from '../integration/helpers.ts';
import { ConfigError, envOverrides, loadConfig } from '../../core/config/load.ts';

function list(n: number): string {
  const lines = ['# a local list'];
  for (let i = 0; i < n; i++) lines.push(`198.51.100.${i + 1}`);
  return lines.join('\n') + '\n';
}

function site(): { dir: string; config: string; other: string; cwd: string } {
  const dir = makeTmpDir('quorumbl-cfg-');
  mkdirSync(join(dir, 'zones'));
  mkdirSync(join(dir, 'lists'));
  writeFileSync(join(dir, 'zones', 'local.txt'), '192.0.2.9\n');
  writeFileSync(join(dir, 'lists', 'mylist.txt'), list(40));
  const config = join(dir, 'quorumbl.yaml');
  writeFileSync(config, [
    'state_dir: state',
    'base: dnsbl.test',
    'web: { enabled: false }',
    'zones:',
    '  - name: local.test',
    '    datasets: [{ type: ip4set, files: [zones/local.txt] }]',
    'sources:',
    '  - { name: mylist, kind: ip, fetch: lists/mylist.txt, format: plain, schedule: "0 0 1 1 *", guards: { max_shrink: 0.5 } }',
    '',
  ].join('\n'));
  const other = join(dir, 'other.yaml');
  writeFileSync(other, 'state_dir: other-state\nbase: other.test\n');
  // Commands run from somewhere else: relative paths must not follow the current directory.
  const cwd = makeTmpDir('quorumbl-cwd-');
  return { dir, config, other, cwd };
}

test('QUORUMBL_CONFIG is the config file, not a config key; --config wins; the env names it in errors', () => {
  const { config, other } = site();
  assert.deepEqual(envOverrides({ QUORUMBL_CONFIG: config, QUORUMBL_ADMIN_PASSWORD: 'x', QUORUMBL_LOG__LEVEL: 'debug' }).map((o) => o.name), ['QUORUMBL_LOG__LEVEL']);
  const fromEnv = loadConfig(undefined, { QUORUMBL_CONFIG: config });
  assert.equal(fromEnv.file, config);
  assert.equal(fromEnv.from, 'env');
  const flag = loadConfig(other, { QUORUMBL_CONFIG: config });
  assert.equal(flag.file, other);
  assert.equal(flag.from, 'argument');
  assert.equal(loadConfig(undefined, {}).from, 'default');
  assert.throws(() => loadConfig(undefined, { QUORUMBL_CONFIG: join(config, '..', 'nope.yaml') }),
    (e) => e instanceof ConfigError && /nope\.yaml \(from QUORUMBL_CONFIG\): ENOENT/.test(e.message));
});

test('QUORUMBL_CONFIG for every command, --config over it, relative paths from the config folder, another config\'s state refused, hints with --config', async () => {
  const { dir, config, other, cwd } = site();
  const env = { QUORUMBL_CONFIG: config };

  // check-config takes it, counts every zone serve answers for (1 configured + 1 mirror + bl/wl/dbl)
  // and finds zones/local.txt beside the config.
  const cc = await runQuorumbl(['check-config'], { env, cwd });
  assert.equal(cc.code, 0, cc.output);
  assert.match(cc.stdout, new RegExp(`^ok: ${config} \\(5 zones\\)$`, 'm'), cc.output);
  assert.match(cc.stdout, /configured: local\.test\n\s+mirrors:\s+mylist\.mirror\.dnsbl\.test\n\s+merged:\s+bl\.dnsbl\.test, wl\.dnsbl\.test, dbl\.dnsbl\.test\n/, cc.output);
  const wins = await runQuorumbl(['check-config', '--config', other], { env, cwd });
  assert.equal(wins.code, 0, wins.output);
  assert.match(wins.stdout, new RegExp(`^ok: ${other} \\(3 zones\\)$`, 'm'), '--config wins over QUORUMBL_CONFIG');

  // sync: lists/mylist.txt and state/ are the config folder's, not the current directory's.
  const s = await runQuorumbl(['sync'], { env, cwd });
  assert.equal(s.code, 0, s.output);
  assert.ok(existsSync(join(dir, 'state', 'sources', 'mylist', 'current')), 'the last good copy is under <config folder>/state');
  assert.ok(!existsSync(join(cwd, 'state')), 'nothing in the current directory');
  const used = JSON.parse(readFileSync(join(dir, 'state', 'config-used.json'), 'utf8')) as { file: string; command: string };
  assert.equal(used.file, config);
  assert.equal(used.command, 'sync');

  // No config at all, the same state directory (a container's QUORUMBL_STATE_DIR): refused, and
  // the message names the config to pass.
  const foreign = { QUORUMBL_STATE_DIR: join(dir, 'state') };
  const ex = await runQuorumbl(['explain', '198.51.100.7'], { env: foreign, cwd });
  assert.equal(ex.code, 2, ex.output);
  assert.match(ex.stderr, new RegExp(`state directory ${join(dir, 'state')} was last used with ${config}`), ex.output);
  assert.match(ex.stderr, new RegExp(`pass --config ${config}`), ex.output);
  assert.equal(ex.stdout, '', 'no verdict from the embedded default');
  const right = await runQuorumbl(['explain', '198.51.100.7', '--config', config], { cwd });
  assert.equal(right.code, 0, right.output);
  assert.match(right.stdout, /mylist/, right.output);

  // State from before the record: its sources give it away.
  rmSync(join(dir, 'state', 'config-used.json'));
  const old = await runQuorumbl(['sources'], { env: foreign, cwd });
  assert.equal(old.code, 2, old.output);
  assert.match(old.stderr, /holds sources the embedded default does not have \(mylist\)/, old.output);

  // A 90% shrink is quarantined; the hint to decide carries the --config that was used.
  writeFileSync(join(dir, 'lists', 'mylist.txt'), list(4));
  const q = await runQuorumbl(['sync', '--config', config], { cwd });
  assert.equal(q.code, 1, q.output);
  const shown = await runQuorumbl(['sources', '--config', config], { cwd });
  assert.equal(shown.code, 0, shown.output);
  assert.match(shown.stdout, new RegExp(`decide: quorumbl sources accept mylist --config ${config}   \\|   quorumbl sources drop mylist --config ${config}`), shown.output);
});
