// The package version, read once from package.json (help text, logs, the API, DNS version.bind).

import { readFileSync } from 'node:fs';

export const VERSION = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
