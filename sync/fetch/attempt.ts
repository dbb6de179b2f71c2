// One attempt's budget: a signal that fires on the caller's abort or when the attempt's total
// time is spent. Fetchers watch `signal` and throw `signal.reason` (always a FetchError).

import { FetchError } from './types.ts';

export interface Attempt {
  signal: AbortSignal;
  /** throws the abort reason if the attempt was cancelled */
  check(): void;
  done(): void;
}

export function startAttempt(url: string, timeoutMs: number, outer?: AbortSignal): Attempt {
  const ac = new AbortController();
  const timer = setTimeout(
    () => ac.abort(new FetchError(url, `timed out after ${timeoutMs} ms (total timeout)`, true)),
    timeoutMs,
  );
  const onOuter = () => ac.abort(new FetchError(url, 'aborted', false));
  if (outer?.aborted) onOuter();
  else outer?.addEventListener('abort', onOuter, { once: true });
  return {
    signal: ac.signal,
    check() {
      if (ac.signal.aborted) throw ac.signal.reason;
    },
    done() {
      clearTimeout(timer);
      outer?.removeEventListener('abort', onOuter);
    },
  };
}

/** Converts anything thrown during an attempt into a FetchError (an abort reason wins). */
export function asFetchError(url: string, err: unknown, signal: AbortSignal, retryable = true): FetchError {
  if (signal.aborted && signal.reason instanceof FetchError) return signal.reason;
  if (err instanceof FetchError) return err;
  const e = err as NodeJS.ErrnoException;
  const msg = e?.code ? `${e.message} (${e.code})` : String(e?.message ?? err);
  return new FetchError(url, msg, retryable, { cause: err });
}
