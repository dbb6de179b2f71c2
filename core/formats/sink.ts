// Where every format parser puts what it reads: range builders, domains, counters, the first
// errors (messages are only built for those), header metadata.

import { RangeBuilder4, RangeBuilder6 } from '../ranges.ts';
import { AddrToken, ERROR_TEXT } from './scan.ts';
import { SAMPLE_ERRORS, type ParseError, type ParseOptions, type ParsedSource } from './types.ts';
import { UNPACED, type Pacer } from '../pace.ts';

const SNIPPET = 60;

/** Printable excerpt of bytes [s, e) for an error message (quoted, escaped, shortened). */
export function snippet(b: Uint8Array, s: number, e: number): string {
  while (s < e && (b[s] === 32 || b[s] === 9)) s++;
  while (e > s && (b[e - 1] === 32 || b[e - 1] === 9 || b[e - 1] === 13)) e--;
  const cut = e - s > SNIPPET;
  const text = Buffer.from(b.buffer, b.byteOffset + s, Math.min(e - s, SNIPPET)).toString('latin1');
  return JSON.stringify(cut ? text + '...' : text);
}

export class Sink {
  readonly v4: RangeBuilder4;
  readonly v6 = new RangeBuilder6();
  readonly domains: string[] = [];
  lines = 0;
  entries = 0;
  errors = 0;
  readonly sample: ParseError[] = [];
  readonly meta: Record<string, string | number> = {};
  widest4 = 32;
  widest6 = 128;
  hostBitsMasked = 0;
  /** Entries wider than the source allows (also counted as errors). */
  tooWide = 0;
  readonly max4: number;
  readonly max6: number;

  constructor(
    readonly opts: ParseOptions,
    sizeHint: number,
    /** Keeps a background re-parse to its CPU share (checked every 16k entries). */
    private readonly pacer: Pacer = UNPACED,
  ) {
    // about one IPv4 entry per 16 bytes in typical lists; the builder grows when needed
    this.v4 = new RangeBuilder4(Math.min(1 << 24, Math.max(1024, sizeHint >>> 4)));
    this.max4 = opts.maxPrefix4;
    this.max6 = opts.maxPrefix6;
  }

  /** True while errors are still sampled (build messages only then). */
  get sampling(): boolean {
    return this.sample.length < SAMPLE_ERRORS;
  }

  error(line: number, message: string): void {
    this.errors++;
    if (this.sample.length < SAMPLE_ERRORS) this.sample.push({ line, message });
  }

  /** An error about the text in bytes [s, e) of the line. */
  errorAt(line: number, what: string, b: Uint8Array, s: number, e: number): void {
    this.errors++;
    if (this.sample.length < SAMPLE_ERRORS) this.sample.push({ line, message: `${what}: ${snippet(b, s, e)}` });
  }

  /** A token that scanAddr rejected (t.error) or that is followed by junk (junk = true). */
  tokenError(line: number, t: AddrToken, junk: boolean, b: Uint8Array, s: number, e: number): void {
    this.errors++;
    if (this.sample.length < SAMPLE_ERRORS) {
      const what = junk ? 'unexpected text after the address' : ERROR_TEXT[t.error] ?? 'invalid entry';
      this.sample.push({ line, message: `${what}: ${snippet(b, s, e)}` });
    }
  }

  /** Adds a scanned token, unless it is wider than the source allows. Returns false on error
   *  (already counted; [s, e) is the text quoted in the message). */
  add(t: AddrToken, line: number, b: Uint8Array, s: number, e: number): boolean {
    const width = t.width;
    if (t.family === 4) {
      if (width < this.max4) return this.wide(line, width, this.max4, b, s, e);
      this.v4.add(t.start4, t.end4);
      if (width < this.widest4) this.widest4 = width;
    } else {
      if (width < this.max6) return this.wide(line, width, this.max6, b, s, e);
      const w = t.w6;
      this.v6.addWords(w[0]!, w[1]!, w[2]!, w[3]!, w[4]!, w[5]!, w[6]!, w[7]!);
      if (width < this.widest6) this.widest6 = width;
    }
    if (t.masked) this.hostBitsMasked++;
    if ((++this.entries & 0x3fff) === 0) this.pacer.check();
    return true;
  }

  private wide(line: number, width: number, max: number, b: Uint8Array, s: number, e: number): false {
    this.tooWide++;
    this.errorAt(line, `wider than the allowed /${max} (covers a /${width})`, b, s, e);
    return false;
  }

  addDomain(name: string): void {
    this.domains.push(name);
    if ((this.domains.length & 0x3fff) === 0) this.pacer.check();
  }

  finish(): ParsedSource {
    if (this.hostBitsMasked > 0) this.meta['hostBitsMasked'] = this.hostBitsMasked;
    // an explicit comparator: much faster than the default (ToString) sort on 1M strings
    const domains = this.domains.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    let m = 0;
    for (let i = 0; i < domains.length; i++) {
      if (m === 0 || domains[i] !== domains[m - 1]) domains[m++] = domains[i]!;
    }
    domains.length = m;
    return {
      v4: this.v4.build(),
      v6: this.v6.build(),
      domains,
      lines: this.lines,
      entries: this.entries,
      errors: this.errors,
      sampleErrors: this.sample,
      meta: this.meta,
      widest4: this.widest4,
      widest6: this.widest6,
      tooWide: this.tooWide,
    };
  }
}

/** Calls fn(s, e, line) for each line of b: [s, e) without the newline and a trailing CR. A
 *  UTF-8 byte order mark at the start is skipped. Sets sink.lines. For the formats that are
 *  not on the hot path (plain lists have their own loop). */
export function eachLine(b: Uint8Array, sink: Sink, fn: (s: number, e: number, line: number) => void): void {
  const n = b.length;
  let p = bomLength(b);
  let line = 0;
  while (p < n) {
    let q = b.indexOf(10, p);
    if (q < 0) q = n;
    line++;
    let e = q;
    if (e > p && b[e - 1] === 13) e--;
    fn(p, e, line);
    p = q + 1;
  }
  sink.lines = line;
}

export function bomLength(b: Uint8Array): number {
  return b.length >= 3 && b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf ? 3 : 0;
}

/** `# Key : value` header comment (the first ':' followed by a blank or the end separates)
 *  into meta. [s, e) is the text after the comment character. */
export function headerField(b: Uint8Array, s: number, e: number, meta: Record<string, string | number>): void {
  for (let i = s; i < e; i++) {
    if (b[i] !== 58) continue;
    if (i + 1 < e && b[i + 1] !== 32 && b[i + 1] !== 9) return;
    const key = Buffer.from(b.buffer, b.byteOffset + s, i - s).toString('latin1').trim();
    const value = Buffer.from(b.buffer, b.byteOffset + i + 1, e - i - 1).toString('latin1').trim();
    if (!key || !value || key.length > 40 || key === '__proto__' || Object.hasOwn(meta, key)) return;
    if (Object.keys(meta).length < 64) meta[key] = value;
    return;
  }
}
