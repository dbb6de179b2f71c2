// The package version, read once from package.json (by the package root: dist/ has no copy) (help text, logs, the API, DNS version.bind).

import { readFileSync } from 'node:fs';
import { packagePath } from '../core/package-root.ts';

export const VERSION = (JSON.parse(readFileSync(packagePath('package.json'), 'utf8')) as { version: string }).version;
