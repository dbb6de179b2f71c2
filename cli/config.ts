// The config a command runs with: --config, else QUORUMBL_CONFIG, else the embedded default
// (core/config/load.ts), its state directory, and the check that the state directory is not
// another config's (cli/state-owner.ts).

import { configPath, loadConfig, type LoadedConfig } from '../core/config/load.ts';
import { parseServeArgs } from './args.ts';
import { checkStateOwner, recordConfigUse } from './state-owner.ts';

export interface CommandConfig {
  cfg: LoadedConfig;
  stateDir: string;
}

/** For commands that read or change the state: refuses another config's state directory when
 *  no config was given. */
export function commandConfig(config: string | undefined, command: string): CommandConfig {
  const cfg = loadConfig(config);
  const stateDir = configPath(cfg, cfg.config.state_dir);
  checkStateOwner(cfg, stateDir, command);
  return { cfg, stateDir };
}

/** `quorumbl serve ARGS`: checks the flags (usage, exit 2) and the config before serve starts,
 *  and records in the state directory which config file it runs with. */
export function claimForServe(args: string[]): void {
  const cfg = loadConfig(parseServeArgs(args).config);
  recordConfigUse(configPath(cfg, cfg.config.state_dir), cfg, 'serve');
}
