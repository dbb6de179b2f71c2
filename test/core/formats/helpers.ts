// Shared by the format tests: parse a fixture or a string, render the result readably.

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseSource, type ParseOptions, type ParsedSource } from '../../../core/formats/index.ts';

export const FIXTURES = fileURLToPath(new URL('../../fixtures/sources/', import.meta.url));

export function fixture(name: string): Buffer {
  return readFileSync(FIXTURES + name);
}

export function parse(input: string | Buffer, opts: Partial<ParseOptions> = {}): ParsedSource {
  const buf = typeof input === 'string' ? Buffer.from(input, 'latin1') : input;
  return parseSource(buf, { format: 'plain', kind: 'ip', maxPrefix4: 8, maxPrefix6: 19, ...opts });
}

const quad = (v: number): string => `${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`;

/** IPv4 ranges as `a.b.c.d/len` when they are one CIDR block, else `first-last`. */
export function v4(p: ParsedSource): string[] {
  return Array.from(p.v4.start, (s, i) => {
    const e = p.v4.end[i]!;
    const size = e - s + 1;
    if ((size & (size - 1)) === 0 && s % size === 0) return `${quad(s)}/${32 - Math.log2(size)}`;
    return `${quad(s)}-${quad(e)}`;
  });
}

/** IPv6 ranges as `first-last` in full (uncompressed, unpadded) groups. */
export function v6(p: ParsedSource): string[] {
  const out: string[] = [];
  const addr = (w: Uint32Array, o: number): string =>
    Array.from(w.subarray(o, o + 4), (x) => `${(x >>> 16).toString(16)}:${(x & 0xffff).toString(16)}`).join(':');
  for (let i = 0; i < p.v6.start.length; i += 4) out.push(`${addr(p.v6.start, i)}-${addr(p.v6.end, i)}`);
  return out;
}

/** `line: message` of the sampled errors. */
export function errors(p: ParsedSource): string[] {
  return p.sampleErrors.map((e) => `${e.line}: ${e.message}`);
}
