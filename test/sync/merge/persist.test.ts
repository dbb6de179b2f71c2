// The persisted evidence: a round trip answers every lookup the same, the loaded columns can be
// retired into a later merge, and a torn, corrupt, foreign or other-version file is refused
// (never loaded half); leftover temp files of a dead writer are removed, a live one's kept.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RangeBuilder4, RangeBuilder6, type RangeSet4 } from '../../../core/ranges.ts';
import { buildEvidence, class4, class6, classDomain } from '../../../sync/merge/evidence.ts';
import { buildEvidenceInWorker, retireEvidence } from '../../../sync/merge/build.ts';
import { EVIDENCE_FILE_VERSION, evidencePath, readEvidenceFile, removeLeftovers, writeEvidenceFile } from '../../../sync/merge/persist.ts';
import type { Evidence, EvidenceInputs } from '../../../sync/merge/types.ts';
import { unitRandom as rng } from '../../bench/datagen.ts';

function randomSet4(r: () => number, n: number): RangeSet4 {
  const b = new RangeBuilder4();
  for (let i = 0; i < n; i++) {
    const s = Math.floor(r() * 2 ** 32);
    b.add(s, Math.min(2 ** 32 - 1, s + (r() < 0.6 ? 0 : Math.floor(r() * 300))));
  }
  return b.build();
}

function inputs(seed: number, n = 200_000): EvidenceInputs {
  const r = rng(seed);
  const v6 = new RangeBuilder6();
  v6.add(Uint8Array.from([0x20, 1, 0xd, 0xb8, ...Array(12).fill(0)]), Uint8Array.from([0x20, 1, 0xd, 0xb8, ...Array(12).fill(0xff)]));
  return {
    sources: [0, 1, 2].map((k) => ({
      name: `s${k}`,
      weight: k + 0.5,
      v4: randomSet4(r, n),
      v6: k === 0 ? v6.build() : new RangeBuilder6().build(),
      domains: k === 1 ? ['*.bad.example', 'spam.example', 'ünïcode.example'] : ['spam.example'],
    })),
    providers: [{ name: 'microsoft/exchange', v4: randomSet4(r, 50), v6: new RangeBuilder6().build() }],
    serial: 1_800_000_123,
  };
}

function sameAnswers(a: Evidence, b: Evidence, seed: number): void {
  const r = rng(seed);
  for (let i = 0; i < 100_000; i++) {
    const ip = Math.floor(r() * 2 ** 32);
    assert.equal(class4(b, ip), class4(a, ip), `class at ${ip}`);
  }
  for (let i = 1; i < a.starts4.length; i += 97) assert.equal(class4(b, a.starts4[i]!), class4(a, a.starts4[i]!));
  const v6 = Uint8Array.from([0x20, 1, 0xd, 0xb8, ...Array(12).fill(7)]);
  assert.equal(class6(b, v6), class6(a, v6));
  for (const d of ['spam.example', 'x.bad.example', 'ünïcode.example', 'good.example']) assert.equal(classDomain(b, d), classDomain(a, d), d);
  for (const k of ['serial', 'builtAt', 'sourceNames', 'sourceWeights', 'providerNames', 'domains'] as const) assert.deepEqual(b[k], a[k], k);
  assert.deepEqual(b.classSources, a.classSources);
  assert.deepEqual(b.classProviders, a.classProviders);
}

function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'qbl-persist-'));
  test.after(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

test('round trip: the loaded evidence answers like the built one; serial and inputs key kept', async () => {
  const path = evidencePath(tmp());
  const e = buildEvidence(inputs(1), 1_700_000_000_000);
  const { bytes } = await writeEvidenceFile(path, e, 'key-1');
  const back = readEvidenceFile(path)!;
  assert.equal(back.bytes, bytes);
  assert.equal(back.inputs, 'key-1');
  assert.equal(back.evidence.serial, 1_800_000_123);
  sameAnswers(e, back.evidence, 2);
  assert.deepEqual(back.evidence.index4!.at, e.index4!.at);
  assert.deepEqual(readdirSync(join(path, '..')), ['evidence.qev'], 'no temp file left');
});

test('no file: null (first start)', () => {
  assert.equal(readEvidenceFile(join(tmp(), 'none.qev')), null);
});

test('loaded columns have buffers of their own: retired into a merge, the merge writes into them safely', async () => {
  const path = evidencePath(tmp());
  const inp = inputs(3, 400_000);
  const e = buildEvidence(inp);
  await writeEvidenceFile(path, e, 'k');
  const loaded = readEvidenceFile(path)!.evidence;
  const bufs = [loaded.starts4, loaded.cls4, loaded.index4!.at, loaded.starts6, loaded.cls6, loaded.domCls].map((a) => a.buffer);
  assert.equal(new Set(bufs).size, bufs.length, 'one buffer per column');
  assert.ok(bufs.every((b) => b instanceof ArrayBuffer));
  // retire it and merge other data into its buffers: the result is that data's evidence
  retireEvidence(loaded);
  const other = inputs(4, 400_000);
  const { evidence } = await buildEvidenceInWorker(other);
  assert.equal(loaded.starts4.byteLength, 0, 'the retired buffers went to the merge (detached here)');
  sameAnswers(buildEvidence(other, evidence.builtAt), evidence, 5);
});

test('a torn (truncated) file is refused, whatever the cut', async () => {
  const path = evidencePath(tmp());
  const e = buildEvidence(inputs(6, 20_000));
  const { bytes } = await writeEvidenceFile(path, e, 'k');
  const whole = readFileSync(path);
  for (const cut of [0, 7, 20, 30, Math.floor(bytes / 3), bytes - 1]) {
    writeFileSync(path, whole.subarray(0, cut));
    assert.throws(() => readEvidenceFile(path), /truncated|not a quorumbl evidence file|bytes, its header says/, `cut at ${cut}`);
  }
  // and one longer than its header says
  writeFileSync(path, Buffer.concat([whole, Buffer.alloc(8)]));
  assert.throws(() => readEvidenceFile(path), /its header says/);
});

test('a flipped byte anywhere is refused (header or column checksum)', async () => {
  const path = evidencePath(tmp());
  const e = buildEvidence(inputs(7, 20_000));
  const { bytes } = await writeEvidenceFile(path, e, 'k');
  const whole = readFileSync(path);
  const r = rng(8);
  for (let i = 0; i < 40; i++) {
    const at = 8 + Math.floor(r() * (bytes - 8));
    const bad = Buffer.from(whole);
    bad[at] ^= 1 << Math.floor(r() * 8);
    writeFileSync(path, bad);
    // a flip in the version or length fields, in the JSON, in a column, or in padding
    let loaded: Evidence | undefined;
    try {
      loaded = readEvidenceFile(path)!.evidence;
    } catch (err) {
      assert.match((err as Error).message, /checksum|version|truncated|header says|evidence file/, `flip at ${at}`);
      continue;
    }
    // only alignment padding between columns is not covered: the answers are the same then
    sameAnswers(e, loaded, 9);
  }
});

test('a foreign file and another format version are refused', async () => {
  const dir = tmp();
  const path = evidencePath(dir);
  writeFileSync(join(dir, 'junk'), 'hello world, this is not evidence at all');
  assert.throws(() => readEvidenceFile(join(dir, 'junk')), /not a quorumbl evidence file/);
  await writeEvidenceFile(path, buildEvidence(inputs(10, 1000)), 'k');
  const b = readFileSync(path);
  b.writeUInt32LE(EVIDENCE_FILE_VERSION + 1, 8);
  writeFileSync(path, b);
  assert.throws(() => readEvidenceFile(path), new RegExp(`version ${EVIDENCE_FILE_VERSION + 1}, expected ${EVIDENCE_FILE_VERSION}`));
});

test('a write that fails halfway (disk full) keeps the previous file and leaves no temp file', async (t) => {
  const dir = tmp();
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', dir]);
  } catch {
    t.skip('tmpfs mount not available (needs root)');
    return;
  }
  try {
    const path = evidencePath(dir);
    await writeEvidenceFile(path, buildEvidence(inputs(11, 1000)), 'first');
    await assert.rejects(writeEvidenceFile(path, buildEvidence(inputs(12, 100_000)), 'second'), /ENOSPC/);
    assert.equal(readEvidenceFile(path)!.inputs, 'first');
    assert.deepEqual(readdirSync(join(path, '..')), ['evidence.qev']);
  } finally {
    execFileSync('umount', [dir]);
  }
});

test('leftover temp files: a dead writer\'s are removed, a live writer\'s kept', async () => {
  const path = evidencePath(tmp());
  await writeEvidenceFile(path, buildEvidence(inputs(13, 1000)), 'k');
  const dead = spawn(process.execPath, ['-e', '0']);
  await new Promise((r) => dead.on('exit', r));
  const live = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)']);
  try {
    writeFileSync(`${path}.tmp-${dead.pid}`, 'half');
    writeFileSync(`${path}.tmp-${live.pid}`, 'being written');
    assert.deepEqual(removeLeftovers(path), [`evidence.qev.tmp-${dead.pid}`]);
    assert.ok(!existsSync(`${path}.tmp-${dead.pid}`));
    assert.ok(existsSync(`${path}.tmp-${live.pid}`));
  } finally {
    live.kill('SIGKILL');
  }
  truncateSync(path, 0);
  assert.throws(() => readEvidenceFile(path), /not a quorumbl evidence file/);
});
