// `npm run build` (and `npm ci`, through the prepare script): compiles the TypeScript sources to
// ES modules in dist/ (tsconfig.build.json), copies the files the compiled code reads beside
// itself, and swaps the result in whole, so a failed build leaves the previous dist/ as it was.
// Skipped when dist/ is newer than every source (`--force` builds anyway). data/, package.json
// and the native addons (server/native/build) are read from the package folder, not copied.
// Plain JavaScript: it runs before anything is compiled, with no TypeScript loader.

import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DIST = join(ROOT, 'dist');
const STAMP = '.build-stamp';
/** Files the compiled code reads next to its own module (readFileSync(new URL('./x', import.meta.url))).
 *  test/build/dist.test.ts checks that every such file the sources name is here. */
const ASSETS = ['web/console/console.css'];
/** What the build reads: bin/quorumbl's staleness check looks at the same. */
const SOURCES = ['core', 'server', 'sync', 'web', 'cli', 'tsconfig.json', 'tsconfig.build.json', 'scripts/build.mjs'];

function newestSource() {
  let newest = 0;
  const walk = (p) => {
    if (relative(ROOT, p) === join('server', 'native')) return; // C sources and node-gyp's build
    const st = statSync(p);
    if (st.isDirectory()) for (const e of readdirSync(p)) walk(join(p, e));
    else if (st.mtimeMs > newest) newest = st.mtimeMs;
  };
  for (const s of SOURCES) walk(join(ROOT, s));
  return newest;
}

function upToDate() {
  const stamp = join(DIST, STAMP);
  return existsSync(stamp) && statSync(stamp).mtimeMs > newestSource();
}

function tscPath() {
  try {
    return createRequire(join(ROOT, 'package.json')).resolve('typescript/bin/tsc');
  } catch {
    return null;
  }
}

if (!process.argv.includes('--force') && upToDate()) {
  console.log('quorumbl: dist/ is up to date');
  process.exit(0);
}
const tsc = tscPath();
if (!tsc) {
  // npm ci --omit=dev runs prepare too: a dist/ built earlier (a container's build stage) is kept.
  if (existsSync(join(DIST, 'cli', 'main.js'))) {
    console.log('quorumbl: typescript is not installed (a devDependency); keeping the dist/ built earlier');
    process.exit(0);
  }
  console.error('quorumbl: cannot build dist/: typescript is not installed (a devDependency). Run `npm ci` without --omit=dev, then `npm run build`.');
  process.exit(1);
}

const tmp = join(ROOT, `dist.tmp-${process.pid}`);
rmSync(tmp, { recursive: true, force: true });
mkdirSync(tmp);
// Stamped before tsc reads anything: a source saved during the build is newer than the stamp.
writeFileSync(join(tmp, STAMP), 'compiled by scripts/build.mjs; bin/quorumbl compares source mtimes with this file\n');
try {
  execFileSync(process.execPath, [tsc, '-p', join(ROOT, 'tsconfig.build.json'), '--outDir', tmp], { cwd: ROOT, stdio: 'inherit' });
  for (const a of ASSETS) {
    mkdirSync(dirname(join(tmp, a)), { recursive: true });
    cpSync(join(ROOT, a), join(tmp, a));
  }
} catch (e) {
  rmSync(tmp, { recursive: true, force: true });
  console.error(`quorumbl: build failed${e.status ? ` (tsc exit ${e.status})` : `: ${e.message}`}; dist/ left as it was`);
  process.exit(1);
}
rmSync(DIST, { recursive: true, force: true });
renameSync(tmp, DIST);
console.log('quorumbl: compiled to dist/');
