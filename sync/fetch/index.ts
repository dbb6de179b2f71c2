// fetchSource(): brings one source's data into its staging file, by the transport its URL names.
//
//   http(s)://...                HTTP GET; conditional with the stored ETag / Last-Modified (304 ->
//                                'not-modified', nothing written); Content-Encoding gzip/deflate/br is
//                                decoded, a .gz file served as such is kept compressed (the parser
//                                gunzips by magic); redirects followed up to maxRedirects.
//   rsync://host[:port]/mod/path the system rsync binary (--times --timeout --contimeout --max-size),
//   host::mod/path               quick-check against an existing staging copy (or one seeded from
//                                opts.basis); 'not-modified' when rsync transferred nothing.
//   axfr://server[:port]/zone    DNS zone transfer over TCP, optional TSIG; written as an rbldnsd
//                                `generic` dataset (see axfr.ts for the format); etag = SOA serial,
//                                checked with a SOA query first.
//   file:///abs/path, a path     a local copy; etag = "<size>-<mtime ms>".
//
// Timeouts: connectTimeoutMs bounds connecting (TCP + TLS handshake); timeoutMs bounds one whole
// attempt. Retryable failures (5xx, 408, 429, timeouts, connection errors, truncated bodies, rsync
// network exit codes) are retried `retries` times with exponential backoff and jitter, so the
// worst case is about (retries + 1) * timeoutMs plus the backoff; pass `signal` for a hard bound.
// Errors are FetchError { message naming the URL and the cause, retryable }.

import { fetchAxfr } from './axfr.ts';
import { fetchFile } from './file.ts';
import { fetchHttp } from './http.ts';
import { fetchRsync } from './rsync.ts';
import { FetchError, redactUrl, type FetchOptions, type FetchResult } from './types.ts';
import { fetchKind } from './url.ts';

export { FetchError, redactUrl } from './types.ts';
export type { FetchOptions, FetchResult, TsigKey, Validators } from './types.ts';
export { fetchKind, type FetchKind } from './url.ts';

export async function fetchSource(opts: FetchOptions): Promise<FetchResult> {
  const kind = fetchKind(opts.url);
  if (kind === null) throw new FetchError(opts.url, `unsupported URL scheme in ${redactUrl(opts.url)}`, false);
  if (!(opts.maxBytes > 0)) throw new FetchError(opts.url, 'maxBytes must be positive', false);
  switch (kind) {
    case 'http':
      return fetchHttp(opts);
    case 'rsync':
      return fetchRsync(opts);
    case 'axfr':
      return fetchAxfr(opts);
    case 'file':
      return fetchFile(opts);
  }
}
