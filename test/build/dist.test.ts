// The compiled build (dist/, scripts/build.mjs) as a production install runs it: a copy of the
// package with dist/ but no tsx in node_modules (what `npm prune --omit=dev` leaves) starts
// `serve` through bin/quorumbl, answers the RFC 5782 test point over DNS, serves the console's
// CSS, and loads the native addons; every file the compiled code reads beside itself is in
// dist/, every relative import there resolves; and the launcher's three cases (fresh dist/,
// sources edited since the build, no dist/ on an install without tsx) do what README says.

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, symlinkSync, utimesSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { ROOT, Proc, dig, freePort, makeTmpDir, show, stopAll, toolsOrSkip, waitReady } from '../integration/helpers.ts';

const DIST = join(ROOT, 'dist');
const SOURCE_DIRS = ['core', 'server', 'sync', 'web', 'cli'];
const NATIVE = join(ROOT, 'server', 'native', 'build', 'Release');
const TEST_POINT = '2.0.0.127.demo.dnsbl.internal';

function walk(dir: string, keep: (f: string) => boolean, out: string[] = []): string[] {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) {
      if (relative(ROOT, p) !== join('server', 'native')) walk(p, keep, out);
    } else if (keep(p)) out.push(p);
  }
  return out;
}

const sources = (): string[] => SOURCE_DIRS.flatMap((d) => walk(join(ROOT, d), (f) => /\.tsx?$/.test(f)));

/** A copy of the package as an install would hold it: bin/, package.json, data/, the native
 *  build (linked), node_modules (each package linked, tsx only when asked), and optionally
 *  dist/ and the sources. */
function install(opts: { dist: boolean; tsx: boolean; sources: boolean }): string {
  const dir = makeTmpDir('quorumbl-dist-');
  for (const f of ['bin', 'package.json', 'data']) cpSync(join(ROOT, f), join(dir, f), { recursive: true });
  if (existsSync(NATIVE)) {
    mkdirSync(join(dir, 'server', 'native'), { recursive: true });
    symlinkSync(realpathSync(join(ROOT, 'server', 'native', 'build')), join(dir, 'server', 'native', 'build'));
  }
  const modules = realpathSync(join(ROOT, 'node_modules'));
  mkdirSync(join(dir, 'node_modules'));
  for (const m of readdirSync(modules)) {
    if (m === '.bin' || (m === 'tsx' && !opts.tsx)) continue;
    symlinkSync(join(modules, m), join(dir, 'node_modules', m));
  }
  if (opts.sources) {
    for (const d of SOURCE_DIRS) cpSync(join(ROOT, d), join(dir, d), { recursive: true, filter: (s) => relative(ROOT, s) !== join('server', 'native') });
    for (const f of ['tsconfig.json', 'tsconfig.build.json', 'scripts']) cpSync(join(ROOT, f), join(dir, f), { recursive: true });
  }
  if (opts.dist) cpSync(DIST, join(dir, 'dist'), { recursive: true });
  // The copy's sources and build get fixed times: the build is the newer one.
  const past = new Date('2026-01-01T00:00:00Z');
  if (opts.sources) for (const f of walk(dir, (p) => !p.includes('node_modules') && !p.includes(`${dir}/dist/`))) utimesSync(f, past, past);
  if (opts.dist) {
    const built = new Date('2026-01-02T00:00:00Z');
    utimesSync(join(dir, 'dist', '.build-stamp'), built, built);
  }
  return dir;
}

/** Runs DIR/bin/quorumbl ARGS to completion with no NODE_OPTIONS. */
function run(dir: string, args: string[]): { code: number | null; stdout: string; stderr: string } {
  const env: NodeJS.ProcessEnv = { ...process.env, NODE_OPTIONS: '' };
  delete env.NODE_TEST_CONTEXT;
  const r = spawnSync(join(dir, 'bin', 'quorumbl'), args, { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 120000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

before(() => {
  // Builds unless dist/ is newer than every source (test/run.sh has built it already).
  execFileSync(process.execPath, [join(ROOT, 'scripts', 'build.mjs')], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
});

describe('dist/ holds what the compiled code reads', () => {
  test('every file a module reads or starts beside itself (new URL(..., import.meta.url)) is in dist/', () => {
    const named: string[] = [];
    for (const src of sources()) {
      // code lines only: a comment may show the pattern with a made-up name
      const code = readFileSync(src, 'utf8').split('\n').filter((l) => !/^\s*(\/\/|\/?\*)/.test(l)).join('\n');
      for (const m of code.matchAll(/new URL\('(\.[^']+)', import\.meta\.url\)/g)) {
        // worker modules are named by their .ts source; compiled, they run as .js (core/worker.ts)
        const target = join(dirname(src), m[1]!).replace(/\.tsx?$/, '.js');
        named.push(relative(ROOT, target));
        assert.ok(existsSync(join(DIST, relative(ROOT, target))), `${relative(ROOT, src)} reads ${m[1]}: dist/${relative(ROOT, target)} is missing`);
      }
    }
    // the scan finds what we know is there: the console's CSS and the three worker modules
    for (const f of ['web/console/console.css', 'core/zones/load-worker.js', 'sync/measure.js', 'sync/merge/worker.js']) assert.ok(named.includes(f), `${f} not found by the scan: ${named.join(', ')}`);
  });

  test('every source has its module and every relative import in dist/ names a file that exists', () => {
    for (const src of sources()) {
      const js = join(DIST, relative(ROOT, src)).replace(/\.tsx?$/, '.js');
      assert.ok(existsSync(js), `dist/ has no ${relative(ROOT, js)} for ${relative(ROOT, src)}`);
      const code = readFileSync(js, 'utf8');
      for (const m of code.matchAll(/(?:from\s+|import\s*\(\s*|import\s+)["'](\.{1,2}\/[^"']+)["']/g)) {
        assert.match(m[1]!, /\.js$/, `${relative(ROOT, js)} imports ${m[1]} (not rewritten to .js)`);
        assert.ok(existsSync(join(dirname(js), m[1]!)), `${relative(ROOT, js)} imports ${m[1]}, which is not in dist/`);
      }
    }
  });

  test('the files read from the package folder exist (data/, package.json)', () => {
    for (const f of ['data/default.yaml', 'data/providers', 'package.json']) assert.ok(existsSync(join(ROOT, f)), f);
  });
});

describe('an install without tsx runs the compiled server', { skip: toolsOrSkip(['dig']) }, () => {
  let dir: string;
  let proc: Proc | undefined;
  let port: number;
  let webPort: number;

  before(async () => {
    dir = install({ dist: true, tsx: false, sources: false });
    port = await freePort();
    webPort = await freePort();
    const state = makeTmpDir('quorumbl-dist-state-');
    proc = new Proc('quorumbl serve (dist, no tsx)', join(dir, 'bin', 'quorumbl'), ['serve'], {
      cwd: dir,
      env: {
        NODE_OPTIONS: '',
        QUORUMBL_SERVER__LISTEN: `127.0.0.1:${port}`,
        QUORUMBL_WEB__LISTEN: `127.0.0.1:${webPort}`,
        QUORUMBL_STATE_DIR: state,
        QUORUMBL_SYNC__ENABLED: 'false',
      },
    });
    await waitReady(proc, '127.0.0.1', port, 'demo.dnsbl.internal', 60000);
    await proc.waitForOutput((o) => o.includes('REST API listening'), 'the REST API', 60000);
  });
  after(() => stopAll(proc));

  test('tsx cannot be loaded there', () => {
    assert.throws(() => createRequire(join(dir, 'dist', 'cli', 'main.js')).resolve('tsx'), /Cannot find module/);
  });

  test('the process is node running dist/cli/main.js, with no loader flag or NODE_OPTIONS', () => {
    const argv = readFileSync(`/proc/${proc!.pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
    assert.deepEqual(argv.slice(1), [join(dir, 'dist', 'cli', 'main.js'), 'serve'], argv.join(' '));
    const env = readFileSync(`/proc/${proc!.pid}/environ`, 'utf8').split('\0');
    assert.ok(!env.some((v) => v.startsWith('NODE_OPTIONS=') && v !== 'NODE_OPTIONS='), env.filter((v) => v.startsWith('NODE_')).join(' '));
    assert.doesNotMatch(proc!.output(), /through tsx/);
  });

  test('answers the RFC 5782 test point (zone loaded by the compiled loader thread)', async () => {
    const a = await dig('127.0.0.1', port, [TEST_POINT, 'A']);
    assert.equal(a.status, 'NOERROR', show(a));
    assert.deepEqual(a.answer.map((r) => r.data), ['127.0.0.2'], show(a));
    const t = await dig('127.0.0.1', port, ['+tcp', TEST_POINT, 'TXT']);
    assert.equal(t.status, 'NOERROR', show(t));
    assert.equal(t.answer.length, 1, show(t));
  });

  test('serves the console CSS copied into dist/', async () => {
    const res = await fetch(`http://127.0.0.1:${webPort}/console/console.css`);
    assert.equal(res.status, 200);
    assert.equal(await res.text(), readFileSync(join(ROOT, 'web', 'console', 'console.css'), 'utf8'));
  });

  test('the native UDP batch module is found from dist/ (where it was built)', { skip: existsSync(join(NATIVE, 'udp_batch.node')) ? false : 'server/native not built' }, () => {
    const io = proc!.logs().find((l) => l.msg === 'UDP I/O');
    assert.ok(io, proc!.tail());
    assert.match(String(io.udp), /native/, JSON.stringify(io));
  });

  test('the compiled merge sweep and thread priority find their addons', { skip: existsSync(join(NATIVE, 'merge_sweep.node')) ? false : 'server/native not built' }, () => {
    const out = execFileSync(
      process.execPath,
      ['--input-type=module', '-e', `
        const s = await import(${JSON.stringify(join(dir, 'dist', 'sync', 'merge', 'native-sweep.js'))});
        const p = await import(${JSON.stringify(join(dir, 'dist', 'core', 'thread-priority.js'))});
        console.log(JSON.stringify({ sweep: s.nativeSweep !== null, error: s.nativeSweepError, prio: p.THREAD_PRIO_PATH }));`],
      { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } },
    );
    const r = JSON.parse(out) as { sweep: boolean; error: string | null; prio: string };
    assert.equal(r.sweep, true, r.error ?? '');
    assert.equal(r.prio, join(dir, 'server', 'native', 'build', 'Release', 'thread_prio.node'));
  });
});

describe('bin/quorumbl picks dist/ or says why not', () => {
  test('a fresh dist/ runs compiled, with no warning', () => {
    const dir = install({ dist: true, tsx: true, sources: true });
    const r = run(dir, ['help']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^quorumbl \d/);
    assert.equal(r.stderr, '');
  });

  test('a source edited after the build runs the sources through tsx, with a one-line warning naming it', () => {
    const dir = install({ dist: true, tsx: true, sources: true });
    const later = new Date('2026-01-03T00:00:00Z');
    utimesSync(join(dir, 'core', 'log.ts'), later, later);
    const r = run(dir, ['help']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^quorumbl \d/);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /core\/log\.ts is newer than dist\/.*through tsx.*npm run build/);
  });

  test('without dist/ and without tsx (a pruned install never built) it exits 1 and says to build', () => {
    const dir = install({ dist: false, tsx: false, sources: false });
    const r = run(dir, ['help']);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /dist\/ is missing: run `npm run build`/);
  });

  test('a pruned install runs dist/ even when its files look older than the sources', () => {
    const dir = install({ dist: true, tsx: false, sources: true });
    const later = new Date('2026-01-03T00:00:00Z');
    utimesSync(join(dir, 'core', 'log.ts'), later, later);
    const r = run(dir, ['help']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '');
  });
});

