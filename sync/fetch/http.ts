// HTTP(S) fetcher: conditional GET, Content-Encoding (gzip/deflate/br) decoded, bounded manual
// redirects, connect + total timeouts, a size cap, truncation detection. A `.gz` file served
// without Content-Encoding is stored as-is: the parser layer gunzips by magic bytes (a server that
// labels a .gz file `Content-Encoding: gzip` gets it decoded here instead; both end the same).
// The size cap applies to the bytes on the wire and to the decoded bytes (gzip bombs).

import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import { pipeline, Transform, type Readable } from 'node:stream';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';
import { asFetchError, startAttempt, type Attempt } from './attempt.ts';
import { withRetries } from './retry.ts';
import { StagingFile } from './staging.ts';
import { FetchError, redactUrl, type FetchOptions, type FetchResult, type Validators } from './types.ts';

const REDIRECT = new Set([301, 302, 303, 307, 308]);

export function fetchHttp(opts: FetchOptions): Promise<FetchResult> {
  return withRetries(opts.url, opts.retries, opts.retryBaseMs ?? 1000, opts.signal, () => attempt(opts));
}

async function attempt(opts: FetchOptions): Promise<FetchResult> {
  const att = startAttempt(opts.url, opts.timeoutMs, opts.signal);
  let staging: StagingFile | null = null;
  let url = opts.url;
  const where = () => (url === opts.url ? '' : ` (at ${redactUrl(url)})`);
  try {
    const seen = new Set<string>([url]);
    for (let hop = 0; ; hop++) {
      const res = await request(url, opts, att);
      const status = res.statusCode ?? 0;
      if (REDIRECT.has(status)) {
        res.destroy();
        const loc = res.headers.location;
        if (!loc) throw new FetchError(opts.url, `HTTP ${status} without a Location header${where()}`, false);
        const next = new URL(loc, url);
        if (next.protocol !== 'http:' && next.protocol !== 'https:') {
          throw new FetchError(opts.url, `redirect to unsupported scheme ${next.protocol}${where()}`, false);
        }
        if (seen.has(next.href)) throw new FetchError(opts.url, `redirect loop (back to ${redactUrl(next.href)})`, false);
        if (hop >= opts.maxRedirects) throw new FetchError(opts.url, `too many redirects (limit ${opts.maxRedirects})`, false);
        seen.add(next.href);
        url = next.href;
        continue;
      }
      if (status === 304 && (opts.validators?.etag || opts.validators?.lastModified)) {
        res.destroy();
        return { status: 'not-modified' };
      }
      if (status < 200 || status > 299) {
        res.destroy();
        throw statusError(opts.url, status, res, where());
      }
      staging = await StagingFile.create(opts.dest);
      await readBody(res, opts, staging, where());
      await staging.commit();
      const validators: Validators = {};
      const etag = res.headers.etag;
      const lm = res.headers['last-modified'];
      if (etag) validators.etag = etag;
      if (lm) validators.lastModified = lm;
      return { status: 'fetched', bytes: staging.bytes, validators, finalUrl: url };
    }
  } catch (err) {
    await staging?.discard();
    const fe = asFetchError(opts.url, err, att.signal);
    throw fe;
  } finally {
    att.done();
  }
}

function request(url: string, opts: FetchOptions, att: Attempt): Promise<IncomingMessage> {
  const u = new URL(url);
  const tls = u.protocol === 'https:';
  const headers: Record<string, string> = {
    'User-Agent': opts.userAgent,
    Accept: '*/*',
    'Accept-Encoding': 'gzip, deflate, br',
  };
  if (opts.validators?.etag) headers['If-None-Match'] = opts.validators.etag;
  if (opts.validators?.lastModified) headers['If-Modified-Since'] = opts.validators.lastModified;
  return new Promise((resolve, reject) => {
    att.check();
    const req = (tls ? https : http).request(u, { method: 'GET', headers, agent: false }, resolve);
    const onAbort = () => req.destroy(att.signal.reason);
    att.signal.addEventListener('abort', onAbort, { once: true });
    req.on('error', reject);
    req.on('socket', (sock) => {
      // the TLS handshake counts as connecting: a peer that accepts and never talks is caught here
      const t = setTimeout(
        () => req.destroy(new FetchError(opts.url, `connect timed out after ${opts.connectTimeoutMs} ms`, true)),
        opts.connectTimeoutMs,
      );
      sock.once(tls ? 'secureConnect' : 'connect', () => clearTimeout(t));
      sock.once('close', () => clearTimeout(t));
    });
    req.end();
  });
}

async function readBody(res: IncomingMessage, opts: FetchOptions, out: StagingFile, where: string): Promise<void> {
  const max = opts.maxBytes;
  const tooBig = (what: string) => new FetchError(opts.url, `${what} exceeds the size cap of ${max} bytes${where}`, false);
  const clHeader = res.headers['content-length'];
  const cl = clHeader !== undefined && /^\d+$/.test(clHeader) ? Number(clHeader) : undefined;
  if (cl !== undefined && cl > max) throw tooBig(`Content-Length ${cl}`);

  const enc = (res.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
  let decoder: Transform | null;
  if (enc === 'gzip' || enc === 'x-gzip') decoder = createGunzip();
  else if (enc === 'deflate') decoder = createInflate();
  else if (enc === 'br') decoder = createBrotliDecompress();
  else if (enc === 'identity' || enc === '') decoder = null;
  else throw new FetchError(opts.url, `unsupported Content-Encoding '${enc}'${where}`, false);

  let raw = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      raw += chunk.length;
      if (raw > max) cb(tooBig('body'));
      else cb(null, chunk);
    },
  });
  const streams: (Readable | Transform)[] = decoder ? [res, counter, decoder] : [res, counter];
  // pipeline turns a premature close of the response into an error on the last stream
  const body = (pipeline as (...s: unknown[]) => Readable)(...streams, () => {});
  try {
    for await (const chunk of body as AsyncIterable<Buffer>) {
      if (out.bytes + chunk.length > max) throw tooBig('decoded body');
      await out.write(chunk);
      opts.onProgress?.(out.bytes);
    }
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? '';
    if (code.startsWith('Z_') || code === 'ERR_BROTLI_DECOMPRESSION_FAILED' || /^ERR__?ZLIB/.test(code)) {
      throw new FetchError(opts.url, `body is not valid ${enc} data: ${(err as Error).message}${where}`, false, { cause: err });
    }
    if (code === 'ERR_STREAM_PREMATURE_CLOSE' || code === 'ECONNRESET') {
      throw new FetchError(opts.url, `connection closed before the body was complete (${raw} bytes received${cl !== undefined ? ` of ${cl}` : ''})${where}`, true, { cause: err });
    }
    throw err;
  }
  if (!res.complete || (cl !== undefined && raw !== cl)) {
    throw new FetchError(opts.url, `truncated body: ${raw} bytes received${cl !== undefined ? `, Content-Length ${cl}` : ''}${where}`, true);
  }
}

function statusError(url: string, status: number, res: IncomingMessage, where: string): FetchError {
  const retryable = status >= 500 || status === 408 || status === 429;
  const ra = status === 429 || status === 503 ? parseRetryAfter(res.headers['retry-after']) : undefined;
  const reason = res.statusMessage ? ` ${res.statusMessage}` : '';
  const hint = ra !== undefined ? ` (Retry-After ${Math.ceil(ra / 1000)} s)` : '';
  return new FetchError(url, `HTTP ${status}${reason}${hint}${where}`, retryable, ra !== undefined ? { retryAfterMs: ra } : undefined);
}

/** Retry-After: delta-seconds or an HTTP date. */
export function parseRetryAfter(v: string | undefined): number | undefined {
  if (!v) return undefined;
  const s = v.trim();
  if (/^\d+$/.test(s)) return Number(s) * 1000;
  const t = Date.parse(s);
  return Number.isNaN(t) ? undefined : Math.max(0, t - Date.now());
}
