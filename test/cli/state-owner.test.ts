// The state directory's record of its config (cli/state-owner.ts) when things go wrong: it is
// never a reason for serve or sync to fail, a torn record is no record, and without one the
// sources on disk still tell another config's state directory from the default's.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../core/config/load.ts';
import { checkStateOwner, configFlag, ForeignState, readConfigUse, recordConfigUse } from '../../cli/state-owner.ts';

const dirs: string[] = [];
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'qbl-owner-'));
  dirs.push(d);
  return d;
};
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

test('a state directory that cannot be written: no throw, nothing left', () => {
  const d = tmp();
  writeFileSync(join(d, 'file'), 'x');
  const cfg = loadConfig(undefined, {});
  assert.doesNotThrow(() => recordConfigUse(join(d, 'file', 'state'), cfg, 'serve')); // ENOTDIR
  assert.deepEqual(readdirSync(d), ['file']);
});

test('records once, a torn record reads as none; the default then refuses foreign sources only', () => {
  const d = tmp();
  const own = join(d, 'q.yaml');
  writeFileSync(own, 'state_dir: state\n');
  const mine = loadConfig(own, {});
  const state = join(d, 'state');
  recordConfigUse(state, mine, 'sync');
  assert.equal(readConfigUse(state)?.file, own);
  const def = loadConfig(undefined, {});
  assert.throws(() => checkStateOwner(def, state, 'explain'), (e) => e instanceof ForeignState && e.message.includes(`pass --config ${own}`));
  assert.doesNotThrow(() => checkStateOwner(mine, state, 'explain'), 'a given config is never refused');

  writeFileSync(join(state, 'config-used.json'), '{"file": "/etc/q'); // torn
  assert.equal(readConfigUse(state), null);
  assert.doesNotThrow(() => checkStateOwner(def, state, 'explain'), 'no record, no sources: nothing tells');
  mkdirSync(join(state, 'sources', 'psbl'), { recursive: true }); // a source the default has too
  assert.doesNotThrow(() => checkStateOwner(def, state, 'explain'));
  mkdirSync(join(state, 'sources', 'mylist'), { recursive: true });
  assert.throws(() => checkStateOwner(def, state, 'explain'), (e) => e instanceof ForeignState && /\(mylist\)/.test(e.message));
});

test('configFlag: nothing for the default, quoted when the path needs it', () => {
  assert.equal(configFlag({ file: '/x', from: 'default' }), '');
  assert.equal(configFlag({ file: '/etc/q.yaml', from: 'argument' }), ' --config /etc/q.yaml');
  assert.equal(configFlag({ file: "/srv/my q's.yaml", from: 'env' }), ` --config '/srv/my q'\\''s.yaml'`);
});
