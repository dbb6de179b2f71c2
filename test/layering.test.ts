// The layering the folders promise: README.md's layout table says which folders each folder may
// import from; this walks every source file of those folders and fails on any other import
// (static, type-only, re-export, dynamic import(), require(), or a worker's
// `new URL('x.ts', import.meta.url)`), naming file and line.

import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const CODE = /\.(ts|tsx|mts|js|mjs)$/;
/** Folders never walked: dependencies and build output. */
const SKIP = new Set(['node_modules', 'build', 'dist']);

/** folder (e.g. `core/`) -> the folders it may import from, itself included; null = anything. */
type Rules = Map<string, Set<string> | null>;

/** Reads the `| folder | what lives there | may import |` table under `## Layout`. */
export function readLayout(readme: string): Rules {
  const at = readme.indexOf('\n## Layout');
  assert.ok(at >= 0, 'README.md has no "## Layout" section');
  const lines = readme.slice(at + 1).split('\n');
  const rules: Rules = new Map();
  let header: string[] | null = null;
  for (const line of lines.slice(1)) {
    if (line.startsWith('## ')) break;
    if (!line.startsWith('|')) {
      if (header) break;
      continue;
    }
    const cells = line.split('|').slice(1, -1).map((c) => c.trim());
    if (!header) {
      header = cells.map((c) => c.toLowerCase());
      continue;
    }
    if (cells.every((c) => /^-+$/.test(c))) continue;
    const col = header.indexOf('may import');
    assert.ok(col >= 0, `README.md's layout table has no "may import" column (header: ${header.join(' | ')})`);
    const folders = [...cells[0]!.matchAll(/`([^`]+\/)`/g)].map((m) => m[1]!);
    const may = cells[col]!;
    const allowed = /^anything\b/i.test(may) ? null : new Set([...may.matchAll(/`([^`]+\/)`/g)].map((m) => m[1]!));
    for (const f of folders) rules.set(f, allowed === null ? null : new Set([...allowed, f]));
  }
  assert.ok(rules.size > 0, "README.md's layout table has no rows");
  return rules;
}

/** Module references in a source text: [specifier, line]. */
export function references(text: string): Array<[string, number]> {
  const out: Array<[string, number]> = [];
  const patterns = [
    /\bfrom\s*['"]([^'"\n]+)['"]/g, // import ... from, export ... from
    /\bimport\s*['"]([^'"\n]+)['"]/g, // side-effect import
    /\bimport\s*\(\s*['"]([^'"\n]+)['"]/g, // dynamic import
    /\brequire\s*\(\s*['"]([^'"\n]+)['"]/g,
    /\bnew URL\(\s*['"]([^'"\n]+)['"]\s*,\s*import\.meta\.url/g, // worker entries
  ];
  for (const re of patterns) {
    for (const m of text.matchAll(re)) out.push([m[1]!, text.slice(0, m.index).split('\n').length]);
  }
  return out.sort((a, b) => a[1] - b[1]);
}

/** The layout folder a repository path is in (longest match), or undefined. */
function folderOf(rel: string, rules: Rules): string | undefined {
  let best: string | undefined;
  for (const f of rules.keys()) if (rel.startsWith(f) && (!best || f.length > best.length)) best = f;
  return best;
}

function* walk(dir: string): Generator<string> {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.isDirectory()) {
      if (!SKIP.has(e.name)) yield* walk(join(dir, e.name));
    } else if (e.isFile() && CODE.test(e.name) && !e.name.endsWith('.d.ts')) yield join(dir, e.name);
  }
}

/** Every import that breaks the rules, as `file:line: ...` lines. */
export function violations(root: string, rules: Rules): string[] {
  const out: string[] = [];
  for (const [folder, allowed] of rules) {
    if (allowed === null) continue;
    let files: string[];
    try {
      files = [...walk(join(root, folder))];
    } catch {
      continue; // a folder without code (data/)
    }
    for (const file of files) {
      const from = relative(root, file).split(sep).join('/');
      // A file in a nested layout folder follows that folder's rule.
      if (folderOf(from, rules) !== folder) continue;
      for (const [spec, line] of references(readFileSync(file, 'utf8'))) {
        if (!spec.startsWith('.')) continue; // node: and npm packages
        if (!CODE.test(spec)) continue; // data files, native addons, package.json
        const target = relative(root, resolve(dirname(file), spec)).split(sep).join('/');
        const to = folderOf(target, rules);
        if (to === undefined) out.push(`${from}:${line}: imports ${spec} (${target}), which is in no folder of README.md's layout table`);
        else if (!allowed.has(to)) out.push(`${from}:${line}: imports ${spec}: ${folder} may import only ${[...allowed].join(', ')} (README.md, Layout), not ${to}`);
      }
    }
  }
  return out.sort();
}

test("every import follows README.md's layout table", () => {
  const rules = readLayout(readFileSync(join(ROOT, 'README.md'), 'utf8'));
  for (const f of ['core/', 'sync/', 'server/', 'web/', 'cli/']) assert.ok(rules.has(f), `README.md's layout table has no row for ${f}`);
  // The rule the issue names, whatever the table says: core imports nothing above it.
  assert.deepEqual([...rules.get('core/')!], ['core/'], 'core/ may import only core/');
  assert.ok(!rules.get('server/')!.has('sync/'), 'server/ knows datasets and snapshots, not sources: it may not import sync/');
  assert.deepEqual(violations(ROOT, rules), []);
});

test('the check names file and line of an import that goes up a layer', (t) => {
  const root = mkdtempSync(join(tmpdir(), 'qbl-layering-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const put = (path: string, text: string) => {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  };
  put('core/a.ts', "import { x } from './b.ts';\nimport type {\n  Y,\n} from '../sync/y.ts';\nexport * from '../server/z.ts';\n");
  put('core/b.ts', "const w = new URL('../sync/worker.ts', import.meta.url);\nconst m = await import('../web/m.ts');\n");
  put('core/c.ts', "const d = new URL('../../data/default.yaml', import.meta.url);\nimport 'node:fs';\n");
  put('sync/y.ts', "import { a } from '../core/a.ts';\nimport { t } from '../elsewhere/t.ts';\n");
  const rules = readLayout('# x\n\n## Layout\n\n| folder | what | may import |\n| --- | --- | --- |\n| `core/` | c | nothing else |\n| `sync/` | s | `core/` |\n| `server/`, `web/` | w | `core/`, `sync/` |\n| `test/` | t | anything |\n\n## Next\n');
  assert.deepEqual(violations(root, rules), [
    'core/a.ts:4: imports ../sync/y.ts: core/ may import only core/ (README.md, Layout), not sync/',
    'core/a.ts:5: imports ../server/z.ts: core/ may import only core/ (README.md, Layout), not server/',
    'core/b.ts:1: imports ../sync/worker.ts: core/ may import only core/ (README.md, Layout), not sync/',
    'core/b.ts:2: imports ../web/m.ts: core/ may import only core/ (README.md, Layout), not web/',
    "sync/y.ts:2: imports ../elsewhere/t.ts (elsewhere/t.ts), which is in no folder of README.md's layout table",
  ]);
});
