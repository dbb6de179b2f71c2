// JSON range feeds read with a field path, e.g. AWS ip-ranges.json `prefixes[].ip_prefix` and
// `ipv6_prefixes[].ipv6_prefix` with a filter { service: AMAZON }, or Google goog.json
// `prefixes[].ipv4Prefix` / `prefixes[].ipv6Prefix`.
//
// Path syntax: dot-separated field names; `name[]` walks every element of the array `name`.
// The last field is the CIDR (a string, or an array of strings). The filter applies to the object
// holding that last field: every listed field must equal the value (or one of the values).
// Objects without the field are skipped (goog.json mixes ipv4Prefix and ipv6Prefix objects).

import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { parsePath, type Segment } from '../../core/json-path.ts';
import { getJson } from './http.ts';
import { finishResult, type ProviderContext, type ProviderFeedResult, type RawRange } from './types.ts';

export type JsonFilter = Record<string, string | number | boolean | (string | number | boolean)[]>;

export interface JsonFeedConfig {
  provider: string;
  feed: string;
  /** http(s) URL, file:// URL or local path */
  url: string;
  /** one or more field paths to CIDR strings */
  paths: string[];
  filter?: JsonFilter;
  /** path of a scalar kept as the feed version, e.g. 'syncToken' */
  version_path?: string;
}

/** Walks a path, calling `leaf(value, holder)` for every value of the last field. */
function walk(node: unknown, segs: Segment[], i: number, leaf: (v: unknown, holder: Record<string, unknown>) => void): void {
  if (node === null || typeof node !== 'object' || Array.isArray(node)) return;
  const obj = node as Record<string, unknown>;
  const seg = segs[i]!;
  if (!(seg.field in obj)) return;
  const v = obj[seg.field];
  if (i === segs.length - 1) {
    if (seg.each && Array.isArray(v)) for (const x of v) leaf(x, obj);
    else leaf(v, obj);
    return;
  }
  if (seg.each) {
    if (Array.isArray(v)) for (const x of v) walk(x, segs, i + 1, leaf);
  } else walk(v, segs, i + 1, leaf);
}

function matches(holder: Record<string, unknown>, filter: JsonFilter | undefined): boolean {
  if (!filter) return true;
  for (const [k, want] of Object.entries(filter)) {
    const have = holder[k];
    if (Array.isArray(want) ? !want.some((w) => w === have) : want !== have) return false;
  }
  return true;
}

/** Extracts the ranges of a parsed document (exported for tests and for local files). */
export function rangesFromJson(doc: unknown, cfg: Pick<JsonFeedConfig, 'paths' | 'filter' | 'url'>, warnings: string[]): RawRange[] {
  const out: RawRange[] = [];
  const filterText = cfg.filter ? ` where ${Object.entries(cfg.filter).map(([k, v]) => `${k}=${Array.isArray(v) ? v.join('|') : v}`).join(', ')}` : '';
  for (const path of cfg.paths) {
    const segs = parsePath(path);
    let found = 0;
    walk(doc, segs, 0, (v, holder) => {
      if (!matches(holder, cfg.filter)) return;
      const values = Array.isArray(v) ? v : [v];
      for (const x of values) {
        if (typeof x !== 'string') {
          warnings.push(`${path}: not a string: ${JSON.stringify(x)}`);
          continue;
        }
        found++;
        out.push({ cidr: x, detail: `json ${path}${filterText}` });
      }
    });
    if (found === 0) warnings.push(`${path}${filterText}: no values`);
  }
  return out;
}

function scalarAt(doc: unknown, path: string): string | undefined {
  let v: string | undefined;
  walk(doc, parsePath(path), 0, (x) => {
    if (v === undefined && (typeof x === 'string' || typeof x === 'number')) v = String(x);
  });
  return v;
}

export async function loadJsonDoc(url: string, ctx: ProviderContext): Promise<unknown> {
  if (/^https?:\/\//i.test(url)) {
    const opts: Parameters<typeof getJson>[1] = { timeoutMs: ctx.timeoutMs ?? 30_000, userAgent: ctx.userAgent ?? 'quorumbl' };
    if (ctx.signal) opts.signal = ctx.signal;
    return getJson(url, opts);
  }
  const path = url.startsWith('file:') ? fileURLToPath(url) : url;
  return JSON.parse(await readFile(path, 'utf8'));
}

export async function fetchJsonFeed(cfg: JsonFeedConfig, ctx: ProviderContext): Promise<ProviderFeedResult> {
  const fetchedAt = (ctx.now ?? Date.now)();
  const doc = await loadJsonDoc(cfg.url, ctx);
  const warnings: string[] = [];
  const raw = rangesFromJson(doc, cfg, warnings);
  const extra: { warnings: string[]; version?: string } = { warnings };
  if (cfg.version_path) {
    const v = scalarAt(doc, cfg.version_path);
    if (v !== undefined) extra.version = v;
  }
  return finishResult(cfg.provider, cfg.feed, fetchedAt, raw, extra);
}
