// The SOA serial of bl/wl/dbl never goes back, also across a restart right after a burst of
// changes that pushed it ahead of the clock.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { keepSerial, nextSerial, readKeptSerial, serialPath } from '../../../sync/merge/serial.ts';
import { MergeView } from '../../../sync/merge/evaluate.ts';
import { emptyEvidence } from '../../../sync/merge/evidence.ts';
import { POLICY } from './helpers.ts';

test('a burst of changes ahead of the clock is kept on disk; a restart starts above it', () => {
  const dir = mkdtempSync(join(tmpdir(), 'qbl-serial-'));
  const view = new MergeView(emptyEvidence(), POLICY);
  view.onSerial = keepSerial(dir, () => assert.fail('no warning expected'));
  for (let i = 0; i < 50; i++) view.bumpSerial(); // 50 overrides within a second
  const now = Math.floor(Date.now() / 1000);
  assert.ok(view.serial >= now + 45, 'the serial ran ahead of the clock');
  assert.equal(readKeptSerial(dir), view.serial, 'and was kept');
  // the restart: max(kept, now) + 1 (MergeService's start rule)
  assert.ok(nextSerial(Math.max(readKeptSerial(dir), now)) > view.serial);
});

test('a serial behind the clock is not written; a damaged file counts as none', () => {
  const dir = mkdtempSync(join(tmpdir(), 'qbl-serial-'));
  const keep = keepSerial(dir, () => assert.fail('no warning expected'));
  keep(1000);
  assert.equal(readKeptSerial(dir), 0);
  mkdirSync(join(dir, 'merge'), { recursive: true });
  writeFileSync(serialPath(dir), 'garbage');
  assert.equal(readKeptSerial(dir), 0);
});

test('a state dir it cannot write: warned once, nothing thrown', () => {
  const dir = mkdtempSync(join(tmpdir(), 'qbl-serial-'));
  writeFileSync(join(dir, 'merge'), 'a file where the directory should be (fails even for root)');
  const warnings: string[] = [];
  const keep = keepSerial(dir, (m) => warnings.push(m));
  const ahead = Math.floor(Date.now() / 1000) + 100;
  keep(ahead);
  keep(ahead + 1);
  assert.equal(warnings.length, 1);
});
