import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer as createTcpServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { FetchError, fetchSource } from '../../../sync/fetch/index.ts';
import { parseRetryAfter } from '../../../sync/fetch/http.ts';
import { baseOptions, listDir, tmpDir } from './helpers.ts';
import { ETAG, FixtureServer, LAST_MODIFIED, LIST, LIST_GZ } from './http-server.ts';

const srv = new FixtureServer();
before(() => srv.start());
after(() => srv.stop());

function staging(): { dir: string; dest: string } {
  const dir = tmpDir();
  return { dir, dest: join(dir, 'staging.txt') };
}

async function fails(p: Promise<unknown>, re: RegExp): Promise<FetchError> {
  let err: unknown;
  await p.then(
    () => assert.fail('expected a FetchError'),
    (e) => (err = e),
  );
  assert.ok(err instanceof FetchError, `not a FetchError: ${String(err)}`);
  assert.match(err.message, re);
  return err;
}

describe('http fetch: content and validators', () => {
  test('a 200 is written to dest with its validators, sending the User-Agent', async () => {
    const { dir, dest } = staging();
    let progress = 0;
    const r = await fetchSource(baseOptions(srv.url('/list.txt'), dest, { onProgress: (b) => (progress = b) }));
    assert.deepEqual(r, {
      status: 'fetched',
      bytes: LIST.length,
      validators: { etag: ETAG, lastModified: LAST_MODIFIED },
      finalUrl: srv.url('/list.txt'),
    });
    assert.deepEqual(readFileSync(dest), LIST);
    assert.deepEqual(listDir(dir), ['staging.txt']);
    assert.equal(progress, LIST.length);
    const hit = srv.hits.at(-1)!;
    assert.equal(hit.headers['user-agent'], 'quorumbl-test/0.1 (+https://example.invalid/quorumbl)');
    assert.match(String(hit.headers['accept-encoding']), /gzip/);
  });

  test('a 304 to If-None-Match is not-modified and leaves the staging dir alone', async () => {
    const { dir, dest } = staging();
    writeFileSync(dest, 'previous staging copy');
    const r = await fetchSource(baseOptions(srv.url('/list.txt'), dest, { validators: { etag: ETAG } }));
    assert.deepEqual(r, { status: 'not-modified' });
    assert.equal(srv.hits.at(-1)!.headers['if-none-match'], ETAG);
    assert.equal(readFileSync(dest, 'utf8'), 'previous staging copy');
    assert.deepEqual(listDir(dir), ['staging.txt']);
  });

  test('If-Modified-Since alone also gets a 304; a changed ETag gets the body', async () => {
    const { dest } = staging();
    const r1 = await fetchSource(baseOptions(srv.url('/list.txt'), dest, { validators: { lastModified: LAST_MODIFIED } }));
    assert.deepEqual(r1, { status: 'not-modified' });
    assert.equal(srv.hits.at(-1)!.headers['if-modified-since'], LAST_MODIFIED);
    const r2 = await fetchSource(baseOptions(srv.url('/list.txt'), dest, { validators: { etag: '"old"' } }));
    assert.equal(r2.status, 'fetched');
    assert.deepEqual(readFileSync(dest), LIST);
  });

  test('Content-Encoding gzip and deflate are decoded', async () => {
    for (const path of ['/gzip/list.txt', '/deflate/list.txt']) {
      const { dest } = staging();
      const r = await fetchSource(baseOptions(srv.url(path), dest));
      assert.equal(r.status, 'fetched');
      assert.deepEqual(readFileSync(dest), LIST, path);
    }
  });

  test('a .gz file without Content-Encoding is stored compressed (the parser gunzips)', async () => {
    const { dest } = staging();
    const r = await fetchSource(baseOptions(srv.url('/list.txt.gz'), dest));
    assert.equal(r.status, 'fetched');
    assert.deepEqual(readFileSync(dest), LIST_GZ);
    assert.deepEqual(gunzipSync(readFileSync(dest)), LIST);
  });

  test('an empty 200 body is fetched with 0 bytes (guards decide)', async () => {
    const { dest } = staging();
    const r = await fetchSource(baseOptions(srv.url('/empty'), dest));
    assert.deepEqual(r, { status: 'fetched', bytes: 0, validators: { etag: '"empty"' }, finalUrl: srv.url('/empty') });
    assert.equal(readFileSync(dest).length, 0);
  });
});

describe('http fetch: redirects', () => {
  test('redirects are followed up to maxRedirects and finalUrl names the last hop', async () => {
    const { dest } = staging();
    const r = await fetchSource(baseOptions(srv.url('/redirect?3'), dest, { maxRedirects: 3 }));
    assert.equal(r.status, 'fetched');
    assert.equal(r.status === 'fetched' && r.finalUrl, srv.url('/list.txt'));
    assert.deepEqual(readFileSync(dest), LIST);
  });

  test('one redirect too many is an error and writes nothing', async () => {
    const { dir, dest } = staging();
    const e = await fails(fetchSource(baseOptions(srv.url('/redirect?3'), dest, { maxRedirects: 2 })), /too many redirects/);
    assert.equal(e.retryable, false);
    assert.match(e.message, /redirect\?3/); // the message names the URL
    assert.deepEqual(listDir(dir), []);
  });

  test('a redirect loop is detected', async () => {
    const { dest } = staging();
    const e = await fails(fetchSource(baseOptions(srv.url('/loop-a'), dest, { maxRedirects: 10 })), /redirect loop/);
    assert.equal(e.retryable, false);
  });
});

describe('http fetch: retries', () => {
  test('HTTP 500 then success: retried with backoff, fetched', async () => {
    const { dest } = staging();
    const r = await fetchSource(baseOptions(srv.url('/flaky?2'), dest, { retries: 3 }));
    assert.equal(r.status, 'fetched');
    assert.equal(srv.count('/flaky?2'), 3);
    assert.deepEqual(readFileSync(dest), LIST);
  });

  test('5xx that persists: every retry used, retryable error, nothing written', async () => {
    const { dir, dest } = staging();
    const e = await fails(fetchSource(baseOptions(srv.url('/always-500'), dest, { retries: 2 })), /HTTP 503/);
    assert.equal(e.retryable, true);
    assert.equal(srv.count('/always-500'), 3);
    assert.deepEqual(listDir(dir), []);
  });

  test('4xx is not retried', async () => {
    const { dest } = staging();
    const e = await fails(fetchSource(baseOptions(srv.url('/not-found'), dest, { retries: 3 })), /HTTP 404/);
    assert.equal(e.retryable, false);
    assert.equal(srv.count('/not-found'), 1);
  });

  test('429 with Retry-After is honoured, then fetched', async () => {
    const { dest } = staging();
    const r = await fetchSource(baseOptions(srv.url('/too-many?1'), dest, { retries: 1 }));
    assert.equal(r.status, 'fetched');
    assert.equal(srv.count('/too-many?1'), 2);
  });

  test('429 asking for longer than the cap gives up at once (retryable for the schedule)', async () => {
    const { dest } = staging();
    const e = await fails(fetchSource(baseOptions(srv.url('/too-many?3600'), dest, { retries: 3 })), /HTTP 429.*Retry-After 3600/);
    assert.equal(e.retryable, true);
    assert.equal(srv.count('/too-many?3600'), 1);
  });

  test('Retry-After parses seconds and HTTP dates', () => {
    assert.equal(parseRetryAfter('120'), 120_000);
    assert.equal(parseRetryAfter(undefined), undefined);
    assert.equal(parseRetryAfter('soon'), undefined);
    const ms = parseRetryAfter(new Date(Date.now() + 60_000).toUTCString())!;
    assert.ok(ms > 50_000 && ms <= 60_000);
  });
});

describe('http fetch: faults end in a FetchError and leave no file', () => {
  test('a server that never answers: total timeout', async () => {
    const { dir, dest } = staging();
    const e = await fails(fetchSource(baseOptions(srv.url('/hang'), dest, { timeoutMs: 500 })), /timed out after 500 ms/);
    assert.equal(e.retryable, true);
    assert.deepEqual(listDir(dir), []);
  });

  test('a slow drip: total timeout, partial file removed', async () => {
    const { dir, dest } = staging();
    let seen = 0;
    const e = await fails(
      fetchSource(baseOptions(srv.url('/drip'), dest, { timeoutMs: 700, onProgress: (b) => (seen = b) })),
      /timed out/,
    );
    assert.equal(e.retryable, true);
    assert.ok(seen > 0, 'some bytes arrived before the timeout');
    assert.deepEqual(listDir(dir), []);
  });

  test('a peer that accepts and never completes the TLS handshake: connect timeout', async () => {
    const socks = new Set<Socket>();
    const mute = createTcpServer((s) => socks.add(s));
    await new Promise<void>((r) => mute.listen(0, '127.0.0.1', r));
    const port = (mute.address() as { port: number }).port;
    try {
      const { dest } = staging();
      const e = await fails(
        fetchSource(baseOptions(`https://127.0.0.1:${port}/list.txt`, dest, { connectTimeoutMs: 300, timeoutMs: 20_000 })),
        /connect timed out after 300 ms/,
      );
      assert.equal(e.retryable, true);
    } finally {
      for (const s of socks) s.destroy();
      mute.close();
    }
  });

  test('connection refused is a retryable error', async () => {
    const probe = createTcpServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const port = (probe.address() as { port: number }).port;
    await new Promise<void>((r) => probe.close(() => r()));
    const { dest } = staging();
    const e = await fails(fetchSource(baseOptions(`http://127.0.0.1:${port}/`, dest)), /ECONNREFUSED/);
    assert.equal(e.retryable, true);
  });

  test('a body shorter than its Content-Length', async () => {
    const { dir, dest } = staging();
    const e = await fails(fetchSource(baseOptions(srv.url('/truncated'), dest)), /(closed before the body was complete|truncated).*1000/);
    assert.equal(e.retryable, true);
    assert.deepEqual(listDir(dir), []);
  });

  test('a chunked body cut off before its last chunk', async () => {
    const { dir, dest } = staging();
    await fails(fetchSource(baseOptions(srv.url('/truncated-chunked'), dest)), /closed before the body was complete|truncated/);
    assert.deepEqual(listDir(dir), []);
  });

  test('Content-Length over the size cap is refused before reading', async () => {
    const { dir, dest } = staging();
    const e = await fails(fetchSource(baseOptions(srv.url('/big'), dest, { maxBytes: 1024 * 1024 })), /Content-Length 2097152 exceeds the size cap/);
    assert.equal(e.retryable, false);
    assert.deepEqual(listDir(dir), []);
  });

  test('a chunked body growing past the size cap is aborted', async () => {
    const { dir, dest } = staging();
    await fails(fetchSource(baseOptions(srv.url('/big-chunked'), dest, { maxBytes: 1024 * 1024 })), /exceeds the size cap of 1048576/);
    assert.deepEqual(listDir(dir), []);
  });

  test('a gzip body that decodes past the size cap is aborted', async () => {
    const { dir, dest } = staging();
    await fails(fetchSource(baseOptions(srv.url('/gzip-bomb'), dest, { maxBytes: 1024 * 1024 })), /decoded body exceeds the size cap/);
    assert.deepEqual(listDir(dir), []);
  });

  test('gzip garbage is an error, not a file', async () => {
    const { dir, dest } = staging();
    const e = await fails(fetchSource(baseOptions(srv.url('/gzip-garbage'), dest, { retries: 2 })), /not valid gzip/);
    assert.equal(e.retryable, false);
    assert.equal(srv.count('/gzip-garbage'), 1);
    assert.deepEqual(listDir(dir), []);
  });

  test('a failure never touches an existing staging copy', async () => {
    const { dest } = staging();
    writeFileSync(dest, 'older copy');
    await fails(fetchSource(baseOptions(srv.url('/truncated'), dest)), /./);
    assert.equal(readFileSync(dest, 'utf8'), 'older copy');
  });

  test('the caller can abort; backoff sleeps end too', async () => {
    const { dest } = staging();
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 200);
    const e = await fails(
      fetchSource(baseOptions(srv.url('/always-500'), dest, { retries: 5, retryBaseMs: 60_000, signal: ac.signal })),
      /aborted/,
    );
    assert.equal(e.retryable, false);
  });

  test('unsupported schemes are refused', async () => {
    const { dest } = staging();
    await fails(fetchSource(baseOptions('ftp://127.0.0.1/list.txt', dest)), /unsupported URL scheme/);
  });
});
