// The package's folder (package.json, data/, server/native/build), found the same way from the
// sources (core/package-root.ts) and from the compiled build (dist/core/package-root.js, one
// folder deeper). Files the code reads beside it are read from here, not copied into dist/:
// the embedded default config's relative paths (state_dir: state) then still land in data/,
// and a rebuild never touches them.

import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** True when this module runs as compiled JavaScript (dist/), false from the .ts sources. */
export const COMPILED = import.meta.url.endsWith('.js');

export const PACKAGE_ROOT = fileURLToPath(new URL(COMPILED ? '../../' : '../', import.meta.url));

/** PATH (slash-separated, relative to the package folder) as an absolute path. */
export function packagePath(path: string): string {
  return join(PACKAGE_ROOT, path);
}
