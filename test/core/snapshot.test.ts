import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeSnapshot, encodeSnapshot, readSnapshot, writeSnapshot, SNAPSHOT_VERSION } from '../../core/snapshot.ts';

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
