// Disk trouble, classified: a full disk, a read-only one and I/O errors are the three faults of
// the state directory that quorumbl rides out (DNS keeps answering from memory, reads keep
// working, writes are refused with a message naming the cause). Everything else is a bug or a
// bad input and keeps its own handling.

export type DiskFault = 'full' | 'readonly' | 'io';

/** What a failed write says about the disk, or null when it is not disk trouble. Looks at
 *  SQLite result codes (better-sqlite3's SqliteError.code, extended codes included) and errno
 *  codes (ENOSPC...), following `cause` chains (DbError wraps the SQLite error). */
export function diskErrorOf(err: unknown): DiskFault | null {
  for (let e = err, depth = 0; e && typeof e === 'object' && depth < 8; e = (e as { cause?: unknown }).cause, depth++) {
    const f = faultOfCode((e as { code?: unknown }).code);
    if (f) return f;
  }
  return null;
}

/** The code that told us (SQLITE_FULL, ENOSPC...), for messages; null when none. */
export function diskCodeOf(err: unknown): string | null {
  for (let e = err, depth = 0; e && typeof e === 'object' && depth < 8; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (faultOfCode(code)) return code as string;
  }
  return null;
}

/** The file a failed fs call names (errno errors carry it), or undefined. */
export function diskPathOf(err: unknown): string | undefined {
  for (let e = err, depth = 0; e && typeof e === 'object' && depth < 8; e = (e as { cause?: unknown }).cause, depth++) {
    const p = (e as { path?: unknown }).path;
    if (typeof p === 'string') return p;
  }
  return undefined;
}

function faultOfCode(code: unknown): DiskFault | null {
  if (typeof code !== 'string') return null;
  switch (code) {
    case 'ENOSPC': case 'EDQUOT': case 'EFBIG': case 'SQLITE_FULL':
      return 'full';
    case 'EROFS': case 'SQLITE_READONLY': case 'SQLITE_READONLY_DBMOVED': case 'SQLITE_READONLY_CANTINIT':
    case 'SQLITE_READONLY_CANTLOCK': case 'SQLITE_READONLY_DIRECTORY': case 'SQLITE_READONLY_RECOVERY':
    case 'SQLITE_READONLY_ROLLBACK':
      return 'readonly';
    case 'EIO': case 'SQLITE_IOERR':
      return 'io';
  }
  if (code.startsWith('SQLITE_IOERR_')) return 'io';
  return null;
}

/** A write refused because of the disk state (the API answers 503 with this message). */
export class DiskUnavailableError extends Error {
  constructor(readonly fault: DiskFault, message: string, readonly retryAfterSec: number) {
    super(message);
    this.name = 'DiskUnavailableError';
  }
}

/** What the parts that write to the state directory need from the disk watcher. */
export interface DiskGuard {
  /** False while the state disk is full, read-only or failing: do not start a write. */
  readonly writable: boolean;
  /** Hands a failed write over: true when it was disk trouble (now recorded and logged once). */
  report(err: unknown, path?: string): boolean;
  /** The refusal for a write while not writable (null when writable). */
  refusal(): DiskUnavailableError | null;
}
