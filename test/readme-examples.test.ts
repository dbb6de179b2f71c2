// Every config example in README.md passes `quorumbl check-config`, as a user who pastes it into
// a file would run it. A fenced block whose info string starts with `yaml`, `yml` or `json` is a
// config example; one that is not a config (a compose file, an API answer) says so with
// `not-config` in its info string (```yaml not-config), and is skipped. Data files an example's
// zones name by a relative path are created empty beside the config, as a user has them.

import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, isAbsolute, join } from 'node:path';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { parse } from 'yaml';
import { ROOT, runQuorumbl } from './integration/helpers.ts';

export interface Example {
  /** 1-based line of the opening fence in README.md. */
  line: number;
  lang: 'yaml' | 'json';
  text: string;
}

/** The config examples of a markdown text (fenced yaml/yml/json blocks without `not-config`). */
export function configExamples(markdown: string): Example[] {
  const out: Example[] = [];
  const lines = markdown.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)(`{3,}|~{3,})\s*([^\s`]*)(.*)$/.exec(lines[i]!);
    if (!open) continue;
    const fence = open[2]!;
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && !lines[i]!.trim().startsWith(fence); i++) body.push(lines[i]!.slice(open[1]!.length));
    const lang = open[3]!.toLowerCase();
    if (!['yaml', 'yml', 'json'].includes(lang) || /\bnot-config\b/.test(open[4]!)) continue;
    out.push({ line: start + 1, lang: lang === 'json' ? 'json' : 'yaml', text: body.join('\n') + '\n' });
  }
  return out;
}

/** Writes the example as DIR/quorumbl.(yaml|json), with empty stand-ins for relative data files. */
function materialise(ex: Example, dir: string): string {
  const file = join(dir, `quorumbl.${ex.lang}`);
  writeFileSync(file, ex.text);
  let doc: unknown;
  try {
    doc = parse(ex.text);
  } catch {
    return file; // check-config reports the syntax error with its line
  }
  const zones = (doc as { zones?: Array<{ datasets?: Array<{ files?: unknown }> }> } | null)?.zones;
  for (const z of Array.isArray(zones) ? zones : []) {
    for (const d of Array.isArray(z?.datasets) ? z.datasets : []) {
      for (const f of Array.isArray(d?.files) ? d.files : []) {
        if (typeof f !== 'string' || isAbsolute(f)) continue;
        mkdirSync(dirname(join(dir, f)), { recursive: true });
        writeFileSync(join(dir, f), f.endsWith('.gz') ? gzipSync('') : '');
      }
    }
  }
  return file;
}

async function checkConfig(ex: Example): Promise<{ code: number | null; output: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'qbl-readme-'));
  try {
    const file = materialise(ex, dir);
    return await runQuorumbl(['check-config', file], { cwd: dir, timeoutMs: 60000 });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const README = readFileSync(join(ROOT, 'README.md'), 'utf8');
const examples = configExamples(README);

test('README.md has config examples to check', () => {
  // zones, sources, policy + providers, the provider feed types: a parser that finds none fails here.
  assert.ok(examples.length >= 4, `found ${examples.length} config examples in README.md`);
});

for (const ex of examples) {
  const first = ex.text.split('\n').find((l) => l.trim() && !l.trim().startsWith('#'))?.split('#')[0]!.trim() ?? '';
  test(`README.md:${ex.line} (${ex.lang}: ${first}) passes check-config`, async () => {
    const r = await checkConfig(ex);
    assert.equal(r.code, 0, `README.md:${ex.line}: the ${ex.lang} example fails check-config (mark it \`\`\`${ex.lang} not-config if it is not a config):\n${r.output}`);
    assert.match(r.output, /^ok: /m);
  });
}

test('a wrong example fails the check, naming the key (the JSON provider feed takes paths:, a list)', async () => {
  const md = [
    'text',
    '```yaml',
    'providers:',
    '  - provider: aws',
    '    type: json',
    '    url: https://ip-ranges.amazonaws.com/ip-ranges.json',
    '    path: "prefixes[].ip_prefix"',
    '```',
    '```yaml not-config',
    'services: { quorumbl: { image: quorumbl } }',
    '```',
    '```sh',
    'npm start',
    '```',
  ].join('\n');
  const found = configExamples(md);
  assert.deepEqual(found.map((e) => e.line), [2], 'only the first block is a config example');
  const r = await checkConfig(found[0]!);
  assert.notEqual(r.code, 0, r.output);
  assert.match(r.output, /quorumbl\.yaml:5: providers\.0\.path: unknown key "path"/);
  assert.match(r.output, /quorumbl\.yaml:\d+/);
});
