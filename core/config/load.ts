// Reads a YAML config, applies QUORUMBL_* environment overrides and validates it. Every error
// names the key path and FILE:LINE (or the environment variable it came from).

import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { LineCounter, parseDocument, parse as parseYamlValue, type Node } from 'yaml';
import { configSchema, type Config } from './schema.ts';
import { packagePath } from '../package-root.ts';

export const DEFAULT_CONFIG = packagePath('data/default.yaml');

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join('\n'));
  }
}

export interface LoadedConfig {
  config: Config;
  file: string;
  /** Directory relative paths in the config are resolved against. */
  baseDir: string;
  /** Where the file name came from: the command line, QUORUMBL_CONFIG, or none (the embedded
   *  default). Commands refuse a state directory another config uses when it is 'default'. */
  from: 'argument' | 'env' | 'default';
}

const ENV_PREFIX = 'QUORUMBL_';
/** QUORUMBL_* variables that are not config keys: the console's first admin password (read by
 *  web/console/bootstrap.ts, never stored in the config) and the config file's own name. */
const NOT_CONFIG = new Set(['QUORUMBL_ADMIN_PASSWORD', 'QUORUMBL_CONFIG']);

/** QUORUMBL_SERVER__LISTEN=a,b -> path ['server','listen'], value ['a','b']. */
export function envOverrides(env: NodeJS.ProcessEnv): { path: string[]; value: unknown; name: string }[] {
  const out: { path: string[]; value: unknown; name: string }[] = [];
  for (const [name, raw] of Object.entries(env)) {
    if (!name.startsWith(ENV_PREFIX) || raw === undefined || NOT_CONFIG.has(name)) continue;
    const path = name.slice(ENV_PREFIX.length).toLowerCase().split('__');
    out.push({ path, value: raw, name });
  }
  return out;
}

function scalar(text: string): unknown {
  try {
    return parseYamlValue(text);
  } catch {
    return text;
  }
}

function setPath(obj: Record<string, unknown>, path: string[], raw: string, list: boolean): void {
  let cur = obj;
  for (const k of path.slice(0, -1)) {
    if (typeof cur[k] !== 'object' || cur[k] === null) cur[k] = {};
    cur = cur[k] as Record<string, unknown>;
  }
  const last = path[path.length - 1]!;
  // A list in the file or a comma in the value means a list; each item is read like YAML.
  cur[last] = list || Array.isArray(cur[last]) || raw.includes(',') ? raw.split(',').map((s) => scalar(s.trim())) : scalar(raw);
}

const LIST_KEYS = new Set(['server.listen', 'server.allow_query']);

/** file: --config; without it QUORUMBL_CONFIG, else the embedded default. */
export function loadConfig(file: string | undefined, env: NodeJS.ProcessEnv = process.env): LoadedConfig {
  const from = file ? 'argument' : env.QUORUMBL_CONFIG ? 'env' : 'default';
  const path = resolve(file || env.QUORUMBL_CONFIG || DEFAULT_CONFIG);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const why = from === 'env' ? ' (from QUORUMBL_CONFIG)' : '';
    throw new ConfigError([`cannot read config file ${path}${why}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`]);
  }
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  const where = (node: Node | null | undefined) => {
    const off = node?.range?.[0];
    return off === undefined ? path : `${path}:${lines.linePos(off).line}`;
  };
  if (doc.errors.length) {
    throw new ConfigError(doc.errors.map((e) => `${path}:${lines.linePos(e.pos[0]).line}: YAML syntax: ${e.message.split('\n')[0]}`));
  }
  const data = (doc.toJS() ?? {}) as Record<string, unknown>;
  if (typeof data !== 'object' || Array.isArray(data)) throw new ConfigError([`${path}: the config must be a mapping of keys`]);

  const fromEnv = new Map<string, string>();
  for (const o of envOverrides(env)) {
    const key = o.path.join('.');
    setPath(data, o.path, String(o.value), LIST_KEYS.has(key));
    fromEnv.set(key, o.name);
  }

  const parsed = configSchema.safeParse(data);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => {
      const keyPath = i.path.map(String);
      let msg = i.message;
      if (i.code === 'unrecognized_keys') {
        const keys = (i as { keys: string[] }).keys;
        msg = `unknown key${keys.length > 1 ? 's' : ''} ${keys.map((k) => `"${k}"`).join(', ')}`;
        const node = doc.getIn([...i.path, keys[0]!], true) as Node | undefined;
        const key = keyPath.concat(keys[0]!).join('.');
        return `${fromEnv.get(key) ?? where(node ?? (doc.getIn(i.path, true) as Node))}: ${key}: ${msg}`;
      }
      const key = keyPath.join('.') || '(top level)';
      const envName = [...fromEnv].find(([k]) => key === k || key.startsWith(k + '.'))?.[1];
      if (envName) return `${envName} (environment): ${key}: ${msg}`;
      let node: Node | undefined;
      for (let n = i.path.length; n >= 0 && !node; n--) node = doc.getIn(i.path.slice(0, n), true) as Node | undefined;
      return `${where(node ?? doc.contents)}: ${key}: ${msg}`;
    });
    throw new ConfigError(problems);
  }
  return { config: parsed.data, file: path, baseDir: dirname(path), from };
}

/** Resolves a path from the config against the config file's directory. */
export function configPath(cfg: LoadedConfig, p: string): string {
  return isAbsolute(p) ? p : resolve(cfg.baseDir, p);
}
