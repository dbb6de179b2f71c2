import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { copyFile, listCopies, loadCopy, saveCopy } from '../../../sync/replica/persist.ts';
import type { ZoneCopy } from '../../../sync/replica/zone-copy.ts';

const dir = mkdtempSync(join(tmpdir(), 'qbl-replica-persist-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const copy: ZoneCopy = {
  zone: 'bl.test',
  soa: { serial: 7, refresh: 60, retry: 30, expire: 600, minimum: 5, record: { name: '', type: 6, ttl: 300, data: 'ns1.bl.test. h.bl.test. 7 60 30 600 5' } },
  records: [
    { name: '2.0.0.127', type: 1, ttl: 300, data: '127.0.0.2' },
    { name: '2.0.0.127', type: 16, ttl: 300, data: 'text with "quotes", a tab\tand a\nline break' },
    ...Array.from({ length: 30000 }, (_, i) => ({ name: `${i & 255}.${i >> 8}.0.10`, type: 1, ttl: 60, data: '127.0.0.2' })),
  ],
};

test('a saved copy reads back equal; no temporary file is left', async () => {
  await saveCopy(dir, copy);
  assert.deepEqual(loadCopy(copyFile(dir, 'bl.test')), copy);
  assert.deepEqual(readdirSync(dir), ['bl.test.copy']);
  assert.deepEqual(listCopies(dir), ['bl.test']);
});

test('a truncated, altered or foreign file is refused with the reason', async () => {
  await saveCopy(dir, copy);
  const file = copyFile(dir, 'bl.test');
  const good = readFileSync(file, 'utf8');
  writeFileSync(file, good.slice(0, Math.floor(good.length / 2)));
  assert.throws(() => loadCopy(file), /not a complete replica copy/);
  writeFileSync(file, good.replace('127.0.0.2', '127.0.0.9'));
  assert.throws(() => loadCopy(file), /checksum mismatch/);
  writeFileSync(file, 'zone data\n');
  assert.throws(() => loadCopy(file), /not a complete replica copy/);
});
