// The cross-process sync lease on a real SQLite file: held by real child processes, taken
// atomically when several race for it, free at once when its holder is killed with SIGKILL,
// and after its TTL when the holder is on another host.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openDb } from '../../core/db.ts';
import { SyncLeases, describeHolder } from '../../sync/lease.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const dirs: string[] = [];
const children = new Set<ChildProcess>();
after(() => {
  for (const c of children) c.kill('SIGKILL');
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function dbFile(): string {
  const d = mkdtempSync(join(tmpdir(), 'qbl-lease-'));
  dirs.push(d);
  return join(d, 'state.sqlite');
}

// A child process that tries to take the lease once, prints the result, and holds it until killed.
const HOLDER = `
import { openDb } from ${JSON.stringify(join(ROOT, 'core/db.ts'))};
import { SyncLeases } from ${JSON.stringify(join(ROOT, 'sync/lease.ts'))};
const [file, source, label, startAt] = process.argv.slice(2);
const db = openDb(file);
const leases = new SyncLeases(db, { command: 'holder ' + label });
// Start together: every child waits for the same instant before trying.
while (Date.now() < Number(startAt)) {}
const r = leases.tryAcquire(source);
process.stdout.write(('lease' in r ? 'got' : 'busy ' + r.heldBy.pid) + '\\n');
setInterval(() => { if ('lease' in r) leases.renew(r.lease); }, 200);
`;

function holderScript(): string {
  const d = mkdtempSync(join(tmpdir(), 'qbl-lease-holder-'));
  dirs.push(d);
  const f = join(d, 'holder.ts');
  writeFileSync(f, HOLDER);
  return f;
}

function startHolder(script: string, file: string, label: string, startAt = 0): { child: ChildProcess; line: Promise<string> } {
  const child = spawn(process.execPath, ['--import', 'tsx', script, file, 'trap', label, String(startAt)], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  children.add(child);
  child.once('exit', () => children.delete(child));
  const line = new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (b: Buffer) => {
      out += b.toString();
      if (out.includes('\n')) resolve(out.trim());
    });
    child.once('exit', (code) => reject(new Error(`holder ${label} exited (${code}) before answering`)));
  });
  return { child, line };
}

test('a lease held by a live process is refused with who holds it; SIGKILL of the holder frees it at once', async () => {
  const file = dbFile();
  const script = holderScript();
  const h = startHolder(script, file, 'A');
  assert.equal(await h.line, 'got');
  const db = openDb(file);
  const leases = new SyncLeases(db, { command: 'quorumbl sync trap' });
  const r = leases.tryAcquire('trap');
  assert.ok('heldBy' in r, 'held by the child');
  assert.equal(r.heldBy.pid, h.child.pid);
  assert.equal(r.heldBy.command, 'holder A');
  assert.match(describeHolder(r.heldBy), new RegExp(`^pid ${h.child.pid} on \\S+ \\(holder A\\), since \\d+ s$`));
  h.child.kill('SIGKILL');
  await new Promise((res) => h.child.once('exit', res));
  const again = leases.tryAcquire('trap');
  assert.ok('lease' in again, 'the dead holder no longer blocks (no wait for the TTL)');
  assert.equal(leases.holderOf('trap')!.command, 'quorumbl sync trap');
  db.close();
});

test('four processes race for one lease: exactly one gets it', async () => {
  const file = dbFile();
  openDb(file).close(); // schema in place before the race
  const script = holderScript();
  const startAt = Date.now() + 2500; // after every child has loaded
  const hs = ['1', '2', '3', '4'].map((l) => startHolder(script, file, l, startAt));
  const lines = await Promise.all(hs.map((h) => h.line));
  assert.equal(lines.filter((l) => l === 'got').length, 1, lines.join(', '));
  const winner = hs[lines.indexOf('got')]!.child.pid;
  for (const l of lines) if (l !== 'got') assert.equal(l, `busy ${winner}`);
  for (const h of hs) h.child.kill('SIGKILL');
});

test('renew, release, expiry of a holder on another host, and a lease lost to a takeover', () => {
  const file = dbFile();
  let t = 1_000_000;
  const now = () => t;
  const a = new SyncLeases(openDb(file), { now, host: 'mx1', pid: 100, ttlMs: 30_000, command: 'quorumbl serve' });
  const b = new SyncLeases(openDb(file), { now, host: 'mx2', pid: 200, ttlMs: 30_000, command: 'quorumbl sync' });
  const la = a.tryAcquire('trap');
  assert.ok('lease' in la);
  t += 20_000;
  assert.ok(a.renew(la.lease));
  t += 20_000; // 40 s after acquiring, 20 s after the renewal: still live
  assert.ok('heldBy' in b.tryAcquire('trap'));
  t += 10_001; // 30 s without renewal: a holder on another host is presumed dead
  assert.equal(a.holds(la.lease), true, 'expired but not taken over: still ours');
  const lb = b.tryAcquire('trap');
  assert.ok('lease' in lb);
  assert.equal(a.holds(la.lease), false);
  assert.equal(a.renew(la.lease), false, 'the old holder learns it lost the lease');
  a.release(la.lease); // releasing a lost lease does not free the new holder's
  assert.equal(b.holderOf('trap')!.host, 'mx2');
  assert.ok(b.holds(lb.lease));
  b.release(lb.lease);
  assert.equal(b.holderOf('trap'), null);
  assert.ok('lease' in a.tryAcquire('other'), 'leases are per source');
});

test('same host: a holder whose pid is gone is not live even before its expiry', () => {
  const file = dbFile();
  const alive = new Set([100]);
  const a = new SyncLeases(openDb(file), { host: 'h', pid: 100 });
  const b = new SyncLeases(openDb(file), { host: 'h', pid: 200, pidAlive: (p) => alive.has(p) });
  const la = a.tryAcquire('trap');
  assert.ok('lease' in la);
  assert.ok('heldBy' in b.tryAcquire('trap'));
  assert.ok(b.holderLive('trap', la.lease.holder));
  alive.delete(100);
  assert.equal(b.holderLive('trap', la.lease.holder), false);
  assert.ok('lease' in b.tryAcquire('trap'));
});

test('a lease of this process whose release could not be written (a full disk) is not held against it', () => {
  const db = openDb(dbFile());
  const a = new SyncLeases(db, { command: 'quorumbl serve' });
  const got = a.tryAcquire('trap');
  assert.ok('lease' in got);
  const b = new SyncLeases(db, { command: 'quorumbl serve' });
  assert.ok('heldBy' in b.tryAcquire('trap'), 'while it is held, this process sees it busy too');
  // The release fails to write: the row stays, naming this very process.
  db.pragma('query_only = ON');
  assert.throws(() => a.release(got.lease), /readonly/i);
  db.pragma('query_only = OFF');
  assert.equal(b.holderOf('trap'), null, 'the row left behind is dead: no live holder');
  const again = b.tryAcquire('trap');
  assert.ok('lease' in again, 'the next sync takes it at once, not after the TTL');
  b.release(again.lease);
});
