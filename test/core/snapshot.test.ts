import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeSnapshot, encodeSnapshot, readSnapshot, sharedPart, writeSnapshot, SNAPSHOT_VERSION } from '../../core/snapshot.ts';
import { Worker } from 'node:worker_threads';

const snap = () => ({
  key: 'ip4set:/x',
  stamps: [{ file: '/x', mtime: 1700000000, size: 42 }],
  part: {
    type: 'combined',
    meta: { ttl: 300, txt: ['a', null] },
    arrays: [new Uint32Array([1, 2, 0xffffffff]), new Uint8Array([7, 8, 9])],
    children: [{ type: 'ip4set', meta: null, arrays: [new Uint16Array([5, 6]), new Float64Array([1.5])] }],
  },
});

test('a snapshot round-trips typed arrays, metadata and children', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'qbl-snap-'));
  const path = join(dir, 'sub', 'a.qsnap');
  await writeSnapshot(path, snap());
  const back = await readSnapshot(path);
  assert.equal(back.key, 'ip4set:/x');
  assert.deepEqual(back.stamps, snap().stamps);
  assert.deepEqual(back.part.meta, { ttl: 300, txt: ['a', null] });
  assert.deepEqual([...(back.part.arrays[0] as Uint32Array)], [1, 2, 0xffffffff]);
  assert.ok(back.part.arrays[1] instanceof Uint8Array);
  assert.deepEqual([...(back.part.children![0]!.arrays[1] as Float64Array)], [1.5]);
});

test('read and shared snapshots live in shared memory: a worker sees them without a copy', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'qbl-snap-'));
  const path = join(dir, 'a.qsnap');
  await writeSnapshot(path, snap());
  const read = await readSnapshot(path);
  const shared = sharedPart(snap().part);
  for (const p of [read.part, shared]) {
    for (const a of [...p.arrays, ...p.children![0]!.arrays]) assert.ok(a.buffer instanceof SharedArrayBuffer, a.constructor.name);
    assert.deepEqual([...(p.arrays[0] as Uint32Array)], [1, 2, 0xffffffff]);
    assert.deepEqual([...(p.children![0]!.arrays[0] as Uint16Array)], [5, 6]);
  }
  // a write in another thread is visible here: the memory is one, not a copy
  const w = new Worker('require("node:worker_threads").parentPort.once("message", (a) => { a[0] = 42; require("node:worker_threads").parentPort.postMessage("done"); })', { eval: true });
  await new Promise((resolve) => {
    w.once('message', resolve);
    w.postMessage(shared.arrays[0]);
  });
  await w.terminate();
  assert.equal((shared.arrays[0] as Uint32Array)[0], 42);
});

test('a snapshot from another format version is refused, not misread', () => {
  const buf = Buffer.concat(encodeSnapshot(snap()));
  buf.writeUInt32LE(SNAPSHOT_VERSION + 1, 8);
  assert.throws(() => decodeSnapshot(buf), /format version/);
});

test('truncated or foreign files are rejected with a clear error', async () => {
  const buf = Buffer.concat(encodeSnapshot(snap()));
  assert.throws(() => decodeSnapshot(buf.subarray(0, buf.length - 8)), /truncated/);
  const dir = mkdtempSync(join(tmpdir(), 'qbl-snap-'));
  writeFileSync(join(dir, 'junk'), 'hello world, not a snapshot');
  await assert.rejects(readSnapshot(join(dir, 'junk')), /not a quorumbl snapshot/);
  void readFileSync;
});
