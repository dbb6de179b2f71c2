// rsync fetcher against a real rsync daemon on loopback (rsync --daemon --no-detach --port P
// --config F): both URL forms, quick-check -> not-modified, seeding from the last good copy, the
// size cap, a missing file, a mute server, and the daemon killed mid-transfer.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { FetchError, fetchSource, type FetchOptions } from '../../../sync/fetch/index.ts';
import { baseOptions, canConnect, Daemon, freePort, listDir, tmpDir, toolsOrSkip, waitFor } from './helpers.ts';
import { Relay } from './proxy.ts';

const skip = toolsOrSkip(['rsync'], 'rsync');
const T0 = new Date('2024-06-01T00:00:00Z');

class RsyncDaemon {
  daemon!: Daemon;
  port = 0;
  readonly root = tmpDir('qbl-rsyncd-');
  readonly mod = join(this.root, 'mod');

  constructor(private address = '127.0.0.1', private fixedPort?: number) {
    mkdirSync(this.mod, { mode: 0o755 });
  }

  async start(): Promise<this> {
    this.port = this.fixedPort ?? (await freePort(this.address));
    const conf = join(this.root, 'rsyncd.conf');
    writeFileSync(conf, `use chroot = no\nlog file = ${join(this.root, 'rsyncd.log')}\n[m]\n  path = ${this.mod}\n  read only = yes\n`);
    this.daemon = new Daemon('rsync', ['--daemon', '--no-detach', '--address', this.address, '--port', String(this.port), '--config', conf]);
    await waitFor(async () => {
      if (!this.daemon.running) throw new Error(`rsync daemon exited: ${this.daemon.output}`);
      return canConnect(this.address, this.port);
    }, 'the rsync daemon');
    return this;
  }

  put(name: string, data: Buffer | string, mtime = T0): string {
    const f = join(this.mod, name);
    writeFileSync(f, data, { mode: 0o644 });
    utimesSync(f, mtime, mtime);
    return f;
  }

  url(path: string): string {
    return `rsync://${this.address}:${this.port}/m/${path}`;
  }
}

function staging(): { dir: string; dest: string } {
  const dir = join(tmpDir(), 'staging');
  return { dir, dest: join(dir, 'source.txt') };
}

function opts(url: string, dest: string, over: Partial<FetchOptions> = {}): FetchOptions {
  return baseOptions(url, dest, { timeoutMs: 20_000, ...over });
}

async function fails(p: Promise<unknown>, re: RegExp): Promise<FetchError> {
  let err: unknown;
  await p.then(() => assert.fail('expected a FetchError'), (e) => (err = e));
  assert.ok(err instanceof FetchError, `not a FetchError: ${String(err)}`);
  assert.match(err.message, re);
  return err;
}

describe('rsync fetch from a real daemon', { skip }, () => {
  const d = new RsyncDaemon();
  const LIST = '# rsync fixture\n192.0.2.1\n192.0.2.0/28\n';
  before(async () => {
    await d.start();
    d.put('list.txt', LIST);
  });
  after(() => d.daemon?.stop());

  test('rsync://host:port/module/path: fetched, mtime kept; again: not-modified', async () => {
    const { dir, dest } = staging();
    let progress = 0;
    const r = await fetchSource(opts(d.url('list.txt'), dest, { onProgress: (b) => (progress = b) }));
    assert.deepEqual(r, { status: 'fetched', bytes: LIST.length, validators: { lastModified: T0.toUTCString() }, finalUrl: d.url('list.txt') });
    assert.equal(readFileSync(dest, 'utf8'), LIST);
    assert.equal(statSync(dest).mtime.getTime(), T0.getTime());
    assert.equal(progress, LIST.length);
    assert.deepEqual(listDir(dir), ['source.txt']);
    // the staging copy is still there: rsync's quick-check finds nothing to do
    assert.deepEqual(await fetchSource(opts(d.url('list.txt'), dest)), { status: 'not-modified' });
    assert.equal(readFileSync(dest, 'utf8'), LIST);
  });

  test('an upstream change is fetched over the staging copy', async () => {
    const { dest } = staging();
    d.put('changing.txt', 'version 1\n');
    assert.equal((await fetchSource(opts(d.url('changing.txt'), dest))).status, 'fetched');
    d.put('changing.txt', 'version 2, longer\n', new Date(T0.getTime() + 3600_000));
    const r = await fetchSource(opts(d.url('changing.txt'), dest));
    assert.equal(r.status, 'fetched');
    assert.equal(readFileSync(dest, 'utf8'), 'version 2, longer\n');
  });

  test('with no staging copy, the last good copy (basis) seeds the quick-check and is never written', async () => {
    const { dir, dest } = staging();
    const good = join(tmpDir(), 'current');
    copyFileSync(join(d.mod, 'list.txt'), good);
    utimesSync(good, T0, T0);
    const r = await fetchSource(opts(d.url('list.txt'), dest, { basis: good }));
    assert.deepEqual(r, { status: 'not-modified' });
    assert.deepEqual(listDir(dir), [], 'the seeded copy is removed again');

    d.put('list2.txt', LIST + '198.51.100.1\n', new Date(T0.getTime() + 60_000));
    const r2 = await fetchSource(opts(d.url('list2.txt'), dest, { basis: good }));
    assert.equal(r2.status, 'fetched');
    assert.equal(readFileSync(dest, 'utf8'), LIST + '198.51.100.1\n');
    assert.equal(readFileSync(good, 'utf8'), LIST);
    assert.equal(statSync(good).mtime.getTime(), T0.getTime());
  });

  test('a missing remote file: rsync stderr in the error, not retryable, nothing written', async () => {
    const { dir, dest } = staging();
    const e = await fails(fetchSource(opts(d.url('nothere.txt'), dest, { retries: 2 })), /rsync exit 23: .*No such file or directory/);
    assert.equal(e.retryable, false);
    assert.match(e.message, /^rsync:\/\/127\.0\.0\.1:\d+\/m\/nothere\.txt: /);
    assert.deepEqual(listDir(dir), []);
  });

  test('a file over the size cap is refused (--max-size)', async () => {
    const { dir, dest } = staging();
    d.put('big.bin', randomBytes(300_000));
    const e = await fails(fetchSource(opts(d.url('big.bin'), dest, { maxBytes: 100_000 })), /exceeds the size cap of 100000/);
    assert.equal(e.retryable, false);
    assert.deepEqual(listDir(dir), []);
  });

  test('a server that accepts and never speaks: bounded by the total timeout', async () => {
    const socks = new Set<Socket>();
    const mute = createServer((s) => socks.add(s));
    await new Promise<void>((r) => mute.listen(0, '127.0.0.1', r));
    const port = (mute.address() as { port: number }).port;
    try {
      const { dir, dest } = staging();
      const e = await fails(
        fetchSource(opts(`rsync://127.0.0.1:${port}/m/list.txt`, dest, { connectTimeoutMs: 1000, timeoutMs: 1500 })),
        /timed out after 1500 ms/,
      );
      assert.equal(e.retryable, true);
      assert.deepEqual(listDir(dir), []);
    } finally {
      for (const s of socks) s.destroy();
      mute.close();
    }
  });

  test('host::module/path form (daemon on port 873 of a random 127/8 address)', { skip: process.getuid?.() === 0 ? false : 'needs root to bind port 873' }, async () => {
    const addr = `127.${1 + Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250)}.${1 + Math.floor(Math.random() * 250)}`;
    const d873 = await new RsyncDaemon(addr, 873).start();
    try {
      d873.put('list.txt', LIST);
      const { dest } = staging();
      const r = await fetchSource(opts(`${addr}::m/list.txt`, dest));
      assert.equal(r.status, 'fetched');
      assert.equal(readFileSync(dest, 'utf8'), LIST);
      assert.deepEqual(await fetchSource(opts(`${addr}::m/list.txt`, dest)), { status: 'not-modified' });
    } finally {
      await d873.daemon.stop();
    }
  });
});

describe('rsync daemon killed mid-transfer', { skip }, () => {
  test('FetchError with rsync\'s message, partial file removed, the older copy untouched', async () => {
    const d = await new RsyncDaemon().start();
    // throttled relay: ~1.3 MB/s, so an 8 MB file is surely still in flight when the daemon dies
    const relay = await new Relay(d.port, { bytesPerTick: 64 * 1024 }).start();
    try {
      d.put('big.bin', randomBytes(8 * 1024 * 1024));
      const { dir, dest } = staging();
      mkdirSync(dir, { recursive: true });
      writeFileSync(dest, 'older staging copy\n');
      const fetching = fetchSource(opts(`rsync://127.0.0.1:${relay.port}/m/big.bin`, dest, { retries: 0 }));
      // rsync's temp file (".source.txt.XXXXXX") appears once data flows: kill the daemon then
      await waitFor(() => listDir(dir).some((n) => /^\.source\.txt\.\w{6}$/.test(n)), 'the transfer to start', 15_000);
      d.daemon.kill('SIGKILL');
      const e = await fails(fetching, /rsync (exit \d+|killed by \w+): .+/);
      assert.equal(e.retryable, true);
      assert.deepEqual(listDir(dir), ['source.txt'], 'no partial file left');
      assert.equal(readFileSync(dest, 'utf8'), 'older staging copy\n');
      assert.equal(existsSync(join(dir, 'big.bin')), false);
    } finally {
      await relay.stop();
      await d.daemon.stop();
    }
  });
});
