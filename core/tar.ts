// A small POSIX ustar writer and streaming reader: what `quorumbl backup` / `restore` need (regular
// files only), readable by GNU tar (`tar tzvf backup.tar.gz`). Names up to 255 bytes (the ustar
// prefix/name split), sizes below 8 GiB (11 octal digits). The reader checks every header's
// checksum and says at which byte an archive is torn or not a tar at all.

const BLOCK = 512;

export class TarError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TarError';
  }
}

export interface TarEntry {
  name: string;
  size: number;
  /** Modification time, unix seconds. */
  mtime: number;
  mode: number;
}

function octal(buf: Buffer, value: number, offset: number, width: number): void {
  const s = value.toString(8).padStart(width - 1, '0');
  if (s.length > width - 1) throw new TarError(`value ${value} does not fit a ${width}-byte tar field`);
  buf.write(s + '\0', offset, width, 'ascii');
}

/** The 512-byte header of a regular file. */
export function tarHeader(e: TarEntry): Buffer {
  const h = Buffer.alloc(BLOCK);
  const nameBytes = Buffer.byteLength(e.name);
  let name = e.name;
  let prefix = '';
  if (nameBytes > 100) {
    // Split at a '/' so that the prefix fits 155 bytes and the rest 100.
    const cut = e.name.lastIndexOf('/', 155);
    if (cut <= 0 || Buffer.byteLength(e.name.slice(cut + 1)) > 100 || Buffer.byteLength(e.name.slice(0, cut)) > 155) {
      throw new TarError(`path too long for a tar archive: ${e.name}`);
    }
    prefix = e.name.slice(0, cut);
    name = e.name.slice(cut + 1);
  }
  h.write(name, 0, 100, 'utf8');
  octal(h, e.mode & 0o7777, 100, 8);
  octal(h, 0, 108, 8); // uid
  octal(h, 0, 116, 8); // gid
  octal(h, e.size, 124, 12);
  octal(h, Math.max(0, Math.floor(e.mtime)), 136, 12);
  h.fill(0x20, 148, 156); // checksum field counts as spaces
  h.write('0', 156, 1, 'ascii'); // regular file
  h.write('ustar\0', 257, 6, 'ascii');
  h.write('00', 263, 2, 'ascii');
  h.write(prefix, 345, 155, 'utf8');
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += h[i]!;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8, 'ascii');
  return h;
}

/** Zero bytes that bring an entry of `size` bytes to a whole block. */
export function tarPadding(size: number): Buffer {
  return Buffer.alloc((BLOCK - (size % BLOCK)) % BLOCK);
}

/** The end of an archive: two zero blocks. */
export const TAR_END = Buffer.alloc(2 * BLOCK);

function field(h: Buffer, offset: number, width: number): string {
  const end = h.indexOf(0, offset);
  return h.toString('utf8', offset, end === -1 || end > offset + width ? offset + width : end);
}

function readOctal(h: Buffer, offset: number, width: number, what: string, at: number): number {
  const s = field(h, offset, width).trim();
  if (!/^[0-7]*$/.test(s)) throw new TarError(`not a tar archive, or a damaged one: bad ${what} field in the header at byte ${at}`);
  return s ? parseInt(s, 8) : 0;
}

function parseHeader(h: Buffer, at: number): TarEntry & { type: string } {
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : h[i]!;
  const stored = readOctal(h, 148, 8, 'checksum', at);
  if (stored !== sum) throw new TarError(`not a tar archive, or a damaged one: header checksum mismatch at byte ${at}`);
  const name = field(h, 0, 100);
  const prefix = h.toString('ascii', 257, 262) === 'ustar' ? field(h, 345, 155) : '';
  return {
    name: prefix ? `${prefix}/${name}` : name,
    size: readOctal(h, 124, 12, 'size', at),
    mtime: readOctal(h, 136, 12, 'mtime', at),
    mode: readOctal(h, 100, 8, 'mode', at),
    type: String.fromCharCode(h[156]!) || '0',
  };
}

/** Receives one entry's bytes. */
export interface EntrySink {
  write(chunk: Buffer): void;
  end(): void;
}

/** Reads a tar stream: `onEntry` is called for each regular file and returns where its bytes go.
 *  Directories are skipped; any other entry type (links, devices) is an error. Throws TarError
 *  when the stream is torn (it ends inside an entry or without the end blocks). */
export async function readTar(chunks: AsyncIterable<Buffer>, onEntry: (e: TarEntry) => EntrySink): Promise<void> {
  let buf: Buffer = Buffer.alloc(0);
  let pos = 0; // bytes of the archive consumed before buf
  let cur: { e: TarEntry; sink: EntrySink | null; left: number; pad: number } | null = null;
  let ended = false;
  let zeros = 0;
  for await (const c of chunks) {
    buf = buf.length ? Buffer.concat([buf, c]) : c;
    for (;;) {
      if (ended) {
        buf = Buffer.alloc(0); // trailing zero blocks and record padding
        break;
      }
      if (cur) {
        if (cur.left > 0) {
          if (!buf.length) break;
          const n = Math.min(cur.left, buf.length);
          cur.sink?.write(buf.subarray(0, n));
          cur.left -= n;
          buf = buf.subarray(n);
          pos += n;
          if (cur.left > 0) break;
          cur.sink?.end();
        }
        if (buf.length < cur.pad) break;
        buf = buf.subarray(cur.pad);
        pos += cur.pad;
        cur = null;
      }
      if (buf.length < BLOCK) break;
      const h = buf.subarray(0, BLOCK);
      const at = pos;
      buf = buf.subarray(BLOCK);
      pos += BLOCK;
      if (h.every((b) => b === 0)) {
        if (++zeros === 2) ended = true;
        continue;
      }
      zeros = 0;
      const p = parseHeader(h, at);
      const pad = (BLOCK - (p.size % BLOCK)) % BLOCK;
      if (p.type === '5') {
        cur = { e: p, sink: null, left: 0, pad: 0 };
        continue;
      }
      if (p.type !== '0' && p.type !== '\0') throw new TarError(`unsupported entry type '${p.type}' for ${p.name} at byte ${at}`);
      const sink = onEntry({ name: p.name, size: p.size, mtime: p.mtime, mode: p.mode });
      cur = { e: p, sink, left: p.size, pad };
      if (p.size === 0) {
        sink.end();
        cur.left = 0;
      }
    }
  }
  if (cur && (cur.left > 0 || buf.length < cur.pad)) throw new TarError(`the archive ends in the middle of ${cur.e.name} (at byte ${pos + buf.length})`);
  if (!ended) throw new TarError(`the archive is truncated: no end-of-archive marker after byte ${pos}`);
}
