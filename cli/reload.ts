// `quorumbl reload [--config FILE] [--wait] [--timeout S]`: asks the serve running on the
// config's state directory to re-read its config file (SIGHUP). The serve is found by the pid
// file it writes in state_dir once DNS listens (<state_dir>/serve.pid, removed when it exits);
// --wait reads the outcome the serve writes to <state_dir>/reload.json (cli/serve/reload.ts).

import { readFileSync, unlinkSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { ArgsError, HelpRequest, argsErrorText, parseCommand, type CommandSpec } from './args.ts';
import { parseDocument } from 'yaml';
import { ConfigError, DEFAULT_CONFIG, configPath, loadConfig } from '../core/config/load.ts';
import { reloadStatusFile, type ReloadStatus } from './serve/reload.ts';

export const RELOAD_USAGE = 'usage: quorumbl reload [--config FILE] [--wait] [--timeout SECONDS]';
export const RELOAD: CommandSpec = { name: 'reload', usage: RELOAD_USAGE, options: { wait: { type: 'boolean' }, timeout: { type: 'string' } } };

export function servePidFile(stateDir: string): string {
  return join(stateDir, 'serve.pid');
}

/** At exit: the pid file goes if it is still ours. */
export function removePidFile(file: string): void {
  try {
    if (readFileSync(file, 'utf8').trim() === String(process.pid)) unlinkSync(file);
  } catch {
    // gone already, or the state directory cannot be written: `reload` checks the pid anyway
  }
}

/** The pid of the serve running on `stateDir`, or why there is none. */
export function runningServe(stateDir: string): { pid: number } | { why: string } {
  const file = servePidFile(stateDir);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return { why: code === 'ENOENT' ? `no quorumbl serve is running on ${stateDir} (no ${file}; serve writes it once DNS listens)` : `cannot read ${file}: ${code ?? (e as Error).message}` };
  }
  const pid = Number(text.trim());
  if (!Number.isInteger(pid) || pid <= 0) return { why: `${file} does not hold a process id ("${text.trim().slice(0, 20)}")` };
  try {
    process.kill(pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ESRCH') return { why: `no quorumbl serve is running on ${stateDir} (${file} names pid ${pid}, which has exited)` };
    if ((e as NodeJS.ErrnoException).code === 'EPERM') return { why: `quorumbl serve (pid ${pid}) runs as another user: run quorumbl reload as that user (or systemctl reload)` };
    throw e;
  }
  try {
    const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    if (!cmd.includes('serve')) return { why: `no quorumbl serve is running on ${stateDir} (${file} names pid ${pid}, another program now)` };
  } catch {
    // no /proc: the signal goes to the pid as written
  }
  return { pid };
}

/** The state directory of the config: a config with errors is exactly what a reload must be
 *  able to send (the serve refuses it and says why), so its state_dir is read leniently. */
function stateDirOf(file: string | undefined): { stateDir: string; problems: string[] } {
  try {
    const cfg = loadConfig(file);
    return { stateDir: configPath(cfg, cfg.config.state_dir), problems: [] };
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    const path = resolve(file ?? process.env.QUORUMBL_CONFIG ?? DEFAULT_CONFIG);
    let dir: unknown = process.env.QUORUMBL_STATE_DIR;
    try {
      dir ??= parseDocument(readFileSync(path, 'utf8')).get('state_dir');
    } catch {
      // unreadable: the default below
    }
    const d = typeof dir === 'string' && dir ? dir : 'state';
    return { stateDir: isAbsolute(d) ? d : resolve(dirname(path), d), problems: e.problems };
  }
}

function readStatus(stateDir: string): ReloadStatus | null {
  try {
    return JSON.parse(readFileSync(reloadStatusFile(stateDir), 'utf8')) as ReloadStatus;
  } catch {
    return null;
  }
}

export async function reloadCommand(args: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseCommand(RELOAD, args));
  } catch (e) {
    if (e instanceof HelpRequest) {
      process.stdout.write(`${RELOAD_USAGE}\n`);
      return 0;
    }
    if (!(e instanceof ArgsError)) throw e;
    process.stderr.write(argsErrorText(e));
    return 2;
  }
  const timeoutS = values.timeout === undefined ? 120 : Number(values.timeout);
  if (!(timeoutS > 0)) {
    process.stderr.write(`quorumbl reload: --timeout takes a number of seconds, not "${values.timeout}"\n${RELOAD_USAGE}\n`);
    return 2;
  }
  const { stateDir, problems } = stateDirOf(values.config as string | undefined);
  if (problems.length) process.stderr.write(`quorumbl reload: the config file has errors; the running serve will refuse it:\n${problems.map((p) => `  ${p}\n`).join('')}`);
  const serve = runningServe(stateDir);
  if ('why' in serve) {
    process.stderr.write(`quorumbl reload: ${serve.why}\n`);
    return 1;
  }
  const { pid } = serve;
  const prev = readStatus(stateDir);
  const before = prev?.pid === pid ? prev.seq : 0;
  process.kill(pid, 'SIGHUP');
  if (!values.wait) {
    process.stdout.write(`reload signalled to quorumbl serve (pid ${pid}); it re-reads its own config file. The outcome: its log, /readyz, or quorumbl reload --wait\n`);
    return 0;
  }
  const deadline = Date.now() + timeoutS * 1000;
  for (;;) {
    const st = readStatus(stateDir);
    if (st && st.pid === pid && st.seq > before && (!st.ok || st.merge !== 'pending')) {
      if (!st.ok) {
        process.stderr.write(`config reload refused by quorumbl serve (pid ${pid}); the running config stays:\n${st.errors.map((e) => `  ${e}\n`).join('')}`);
        return 1;
      }
      process.stdout.write(`config reloaded by quorumbl serve (pid ${pid})\n`);
      for (const key of st.restart) process.stdout.write(`  ${key}: changed, but applies only at a restart (the running value stays)\n`);
      if (st.merge === 'failed') {
        process.stderr.write('  the merge that followed failed: bl/wl/dbl keep answering from the evidence in force (see the log)\n');
        return 1;
      }
      return 0;
    }
    if (Date.now() > deadline) {
      process.stderr.write(`quorumbl reload: no outcome from quorumbl serve (pid ${pid}) within ${timeoutS} s (still starting? see its log)\n`);
      return 1;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}
