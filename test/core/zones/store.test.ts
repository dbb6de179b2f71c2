import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, renameSync, rmSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { ZoneStore, type LoadedZone } from '../../../core/zones/store.ts';
import { makeQuery } from '../../../core/query.ts';
import type { RecordSink } from '../../../core/datasets/types.ts';
import type { LoadSettings } from '../../../core/zones/spec.ts';

const settings: LoadSettings = { ttl: { def: 2100, min: 0, max: 0xffffffff }, acceptHostBits: false, gunzip: true };

function listed(zones: LoadedZone[], ip: string): string[] {
  const got: string[] = [];
  const sink: RecordSink = { wantA: true, wantTxt: true, qtype: 255, a: (v) => got.push(`A ${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`), txt: (t) => got.push(`TXT ${t}`), mx: () => {} };
  const q = makeQuery(ip.split('.').reverse(), 255);
  for (const d of zones[0]!.datasets) d.query(q, sink);
  return got;
}

function setup() {
  const dir = mkdtempSync(join(tmpdir(), 'qbl-store-'));
  const file = join(dir, 'bl.txt');
  const logs: { level: number; msg: string; err?: string }[] = [];
  const log = pino({ level: 'info' }, { write: (s: string) => void logs.push(JSON.parse(s)) });
  let zones: LoadedZone[] = [];
  const make = () => new ZoneStore([{ name: 'bl.example', datasets: [{ type: 'ip4set', files: [file] }] }], { settings, stateDir: join(dir, 'state'), log, onChange: (z) => (zones = z) });
  const write = (text: string, mtime: number) => {
    writeFileSync(file + '.tmp', text);
    utimesSync(file + '.tmp', mtime, mtime);
    renameSync(file + '.tmp', file);
  };
  return { dir, file, logs, make, write, zones: () => zones };
}

test('loads in a worker, reloads changed files, keeps the last good data when a reload fails', async () => {
  const s = setup();
  s.write(':127.0.0.2:Listed $\n192.0.2.1\n', 1700000000);
  const store = s.make();
  assert.equal(await store.loadSnapshots(), 0);
  assert.equal(await store.check(), true);
  assert.deepEqual(listed(s.zones(), '192.0.2.1'), ['A 127.0.0.2', 'TXT Listed 192.0.2.1']);
  assert.equal(s.zones()[0]!.newestMtime, 1700000000);
  assert.equal(await store.check(), false, 'unchanged files are not reloaded');

  s.write('192.0.2.9\n', 1700000100);
  assert.equal(await store.check(), true);
  assert.deepEqual(listed(s.zones(), '192.0.2.1'), []);
  assert.deepEqual(listed(s.zones(), '192.0.2.9'), ['A 127.0.0.2']);

  rmSync(s.file);
  assert.equal(await store.check(), false);
  assert.deepEqual(listed(s.zones(), '192.0.2.9'), ['A 127.0.0.2'], 'old data still answers');
  assert.equal(s.zones()[0]!.failed, false);
  assert.ok(s.logs.some((l) => l.level === 50 && /cannot read data file/.test(l.err ?? '') && (l.err ?? '').includes(s.file)));
});

test('a restart answers from the snapshot before reading text; a changed file is then reloaded', async () => {
  const s = setup();
  s.write('192.0.2.1\n', 1700000000);
  const first = s.make();
  await first.check();
  await new Promise((r) => setTimeout(r, 200)); // the snapshot is written asynchronously
  rmSync(s.file);
  const second = s.make();
  assert.equal(await second.loadSnapshots(), 1);
  assert.ok(second.complete);
  assert.deepEqual(listed(s.zones(), '192.0.2.1'), ['A 127.0.0.2']);
  s.write('192.0.2.7\n', 1700000200);
  assert.equal(await second.check(), true);
  assert.deepEqual(listed(s.zones(), '192.0.2.7'), ['A 127.0.0.2']);
});

test('a load error names the file and line; an expired $TIMESTAMP marks the zone failed', async () => {
  const s = setup();
  s.write('$TIMESTAMP 2020-01-01 +1d\n192.0.2.1\nnot-an-ip\n', 1700000000);
  const store = s.make();
  await store.check();
  assert.equal(s.zones()[0]!.failed, true);
  assert.ok(s.logs.some((l) => l.msg.startsWith(`${s.file}:3: `)), 'bad line warned with file:line');
  const missing = new ZoneStore([{ name: 'x.example', datasets: [{ type: 'ip4set', files: ['/nonexistent/x.txt'] }] }], { settings, log: pino({ level: 'silent' }), onChange: () => {} });
  await missing.check();
  assert.match(missing.failures[0]!.error, /\/nonexistent\/x\.txt/);
});

test('a snapshot staged for exactly the new files is loaded instead of parsing the text again', async () => {
  const { snapshotFileFor } = await import('../../../core/zones/store.ts');
  const { writeSnapshot } = await import('../../../core/snapshot.ts');
  const { stampOf } = await import('../../../core/rbldnsd/reader.ts');
  const s = setup();
  s.write('192.0.2.1\n', 1700000000);
  const store = s.make();
  await store.check();
  // What the sync engine does: a snapshot of its own parse, stamped for the promoted file.
  s.write('192.0.2.1\n', 1700000300);
  const other = s.make();
  await other.check(); // parses the text and writes the ordinary snapshot
  await new Promise((r) => setTimeout(r, 200));
  const spec = { type: 'ip4set', files: [s.file] };
  const { path, key } = snapshotFileFor(join(s.dir, 'state'), spec, settings);
  const { readSnapshot } = await import('../../../core/snapshot.ts');
  const snap = await readSnapshot(path);
  s.write('198.51.100.7\n', 1700000600); // new text, but the snapshot we stage says 192.0.2.1
  await writeSnapshot(path, { key, stamps: [stampOf(s.file)], part: snap.part });
  assert.equal(await store.check(), true);
  assert.deepEqual(listed(s.zones(), '192.0.2.1'), ['A 127.0.0.2'], 'answered from the staged snapshot, not from the text');
  assert.ok(s.logs.some((l) => l.msg === 'dataset loaded' && (l as { from?: string }).from === 'the snapshot staged by the sync'));
});
