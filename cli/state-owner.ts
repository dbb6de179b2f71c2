// Which config a state directory belongs to. `serve` and `sync` record the config file they run
// with in <state_dir>/config-used.json; a command run without any config (no --config, no
// QUORUMBL_CONFIG) against a state directory another config uses says so and stops, instead of
// answering from the embedded default ("not listed" for a key the real config lists).

import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_CONFIG, type LoadedConfig } from '../core/config/load.ts';

export interface ConfigUse {
  /** absolute path of the config file */
  file: string;
  /** the embedded default (another install's default is still "the default") */
  embedded: boolean;
  command: string;
  at: string;
}

export function configUsePath(stateDir: string): string {
  return join(stateDir, 'config-used.json');
}

/** Records the config `command` runs with. Best effort: a read-only or missing disk is serve's
 *  own business (core/disk-health.ts), never a reason not to start. */
export function recordConfigUse(stateDir: string, cfg: LoadedConfig, command: string): void {
  const rec: ConfigUse = { file: cfg.file, embedded: cfg.file === DEFAULT_CONFIG, command, at: new Date().toISOString() };
  const file = configUsePath(stateDir);
  try {
    const prev = readConfigUse(stateDir);
    if (prev && prev.file === rec.file && prev.command === command) return; // no write per run
    mkdirSync(stateDir, { recursive: true });
    writeFileSync(`${file}.tmp`, JSON.stringify(rec, null, 2) + '\n');
    renameSync(`${file}.tmp`, file);
  } catch {
    try {
      rmSync(`${file}.tmp`, { force: true }); // a full disk: no torn leftover
    } catch {
      /* read-only: nothing was written either */
    }
  }
}

export function readConfigUse(stateDir: string): ConfigUse | null {
  try {
    const r = JSON.parse(readFileSync(configUsePath(stateDir), 'utf8')) as ConfigUse;
    return typeof r.file === 'string' ? r : null;
  } catch {
    return null;
  }
}

export class ForeignState extends Error {}

/** Throws ForeignState when cfg is the embedded default (nothing given) and the state directory
 *  belongs to another config: its record names another file, or (no record: state from before)
 *  it holds sources the default does not configure. */
export function checkStateOwner(cfg: LoadedConfig, stateDir: string, command: string): void {
  if (cfg.from !== 'default') return;
  const use = readConfigUse(stateDir);
  const hint = 'pass --config FILE (or set QUORUMBL_CONFIG)';
  if (use) {
    if (use.embedded || use.file === cfg.file) return;
    throw new ForeignState(
      `quorumbl ${command}: no config given, but the state directory ${stateDir} was last used with ${use.file} ` +
        `(by \`quorumbl ${use.command}\`, ${use.at}); the embedded default would answer from the wrong sources and policy.\n` +
        `${hint.replace('FILE', use.file)}`,
    );
  }
  let dirs: string[];
  try {
    dirs = readdirSync(join(stateDir, 'sources'));
  } catch {
    return; // no sources synced here
  }
  const known = new Set(cfg.config.sources.map((s) => s.name));
  const foreign = dirs.filter((d) => !known.has(d));
  if (foreign.length) {
    throw new ForeignState(
      `quorumbl ${command}: no config given, but the state directory ${stateDir} holds sources the embedded default ` +
        `does not have (${foreign.join(', ')}): it belongs to another config.\n${hint}`,
    );
  }
}

/** `--config FILE` for hints a command prints ("decide: quorumbl sources accept x --config F"):
 *  empty for the embedded default. */
export function configFlag(cfg: Pick<LoadedConfig, 'file' | 'from'>): string {
  return cfg.from === 'default' ? '' : ` --config ${/^[\w@%+=:,./-]+$/.test(cfg.file) ? cfg.file : `'${cfg.file.replace(/'/g, `'\\''`)}'`}`;
}
