// The merged evidence on disk, so a restart answers bl/wl/dbl from its first packet instead of
// from empty zones until the first merge ends.
//
// File layout (integers little-endian):
//   0   8 bytes  magic "QBLEVID\0"
//   8   u32      format version (EVIDENCE_FILE_VERSION); another version is ignored, not misread
//   12  u32      byte length H of the JSON header
//   16  u32      CRC-32 of the JSON header
//   20  u32      0
//   24  H bytes  JSON header (PersistHeader): the evidence's scalars and names, the inputs key,
//                and each column { name, t: array type, o: offset, n: elements, crc }
//   ...          zero padding to a multiple of 8, then the columns, each 8-aligned; offsets are
//                relative to the start of this data area.
// Every column carries its CRC-32 and the file its total length: a torn, truncated or foreign
// file fails the check and is ignored (with a warning), never loaded half.
//
// Written to `<file>.tmp-<pid>`, fsynced, renamed over the file, directory fsynced: a crash
// leaves the old file or the new one. Leftover temp files (a kill during a write) are removed
// at the next start.

import { closeSync, fstatSync, openSync, readSync, readdirSync, rmSync } from 'node:fs';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { crc32 } from 'node:zlib';
import type { Evidence } from './types.ts';

const MAGIC = Buffer.from('QBLEVID\0', 'latin1');
export const EVIDENCE_FILE_VERSION = 1;
const PRELUDE = 24;

const CTORS = { Uint8Array, Uint16Array, Uint32Array } as const;
type CtorName = keyof typeof CTORS;
type Column = Uint8Array<ArrayBuffer> | Uint16Array<ArrayBuffer> | Uint32Array<ArrayBuffer>;

interface ColumnRef { name: string; t: CtorName; o: number; n: number; crc: number }

/** What a restart needs besides the columns. */
export interface PersistHeader {
  /** The evidence serial (Evidence.serial): restored so the SOA serial never goes back. */
  serial: number;
  builtAt: number;
  sourceNames: string[];
  sourceWeights: number[];
  providerNames: string[];
  /** Index4.shift (the bucket index is stored, not rebuilt). */
  shift4: number | null;
  /** What the evidence was built from (MergeService.inputsKey): an equal key at restart means
   *  the restart merge would build the same evidence, so it is skipped. */
  inputs: string;
  /** Bytes of the data area (a shorter file is torn). */
  dataBytes: number;
  columns: ColumnRef[];
}

export const EVIDENCE_FILE = 'evidence.qev';

export function evidencePath(stateDir: string): string {
  return join(stateDir, 'merge', EVIDENCE_FILE);
}

const align8 = (n: number) => (n + 7) & ~7;

/** Domain names as one '\n'-joined UTF-8 column (names never hold a newline). */
function domainsColumn(domains: readonly string[]): Uint8Array<ArrayBuffer> {
  const b = Buffer.from(domains.join('\n'), 'utf8');
  return new Uint8Array(b.buffer as ArrayBuffer, b.byteOffset, b.length);
}

function columnsOf(e: Evidence): [string, Column][] {
  return [
    ['starts4', e.starts4],
    ['cls4', e.cls4],
    ['index4', e.index4?.at ?? new Uint32Array(0)],
    ['starts6', e.starts6],
    ['cls6', e.cls6],
    ['domains', domainsColumn(e.domains)],
    ['domCls', e.domCls],
    ['classSources', e.classSources],
    ['classProviders', e.classProviders],
  ];
}

const bytesOf = (a: ArrayBufferView) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

/** Test hook: QBL_TEST_EVIDENCE_WRITE_PAUSE_MS pauses a write after half its columns (the
 *  kill -9 tests kill the process there); never set in production. */
const PAUSE_MS = Number(process.env.QBL_TEST_EVIDENCE_WRITE_PAUSE_MS ?? 0);

/** CRC-32 in 4 MiB steps with a yield between them: this runs on the thread that answers DNS. */
async function crcYielding(b: Buffer): Promise<number> {
  const STEP = 4 << 20;
  let c = 0;
  for (let i = 0; i < b.length; i += STEP) {
    c = crc32(b.subarray(i, i + STEP), c);
    if (i + STEP < b.length) await new Promise((r) => setImmediate(r));
  }
  return c;
}

/** Writes the evidence atomically; resolves with the file's size. A failure leaves the previous
 *  file in place (and no temp file). */
export async function writeEvidenceFile(path: string, e: Evidence, inputs: string): Promise<{ bytes: number }> {
  await mkdir(dirname(path), { recursive: true });
  const cols = columnsOf(e);
  const refs: ColumnRef[] = [];
  let o = 0;
  for (const [name, a] of cols) {
    refs.push({ name, t: a.constructor.name as CtorName, o, n: a.length, crc: await crcYielding(bytesOf(a)) });
    o += align8(a.byteLength);
  }
  const header: PersistHeader = {
    serial: e.serial,
    builtAt: e.builtAt,
    sourceNames: e.sourceNames,
    sourceWeights: e.sourceWeights,
    providerNames: e.providerNames,
    shift4: e.index4?.shift ?? null,
    inputs,
    dataBytes: o,
    columns: refs,
  };
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const head = Buffer.alloc(align8(PRELUDE + json.length));
  MAGIC.copy(head, 0);
  head.writeUInt32LE(EVIDENCE_FILE_VERSION, 8);
  head.writeUInt32LE(json.length, 12);
  head.writeUInt32LE(crc32(json), 16);
  json.copy(head, PRELUDE);
  const tmp = `${path}.tmp-${process.pid}`;
  const fh = await open(tmp, 'w', 0o644);
  try {
    let pos = 0;
    const put = async (b: Buffer) => {
      let done = 0;
      while (done < b.length) done += (await fh.write(b, done, b.length - done, pos + done)).bytesWritten;
      pos += b.length;
    };
    await put(head);
    const zeros = Buffer.alloc(8);
    for (let i = 0; i < cols.length; i++) {
      if (PAUSE_MS && i === cols.length >> 1) await new Promise((r) => setTimeout(r, PAUSE_MS));
      const b = bytesOf(cols[i]![1]);
      await put(b);
      const pad = align8(b.length) - b.length;
      if (pad) await put(zeros.subarray(0, pad));
    }
    await fh.sync();
    await fh.close();
    await rename(tmp, path);
  } catch (err) {
    await fh.close().catch(() => undefined);
    await rm(tmp, { force: true });
    throw err;
  }
  // the rename itself is durable only once the directory is
  const dir = await open(dirname(path), 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
  return { bytes: head.length + o };
}

export interface LoadedEvidence {
  evidence: Evidence;
  inputs: string;
  bytes: number;
}

/** Reads and checks an evidence file. Returns null when there is none; throws, naming what is
 *  wrong, when it is not a complete evidence file of this version. Each column gets its own
 *  ArrayBuffer, so the evidence can be retired into a later merge like a built one. */
export function readEvidenceFile(path: string): LoadedEvidence | null {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  try {
    const size = fstatSync(fd).size;
    const pre = Buffer.alloc(PRELUDE);
    if (readSync(fd, pre, 0, PRELUDE, 0) < PRELUDE || !pre.subarray(0, 8).equals(MAGIC)) throw new Error('not a quorumbl evidence file');
    const version = pre.readUInt32LE(8);
    if (version !== EVIDENCE_FILE_VERSION) throw new Error(`evidence file format version ${version}, expected ${EVIDENCE_FILE_VERSION}`);
    const hlen = pre.readUInt32LE(12);
    if (PRELUDE + hlen > size) throw new Error('evidence file is truncated (header)');
    const json = Buffer.alloc(hlen);
    readSync(fd, json, 0, hlen, PRELUDE);
    if (crc32(json) !== pre.readUInt32LE(16)) throw new Error('evidence file header checksum mismatch');
    const h = JSON.parse(json.toString('utf8')) as PersistHeader;
    const base = align8(PRELUDE + hlen);
    if (base + h.dataBytes !== size) throw new Error(`evidence file is ${size} bytes, its header says ${base + h.dataBytes}`);
    const col = new Map<string, Column>();
    for (const r of h.columns) {
      const C = CTORS[r.t];
      if (!C) throw new Error(`evidence file: unknown array type ${r.t}`);
      const bytes = r.n * C.BYTES_PER_ELEMENT;
      if (r.o + bytes > h.dataBytes) throw new Error(`evidence file: column ${r.name} out of bounds`);
      const buf = new ArrayBuffer(bytes);
      const view = new Uint8Array(buf);
      let got = 0;
      while (got < bytes) {
        const n = readSync(fd, view, got, bytes - got, base + r.o + got);
        if (n === 0) throw new Error(`evidence file is truncated (${r.name})`);
        got += n;
      }
      if (crc32(view) !== r.crc) throw new Error(`evidence file: checksum mismatch in ${r.name}`);
      col.set(r.name, new C(buf) as Column);
    }
    const need = (name: string) => {
      const c = col.get(name);
      if (!c) throw new Error(`evidence file: column ${name} missing`);
      return c;
    };
    const domText = Buffer.from(need('domains').buffer).toString('utf8');
    const index = need('index4') as Uint32Array<ArrayBuffer>;
    const evidence: Evidence = {
      serial: h.serial,
      builtAt: h.builtAt,
      sourceNames: h.sourceNames,
      sourceWeights: h.sourceWeights,
      providerNames: h.providerNames,
      starts4: need('starts4') as Uint32Array<ArrayBuffer>,
      cls4: need('cls4') as Uint16Array<ArrayBuffer>,
      ...(h.shift4 !== null && index.length ? { index4: { shift: h.shift4, at: index } } : {}),
      starts6: need('starts6') as Uint32Array<ArrayBuffer>,
      cls6: need('cls6') as Uint16Array<ArrayBuffer>,
      domains: domText ? domText.split('\n') : [],
      domCls: need('domCls') as Uint16Array<ArrayBuffer>,
      classSources: need('classSources') as Uint32Array<ArrayBuffer>,
      classProviders: need('classProviders') as Uint32Array<ArrayBuffer>,
    };
    checkShape(evidence);
    return { evidence, inputs: h.inputs, bytes: size };
  } finally {
    closeSync(fd);
  }
}

/** Cheap consistency checks a lookup relies on (a valid checksum over a wrong shape would
 *  still answer wrongly). */
function checkShape(e: Evidence): void {
  const bad = (what: string) => new Error(`evidence file: ${what}`);
  if (e.starts4.length < 1 || e.starts4[0] !== 0 || e.cls4.length !== e.starts4.length) throw bad('IPv4 columns inconsistent');
  if (e.starts6.length !== e.cls6.length * 4 || e.cls6.length < 1) throw bad('IPv6 columns inconsistent');
  if (e.domCls.length !== e.domains.length) throw bad('domain columns inconsistent');
  if (e.classSources.length !== e.classProviders.length || e.classSources.length < 1) throw bad('class table inconsistent');
  if (e.sourceNames.length !== e.sourceWeights.length) throw bad('source names and weights differ in length');
  const nc = e.classSources.length;
  for (const c of [e.cls4, e.cls6, e.domCls]) for (let i = 0; i < c.length; i++) if (c[i]! >= nc) throw bad('class id out of range');
  if (e.index4 && e.index4.at[e.index4.at.length - 1] !== e.starts4.length) throw bad('IPv4 index inconsistent');
}

function alive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Removes temp files a killed writer left beside the evidence file; returns their names. */
export function removeLeftovers(path: string): string[] {
  const dir = dirname(path);
  const prefix = `${basename(path)}.tmp-`;
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => n.startsWith(prefix));
  } catch {
    return [];
  }
  const gone: string[] = [];
  for (const n of names.filter((x) => !alive(Number(x.slice(prefix.length))))) {
    try {
      rmSync(join(dir, n), { force: true });
      gone.push(n);
    } catch {
      // a read-only state dir: the file stays, and is never read (only evidence.qev is)
    }
  }
  return gone;
}
