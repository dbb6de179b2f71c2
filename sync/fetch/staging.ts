// The staging file is written completely or not at all: data goes to a hidden temp file beside
// `dest` (same directory, so the final rename is atomic) and is renamed over `dest` only after
// it was flushed to disk.

import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, unlink, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

export class StagingFile {
  readonly tmpPath: string;
  bytes = 0;
  private fh: FileHandle | null = null;

  private constructor(readonly dest: string, tmpPath: string) {
    this.tmpPath = tmpPath;
  }

  static async create(dest: string): Promise<StagingFile> {
    await mkdir(dirname(dest), { recursive: true });
    const tmp = join(dirname(dest), `.${basename(dest)}.${randomBytes(6).toString('hex')}.part`);
    const s = new StagingFile(dest, tmp);
    s.fh = await open(tmp, 'wx', 0o644);
    return s;
  }

  async write(chunk: Buffer | string): Promise<void> {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk, 'latin1') : chunk;
    let off = 0;
    while (off < buf.length) {
      const { bytesWritten } = await this.fh!.write(buf, off, buf.length - off);
      off += bytesWritten;
    }
    this.bytes += buf.length;
  }

  /** fsync, close, rename over dest. */
  async commit(): Promise<void> {
    try {
      await this.fh!.sync();
      await this.fh!.close();
      this.fh = null;
      await rename(this.tmpPath, this.dest);
    } catch (err) {
      await this.fh?.close().catch(() => {});
      this.fh = null;
      await unlink(this.tmpPath).catch(() => {});
      throw err;
    }
  }

  /** Drops the temp file; safe to call after commit or twice. */
  async discard(): Promise<void> {
    if (this.fh) {
      await this.fh.close().catch(() => {});
      this.fh = null;
      await unlink(this.tmpPath).catch(() => {});
    }
  }
}
