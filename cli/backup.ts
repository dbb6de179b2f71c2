// `quorumbl backup FILE` and `quorumbl restore FILE [--dry-run]` (sync/backup.ts, sync/restore.ts).

import { resolve } from 'node:path';
import { ArgsError, HelpRequest, argsErrorText, parseCommand, type CommandSpec, type Parsed } from './args.ts';
import { ConfigError, DEFAULT_CONFIG, configPath, loadConfig } from '../core/config/load.ts';
import { DbError, MIGRATIONS } from '../core/db.ts';
import { BackupError, createBackup, humanBytes } from '../sync/backup.ts';
import { RestoreError, planRestore, restore, type RestorePlan } from '../sync/restore.ts';

export const BACKUP_USAGE = 'usage: quorumbl backup FILE [--config FILE] [--wait SECONDS]   (FILE.tar, or FILE.tar.gz / .tgz: gzipped)';
export const RESTORE_USAGE = 'usage: quorumbl restore FILE [--config FILE] [--dry-run]';

export const BACKUP: CommandSpec = { name: 'backup', usage: BACKUP_USAGE, options: { wait: { type: 'string' } }, positionals: [1, 1], needs: 'a FILE' };
export const RESTORE: CommandSpec = { name: 'restore', usage: RESTORE_USAGE, options: { 'dry-run': { type: 'boolean', short: 'n' } }, positionals: [1, 1], needs: 'a FILE' };

export interface CliIo {
  out: (s: string) => void;
  err: (s: string) => void;
  env: NodeJS.ProcessEnv;
}

const stdio: CliIo = { out: (s) => void process.stdout.write(s), err: (s) => void process.stderr.write(s), env: process.env };

/** The command's flags (cli/args.ts): the parsed arguments, or the exit code (0 after --help,
 *  2 after a usage mistake, printed with the usage). */
function parse(args: string[], spec: CommandSpec, io: CliIo): Parsed | number {
  try {
    return parseCommand(spec, args);
  } catch (e) {
    if (e instanceof HelpRequest) {
      io.out(`${spec.usage}\n`);
      return 0;
    }
    if (e instanceof ArgsError) {
      io.err(argsErrorText(e));
      return 2;
    }
    throw e;
  }
}

function failed(e: unknown, io: CliIo): number {
  if (e instanceof BackupError || e instanceof RestoreError || e instanceof DbError) io.err(`${e.message}\n`);
  else if (e instanceof ConfigError) io.err(`invalid config:\n${e.problems.map((p) => `  ${p}`).join('\n')}\n`);
  else throw e;
  return 1;
}

/** `quorumbl backup FILE`: exit 0 written, 1 failed (nothing written), 2 usage. */
export async function backupCommand(args: string[], ctx: { version: string }, io: CliIo = stdio): Promise<number> {
  const a = parse(args, BACKUP, io);
  if (typeof a === 'number') return a;
  const wait = a.values.wait as string | undefined;
  if (wait !== undefined && !/^\d+$/.test(wait)) {
    io.err(`quorumbl backup: --wait takes a number of seconds, not "${wait}"\n${BACKUP_USAGE}\n`);
    return 2;
  }
  try {
    const cfg = loadConfig(a.config ?? io.env.QUORUMBL_CONFIG, io.env);
    const r = await createBackup(a.positionals[0]!, {
      stateDir: configPath(cfg, cfg.config.state_dir),
      configFile: cfg.file === DEFAULT_CONFIG ? null : cfg.file,
      sources: cfg.config.sources.map((s) => s.name),
      version: ctx.version,
      waitMs: wait === undefined ? undefined : Number(wait) * 1000,
      onWait: (m) => io.err(`${m}\n`),
    });
    const m = r.manifest;
    io.out(`backup written: ${r.file} (${humanBytes(r.bytes)})\n` +
      `  ${m.files.length} files, ${humanBytes(m.files.reduce((n, f) => n + f.size, 0))} before packing; schema version ${m.schema_version}\n` +
      `  state dir ${m.state_dir}; config ${m.config_file ?? '(embedded default, not in the backup)'}\n`);
    return 0;
  } catch (e) {
    return failed(e, io);
  }
}

function describePlan(p: RestorePlan, dry: boolean): string {
  const m = p.manifest;
  const total = m.files.reduce((n, f) => n + f.size, 0);
  const would = dry ? 'would be ' : '';
  const lines = [
    `backup ${p.archive}: made ${m.created_at} on host ${m.host} by quorumbl ${m.quorumbl_version}; ` +
      `schema version ${m.schema_version} (this quorumbl: ${MIGRATIONS.length}); ${m.files.length} files, ${humanBytes(total)}; every SHA-256 matches`,
  ];
  const cur = p.current;
  lines.push(cur.exists
    ? `state dir ${p.stateDir}: ${would}replaced (now: schema version ${cur.schema ?? 'unknown'}, ${cur.files} files, ${humanBytes(cur.bytes)}); ` +
      `the current one ${dry ? 'would be ' : ''}kept as ${p.keepAs}`
    : `state dir ${p.stateDir}: does not exist; ${would}created`);
  if (dry && cur.users.length) lines.push(`  in use now by ${cur.users.join(', ')}: a restore would be refused until it stops`);
  for (const f of m.files.filter((x) => x.path.startsWith('state/'))) lines.push(`  ${f.path.slice('state/'.length).padEnd(60)} ${humanBytes(f.size)}`);
  if (!p.configFile) lines.push(`config: ${m.config_file ? `in the backup (${m.config_file}) but not written: the target is the embedded default; pass --config FILE` : 'none in the backup (it used the embedded default)'}`);
  else if (p.configChange === 'unchanged') lines.push(`config ${p.configFile}: unchanged (equal to the backup's)`);
  else if (p.configChange === 'written') lines.push(`config ${p.configFile}: ${would}written from the backup`);
  else lines.push(`config ${p.configFile}: ${would}replaced by the backup's; the current one ${dry ? 'would be ' : ''}kept as ${p.configKeepAs}`);
  return lines.join('\n') + '\n';
}

/** `quorumbl restore FILE [--dry-run]`: exit 0 done, 1 refused or failed (nothing replaced), 2 usage. */
export async function restoreCommand(args: string[], io: CliIo = stdio): Promise<number> {
  const a = parse(args, RESTORE, io);
  if (typeof a === 'number') return a;
  const given = a.config ?? io.env.QUORUMBL_CONFIG;
  const target = { configFile: given ? resolve(given) : null, defaultConfig: DEFAULT_CONFIG, env: io.env };
  try {
    if (a.values['dry-run']) {
      const plan = await planRestore(a.positionals[0]!, target);
      io.out(describePlan(plan, true) + 'dry run: nothing changed\n');
      return 0;
    }
    const r = await restore(a.positionals[0]!, target);
    for (const n of r.notes) io.err(`${n}\n`);
    io.out(describePlan(r.plan, false) + `restored into ${r.plan.stateDir}` +
      (r.keptState ? `; the state before the restore is kept in ${r.keptState} (remove it once serve runs as expected)` : '') + '\n');
    return 0;
  } catch (e) {
    return failed(e, io);
  }
}
