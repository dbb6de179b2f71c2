// Reads rbldnsd data files (as if concatenated) into a dataset loader: gzip, CRLF, comments,
// and the `$` specials common to all types. Type-specific line syntax lives in the loaders.

import { closeSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import type { Dataset, DatasetLoader, DatasetMeta, DatasetType } from '../datasets/types.ts';
import { LoadState, parseTime, type LoadOptions, type Loc } from './state.ts';

const MAX_LINE = 32 * 1024;

export interface FileStamp {
  file: string;
  /** mtime in whole seconds and size: what rbldnsd compares to notice a change. */
  mtime: number;
  size: number;
  /** inode: a file replaced by rename within the same second and size is still noticed. */
  ino?: number;
}

export class LoadError extends Error {
  constructor(
    message: string,
    readonly at?: Loc,
  ) {
    super(at ? `${at.file}:${at.line}: ${message}` : message);
  }
}

export function stampOf(file: string): FileStamp {
  const st = statSync(file);
  return { file, mtime: Math.floor(st.mtimeMs / 1000), size: st.size, ino: st.ino };
}

/** Reads a whole file, gunzipping when it starts with the gzip magic (unless disabled). */
export function readDataFile(file: string, gunzip: boolean): Buffer {
  const raw = readFileSync(file);
  if (gunzip && raw.length >= 2 && raw[0] === 0x1f && raw[1] === 0x8b) {
    try {
      return gunzipSync(raw);
    } catch (e) {
      throw new LoadError(`${file}: broken gzip data (${(e as Error).message})`);
    }
  }
  return raw;
}

/** Receives one line as bytes [s, e) of buf, blanks (space, tab) and a trailing CR stripped,
 *  never empty; buf is only valid during the call. */
export type ByteLineFn = (buf: Buffer, s: number, e: number, lineNo: number) => void;

/** Cuts a byte stream into lines: CRLF is tolerated on purpose (rbldnsd misparses such
 *  files), lines are capped at MAX_LINE (`onLong` warns), empty lines only count. */
export class LineSplitter {
  lineNo = 0;

  constructor(
    private readonly fn: ByteLineFn,
    private readonly onLong?: (lineNo: number) => void,
  ) {}

  /** Handles the complete lines in buf[start, end) (with `eof`, the unterminated rest too);
   *  returns where the unfinished last line starts. */
  feed(buf: Buffer, start: number, end: number, eof: boolean): number {
    const fn = this.fn;
    while (start < end) {
      let nl = buf.indexOf(10, start);
      if (nl < 0 || nl >= end) {
        if (!eof) return start;
        nl = end;
      }
      const lineNo = ++this.lineNo;
      let s = start;
      let e = nl;
      if (e > s && buf[e - 1] === 13) e--;
      while (s < e && (buf[s] === 32 || buf[s] === 9)) s++;
      while (e > s && (buf[e - 1] === 32 || buf[e - 1] === 9)) e--;
      if (e - s > MAX_LINE) {
        this.onLong?.(lineNo);
        e = s + MAX_LINE;
      }
      if (e > s) fn(buf, s, e, lineNo);
      start = nl + 1;
    }
    return end;
  }
}

/** Splits a buffer into lines; calls `fn(line, lineNo)` with blanks (space, tab) and a trailing
 *  CR stripped. CRLF is tolerated on purpose (rbldnsd misparses such files). */
export function forEachLine(buf: Buffer, fn: (line: string, lineNo: number) => void, onLong?: (lineNo: number) => void): void {
  new LineSplitter((b, s, e, lineNo) => fn(b.toString('latin1', s, e), lineNo), onLong).feed(buf, 0, buf.length, true);
}

/** Read size of the streaming reader: the file is never held whole (a 140 MB list would be). */
const CHUNK = 1 << 20;

/** Feeds a data file through `lines`: plain files in chunks, gzip files (unless disabled)
 *  decompressed whole. */
export function readDataLines(file: string, gunzip: boolean, lines: LineSplitter): void {
  const fd = openSync(file, 'r');
  try {
    let buf = Buffer.allocUnsafeSlow(CHUNK);
    let len = 0;
    let first = true;
    for (;;) {
      if (len === buf.length) {
        // a line longer than the buffer: grow it (rare; lines are normally short)
        const bigger = Buffer.allocUnsafeSlow(buf.length * 2);
        buf.copy(bigger, 0, 0, len);
        buf = bigger;
      }
      const got = readSync(fd, buf, len, buf.length - len, null);
      len += got;
      if (first && gunzip && len >= 2 && buf[0] === 0x1f && buf[1] === 0x8b) {
        const data = readDataFile(file, true);
        lines.feed(data, 0, data.length, true);
        return;
      }
      first = false;
      const rest = lines.feed(buf, 0, len, got === 0);
      if (got === 0) return;
      buf.copyWithin(0, rest, len);
      len -= rest;
    }
  } finally {
    closeSync(fd);
  }
}

const SPECIAL = /^(?:\$|[#;:]\$)([A-Za-z0-9=]+)(?:[ \t]+(.*))?$/s;

function timeField(text: string | undefined): number | undefined {
  return text === undefined ? undefined : parseTime(text);
}

/** rbldnsd `$TIMESTAMP` time: YYYY[:-]MM[:-]DD[[:-]hh[[:-]mm[[:-]ss]]] UTC; 0 or - = none. */
export function parseTimestamp(text: string): number | undefined {
  if (text === '0' || text === '-') return 0;
  const m = /^(\d{4})[:-]?(\d{2})[:-]?(\d{2})(?:[:-]?(\d{2})(?:[:-]?(\d{2})(?:[:-]?(\d{2}))?)?)?$/.exec(text);
  if (!m) return undefined;
  const [y, mo, d, h, mi, s] = m.slice(1).map((x) => (x === undefined ? 0 : Number(x)));
  if (y! < 1970 || y! > 2038 || mo! < 1 || mo! > 12 || d! < 1 || d! > 31 || h! > 23 || mi! > 59 || s! > 59) return undefined;
  return Date.UTC(y!, mo! - 1, d!, h, mi, s) / 1000;
}

function absName(name: string): string {
  return name.replace(/\.$/, '').toLowerCase();
}

/** Handles one `$` special. Returns a warning text, or null when accepted. */
function special(kw: string, rest: string, loader: DatasetLoader, meta: DatasetMeta, at: Loc): string | null {
  const state = loader.state;
  const f = rest.split(/[ \t]+/).filter(Boolean);
  const k = kw.toUpperCase();
  if (/^[0-9]$/.test(k)) {
    const i = Number(k);
    if (state.subst[i] === undefined) state.subst[i] = rest;
    return null;
  }
  switch (k) {
    case '=':
      state.base = rest;
      return null;
    case 'TTL': {
      const t = timeField(f[0]);
      if (t === undefined || f.length !== 1) return 'invalid $TTL';
      state.ttl = state.clampTtl(t);
      return null;
    }
    case 'SOA': {
      if (f.length !== 8) return 'invalid $SOA (need ttl origin person serial refresh retry expire minimum)';
      const ttl = timeField(f[0]);
      const serial = /^\d+$/.test(f[3]!) ? Number(f[3]) : undefined;
      const times = f.slice(4).map(timeField);
      if (ttl === undefined || serial === undefined || serial > 0xffffffff || times.some((t) => t === undefined)) return 'invalid $SOA';
      if (!meta.soa) {
        meta.soa = {
          ttl: ttl === 0 ? state.currentTtl : state.clampTtl(ttl),
          mname: absName(f[1]!),
          rname: absName(f[2]!),
          serial,
          refresh: times[0]!,
          retry: times[1]!,
          expire: times[2]!,
          minimum: times[3]!,
        };
      }
      return null;
    }
    case 'NS':
    case 'NAMESERVER': {
      const ttl = timeField(f[0]);
      if (ttl === undefined || f.length < 2) return 'invalid $NS (need ttl and at least one name)';
      if (!meta.ns) {
        const names: string[] = [];
        for (const n of f.slice(1)) {
          if (n.startsWith('-')) continue;
          const a = absName(n);
          if (!names.includes(a) && names.length < 32) names.push(a);
        }
        if (names.length) meta.ns = { ttl: ttl === 0 ? state.currentTtl : state.clampTtl(ttl), names };
      }
      return null;
    }
    case 'MAXRANGE4': {
      const m = /^\/?(\d+)$/.exec(f[0] ?? '');
      if (!m || f.length !== 1) return 'invalid $MAXRANGE4';
      const n = Number(m[1]);
      const range = rest.trim().startsWith('/') ? (n >= 0 && n <= 32 ? 2 ** (32 - n) : NaN) : n;
      if (!Number.isFinite(range) || range <= 0) return 'invalid $MAXRANGE4';
      if (range > state.maxRange4) return '$MAXRANGE4 may only be lowered, ignored';
      state.maxRange4 = range;
      return null;
    }
    case 'TIMESTAMP': {
      if (f.length < 1 || f.length > 2) return 'invalid $TIMESTAMP';
      const created = parseTimestamp(f[0]!);
      if (created === undefined) return 'invalid $TIMESTAMP';
      let expires = 0;
      if (f[1] !== undefined) {
        if (f[1].startsWith('+')) {
          const rel = parseTime(f[1].slice(1));
          if (rel === undefined) return 'invalid $TIMESTAMP';
          expires = (created || Math.floor(Date.now() / 1000)) + rel;
        } else {
          const e = parseTimestamp(f[1]);
          if (e === undefined) return 'invalid $TIMESTAMP';
          expires = e;
        }
      }
      if (created > Date.now() / 1000) throw new LoadError('$TIMESTAMP is in the future', at);
      if (meta.created === undefined) {
        meta.created = created;
        meta.expires = expires;
      }
      return null;
    }
    default:
      return loader.special?.(kw, rest, at) ? null : `unknown special $${kw}`;
  }
}

export interface LoadResult {
  dataset: Dataset;
  stamps: FileStamp[];
  warnings: number;
}

/** Loads one dataset from its files. Throws LoadError for fatal problems (missing file, file
 *  changed while read, future $TIMESTAMP); bad lines are warnings and are skipped. */
export function loadDataset(type: DatasetType, files: string[], options: LoadOptions): LoadResult {
  let warnings = 0;
  const counting: LoadOptions = {
    ...options,
    warn(at, msg) {
      warnings++;
      options.warn(at, msg);
    },
  };
  const loader = type.createLoader(new LoadState(counting));
  const meta: DatasetMeta = {};
  const stamps: FileStamp[] = [];
  for (const file of files) {
    let before: FileStamp;
    try {
      before = stampOf(file);
    } catch (e) {
      throw new LoadError(`cannot read data file ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    loader.startFile(file);
    const at: Loc = { file, line: 0 };
    const addBytes = loader.addBytes?.bind(loader);
    const lines = new LineSplitter(
      (buf, s, e, lineNo) => {
        at.line = lineNo;
        const c = buf[s]!;
        // '$' or a 2-char special prefix (#$ ;$ :$)
        if (c === 36 || ((c === 35 || c === 59 || c === 58) && e - s > 1 && buf[s + 1] === 36)) {
          const line = buf.toString('latin1', s, e);
          const m = SPECIAL.exec(line);
          const w = m ? special(m[1]!, m[2] ?? '', loader, meta, at) : `invalid special line`;
          if (w) loader.state.warn({ ...at }, w);
          return;
        }
        if (c === 35 || c === 59) return; // # or ; comment
        if (addBytes) addBytes(buf, s, e, at);
        else loader.addLine(buf.toString('latin1', s, e), at);
      },
      (lineNo) => counting.warn({ file, line: lineNo }, 'line too long, truncated'),
    );
    readDataLines(file, options.gunzip, lines);
    const after = stampOf(file);
    if (after.mtime !== before.mtime || after.size !== before.size) {
      throw new LoadError(`${file} changed while it was read (write data files to a temp file and rename them)`);
    }
    stamps.push(after);
  }
  return { dataset: loader.finish(meta), stamps, warnings };
}
