// Binary snapshot of a loaded dataset, so a restart answers before it re-reads text files.
//
// File layout (all integers little-endian):
//   0   8 bytes  magic "QBLSNAP\0"
//   8   u32      format version (SNAPSHOT_VERSION); a different version is ignored, not misread
//   12  u32      byte length H of the JSON header
//   16  H bytes  JSON header: { key, stamps, part } where `part` is the SnapshotPart tree with each
//                typed array replaced by { t: constructor name, o: byte offset, n: element count }
//   ...          zero padding to a multiple of 8, then the array bytes, each starting 8-aligned;
//                offsets are relative to the start of this data area.
// Files are written to a temp name and renamed, so a reader never sees half a snapshot.

import { open, writeFile, rename, mkdir, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { SnapshotPart } from './datasets/types.ts';
import type { FileStamp } from './rbldnsd/reader.ts';

const MAGIC = Buffer.from('QBLSNAP\0', 'latin1');
export const SNAPSHOT_VERSION = 1;

const CTORS = {
  Uint8Array, Int8Array, Uint16Array, Int16Array, Uint32Array, Int32Array,
  Float32Array, Float64Array, BigUint64Array, BigInt64Array,
} as const;
type CtorName = keyof typeof CTORS;

interface ArrayRef { t: CtorName; o: number; n: number }
interface StoredPart { type: string; meta: unknown; arrays: ArrayRef[]; children?: StoredPart[] }

export interface SnapshotFile {
  /** Identifies what was loaded (type, files, load options); a mismatch means "not this data". */
  key: string;
  stamps: FileStamp[];
  part: SnapshotPart;
}

const align8 = (n: number) => (n + 7) & ~7;

export function encodeSnapshot(snap: SnapshotFile): Buffer[] {
  const chunks: Buffer[] = [];
  let offset = 0;
  const store = (p: SnapshotPart): StoredPart => ({
    type: p.type,
    meta: p.meta,
    arrays: p.arrays.map((a) => {
      const name = a.constructor.name as CtorName;
      if (!(name in CTORS)) throw new Error(`snapshot: unsupported array type ${name}`);
      const bytes = Buffer.from(a.buffer, a.byteOffset, a.byteLength);
      const ref: ArrayRef = { t: name, o: offset, n: a.byteLength / (a as unknown as { BYTES_PER_ELEMENT: number }).BYTES_PER_ELEMENT };
      chunks.push(bytes);
      const pad = align8(a.byteLength) - a.byteLength;
      if (pad) chunks.push(Buffer.alloc(pad));
      offset += align8(a.byteLength);
      return ref;
    }),
    ...(p.children ? { children: p.children.map(store) } : {}),
  });
  const header = Buffer.from(JSON.stringify({ key: snap.key, stamps: snap.stamps, part: store(snap.part) }), 'utf8');
  const head = Buffer.alloc(align8(16 + header.length));
  MAGIC.copy(head, 0);
  head.writeUInt32LE(SNAPSHOT_VERSION, 8);
  head.writeUInt32LE(header.length, 12);
  header.copy(head, 16);
  return [head, ...chunks];
}

export function decodeSnapshot(buf: Buffer): SnapshotFile {
  if (buf.length < 16 || !buf.subarray(0, 8).equals(MAGIC)) throw new Error('not a quorumbl snapshot');
  const version = buf.readUInt32LE(8);
  if (version !== SNAPSHOT_VERSION) throw new Error(`snapshot format version ${version}, expected ${SNAPSHOT_VERSION}`);
  const hlen = buf.readUInt32LE(12);
  const { key, stamps, part } = JSON.parse(buf.toString('utf8', 16, 16 + hlen)) as { key: string; stamps: FileStamp[]; part: StoredPart };
  // Typed-array views need an aligned base; copy once if the buffer is not 8-aligned.
  let data = buf.subarray(align8(16 + hlen));
  if (data.byteOffset % 8 !== 0) data = Buffer.from(data);
  const load = (p: StoredPart): SnapshotPart => ({
    type: p.type,
    meta: p.meta,
    arrays: p.arrays.map((r) => {
      const C = CTORS[r.t];
      if (!C) throw new Error(`snapshot: unknown array type ${r.t}`);
      const end = r.o + r.n * C.BYTES_PER_ELEMENT;
      if (end > data.length) throw new Error('snapshot is truncated');
      return new C(data.buffer as ArrayBuffer, data.byteOffset + r.o, r.n);
    }),
    ...(p.children ? { children: p.children.map(load) } : {}),
  });
  return { key, stamps, part: load(part) };
}

export async function writeSnapshot(path: string, snap: SnapshotFile): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    await writeFile(tmp, encodeSnapshot(snap));
    await rename(tmp, path);
  } catch (e) {
    // A full disk leaves a partial temp: never loaded (exact names only), but it holds space.
    await rm(tmp, { force: true }).catch(() => {});
    throw e;
  }
}

/** Reads a snapshot into shared memory: its arrays (a source's ranges) then go to the merge
 *  worker without a copy on the thread that answers DNS. */
export async function readSnapshot(path: string): Promise<SnapshotFile> {
  const fh = await open(path, 'r');
  try {
    const { size } = await fh.stat();
    const buf = Buffer.from(new SharedArrayBuffer(size));
    let got = 0;
    while (got < size) {
      const { bytesRead } = await fh.read(buf, got, size - got, got);
      if (bytesRead === 0) break; // truncated meanwhile: decodeSnapshot says so
      got += bytesRead;
    }
    return decodeSnapshot(buf.subarray(0, got));
  } finally {
    await fh.close();
  }
}

type ArrayCtor = new (b: ArrayBufferLike, off: number, n: number) => ArrayBufferView;

/** The part with its arrays copied into one SharedArrayBuffer (8-aligned each): posted to
 *  another thread, it is shared instead of copied (the loader builds, the merge worker reads). */
export function sharedPart(part: SnapshotPart): SnapshotPart {
  let total = 0;
  const measure = (p: SnapshotPart): void => {
    for (const a of p.arrays) total += align8(a.byteLength);
    p.children?.forEach(measure);
  };
  measure(part);
  const sab = new SharedArrayBuffer(total);
  const bytes = new Uint8Array(sab);
  let off = 0;
  const copy = (p: SnapshotPart): SnapshotPart => ({
    ...p,
    arrays: p.arrays.map((a) => {
      const C = a.constructor as ArrayCtor & { BYTES_PER_ELEMENT: number };
      bytes.set(new Uint8Array(a.buffer, a.byteOffset, a.byteLength), off);
      const out = new C(sab, off, a.byteLength / C.BYTES_PER_ELEMENT);
      off += align8(a.byteLength);
      return out;
    }),
    ...(p.children ? { children: p.children.map(copy) } : {}),
  });
  return copy(part);
}
