// Field paths into a JSON document, e.g. AWS ip-ranges.json `prefixes[].ip_prefix`: dot-separated
// field names; `name[]` walks every element of the array `name`. Parsed here (not in
// sync/providers/jsonfeed.ts, which walks them) because the config schema checks them too.

export interface Segment {
  field: string;
  each: boolean;
}

/** Parses `a.b[].c`; throws on an empty segment. */
export function parsePath(path: string): Segment[] {
  return path.split('.').map((s) => {
    const each = s.endsWith('[]');
    const field = each ? s.slice(0, -2) : s;
    if (!/^[A-Za-z0-9_$-]+$/.test(field)) throw new Error(`bad field path "${path}" (segment "${s}")`);
    return { field, each };
  });
}
