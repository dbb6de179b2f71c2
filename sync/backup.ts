// `quorumbl backup FILE`: one archive (tar, gzip when FILE ends in .gz/.tgz) holding a consistent
// copy of the state, taken while `serve` runs and writes:
//
//   state/quorumbl.sqlite      the state database, copied with SQLite's online backup API in one
//                              step (one read transaction: a consistent snapshot; WAL lets serve
//                              keep writing meanwhile), then made a self-contained rollback-journal
//                              file without the backup's own sync leases
//   state/sources/<n>/current  each source's last good copy, its quarantined update and snapshot
//   state/snapshots/*.qsnap    the parsed datasets (an instant start when restored to the same path)
//   state/providers/**         provider feed state: last good ranges, status, the M365 client id
//   state/merge/*              the persisted merge evidence and collision counts (a restart answers
//                              bl/wl/dbl from its first packet; a restored serve rebuilds them when
//                              its inputs differ, see sync/merge/persist.ts)
//   config/<name>              the config file in use (absent with the embedded default)
//   manifest.json              last: format, versions, schema version, host, state dir, and each
//                              file's size and SHA-256
//
// Every source's sync lease is held while its files and the database are copied, so no sync or
// `sources accept` replaces a last good copy between the database row and the file. Temp files
// of running or interrupted jobs (staging/, *.part, *.staged, *.tmp-PID, *.PID.tmp) are left out.
//
// The archive is written to FILE.tmp-PID, fsynced, then renamed over FILE (directory fsynced): a
// failure (a full disk) removes the temp file and leaves no FILE, or the previous one untouched.

import Database from 'better-sqlite3';
import { createHash } from 'node:crypto';
import { createWriteStream, existsSync, readdirSync, statSync, type Stats } from 'node:fs';
import { open, rename, rm, stat } from 'node:fs/promises';
import { hostname } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { MIGRATIONS, openDb, schemaVersion, type Db } from '../core/db.ts';
import { diskCodeOf } from '../core/disk.ts';
import { TAR_END, tarHeader, tarPadding } from '../core/tar.ts';
import { SyncLeases, describeHolder, type Lease } from './lease.ts';

export const BACKUP_FORMAT = 'quorumbl-backup';
export const BACKUP_FORMAT_VERSION = 1;
export const MANIFEST_NAME = 'manifest.json';
export const DB_ENTRY = 'state/quorumbl.sqlite';
/** The state database's file name inside the state directory (cli/sync.ts dbPath). */
export const DB_FILE = 'quorumbl.sqlite';

export interface ManifestFile {
  /** Path inside the archive: state/... or config/... */
  path: string;
  size: number;
  sha256: string;
  /** Modification time of the original, unix ms (restored with the file). */
  mtime: number;
}

export interface Manifest {
  format: typeof BACKUP_FORMAT;
  format_version: number;
  quorumbl_version: string;
  /** Migrations applied to the database in the archive (core/db.ts MIGRATIONS). */
  schema_version: number;
  migrations: string[];
  created_at: string;
  host: string;
  /** Absolute state directory the backup was taken from. */
  state_dir: string;
  /** Absolute path of the config file in use, null for the embedded default. */
  config_file: string | null;
  files: ManifestFile[];
}

export class BackupError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'BackupError';
  }
}

export interface BackupOptions {
  stateDir: string;
  /** The config file in use (null: the embedded default, not archived). */
  configFile: string | null;
  /** Sources whose sync lease is held during the copy (the configured ones). */
  sources: readonly string[];
  version: string;
  /** How long to wait for a running sync of a source (ms). */
  waitMs?: number;
  /** Told when a running sync is waited for. */
  onWait?: (message: string) => void;
  /** gzip the archive (default: when the file name ends in .gz or .tgz). */
  gzip?: boolean;
  now?: () => number;
}

export interface BackupResult {
  file: string;
  manifest: Manifest;
  bytes: number;
}

/** Whether a file in the state directory is a temp file of a running or interrupted job. */
function isTemp(name: string): boolean {
  return name.endsWith('.part') || name.endsWith('.staged') || /\.tmp-\d+$/.test(name) || /\.\d+\.tmp$/.test(name) ||
    name.startsWith('.quorumbl-probe-') || name.endsWith('.tmp');
}

/** The state files (besides the database) a backup holds, relative to the state dir. */
export function stateFiles(stateDir: string): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    let names: string[];
    try {
      names = readdirSync(join(stateDir, rel)).sort();
    } catch {
      return;
    }
    for (const n of names) {
      const r = rel ? `${rel}/${n}` : n;
      if (isTemp(n) || n === 'staging') continue;
      let st: Stats;
      try {
        st = statSync(join(stateDir, r));
      } catch {
        continue; // removed meanwhile
      }
      if (st.isDirectory()) walk(r);
      else if (st.isFile()) out.push(r);
    }
  };
  for (const top of ['sources', 'snapshots', 'providers', 'merge']) walk(top);
  return out;
}

function human(n: number): string {
  return n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(1)} MiB` : n >= 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${n} B`;
}
export { human as humanBytes };

/** Takes every source's lease, waiting for running syncs (bounded); releases all on failure. */
async function takeLeases(leases: SyncLeases, sources: readonly string[], waitMs: number, onWait?: (m: string) => void): Promise<Lease[]> {
  const held: Lease[] = [];
  try {
    for (const s of sources) {
      const deadline = Date.now() + waitMs;
      let told = false;
      for (;;) {
        const r = leases.tryAcquire(s);
        if ('lease' in r) {
          held.push(r.lease);
          break;
        }
        if (Date.now() >= deadline) {
          throw new BackupError(`source '${s}' is being synced by ${describeHolder(r.heldBy)} and still was after ${Math.round(waitMs / 1000)} s; try again later`);
        }
        if (!told) onWait?.(`${s}: waiting for the sync running in ${describeHolder(r.heldBy)}`);
        told = true;
        await new Promise((res) => setTimeout(res, 200));
      }
    }
    return held;
  } catch (e) {
    for (const l of held) leases.release(l);
    throw e;
  }
}

/** The state database copied with the online backup API into `dest`, in one step. */
async function copyDatabase(db: Db, dest: string): Promise<number> {
  // Returning a huge page count makes the first step copy everything inside one read
  // transaction: a consistent snapshot that never restarts because serve wrote meanwhile.
  await db.backup(dest, { progress: () => 0x7fffffff });
  const copy = new Database(dest);
  try {
    copy.pragma('journal_mode = DELETE'); // one self-contained file
    // Leases are runtime state of live processes (ours included): a restored one would block syncs.
    copy.exec('DELETE FROM sync_leases');
    const check = copy.pragma('quick_check', { simple: true });
    if (check !== 'ok') throw new BackupError(`the copy of the state database fails its check: ${String(check)}`);
    return schemaVersion(copy);
  } finally {
    copy.close();
  }
}

/** One archive entry: a file on disk (read when written) with its archive path. */
interface Item { path: string; file: string; st: Stats }

async function* archiveStream(items: Item[], manifest: Manifest, onFile: (f: ManifestFile) => void): AsyncGenerator<Buffer> {
  for (const it of items) {
    const fh = await open(it.file, 'r');
    try {
      // The size from the open file: a file replaced by a rename since the listing is read whole.
      const st = await fh.stat();
      const hash = createHash('sha256');
      yield tarHeader({ name: it.path, size: st.size, mtime: st.mtimeMs / 1000, mode: 0o644 });
      let left = st.size;
      const chunk = Buffer.allocUnsafe(1 << 20);
      while (left > 0) {
        const { bytesRead } = await fh.read(chunk, 0, Math.min(chunk.length, left), st.size - left);
        if (bytesRead === 0) throw new BackupError(`${it.file} shrank while it was being copied`);
        const b = Buffer.from(chunk.subarray(0, bytesRead));
        hash.update(b);
        left -= bytesRead;
        yield b;
      }
      yield tarPadding(st.size);
      onFile({ path: it.path, size: st.size, sha256: hash.digest('hex'), mtime: Math.round(st.mtimeMs) });
    } finally {
      await fh.close();
    }
  }
  const m = Buffer.from(JSON.stringify(manifest, null, 2) + '\n', 'utf8');
  yield tarHeader({ name: MANIFEST_NAME, size: m.length, mtime: Date.now() / 1000, mode: 0o644 });
  yield m;
  yield tarPadding(m.length);
  yield TAR_END;
}

async function fsyncPath(path: string, flags = 'r'): Promise<void> {
  const fh = await open(path, flags);
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

function describeWriteError(e: unknown, file: string): string {
  const code = diskCodeOf(e) ?? (e as NodeJS.ErrnoException).code;
  const why = code === 'ENOSPC' || code === 'SQLITE_FULL' ? 'no space left on the device' : (e as Error).message;
  return `cannot write the backup ${file}: ${why}${code ? ` (${code})` : ''}; nothing was written (no partial ${basename(file)} left)`;
}

/** Writes the backup archive to `file` (see the header). */
export async function createBackup(file: string, opts: BackupOptions): Promise<BackupResult> {
  const out = resolve(file);
  const stateDir = resolve(opts.stateDir);
  const dbFile = join(stateDir, DB_FILE);
  if (!existsSync(dbFile)) throw new BackupError(`no state database at ${dbFile}: nothing to back up (is the state_dir of the config right?)`);
  if (!existsSync(dirname(out))) throw new BackupError(`cannot write the backup ${out}: its directory ${dirname(out)} does not exist`);
  const now = opts.now ?? Date.now;
  const gzip = opts.gzip ?? /\.(t?gz)$/i.test(out);
  const tmp = `${out}.tmp-${process.pid}`;
  const dbTmp = `${out}.sqlite.tmp-${process.pid}`;
  const db = openDb(dbFile);
  const leases = new SyncLeases(db, { command: 'quorumbl backup' });
  let held: Lease[] = [];
  const renew = setInterval(() => {
    for (const l of held) leases.renew(l);
  }, Math.max(1000, leases.ttlMs / 3));
  renew.unref();
  try {
    held = await takeLeases(leases, opts.sources, opts.waitMs ?? 600_000, opts.onWait);
    let schema: number;
    try {
      schema = await copyDatabase(db, dbTmp);
    } catch (e) {
      if (e instanceof BackupError) throw e;
      throw new BackupError(describeWriteError(e, out), { cause: e });
    }
    const items: Item[] = [{ path: DB_ENTRY, file: dbTmp, st: statSync(dbTmp) }];
    for (const rel of stateFiles(stateDir)) {
      const f = join(stateDir, ...rel.split('/'));
      try {
        items.push({ path: `state/${rel}`, file: f, st: statSync(f) });
      } catch {
        /* removed since the listing (a temp or superseded file): not state */
      }
    }
    if (opts.configFile) items.push({ path: `config/${basename(opts.configFile)}`, file: resolve(opts.configFile), st: statSync(opts.configFile) });
    const manifest: Manifest = {
      format: BACKUP_FORMAT,
      format_version: BACKUP_FORMAT_VERSION,
      quorumbl_version: opts.version,
      schema_version: schema,
      migrations: MIGRATIONS.slice(0, schema).map((m) => m.name),
      created_at: new Date(now()).toISOString(),
      host: hostname(),
      state_dir: stateDir,
      config_file: opts.configFile ? resolve(opts.configFile) : null,
      files: [],
    };
    const source = Readable.from(archiveStream(items, manifest, (f) => manifest.files.push(f)));
    try {
      const sink = createWriteStream(tmp, { flags: 'wx', mode: 0o600 });
      if (gzip) await pipeline(source, createGzip({ level: 6 }), sink);
      else await pipeline(source, sink);
      await fsyncPath(tmp, 'r+');
      await rename(tmp, out);
      await fsyncPath(dirname(out)).catch(() => undefined);
    } catch (e) {
      await rm(tmp, { force: true }).catch(() => undefined);
      if (e instanceof BackupError) throw e;
      throw new BackupError(describeWriteError(e, out), { cause: e });
    }
    return { file: out, manifest, bytes: (await stat(out)).size };
  } finally {
    clearInterval(renew);
    for (const l of held) {
      try {
        leases.release(l);
      } catch {
        /* a lease not released expires (ttl) or dies with this process */
      }
    }
    db.close();
    await rm(dbTmp, { force: true }).catch(() => undefined);
  }
}
