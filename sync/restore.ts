// `quorumbl restore FILE [--dry-run]`: puts a backup (sync/backup.ts) back.
//
// 1. The whole archive is read once and checked before anything is written: the manifest, every
//    file's size and SHA-256, no file missing or extra, paths only under state/ and config/, the
//    schema version not newer than this quorumbl's migrations, the config valid.
// 2. The state directory must not be in use: a running `serve` (or any quorumbl command) keeps the
//    state database open, and SQLite holds a shared lock on it for as long as it is open (WAL
//    mode). Restore asks for an exclusive lock without waiting: refused means in use, and the
//    processes holding the file open are named (from /proc). The lock is kept until the swap is done.
// 3. Everything is staged in `.<state>.restore-PID` beside the state directory (same file system),
//    read a second time from the archive and checked again, fsynced. Then two renames:
//    <state> -> <state>.before-restore-<UTC time> (kept: the old state), staging -> <state>.
//    A journal file beside them records the pair first: a crash between the two renames (no state
//    directory at all) is finished by the next `quorumbl restore`, before it does anything else.
// 4. The config file (when the backup has one) replaces the target config by a rename; the old one
//    is kept as <config>.before-restore-<UTC time>.

import Database from 'better-sqlite3';
import { createHash, type Hash } from 'node:crypto';
import { closeSync, copyFileSync, createReadStream, existsSync, fsyncSync, mkdirSync, mkdtempSync, openSync, readFileSync, readSync, readdirSync, readlinkSync, renameSync, rmSync, statSync, utimesSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import { createGunzip } from 'node:zlib';
import { MIGRATIONS } from '../core/db.ts';
import { ConfigError, configPath, loadConfig } from '../core/config/load.ts';
import { TarError, readTar, type EntrySink, type TarEntry } from '../core/tar.ts';
import { BACKUP_FORMAT, BACKUP_FORMAT_VERSION, DB_ENTRY, DB_FILE, MANIFEST_NAME, type Manifest, stateFiles } from './backup.ts';

export class RestoreError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RestoreError';
  }
}

const MAX_MANIFEST = 16 << 20;
const MAX_CONFIG = 4 << 20;

interface Seen { size: number; sha256: string }

/** The archive's chunks, gunzipped when it starts with the gzip magic. */
async function* archiveChunks(file: string): AsyncGenerator<Buffer> {
  const head = Buffer.alloc(2);
  const fd = openSync(file, 'r');
  let n: number;
  try {
    n = readSync(fd, head, 0, 2, 0);
  } finally {
    closeSync(fd);
  }
  const raw = createReadStream(file);
  const gz = n === 2 && head[0] === 0x1f && head[1] === 0x8b;
  yield* (gz ? raw.pipe(createGunzip()) : raw) as AsyncIterable<Buffer>;
}

function safeEntry(name: string): boolean {
  if (name === MANIFEST_NAME) return true;
  if (!/^(state|config)\//.test(name) || isAbsolute(name) || name.includes('\\')) return false;
  return name.split('/').every((p) => p !== '' && p !== '.' && p !== '..');
}

export interface Verified {
  manifest: Manifest;
  /** The config file's bytes when the backup has one. */
  config: Buffer | null;
}

/** Reads the whole archive once: checks the manifest and every checksum. `sinkFor` (staging)
 *  receives each file's bytes as well. Throws RestoreError naming the archive and what is wrong. */
export async function verifyArchive(file: string, sinkFor?: (e: TarEntry) => EntrySink): Promise<Verified> {
  const shown = resolve(file);
  if (!existsSync(shown)) throw new RestoreError(`backup ${shown} does not exist`);
  const seen = new Map<string, Seen>();
  let manifestBytes: Buffer | null = null;
  const configParts = new Map<string, Buffer[]>();
  try {
    await readTar(archiveChunks(shown), (e) => {
      if (!safeEntry(e.name)) throw new RestoreError(`backup ${shown} is not a quorumbl backup: unexpected entry "${e.name}"`);
      if (seen.has(e.name)) throw new RestoreError(`backup ${shown} is damaged: "${e.name}" appears twice`);
      const hash: Hash = createHash('sha256');
      const parts: Buffer[] = [];
      const keep = e.name === MANIFEST_NAME || e.name.startsWith('config/');
      const limit = e.name === MANIFEST_NAME ? MAX_MANIFEST : MAX_CONFIG;
      if (keep && e.size > limit) throw new RestoreError(`backup ${shown} is not a quorumbl backup: ${e.name} is ${e.size} bytes`);
      const inner = e.name !== MANIFEST_NAME && sinkFor ? sinkFor(e) : null;
      return {
        write(chunk) {
          hash.update(chunk);
          if (keep) parts.push(Buffer.from(chunk));
          inner?.write(chunk);
        },
        end() {
          seen.set(e.name, { size: e.size, sha256: hash.digest('hex') });
          if (e.name === MANIFEST_NAME) manifestBytes = Buffer.concat(parts);
          else if (keep) configParts.set(e.name, parts);
          inner?.end();
        },
      };
    });
  } catch (e) {
    if (e instanceof RestoreError) throw e;
    if (e instanceof TarError) throw new RestoreError(`backup ${shown} is damaged: ${e.message}`, { cause: e });
    const code = (e as NodeJS.ErrnoException).code;
    if (typeof code === 'string' && code.startsWith('Z_')) throw new RestoreError(`backup ${shown} is damaged: gzip: ${(e as Error).message}`, { cause: e });
    throw new RestoreError(`cannot read backup ${shown}: ${(e as Error).message}`, { cause: e });
  }
  if (!manifestBytes) throw new RestoreError(`backup ${shown} is not a quorumbl backup, or is damaged: it has no ${MANIFEST_NAME}`);
  let m: Manifest;
  try {
    m = JSON.parse((manifestBytes as Buffer).toString('utf8')) as Manifest;
  } catch (e) {
    throw new RestoreError(`backup ${shown} is damaged: ${MANIFEST_NAME} is not JSON (${(e as Error).message})`);
  }
  if (m?.format !== BACKUP_FORMAT || !Array.isArray(m.files) || typeof m.schema_version !== 'number') {
    throw new RestoreError(`backup ${shown} is not a quorumbl backup: ${MANIFEST_NAME} has no format "${BACKUP_FORMAT}", files and schema_version`);
  }
  if (m.format_version > BACKUP_FORMAT_VERSION) {
    throw new RestoreError(`backup ${shown} has format version ${m.format_version}; this quorumbl reads up to ${BACKUP_FORMAT_VERSION} (made by quorumbl ${m.quorumbl_version}: restore it with that release or newer)`);
  }
  const listed = new Set<string>();
  for (const f of m.files) {
    listed.add(f.path);
    const s = seen.get(f.path);
    if (!s) throw new RestoreError(`backup ${shown} is damaged: ${f.path} is in the manifest but not in the archive`);
    if (s.size !== f.size) throw new RestoreError(`backup ${shown} is damaged: ${f.path} is ${s.size} bytes, the manifest says ${f.size}`);
    if (s.sha256 !== f.sha256) throw new RestoreError(`backup ${shown} is damaged: ${f.path} does not match its SHA-256 in the manifest`);
  }
  for (const name of seen.keys()) {
    if (name !== MANIFEST_NAME && !listed.has(name)) throw new RestoreError(`backup ${shown} is damaged: ${name} is in the archive but not in the manifest`);
  }
  if (!listed.has(DB_ENTRY)) throw new RestoreError(`backup ${shown} has no state database (${DB_ENTRY})`);
  if (m.schema_version > MIGRATIONS.length) {
    throw new RestoreError(`backup ${shown} has schema version ${m.schema_version} (made by quorumbl ${m.quorumbl_version}); this quorumbl knows schema version ${MIGRATIONS.length}: ` +
      'it was made by a newer release; restore it with that release or newer');
  }
  const cfg = m.files.find((f) => f.path.startsWith('config/'));
  return { manifest: m, config: cfg ? Buffer.concat(configParts.get(cfg.path) ?? []) : null };
}

export interface RestoreTarget {
  /** Where the config goes: --config / QUORUMBL_CONFIG, else where the backup's came from;
   *  null: the embedded default (the backup's config, if any, is not written). */
  configFile: string | null;
  /** The embedded default config (the state dir of a config-less restore). */
  defaultConfig: string;
  env?: NodeJS.ProcessEnv;
}

export interface CurrentState {
  exists: boolean;
  schema: number | null;
  files: number;
  bytes: number;
  /** Processes that have the state database open now (a real restore would be refused). */
  users: string[];
}

export interface RestorePlan {
  archive: string;
  manifest: Manifest;
  config: Buffer | null;
  stateDir: string;
  current: CurrentState;
  keepAs: string;
  /** Target config file (null: none written). */
  configFile: string | null;
  configChange: 'written' | 'replaced' | 'unchanged' | 'none';
  configKeepAs: string | null;
}

function stamp(t: number): string {
  return new Date(t).toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
}

/** `path`, or `path-2`, `path-3`... when it exists (two restores within a second). */
function unused(path: string): string {
  let p = path;
  for (let i = 2; existsSync(p); i++) p = `${path}-${i}`;
  return p;
}

/** The state dir the backup's config (or the target config) names, placed at the target path. */
function targetStateDir(archive: string, config: Buffer | null, manifest: Manifest, target: RestoreTarget): string {
  const env = target.env ?? process.env;
  const at = target.configFile ?? target.defaultConfig;
  if (!config || !target.configFile) {
    try {
      const cfg = loadConfig(at, env);
      return configPath(cfg, cfg.config.state_dir);
    } catch (e) {
      if (e instanceof ConfigError) throw new RestoreError(`the config ${at} is not valid:\n${e.problems.map((p) => `  ${p}`).join('\n')}`);
      throw e;
    }
  }
  const dir = mkdtempSync(join(tmpdir(), 'quorumbl-restore-'));
  const tmp = join(dir, basename(at));
  try {
    writeFileSync(tmp, config);
    const cfg = loadConfig(tmp, env);
    return configPath({ ...cfg, baseDir: dirname(at) }, cfg.config.state_dir);
  } catch (e) {
    const name = manifest.files.find((f) => f.path.startsWith('config/'))?.path ?? 'config';
    if (e instanceof ConfigError) {
      throw new RestoreError(`the config in backup ${archive} (${name}) is not valid for this quorumbl:\n${e.problems.map((p) => `  ${p.split(tmp).join(`${archive}:${name}`)}`).join('\n')}`);
    }
    throw e;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The schema version of a state database, read from a copy (with its -wal) in a temp dir:
 *  a dry run leaves the files as they are (opening them would create -shm files, checkpoint). */
function schemaOf(dbFile: string): number | null {
  const dir = mkdtempSync(join(tmpdir(), 'quorumbl-restore-'));
  try {
    copyFileSync(dbFile, join(dir, 'db'));
    if (existsSync(`${dbFile}-wal`)) copyFileSync(`${dbFile}-wal`, join(dir, 'db-wal'));
    const db = new Database(join(dir, 'db'), { fileMustExist: true });
    try {
      return (db.prepare('SELECT max(version) AS v FROM schema_version').get() as { v: number | null }).v ?? 0;
    } finally {
      db.close();
    }
  } catch {
    return null;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function describeCurrent(stateDir: string): CurrentState {
  if (!existsSync(stateDir)) return { exists: false, schema: null, files: 0, bytes: 0, users: [] };
  const dbFile = join(stateDir, DB_FILE);
  const schema = existsSync(dbFile) ? schemaOf(dbFile) : null;
  const files = stateFiles(stateDir).map((r) => join(stateDir, r));
  if (existsSync(dbFile)) files.push(dbFile);
  let bytes = 0;
  for (const f of files) {
    try {
      bytes += statSync(f).size;
    } catch {
      /* gone */
    }
  }
  return { exists: true, schema, files: files.length, bytes, users: existsSync(dbFile) ? openers(dbFile) : [] };
}

/** Checks the archive and works out what a restore would replace; changes nothing. */
export async function planRestore(archive: string, target: RestoreTarget, now = Date.now()): Promise<RestorePlan> {
  const shown = resolve(archive);
  const { manifest, config } = await verifyArchive(shown);
  const configFile = target.configFile ?? manifest.config_file;
  const t = { ...target, configFile };
  const stateDir = targetStateDir(shown, config, manifest, t);
  let configChange: RestorePlan['configChange'] = 'none';
  if (config && configFile) {
    if (!existsSync(configFile)) configChange = 'written';
    else configChange = readFileSync(configFile).equals(config) ? 'unchanged' : 'replaced';
  }
  return {
    archive: shown, manifest, config, stateDir, current: describeCurrent(stateDir),
    keepAs: unused(`${stateDir}.before-restore-${stamp(now)}`),
    configFile: config ? configFile : null, configChange,
    configKeepAs: configChange === 'replaced' ? unused(`${configFile}.before-restore-${stamp(now)}`) : null,
  };
}

/** The processes that have `file` (or its -wal) open, from /proc: "pid 12 (quorumbl serve ...)". */
export function openers(file: string): string[] {
  const targets = new Set([file, `${file}-wal`, `${file}-shm`]);
  const out: string[] = [];
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((p) => /^\d+$/.test(p) && Number(p) !== process.pid);
  } catch {
    return out;
  }
  for (const pid of pids) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    const hit = fds.some((fd) => {
      try {
        return targets.has(readlinkSync(`/proc/${pid}/fd/${fd}`));
      } catch {
        return false;
      }
    });
    if (!hit) continue;
    let cmd = '';
    try {
      cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ');
    } catch {
      /* gone */
    }
    const q = /cli\/main\.[tj]s (.*)$/.exec(cmd);
    out.push(`pid ${pid} (${q ? `quorumbl ${q[1]}` : cmd.slice(0, 120)})`);
  }
  return out;
}

/** An exclusive lock on the state database, or a RestoreError saying who uses it. The lock
 *  holds until close(). No database file: nothing to lock (nothing can be serving from it). */
export function lockState(stateDir: string): { close(): void } {
  const dbFile = join(stateDir, DB_FILE);
  if (!existsSync(dbFile)) return { close() {} };
  let db: Database.Database | undefined;
  try {
    db = new Database(dbFile, { timeout: 0, fileMustExist: true });
    db.pragma('locking_mode = EXCLUSIVE');
    db.exec('BEGIN EXCLUSIVE');
    db.exec('COMMIT');
  } catch (e) {
    db?.close();
    if ((e as { code?: string }).code === 'SQLITE_BUSY' || (e as { code?: string }).code === 'SQLITE_LOCKED') {
      const who = openers(dbFile);
      throw new RestoreError(`the state directory ${stateDir} is in use: ${who.length ? who.join(', ') : 'another process has its database open'}; ` +
        'stop quorumbl serve (and any other quorumbl command on it) first');
    }
    throw new RestoreError(`cannot lock the state database ${dbFile}: ${(e as Error).message}`, { cause: e });
  }
  const held = db;
  return { close: () => held.close() };
}

function journalPath(stateDir: string): string {
  return join(dirname(stateDir), `.${basename(stateDir)}.restore-journal`);
}

function fsyncDir(dir: string): void {
  try {
    const fd = openSync(dir, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    /* not supported: best effort */
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Finishes a restore a crash interrupted between its two renames, and removes the staging
 *  directories of dead restores. Returns what it did, for the user. */
export function recoverInterrupted(stateDir: string): string[] {
  const done: string[] = [];
  const journal = journalPath(stateDir);
  if (existsSync(journal)) {
    const j = JSON.parse(readFileSync(journal, 'utf8')) as { staged: string; keepAs: string; pid: number };
    if (!pidAlive(j.pid) || j.pid === process.pid) {
      if (!existsSync(stateDir) && existsSync(j.staged)) {
        renameSync(j.staged, stateDir);
        fsyncDir(dirname(stateDir));
        done.push(`finished an interrupted restore: ${stateDir} is the restored state (the state before it is ${j.keepAs})`);
      }
      rmSync(journal, { force: true });
    }
  }
  const prefix = `.${basename(stateDir)}.restore-`;
  let names: string[] = [];
  try {
    names = readdirSync(dirname(stateDir));
  } catch {
    /* no parent yet */
  }
  for (const n of names) {
    const m = new RegExp(`^${prefix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(\\d+)$`).exec(n);
    if (m && !pidAlive(Number(m[1]))) {
      rmSync(join(dirname(stateDir), n), { recursive: true, force: true });
      done.push(`removed the staging directory of an interrupted restore: ${join(dirname(stateDir), n)}`);
    }
  }
  return done;
}

/** Stages the archive beside the state dir, checking it a second time; returns the staging dir. */
async function stage(plan: RestorePlan): Promise<string> {
  const parent = dirname(plan.stateDir);
  mkdirSync(parent, { recursive: true });
  const staging = join(parent, `.${basename(plan.stateDir)}.restore-${process.pid}`);
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(join(staging, 'state'), { recursive: true });
  const dirs = new Set<string>();
  const mtimes = new Map(plan.manifest.files.map((f) => [f.path, f.mtime]));
  const verified = await verifyArchive(plan.archive, (e) => {
    const file = join(staging, ...e.name.split('/'));
    mkdirSync(dirname(file), { recursive: true });
    dirs.add(dirname(file));
    const fd = openSync(file, 'wx', 0o600);
    return {
      write(chunk) {
        let off = 0;
        while (off < chunk.length) off += writeSync(fd, chunk, off);
      },
      end() {
        fsyncSync(fd);
        closeSync(fd);
        const t = mtimes.get(e.name);
        if (t) utimesSync(file, t / 1000, t / 1000);
      },
    };
  });
  if (JSON.stringify(verified.manifest) !== JSON.stringify(plan.manifest)) throw new RestoreError(`backup ${plan.archive} changed while it was being restored`);
  // Paths stored in the database (a quarantined update's file) follow the state dir.
  if (plan.manifest.state_dir !== plan.stateDir) {
    const db = new Database(join(staging, 'state', DB_FILE));
    try {
      const old = plan.manifest.state_dir + '/';
      db.prepare('UPDATE source_state SET q_path = ? || substr(q_path, ?) WHERE substr(q_path, 1, ?) = ?')
        .run(plan.stateDir + '/', old.length + 1, old.length, old);
    } finally {
      db.close();
    }
  }
  for (const d of dirs) fsyncDir(d);
  fsyncDir(join(staging, 'state'));
  fsyncDir(staging);
  return staging;
}

export interface RestoreResult {
  plan: RestorePlan;
  /** Where the old state is kept (null: there was none). */
  keptState: string | null;
  keptConfig: string | null;
  notes: string[];
}

/** Test hook: the restore process dies right after this step (`QBL_TEST_RESTORE_CRASH_AT`). */
function crashPoint(step: string): void {
  if (process.env.QBL_TEST_RESTORE_CRASH_AT === step) process.kill(process.pid, 'SIGKILL');
}

/** Restores the backup (see the header). */
export async function restore(archive: string, target: RestoreTarget): Promise<RestoreResult> {
  const pre = await planRestore(archive, target);
  const notes = recoverInterrupted(pre.stateDir);
  const plan = notes.length ? await planRestore(archive, target) : pre;
  // Refuse early (before staging gigabytes) when the state is in use; checked again at the swap.
  lockState(plan.stateDir).close();
  const staging = await stage(plan);
  crashPoint('staged');
  const lock = lockState(plan.stateDir);
  let keptState: string | null = null;
  try {
    const journal = journalPath(plan.stateDir);
    writeFileSync(journal, JSON.stringify({ staged: join(staging, 'state'), keepAs: plan.keepAs, pid: process.pid }));
    fsyncDir(dirname(journal));
    if (existsSync(plan.stateDir)) {
      renameSync(plan.stateDir, plan.keepAs);
      keptState = plan.keepAs;
    }
    crashPoint('old-moved');
    renameSync(join(staging, 'state'), plan.stateDir);
    fsyncDir(dirname(plan.stateDir));
    rmSync(journal, { force: true });
  } finally {
    lock.close();
  }
  let keptConfig: string | null = null;
  if (plan.config && plan.configFile && plan.configChange !== 'unchanged') {
    mkdirSync(dirname(plan.configFile), { recursive: true });
    if (plan.configKeepAs) {
      writeFileSync(plan.configKeepAs, readFileSync(plan.configFile));
      keptConfig = plan.configKeepAs;
    }
    const tmp = `${plan.configFile}.restore-${process.pid}`;
    const fd = openSync(tmp, 'w', 0o644);
    try {
      writeSync(fd, plan.config);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, plan.configFile);
    fsyncDir(dirname(plan.configFile));
  }
  rmSync(staging, { recursive: true, force: true });
  return { plan, keptState, keptConfig, notes };
}
