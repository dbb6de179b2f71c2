// Fetcher interface shared by every transport (sync design, issue 3). The engine gives a staging
// path; a fetcher writes it completely (temp file + rename in the same directory) or not at all.

export interface Validators {
  etag?: string;
  lastModified?: string;
}

export type { TsigKey } from '../../core/dns/tsig.ts';
import type { TsigKey } from '../../core/dns/tsig.ts';

export interface FetchOptions {
  url: string;
  /** staging file path to write (its directory is created if missing) */
  dest: string;
  validators?: Validators;
  connectTimeoutMs: number;
  /** bound of ONE attempt (connect + transfer + redirects); retries get a fresh budget */
  timeoutMs: number;
  maxBytes: number;
  maxRedirects: number;
  /** extra attempts after the first one, for retryable failures only */
  retries: number;
  userAgent: string;
  signal?: AbortSignal;
  tsig?: TsigKey;
  onProgress?: (bytes: number) => void;
  /** Added field: the last good copy. rsync seeds a missing staging file from it (copy with its
   *  mtime) so the quick-check and delta transfer work after the engine renamed staging away.
   *  Only ever read. */
  basis?: string;
  /** Added field: first retry delay in ms (default 1000), doubled per retry, with jitter. */
  retryBaseMs?: number;
}

export type FetchResult =
  | { status: 'fetched'; bytes: number; validators: Validators; finalUrl?: string }
  | { status: 'not-modified' };

export class FetchError extends Error {
  readonly retryable: boolean;
  readonly url: string;
  /** ms the server asked us to wait (HTTP Retry-After), when it did */
  retryAfterMs?: number;

  constructor(url: string, cause: string, retryable: boolean, opts?: { retryAfterMs?: number; cause?: unknown }) {
    super(`${redactUrl(url)}: ${cause}`, opts?.cause !== undefined ? { cause: opts.cause } : undefined);
    this.name = 'FetchError';
    this.url = url;
    this.retryable = retryable;
    if (opts?.retryAfterMs !== undefined) this.retryAfterMs = opts.retryAfterMs;
  }
}

/** URLs may carry credentials (user:pass@host); never put them in logs or errors. */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@\s]*@/i, '$1***@');
}
