// Local file source: copied into the staging path (temp + rename), mtime preserved. Validators:
// etag = "<size>-<mtime ms>", lastModified = the mtime as an HTTP date. When the stored etag
// equals the file's current one the result is 'not-modified' and nothing is read.

import { copyFile, stat, utimes } from 'node:fs/promises';
import { mkdir, rename, unlink } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FetchError, type FetchOptions, type FetchResult } from './types.ts';

export function filePathOf(url: string): string {
  return /^file:/i.test(url) ? fileURLToPath(url) : resolve(url);
}

export function fileEtag(size: number, mtimeMs: number): string {
  return `${size}-${Math.trunc(mtimeMs)}`;
}

export async function fetchFile(opts: FetchOptions): Promise<FetchResult> {
  if (opts.signal?.aborted) throw new FetchError(opts.url, 'aborted', false);
  let src: string;
  try {
    src = filePathOf(opts.url);
  } catch (err) {
    throw new FetchError(opts.url, `not a usable file URL: ${(err as Error).message}`, false);
  }
  const before = await stat(src).catch((err: NodeJS.ErrnoException) => {
    throw new FetchError(opts.url, `cannot read ${src}: ${err.code ?? err.message}`, false, { cause: err });
  });
  if (!before.isFile()) throw new FetchError(opts.url, `${src} is not a regular file`, false);
  const etag = fileEtag(before.size, before.mtimeMs);
  if (opts.validators?.etag === etag) return { status: 'not-modified' };
  if (before.size > opts.maxBytes) {
    throw new FetchError(opts.url, `file size ${before.size} exceeds the size cap of ${opts.maxBytes} bytes`, false);
  }
  await mkdir(dirname(opts.dest), { recursive: true });
  const tmp = join(dirname(opts.dest), `.${basename(opts.dest)}.${randomBytes(6).toString('hex')}.part`);
  try {
    await copyFile(src, tmp);
    const after = await stat(src);
    const copied = await stat(tmp);
    // a writer replacing the file under us would give a mix; the next sync gets a clean copy
    if (after.size !== before.size || after.mtimeMs !== before.mtimeMs || copied.size !== before.size) {
      throw new FetchError(opts.url, `${src} changed while it was being copied`, true);
    }
    await utimes(tmp, before.atime, before.mtime);
    await rename(tmp, opts.dest);
  } catch (err) {
    await unlink(tmp).catch(() => {});
    if (err instanceof FetchError) throw err;
    const e = err as NodeJS.ErrnoException;
    throw new FetchError(opts.url, `copy failed: ${e.message}`, false, { cause: err });
  }
  opts.onProgress?.(before.size);
  return {
    status: 'fetched',
    bytes: before.size,
    validators: { etag, lastModified: before.mtime.toUTCString() },
    finalUrl: src,
  };
}
