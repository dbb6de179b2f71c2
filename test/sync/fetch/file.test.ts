import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, test } from 'node:test';
import { FetchError, fetchSource } from '../../../sync/fetch/index.ts';
import { baseOptions, FIXTURES, listDir, tmpDir } from './helpers.ts';

const T0 = new Date('2024-06-01T00:00:00Z');

function source(content: string): string {
  const f = join(tmpDir(), 'list.txt');
  writeFileSync(f, content);
  utimesSync(f, T0, T0);
  return f;
}

async function fails(p: Promise<unknown>, re: RegExp): Promise<FetchError> {
  let err: unknown;
  await p.then(() => assert.fail('expected a FetchError'), (e) => (err = e));
  assert.ok(err instanceof FetchError, `not a FetchError: ${String(err)}`);
  assert.match(err.message, re);
  return err;
}

describe('file fetch', () => {
  test('file:///abs/path is copied into staging with its mtime; the etag makes the next sync not-modified', async () => {
    const src = source('192.0.2.1\n');
    const dir = join(tmpDir(), 'staging');
    const dest = join(dir, 'data');
    let progress = 0;
    const r = await fetchSource(baseOptions(pathToFileURL(src).href, dest, { onProgress: (b) => (progress = b) }));
    assert.equal(r.status, 'fetched');
    assert.ok(r.status === 'fetched');
    assert.equal(r.bytes, 10);
    assert.equal(r.validators.lastModified, T0.toUTCString());
    assert.equal(readFileSync(dest, 'utf8'), '192.0.2.1\n');
    assert.equal(statSync(dest).mtime.getTime(), T0.getTime());
    assert.deepEqual(listDir(dir), ['data']);
    assert.equal(progress, 10);

    assert.deepEqual(await fetchSource(baseOptions(src, join(tmpDir(), 'x'), { validators: r.validators })), { status: 'not-modified' });
    // a rewrite (new mtime) is fetched again
    writeFileSync(src, '192.0.2.2\n');
    const again = await fetchSource(baseOptions(src, dest, { validators: r.validators }));
    assert.equal(again.status, 'fetched');
    assert.equal(readFileSync(dest, 'utf8'), '192.0.2.2\n');
  });

  test('a plain path (absolute or relative to the working directory)', async () => {
    const fixture = join(FIXTURES, 'list.txt');
    for (const p of [fixture, relative(process.cwd(), fixture)]) {
      const dest = join(tmpDir(), 'data');
      const r = await fetchSource(baseOptions(p, dest));
      assert.equal(r.status, 'fetched');
      assert.deepEqual(readFileSync(dest), readFileSync(fixture));
    }
  });

  test('missing file, directory, size cap: errors, nothing written', async () => {
    const dir = tmpDir();
    const dest = join(dir, 'out', 'data');
    let e = await fails(fetchSource(baseOptions(join(dir, 'nope.txt'), dest)), /cannot read .*nope\.txt: ENOENT/);
    assert.equal(e.retryable, false);
    mkdirSync(join(dir, 'adir'));
    await fails(fetchSource(baseOptions(join(dir, 'adir'), dest)), /not a regular file/);
    e = await fails(fetchSource(baseOptions(source('x'.repeat(2000)), dest, { maxBytes: 1000 })), /file size 2000 exceeds the size cap of 1000/);
    assert.equal(e.retryable, false);
    assert.deepEqual(listDir(join(dir, 'out')), []);
  });
});
