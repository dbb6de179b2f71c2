// Every command through the real bin/quorumbl, as a new user mistypes it: an unknown flag, a
// flag without its value, a stray argument. Each prints what is wrong and the command's usage on
// stderr and exits 2; never a Node stack trace. --help prints the usage on stdout, exit 0.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makeTmpDir, runQuorumbl } from '../integration/helpers.ts';
import { ArgsError, HelpRequest, parseCommand, parseServeArgs } from '../../cli/args.ts';

const dir = makeTmpDir('quorumbl-args-');
// Nothing here may touch a real state directory, whatever the parsing does.
const env = { QUORUMBL_STATE_DIR: `${dir}/state` };

const COMMANDS = ['serve', 'sync', 'sources', 'explain', 'override', 'report', 'token', 'providers', 'collisions', 'check-config', 'rbldnsd', 'help', 'status', 'backup', 'restore', 'reload'];

function noTrace(out: string): void {
  assert.doesNotMatch(out, /^\s+at .+\(.*:\d+:\d+\)$|node:internal|ERR_PARSE_ARGS|TypeError/m, `a stack trace:\n${out}`);
}

async function usageError(args: string[], message: RegExp): Promise<void> {
  const r = await runQuorumbl(args, { env, cwd: dir });
  const what = `quorumbl ${args.join(' ')} (exit ${r.code})\n${r.output}`;
  assert.equal(r.code, 2, what);
  noTrace(r.output);
  assert.match(r.stderr, message, what);
  assert.match(r.stderr, new RegExp(`usage: quorumbl ${args[0]}\\b`), what);
  assert.equal(r.stdout, '', what);
}

// Two commands at a time: each is a Node start (about a second) on a shared machine.
async function each<T>(items: T[], f: (x: T) => Promise<void>): Promise<void> {
  for (let i = 0; i < items.length; i += 2) await Promise.all(items.slice(i, i + 2).map(f));
}

test('every command: an unknown flag prints the usage and exits 2', async () => {
  await each(COMMANDS, (cmd) => usageError([cmd, '--bogus'], cmd === 'rbldnsd' ? /unknown option --bogus/ : /unknown option '--bogus'/));
});

test('every command: a flag without its value, a misplaced or extra argument: usage, exit 2', async () => {
  const cases: [string[], RegExp][] = [
    [['serve', 'extra.yaml'], /unexpected argument 'extra\.yaml'/],
    [['serve', '--config'], /--config needs a value/],
    [['sync', '--wait'], /--wait needs a value/],
    [['sync', '--wait', 'soon'], /--wait takes a number of seconds/],
    [['sync', '--config', '--no-wait'], /--config needs a value/],
    [['sources', 'show', 'a', 'b'], /unexpected argument 'b'/],
    [['sources', 'frobnicate'], /unknown sources command 'frobnicate'/],
    [['explain'], /'explain' needs a KEY/],
    [['explain', '192.0.2.1', '192.0.2.2'], /unexpected argument '192\.0\.2\.2'/],
    [['override', 'add', 'deny', '192.0.2.1'], /needs --reason/],
    [['override', 'list', '--reason'], /--reason needs a value/],
    [['report', '--kind'], /--kind needs a value/],
    [['report', '192.0.2.1', '192.0.2.2', '--kind', 'spam'], /unexpected argument '192\.0\.2\.2'/],
    [['token', 'create', '--name'], /--name needs a value/],
    [['providers', 'all'], /unexpected argument 'all'/],
    [['collisions', '--samples'], /--samples needs a value/],
    [['collisions', '--samples', 'many'], /--samples takes a number/],
    [['check-config', 'a.yaml', 'b.yaml'], /unexpected argument 'b\.yaml'/],
    [['check-config', 'a.yaml', '--config', 'b.yaml'], /not both/],
    [['rbldnsd', '-b'], /option -b requires an argument/],
    [['help', 'frobnicate'], /no command "frobnicate"/],
    [['status', 'now'], /unexpected argument 'now'/],
    [['status', '--json=yes'], /--json takes no value/],
  ];
  await each(cases, ([args, msg]) => usageError(args, msg));
});

test('--help on every command: its usage on stdout, exit 0 (`help CMD` says the same)', async () => {
  await each(COMMANDS.filter((c) => c !== 'help'), async (cmd) => {
    const r = await runQuorumbl([cmd, '--help'], { env, cwd: dir });
    assert.equal(r.code, 0, `${cmd} --help\n${r.output}`);
    assert.match(r.stdout, new RegExp(`usage: quorumbl ${cmd}\\b`), r.output);
    if (cmd !== 'sync' && cmd !== 'rbldnsd') return;
    const h = await runQuorumbl(['help', cmd], { env, cwd: dir });
    assert.equal(h.code, 0, h.output);
    assert.equal(h.stdout, r.stdout, `help ${cmd} = ${cmd} --help`);
  });
});

test('--config before the command, an unknown command: exit 2 with what to type', async () => {
  const r = await runQuorumbl(['--config', 'x.yaml', 'sources'], { env, cwd: dir });
  assert.equal(r.code, 2, r.output);
  assert.match(r.stderr, /--config goes after the command/);
  const u = await runQuorumbl(['serv'], { env, cwd: dir });
  assert.equal(u.code, 2, u.output);
  assert.match(u.stderr, /unknown command "serv"/);
  noTrace(r.output + u.output);
});

test('parseCommand: --config and -c on every command; counts of arguments; help', () => {
  const spec = { name: 'x', usage: 'usage: quorumbl x', options: { json: { type: 'boolean' as const } }, positionals: [1, 2] as [number, number] };
  assert.deepEqual(parseCommand(spec, ['k', '-c', 'f.yaml', '--json']).config, 'f.yaml');
  assert.equal(parseCommand(spec, ['--config=f.yaml', 'k']).config, 'f.yaml');
  assert.deepEqual(parseCommand(spec, ['k', 'l']).positionals, ['k', 'l']);
  assert.throws(() => parseCommand(spec, []), (e) => e instanceof ArgsError && /needs 1 argument/.test(e.message));
  assert.throws(() => parseCommand(spec, ['a', 'b', 'c']), (e) => e instanceof ArgsError && /unexpected argument 'c'/.test(e.message));
  assert.throws(() => parseCommand(spec, ['-h']), HelpRequest);
  assert.throws(() => parseCommand({ ...spec, config: false }, ['k', '--config', 'f']), (e) => e instanceof ArgsError && /unknown option '--config'/.test(e.message));
});

test('parseServeArgs: --config or nothing; anything else is a usage error', () => {
  assert.deepEqual(parseServeArgs([]), { config: undefined });
  assert.deepEqual(parseServeArgs(['--config', '/etc/q.yaml']), { config: '/etc/q.yaml' });
  assert.deepEqual(parseServeArgs(['-c', 'q.yaml']), { config: 'q.yaml' });
  assert.throws(() => parseServeArgs(['--listen', '0.0.0.0:53']), (e) => e instanceof ArgsError && e.spec.name === 'serve' && /unknown option '--listen'/.test(e.message));
  assert.throws(() => parseServeArgs(['q.yaml']), (e) => e instanceof ArgsError && /unexpected argument 'q\.yaml'/.test(e.message));
  assert.throws(() => parseServeArgs(['--help']), HelpRequest);
});

test('parseServeArgs: --replica-of HOST[:PORT] and --tsig [ALG:]NAME:SECRET, checked before anything starts', () => {
  assert.deepEqual(parseServeArgs(['--replica-of', '192.0.2.1:5300', '--tsig', 'xfr-key:c2VjcmV0']), { config: undefined, replicaOf: '192.0.2.1:5300', tsig: 'xfr-key:c2VjcmV0' });
  assert.throws(() => parseServeArgs(['--tsig', 'k:c2VjcmV0']), (e) => e instanceof ArgsError && /--tsig needs --replica-of/.test(e.message));
  assert.throws(() => parseServeArgs(['--replica-of', '192.0.2.1:99999']), (e) => e instanceof ArgsError && /--replica-of: .*port must be 1-65535/.test(e.message));
  assert.throws(() => parseServeArgs(['--replica-of', 'h', '--tsig', 'only-a-name']), (e) => e instanceof ArgsError && /--tsig: expected \[ALGORITHM:\]NAME:SECRET/.test(e.message));
});
