// The A + TXT value of a DNSBL entry (rbldnsd `:A:TXT` syntax) and TXT template expansion.

import type { LoadState, Loc } from './state.ts';

/** A listed entry's answer: A as uint32, TXT template (null = no TXT). */
export interface Value {
  a: number;
  txt: string | null;
}

export const BUILTIN_DEFAULT: Value = Object.freeze({ a: 0x7f000002, txt: null });

const TXT_TEMPLATE_MAX = 255;
const TXT_EXPANDED_MAX = 254;

/** inet_aton-style A value: `n` = 127.0.0.n, `a.b` = a.0.0.b, `a.b.c` = a.b.0.c, `a.b.c.d`.
 *  Returns undefined when invalid or 0.0.0.0. */
export function parseAValue(text: string): number | undefined {
  if (!/^\d{1,3}(\.\d{1,3}){0,3}$/.test(text)) return undefined;
  const p = text.split('.').map(Number);
  if (p.some((x) => x > 255)) return undefined;
  let v: number;
  switch (p.length) {
    case 1:
      if (p[0] === 0) return undefined;
      v = 0x7f000000 + p[0]!;
      break;
    case 2: v = p[0]! * 0x1000000 + p[1]!; break;
    case 3: v = p[0]! * 0x1000000 + p[1]! * 0x10000 + p[2]!; break;
    default: v = p[0]! * 0x1000000 + p[1]! * 0x10000 + p[2]! * 0x100 + p[3]!;
  }
  return v === 0 ? undefined : v;
}

// TXT strings are byte strings (latin1: one char per byte, as read from the file), so
// `.length` is the byte count and the wire encoder writes them back byte for byte.
function capTemplate(txt: string, state: LoadState, at: Loc): string {
  if (txt.length <= TXT_TEMPLATE_MAX) return txt;
  state.warn(at, 'TXT template longer than 255 bytes, truncated');
  return txt.slice(0, TXT_TEMPLATE_MAX);
}

/** Parses the value part of an entry line (text after the key, leading blanks removed).
 *  Returns the value, or a string describing why the line is invalid. */
export function parseEntryValue(text: string, current: Value, state: LoadState, at: Loc): Value | string {
  if (text === '' || text[0] === '#' || text[0] === ';') return current;
  if (text[0] !== ':') return { a: current.a, txt: capTemplate(text, state, at) };
  const m = /^:([^:\s]*)(?:[ \t]*:[ \t]*(.*))?$/s.exec(text);
  if (!m) return 'unrecognized value for an entry';
  const a = parseAValue(m[1]!);
  if (a === undefined) return 'invalid A RR';
  if (m[2] === undefined) return { a, txt: current.txt };
  return { a, txt: m[2] === '' ? null : capTemplate(m[2], state, at) };
}

/** A default-value line (starts with `:`) updates the current default; a bad one is ignored. */
export function parseDefaultLine(line: string, current: Value, state: LoadState, at: Loc): Value {
  const v = parseEntryValue(line, current, state, at);
  if (typeof v === 'string') {
    state.warn(at, `invalid default entry (${v}), ignored`);
    return current;
  }
  return v;
}

/** Interns values so entries can refer to them by a small integer index. */
export class ValueTable {
  readonly values: Value[] = [];
  private readonly index = new Map<string, number>();

  intern(v: Value): number {
    const key = `${v.a}|${v.txt ?? '\u0000'}`;
    let i = this.index.get(key);
    if (i === undefined) {
      i = this.values.length;
      this.values.push({ a: v.a, txt: v.txt });
      this.index.set(key, i);
    }
    return i;
  }
}

/** The substitution scope a dataset keeps after loading (`$0`..`$9`, `$=`). */
export interface Substitutions {
  subst: (string | null)[];
  base: string | null;
}

export function substitutionsOf(state: LoadState): Substitutions {
  return { subst: state.subst.map((s) => s ?? null), base: state.base ?? null };
}


function expandTemplate(tpl: string, subject: string, s: Substitutions, eq: string): string {
  if (tpl.indexOf('$') < 0) return tpl;
  let out = '';
  for (let i = 0; i < tpl.length; i++) {
    const c = tpl[i]!;
    if (c !== '$') {
      out += c;
      continue;
    }
    const n = tpl[i + 1];
    if (n === '$') {
      out += '$';
      i++;
    } else if (n !== undefined && n >= '0' && n <= '9') {
      const v = s.subst[n.charCodeAt(0) - 48];
      out += v ?? '$' + n;
      i++;
    } else if (n === '=') {
      out += eq;
      i++;
    } else {
      out += subject;
    }
  }
  return out;
}

/** Expands an entry's TXT template for one answer (rbldnsd 2.4); null = no TXT record. */
export function expandTxt(txt: string | null, subject: string, s: Substitutions): string | null {
  let out: string;
  if (s.base) {
    if (txt !== null && txt[0] === '=') out = expandTemplate(txt.slice(1), subject, s, txt.slice(1));
    else out = expandTemplate(s.base, subject, s, txt ?? subject);
  } else {
    if (txt === null) return null;
    const tpl = txt[0] === '=' ? txt.slice(1) : txt; // rbldnsd strips a leading '=' either way
    out = expandTemplate(tpl, subject, s, tpl);
  }
  if (out === '') return null;
  return out.length <= TXT_EXPANDED_MAX ? out : out.slice(0, TXT_EXPANDED_MAX);
}
