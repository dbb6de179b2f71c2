// Retries with exponential backoff and jitter. Only FetchErrors marked retryable are retried; a
// server's Retry-After is honoured when it is not longer than RETRY_AFTER_CAP_MS (beyond that we
// give up now and let the schedule try later, rather than hold a sync for an hour).

import { FetchError } from './types.ts';

export const RETRY_AFTER_CAP_MS = 120_000;
const BACKOFF_CAP_MS = 30_000;

export function backoffMs(attempt: number, baseMs: number): number {
  const exp = Math.min(BACKOFF_CAP_MS, baseMs * 2 ** attempt);
  return exp / 2 + Math.random() * (exp / 2); // "equal jitter": never 0, spreads clients out
}

export async function withRetries<T>(
  url: string,
  retries: number,
  baseMs: number,
  signal: AbortSignal | undefined,
  run: () => Promise<T>,
): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await run();
    } catch (err) {
      if (!(err instanceof FetchError) || !err.retryable || attempt >= retries) throw err;
      let wait = backoffMs(attempt, baseMs);
      if (err.retryAfterMs !== undefined) {
        if (err.retryAfterMs > RETRY_AFTER_CAP_MS) throw err;
        wait = Math.max(wait, err.retryAfterMs);
      }
      await sleep(wait, signal, url);
    }
  }
}

function sleep(ms: number, signal: AbortSignal | undefined, url: string): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new FetchError(url, 'aborted', false));
    const onAbort = () => {
      clearTimeout(t);
      reject(new FetchError(url, 'aborted', false));
    };
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
