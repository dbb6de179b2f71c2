// The sync engine on a full state disk (a real tmpfs filled to the last block): a sync never
// throws (an unhandled rejection would end `serve`), the last good copy stays byte for byte,
// no partial file is left behind, the disk watcher hears of it, and while the watcher says the
// disk cannot take writes no sync starts at all.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { configSchema } from '../../core/config/schema.ts';
import { openDb } from '../../core/db.ts';
import { DiskHealth } from '../../core/disk-health.ts';
import { SyncEngine } from '../../sync/engine.ts';
import { SyncState, sourcePaths } from '../../sync/state.ts';
import { fill, tmpfs, tmpfsOrSkip, unmountAll } from '../core/tmpfs.ts';

const skip = tmpfsOrSkip();
let server: Server;
let version = 0;

function list(n: number): string {
  const lines = ['# synthetic trap list', '127.0.0.2'];
  for (let i = 0; i < n; i++) lines.push(`198.51.${100 + (i >> 8)}.${i & 255}`);
  return lines.join('\n') + `\n# version ${++version}\n`;
}

before(async () => {
  server = createServer((_req, res) => void res.writeHead(200, { 'content-type': 'text/plain' }).end(list(20000)));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
});
after(() => {
  server.close();
  unmountAll();
});

function setup(dbDir: string, stateDir: string) {
  const sources = configSchema.parse({
    sources: [{ name: 'trap', kind: 'ip', fetch: `http://127.0.0.1:${(server.address() as AddressInfo).port}/list.txt`, format: 'plain', retries: 0, timeout: 5, max_prefix: { v4: 16 }, guards: { test_point: true } }],
  }).sources;
  const db = openDb(join(dbDir, 'state.sqlite'));
  const log = pino({ level: 'silent' });
  const disk = new DiskHealth({ dir: stateDir, dbPath: join(dbDir, 'state.sqlite'), log, intervalMs: 60_000 });
  const engine = new SyncEngine(sources, {
    stateDir, state: new SyncState(db), log, userAgent: 'quorumbl-test', disk,
    settings: { ttl: { def: 2100, min: 0, max: 2 ** 31 }, acceptHostBits: false, gunzip: true },
    snapshotTarget: () => ({ path: join(stateDir, 'snapshots', 'x.qsnap'), key: 'k', spec: { type: 'ip4set', files: [sourcePaths(stateDir, 'trap').current] } }),
  });
  return { engine, disk, db, current: sourcePaths(stateDir, 'trap').current };
}

function filesUnder(dir: string): string[] {
  return (readdirSync(dir, { recursive: true }) as string[]).sort();
}

test('the download does not fit: the sync fails cleanly, leaves nothing behind, and the watcher knows', { skip }, async () => {
  const stateDir = tmpfs('4m');
  const dbDir = mkdtempSync(join(tmpdir(), 'qbl-engine-db-')); // the database is elsewhere: the fetch hits the wall
  const { engine, disk, current } = setup(dbDir, stateDir);
  assert.equal((await engine.sync('trap')).outcome, 'ok');
  const good = readFileSync(current);
  const before = filesUnder(stateDir);
  fill(join(stateDir, 'filler'));
  const r = await engine.sync('trap');
  assert.equal(r.outcome, 'failed');
  assert.match(r.error!, /ENOSPC|no space/i);
  assert.equal(disk.state, 'full');
  assert.deepEqual(readFileSync(current), good, 'the last good copy is unchanged');
  assert.deepEqual(filesUnder(stateDir).filter((f) => f !== 'filler'), before, 'no partial file left');
  // While the disk is full, no sync even starts (no download, no run record).
  const skipped = await engine.sync('trap');
  assert.equal(skipped.outcome, 'failed');
  assert.match(skipped.error!, /^skipped: the state disk is full/);
  rmSync(join(stateDir, 'filler'));
});

test('the state database is on the full disk: the sync fails (it does not throw) and reports it', { skip }, async () => {
  const stateDir = tmpfs('4m');
  const { engine, disk, db, current } = setup(stateDir, stateDir);
  assert.equal((await engine.sync('trap')).outcome, 'ok');
  const good = readFileSync(current);
  db.pragma('wal_checkpoint(TRUNCATE)'); // an empty WAL: the next commit needs new blocks
  fill(join(stateDir, 'filler'));
  const r = await engine.sync('trap');
  assert.equal(r.outcome, 'failed');
  assert.match(r.error!, /full|ENOSPC/i);
  assert.equal(disk.state, 'full');
  assert.deepEqual(readFileSync(current), good);
  assert.deepEqual(readdirSync(join(stateDir, 'sources', 'trap', 'staging')), []);
});
