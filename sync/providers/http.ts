// One bounded HTTP GET for provider feeds (JSON documents of a few hundred KB): a timeout per
// request, a size cap, and errors that name the URL and the status. No retries here: the M365
// service answers 429 when asked too often, so hammering it is the wrong reaction.

export class ProviderHttpError extends Error {
  readonly status: number | undefined;
  constructor(message: string, status?: number) {
    super(message);
    this.name = 'ProviderHttpError';
    this.status = status;
  }
}

export interface GetOptions {
  timeoutMs?: number;
  maxBytes?: number;
  userAgent?: string;
  signal?: AbortSignal;
}

/** GETs a URL and parses its body as JSON. */
export async function getJson(url: string, opts: GetOptions = {}): Promise<unknown> {
  const text = await getText(url, opts);
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new ProviderHttpError(`${hideQuery(url)}: not JSON (${(e as Error).message})`);
  }
}

export async function getText(url: string, opts: GetOptions = {}): Promise<string> {
  const timeout = AbortSignal.timeout(opts.timeoutMs ?? 30_000);
  const signal = opts.signal ? AbortSignal.any([timeout, opts.signal]) : timeout;
  const maxBytes = opts.maxBytes ?? 16 * 1024 * 1024;
  let res: Response;
  try {
    res = await fetch(url, { signal, headers: { 'User-Agent': opts.userAgent ?? 'quorumbl', Accept: 'application/json, text/plain, */*' } });
  } catch (e) {
    const why = timeout.aborted ? `no answer within ${opts.timeoutMs ?? 30_000} ms` : ((e as Error).cause as Error | undefined)?.message ?? (e as Error).message;
    throw new ProviderHttpError(`${hideQuery(url)}: ${why}`);
  }
  if (!res.ok) {
    const retry = res.headers.get('retry-after');
    await res.body?.cancel();
    throw new ProviderHttpError(`${hideQuery(url)}: HTTP ${res.status}${retry ? ` (Retry-After: ${retry})` : ''}`, res.status);
  }
  const chunks: Uint8Array[] = [];
  let n = 0;
  try {
    for await (const c of res.body ?? []) {
      n += c.length;
      if (n > maxBytes) {
        await res.body?.cancel();
        throw new ProviderHttpError(`${hideQuery(url)}: body larger than ${maxBytes} bytes`);
      }
      chunks.push(c);
    }
  } catch (e) {
    if (e instanceof ProviderHttpError) throw e;
    throw new ProviderHttpError(`${hideQuery(url)}: ${timeout.aborted ? 'timed out reading the body' : (e as Error).message}`);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** The URL without its query (the M365 client request id is per installation: keep it out of logs). */
export function hideQuery(url: string): string {
  const q = url.indexOf('?');
  return q < 0 ? url : `${url.slice(0, q)}?…`;
}
