// CSV import of overrides: the plan (what would be added, what replaced, what refused and why,
// by line) and the previews kept server-side until applied. Columns by header name: action, key,
// reason required; expires optional (empty or `never`, a duration such as 7d, an ISO 8601 time);
// others (id, author, created: the export's) are ignored. The author of imported rows is the
// user who imports them.

import { randomBytes } from 'node:crypto';
import { checkText, InputError, parseKey } from '../../sync/local/keys.ts';
import { MAX_REASON, parseAction, parseExpires, type BatchRow } from '../../sync/local/overrides.ts';
import type { LocalStore } from '../../sync/local/store.ts';
import { wideness } from '../../sync/local/width.ts';
import { CsvError, parseCsv, unneutralise } from './csv.ts';

export const MAX_IMPORT_BYTES = 2 * 1024 * 1024;
export const MAX_IMPORT_ROWS = 20_000;

export interface Refused {
  line: number;
  key: string;
  why: string;
}

export interface ImportPlan {
  rows: BatchRow[];
  refused: Refused[];
}

/** Reads the file and decides each row without writing anything. Throws CsvError for a file
 *  that is not readable CSV or lacks a needed column. */
export function planImport(text: string, store: LocalStore, g: { admin: boolean; force: boolean }, now = Date.now()): ImportPlan {
  let records;
  try {
    records = parseCsv(text, MAX_IMPORT_ROWS + 1); // + the header
  } catch (e) {
    if (e instanceof CsvError && /more than \d+ rows/.test(e.message)) throw new CsvError(`more than ${MAX_IMPORT_ROWS} rows after the header: split the file`, e.line);
    throw e;
  }
  if (records.length === 0) throw new CsvError('the file is empty (expected a header: action,key,reason,expires)', 1);
  const head = records[0]!;
  const col = new Map(head.cells.map((h, i) => [h.trim().toLowerCase(), i] as const));
  for (const need of ['action', 'key', 'reason']) {
    if (!col.has(need)) throw new CsvError(`the header has no '${need}' column (expected: action,key,reason,expires)`, head.line);
  }
  const cell = (cells: string[], name: string) => {
    const i = col.get(name);
    return i === undefined ? '' : unneutralise(cells[i] ?? '').trim();
  };
  const rows: BatchRow[] = [];
  const refused: Refused[] = [];
  const seen = new Map<string, number>();
  for (const r of records.slice(1)) {
    const rawKey = cell(r.cells, 'key');
    try {
      const action = parseAction(cell(r.cells, 'action').toLowerCase());
      const key = parseKey(rawKey, { cidr: true, wildcard: true });
      const reason = checkText(cell(r.cells, 'reason'), 'reason', MAX_REASON)!;
      const ex = cell(r.cells, 'expires');
      const expires = parseExpires(ex === '' ? null : ex, now);
      const dup = seen.get(key.key);
      if (dup !== undefined) throw new InputError(`${key.key} is already on line ${dup}`, 'key');
      const wide = wideness(key, store.overrides.limits);
      if (wide && !(g.force && g.admin)) {
        throw new InputError(`${key.key} covers ${wide.width}, wider than ${wide.limit.startsWith('/') ? 'the limit ' : ''}${wide.limit}: it needs force by an admin`, 'key');
      }
      seen.set(key.key, r.line);
      rows.push({ line: r.line, action, key: key.key, reason, expires, force: wide !== null, before: store.overrides.byKey(key.key) });
    } catch (e) {
      if (!(e instanceof InputError)) throw e;
      refused.push({ line: r.line, key: rawKey.slice(0, 100), why: e.message });
    }
  }
  return { rows, refused };
}

interface Pending {
  session: string;
  at: number;
  plan: ImportPlan;
}

/** Previews waiting for "apply", each bound to the session that made it; a few per server, for
 *  30 minutes. Apply takes the plan from here, never from a second upload. */
export class PendingImports {
  private readonly map = new Map<string, Pending>();
  constructor(private readonly ttlMs = 30 * 60_000, private readonly max = 20, private readonly now: () => number = Date.now) {}

  put(session: string, plan: ImportPlan): string {
    this.prune();
    while (this.map.size >= this.max) this.map.delete(this.map.keys().next().value!);
    const id = randomBytes(18).toString('base64url');
    this.map.set(id, { session, at: this.now(), plan });
    return id;
  }

  /** The plan of `id` when it belongs to `session` and is still fresh; removed when taken. */
  take(id: string, session: string): ImportPlan | null {
    this.prune();
    const p = this.map.get(id);
    if (!p || p.session !== session) return null;
    this.map.delete(id);
    return p.plan;
  }

  private prune(): void {
    const cut = this.now() - this.ttlMs;
    for (const [id, p] of this.map) if (p.at < cut) this.map.delete(id);
  }
}

