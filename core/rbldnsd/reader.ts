// Reads rbldnsd data files (as if concatenated) into a dataset loader: gzip, CRLF, comments,
// and the `$` specials common to all types. Type-specific line syntax lives in the loaders.

import { statSync, readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import type { Dataset, DatasetLoader, DatasetMeta, DatasetType } from '../datasets/types.ts';
import { LoadState, parseTime, type LoadOptions, type Loc } from './state.ts';

const MAX_LINE = 32 * 1024;

export interface FileStamp {
  file: string;
  /** mtime in whole seconds and size: what rbldnsd compares to notice a change. */
  mtime: number;
  size: number;
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
  return { file, mtime: Math.floor(st.mtimeMs / 1000), size: st.size };
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

/** Splits a buffer into lines; calls `fn(line, lineNo)` with blanks (space, tab) and a trailing
 *  CR stripped. CRLF is tolerated on purpose (rbldnsd misparses such files). */
export function forEachLine(buf: Buffer, fn: (line: string, lineNo: number) => void, onLong?: (lineNo: number) => void): void {
  let start = 0;
  let lineNo = 0;
  const n = buf.length;
  while (start < n) {
    let end = buf.indexOf(10, start);
    if (end < 0) end = n;
    lineNo++;
    let s = start;
    let e = end;
    if (e > s && buf[e - 1] === 13) e--;
    while (s < e && (buf[s] === 32 || buf[s] === 9)) s++;
    while (e > s && (buf[e - 1] === 32 || buf[e - 1] === 9)) e--;
    if (e - s > MAX_LINE) {
      onLong?.(lineNo);
      e = s + MAX_LINE;
    }
    if (e > s) fn(buf.toString('latin1', s, e), lineNo);
    start = end + 1;
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
    const buf = readDataFile(file, options.gunzip);
    loader.startFile(file);
    const at: Loc = { file, line: 0 };
    forEachLine(
      buf,
      (line, lineNo) => {
        at.line = lineNo;
        const c = line.charCodeAt(0);
        // '$' or a 2-char special prefix (#$ ;$ :$)
        if (c === 36 || ((c === 35 || c === 59 || c === 58) && line.charCodeAt(1) === 36)) {
          const m = SPECIAL.exec(line);
          const w = m ? special(m[1]!, m[2] ?? '', loader, meta, at) : `invalid special line`;
          if (w) loader.state.warn({ ...at }, w);
          return;
        }
        if (c === 35 || c === 59) return; // # or ; comment
        loader.addLine(line, at);
      },
      (lineNo) => counting.warn({ file, line: lineNo }, 'line too long, truncated'),
    );
    const after = stampOf(file);
    if (after.mtime !== before.mtime || after.size !== before.size) {
      throw new LoadError(`${file} changed while it was read (write data files to a temp file and rename them)`);
    }
    stamps.push(after);
  }
  return { dataset: loader.finish(meta), stamps, warnings };
}
