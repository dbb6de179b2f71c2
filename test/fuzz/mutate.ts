// Seeded DNS query mutator for the packet fuzzer (test/fuzz/dns.test.ts, test/bench/fuzz.ts).
// A message starts as a valid query (a `QuerySpec`: header, question, records per section),
// gets 0-2 structural mutations on the spec (count lies, OPT in the wrong section, several OPTs,
// compression pointers and loops, huge label counts, odd classes/types) and then 0-2 byte-level
// ones on the encoded bytes (bit flips, truncation, garbage, splices). Same seed, same messages.

import { sfc32 } from '../bench/datagen.ts';
import { encodeName, QTYPE, QCLASS } from '../differential/wire.ts';

export class Rng {
  private readonly next: () => number;
  constructor(readonly seed: number) {
    this.next = sfc32(seed);
  }
  /** Uniform integer in [0, n). */
  int(n: number): number {
    return n <= 1 ? 0 : this.next() % n;
  }
  chance(p: number): boolean {
    return this.next() / 4294967296 < p;
  }
  pick<T>(a: readonly T[]): T {
    return a[this.int(a.length)]!;
  }
  bytes(n: number): Buffer {
    const b = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i++) b[i] = this.next() & 0xff;
    return b;
  }
}

type Section = 'an' | 'ns' | 'ar';

export interface QuerySpec {
  id: number;
  /** Header bytes 2-3: QR/opcode/AA/TC/RD and RA/Z/AD/CD/RCODE. */
  flags: number;
  /** The question name as wire bytes (may hold pointers or lies once mutated). */
  name: Buffer;
  qtype: number;
  qclass: number;
  records: { section: Section; rr: Buffer }[];
  /** Header counts written instead of the true ones (lies). */
  counts?: Partial<Record<'qd' | 'an' | 'ns' | 'ar', number>>;
  /** Bytes appended after the records. */
  tail?: Buffer;
}

export function encodeSpec(s: QuerySpec): Buffer {
  const order: Section[] = ['an', 'ns', 'ar'];
  const rrs = order.flatMap((sec) => s.records.filter((r) => r.section === sec).map((r) => r.rr));
  const h = Buffer.alloc(12);
  h.writeUInt16BE(s.id & 0xffff, 0);
  h.writeUInt16BE(s.flags & 0xffff, 2);
  const n = (sec: Section) => s.records.filter((r) => r.section === sec).length;
  h.writeUInt16BE((s.counts?.qd ?? 1) & 0xffff, 4);
  h.writeUInt16BE((s.counts?.an ?? n('an')) & 0xffff, 6);
  h.writeUInt16BE((s.counts?.ns ?? n('ns')) & 0xffff, 8);
  h.writeUInt16BE((s.counts?.ar ?? n('ar')) & 0xffff, 10);
  const qt = Buffer.alloc(4);
  qt.writeUInt16BE(s.qtype & 0xffff, 0);
  qt.writeUInt16BE(s.qclass & 0xffff, 2);
  return Buffer.concat([h, s.name, qt, ...rrs, s.tail ?? Buffer.alloc(0)]);
}

/** An OPT record (RFC 6891): root owner unless told, payload size, ext-rcode/version/flags, options. */
export function optRecord(o: { size?: number; version?: number; do?: boolean; options?: Buffer; owner?: Buffer; rdlenLie?: number } = {}): Buffer {
  const owner = o.owner ?? Buffer.from([0]);
  const opts = o.options ?? Buffer.alloc(0);
  const f = Buffer.alloc(10);
  f.writeUInt16BE(41, 0);
  f.writeUInt16BE((o.size ?? 1232) & 0xffff, 2);
  f[4] = 0;
  f[5] = o.version ?? 0;
  f.writeUInt16BE(o.do ? 0x8000 : 0, 6);
  f.writeUInt16BE((o.rdlenLie ?? opts.length) & 0xffff, 8);
  return Buffer.concat([owner, f, opts]);
}

function option(code: number, data: Buffer): Buffer {
  const h = Buffer.alloc(4);
  h.writeUInt16BE(code, 0);
  h.writeUInt16BE(data.length, 2);
  return Buffer.concat([h, data]);
}

/** A plain resource record (any type) with an uncompressed owner. */
function rr(owner: Buffer, type: number, klass: number, ttl: number, rdata: Buffer, rdlenLie?: number): Buffer {
  const f = Buffer.alloc(10);
  f.writeUInt16BE(type, 0);
  f.writeUInt16BE(klass, 2);
  f.writeUInt32BE(ttl >>> 0, 4);
  f.writeUInt16BE((rdlenLie ?? rdata.length) & 0xffff, 8);
  return Buffer.concat([owner, f, rdata]);
}

const COMMON_TYPES = [QTYPE.A!, QTYPE.A!, QTYPE.A!, QTYPE.TXT!, QTYPE.TXT!, QTYPE.ANY!, QTYPE.SOA!, QTYPE.NS!, QTYPE.AAAA!, QTYPE.MX!];
const ODD_TYPES = [0, 5, 12, 41, 249, 250, 251, 252, 253, 254, 255, 256, 257, 0xff00, 0xffff, QTYPE.AXFR!, QTYPE.IXFR!];
const ODD_CLASSES = [0, QCLASS.CH!, QCLASS.HS!, 254, QCLASS.ANY!, 2, 0xfe00, 0xffff];
const INTERESTING16 = [0, 1, 2, 3, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000, 0xfffe, 0xffff];
const INTERESTING8 = [0, 1, 0x3f, 0x40, 0x7f, 0x80, 0xbf, 0xc0, 0xc1, 0xfe, 0xff];

/** Random case for the ASCII letters of a wire name (servers must echo it unchanged). */
function randomCase(r: Rng, name: Buffer): Buffer {
  const b = Buffer.from(name);
  for (let i = 0; i < b.length; i++) {
    const c = b[i]!;
    if (c >= 0x61 && c <= 0x7a && r.chance(0.3)) b[i] = c - 32;
  }
  return b;
}

/** A valid query for one of `names`: a common type, RD random, EDNS half of the time. */
export function validSpec(r: Rng, names: readonly string[]): QuerySpec {
  const name = r.chance(0.02) ? encodeName(r.pick(['version.bind', 'version.server'])) : randomCase(r, encodeName(r.pick(names)));
  const ch = name.length < 20 && r.chance(0.5);
  const s: QuerySpec = {
    id: r.int(0x10000),
    flags: r.chance(0.5) ? 0x0100 : 0,
    name,
    qtype: ch ? QTYPE.TXT! : r.pick(COMMON_TYPES),
    qclass: ch ? QCLASS.CH! : QCLASS.IN!,
    records: [],
  };
  if (r.chance(0.5)) {
    const opts: Buffer[] = [];
    if (r.chance(0.3)) opts.push(option(10, r.bytes(8))); // client cookie
    if (r.chance(0.2)) opts.push(option(8, Buffer.from([0, 1, 24, 0, 192, 0, 2]))); // ECS
    if (r.chance(0.1)) opts.push(option(12, Buffer.alloc(r.int(64)))); // padding
    s.records.push({ section: 'ar', rr: optRecord({ size: r.pick([512, 1232, 4096, 65535, 100]), do: r.chance(0.3), options: Buffer.concat(opts) }) });
  }
  return s;
}

// ---------------------------------------------------------------------------------------------
// Structural mutations (on the spec)

type SpecOp = (r: Rng, s: QuerySpec, all: readonly string[]) => string;

/** Offsets of the length bytes of the labels of an uncompressed wire name (root excluded). */
function labelOffsets(name: Buffer): number[] {
  const out: number[] = [];
  for (let o = 0; o < name.length && name[o]! > 0 && name[o]! < 64; o += name[o]! + 1) out.push(o);
  return out;
}

const SPEC_OPS: Record<string, SpecOp> = {
  countLie(r, s) {
    const which = r.pick(['qd', 'an', 'ns', 'ar'] as const);
    const v = r.chance(0.7) ? r.pick(INTERESTING16) : r.int(0x10000);
    s.counts = { ...s.counts, [which]: v };
    return `${which}count=${v}`;
  },
  optWrongSection(r, s) {
    const sec = r.pick(['an', 'ns'] as const);
    s.records.push({ section: sec, rr: optRecord({ size: 4096 }) });
    return `OPT in ${sec}`;
  },
  multipleOpts(r, s) {
    const n = 2 + r.int(3);
    for (let i = 0; i < n; i++) s.records.push({ section: 'ar', rr: optRecord({ size: r.pick([512, 4096, 1232]) }) });
    return `${n} extra OPTs`;
  },
  badOpt(r, s) {
    const kind = r.int(6);
    const opt =
      kind === 0 ? optRecord({ version: 1 + r.int(255) })
      : kind === 1 ? optRecord({ owner: encodeName('x.example') })
      : kind === 2 ? optRecord({ options: option(10, r.bytes(8)), rdlenLie: r.pick([0, 3, 11, 13, 0xffff]) })
      : kind === 3 ? optRecord({ options: Buffer.from([0, 10, 0, 200, 1, 2]) }) // option longer than RDATA
      : kind === 4 ? optRecord({ size: r.pick([0, 1, 511]) })
      : optRecord({ owner: Buffer.from([0xc0, 12]) }); // compressed owner
    s.records = s.records.filter((x) => x.section !== 'ar');
    s.records.push({ section: 'ar', rr: opt });
    return `bad OPT ${kind}`;
  },
  otherRecords(r, s) {
    const owner = r.chance(0.5) ? Buffer.from([0xc0, 12]) : encodeName('a.example');
    const n = 1 + r.int(3);
    for (let i = 0; i < n; i++) {
      const sec = r.pick(['an', 'ns', 'ar'] as const);
      const type = r.pick([1, 16, 250, 6, 42, 0xffff]);
      const data = r.bytes(r.int(20));
      s.records.push({ section: sec, rr: rr(owner, type, r.pick([1, 255, 254]), r.int(0x10000), data, r.chance(0.3) ? r.int(0x10000) : undefined) });
    }
    return `${n} extra records`;
  },
  oddType(r, s) {
    s.qtype = r.chance(0.8) ? r.pick(ODD_TYPES) : r.int(0x10000);
    return `qtype=${s.qtype}`;
  },
  oddClass(r, s) {
    s.qclass = r.chance(0.8) ? r.pick(ODD_CLASSES) : r.int(0x10000);
    return `qclass=${s.qclass}`;
  },
  flags(r, s) {
    const bits = r.pick([0x8000, 0x0400, 0x0200, 0x0080, 0x0040, 0x0020, 0x0010, 0x000f, (r.int(16) << 11) >>> 0]);
    s.flags ^= bits;
    return `flags^=0x${bits.toString(16)}`;
  },
  pointerLoop(r, s) {
    // Replace the name from some label on with a compression pointer: to itself, to the
    // header, forward past the end, or a two-pointer loop.
    const offs = labelOffsets(s.name);
    const at = offs.length ? r.pick(offs) : 0;
    const here = 12 + at;
    const kind = r.int(5);
    const target = kind === 0 ? here : kind === 1 ? r.int(12) : kind === 2 ? here + 2 + r.int(600) : kind === 3 ? 12 : r.int(0x4000);
    const ptr = Buffer.from([0xc0 | ((target >> 8) & 0x3f), target & 0xff]);
    const loop = kind === 4 ? Buffer.from([0xc0 | (here >> 8), (here + 2) & 0xff, 0xc0 | (here >> 8), here & 0xff]) : ptr;
    s.name = Buffer.concat([s.name.subarray(0, at), loop]);
    return `pointer kind ${kind} -> ${target}`;
  },
  hugeLabels(r, s, all) {
    const kind = r.int(4);
    const base = encodeName(r.pick(all));
    if (kind === 0) {
      const n = 100 + r.int(200); // 1-byte labels: past 127 labels / 255 bytes
      const parts: Buffer[] = [];
      for (let i = 0; i < n; i++) parts.push(Buffer.from([1, 0x30 + (i % 10)]));
      s.name = Buffer.concat([...parts, base]);
    } else if (kind === 1) {
      const parts: Buffer[] = [];
      const n = 3 + r.int(4);
      for (let i = 0; i < n; i++) parts.push(Buffer.from([63]), Buffer.alloc(63, 0x61 + i));
      s.name = Buffer.concat([...parts, base]);
    } else if (kind === 2) {
      s.name = Buffer.concat([Buffer.from([r.pick([64, 65, 100, 127, 128, 191])]), r.bytes(40), base]);
    } else {
      // Exactly at the limits: 255-byte name of 1-byte labels that still ends in a zone.
      const parts: Buffer[] = [];
      let len = base.length;
      while (len + 2 <= 255) {
        parts.push(Buffer.from([1, 0x31]));
        len += 2;
      }
      s.name = Buffer.concat([...parts, base]);
    }
    return `huge name kind ${kind} (${s.name.length} bytes)`;
  },
  labelLie(r, s) {
    const offs = labelOffsets(s.name);
    if (!offs.length) return 'label lie (root: none)';
    const at = r.pick(offs);
    const v = r.chance(0.5) ? r.pick(INTERESTING8) : r.int(256);
    s.name = Buffer.from(s.name);
    s.name[at] = v;
    return `label@${at}=${v}`;
  },
  noTerminator(r, s) {
    s.name = s.name.subarray(0, Math.max(0, s.name.length - 1));
    return 'name without root label';
  },
  binaryLabel(r, s) {
    const offs = labelOffsets(s.name);
    if (!offs.length) return 'binary label (root: none)';
    const at = r.pick(offs);
    const l = s.name[at]!;
    s.name = Buffer.from(s.name);
    for (let i = 1; i <= l; i++) if (r.chance(0.5)) s.name[at + i] = r.pick([0, 0x2e, 0x5c, 0x22, 0x80, 0xff, 0x20]);
    return `binary bytes in label@${at}`;
  },
  splice(r, s, all) {
    s.tail = Buffer.concat([s.tail ?? Buffer.alloc(0), encodeSpec(validSpec(r, all)).subarray(r.int(12))]);
    return 'spliced another query after';
  },
};
const SPEC_OP_NAMES = Object.keys(SPEC_OPS);

// ---------------------------------------------------------------------------------------------
// Byte-level mutations (on the encoded message)

type ByteOp = (r: Rng, b: Buffer) => [Buffer, string];

const BYTE_OPS: Record<string, ByteOp> = {
  bitFlips(r, b) {
    if (!b.length) return [b, 'bit flips (empty)'];
    const n = 1 + r.int(8);
    const c = Buffer.from(b);
    for (let i = 0; i < n; i++) c[r.int(c.length)]! ^= 1 << r.int(8);
    return [c, `${n} bit flips`];
  },
  interestingByte(r, b) {
    if (!b.length) return [b, 'byte (empty)'];
    const c = Buffer.from(b);
    const at = r.int(c.length);
    c[at] = r.pick(INTERESTING8);
    return [c, `byte@${at}=${c[at]}`];
  },
  truncate(r, b) {
    const n = r.chance(0.3) ? r.int(Math.min(b.length, 18)) : r.int(b.length + 1);
    return [b.subarray(0, n), `truncated to ${n}`];
  },
  garbageTail(r, b) {
    const n = 1 + r.int(r.chance(0.1) ? 2000 : 64);
    return [Buffer.concat([b, r.bytes(n)]), `${n} garbage bytes appended`];
  },
  insertBytes(r, b) {
    const at = r.int(b.length + 1);
    const n = 1 + r.int(8);
    return [Buffer.concat([b.subarray(0, at), r.bytes(n), b.subarray(at)]), `${n} bytes inserted at ${at}`];
  },
  deleteBytes(r, b) {
    const at = r.int(b.length + 1);
    const n = 1 + r.int(8);
    return [Buffer.concat([b.subarray(0, at), b.subarray(at + n)]), `${n} bytes deleted at ${at}`];
  },
};
const BYTE_OP_NAMES = Object.keys(BYTE_OPS);

export interface Mutated {
  packet: Buffer;
  /** What was done, for failure reports. */
  ops: string[];
}

/** One fuzz message: a valid query, then 0-2 structural and 0-2 byte-level mutations. */
export function mutatedQuery(r: Rng, names: readonly string[]): Mutated {
  const s = validSpec(r, names);
  const ops: string[] = [];
  const ns = r.pick([0, 1, 1, 1, 2]);
  for (let i = 0; i < ns; i++) {
    const name = r.pick(SPEC_OP_NAMES);
    ops.push(SPEC_OPS[name]!(r, s, names));
  }
  let b = encodeSpec(s);
  const nb = r.pick([0, 0, 1, 1, 2]);
  for (let i = 0; i < nb; i++) {
    const name = r.pick(BYTE_OP_NAMES);
    const [nb2, what] = BYTE_OPS[name]!(r, b);
    b = nb2;
    ops.push(what);
  }
  if (ops.length === 0) ops.push('valid query');
  return { packet: b, ops };
}

/** Seed for a run: FUZZ_SEED when set (decimal or 0x hex), else random. */
export function fuzzSeed(env = process.env.FUZZ_SEED): number {
  if (env !== undefined && env !== '') {
    const n = Number(env);
    if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new Error(`FUZZ_SEED "${env}" is not an integer in 0..2^32-1`);
    return n;
  }
  return (Math.random() * 0x100000000) >>> 0;
}
