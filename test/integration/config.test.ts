// The config file as a mail admin writes it: `check-config` accepts good files and names the key
// path and FILE:LINE of a mistake; environment overrides apply; a missing data file is reported.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join, basename } from 'node:path';
import {
  toolsOrSkip, makeTmpDir, freePort, spawnQuorumbl, runQuorumbl, stopAll, waitReady, dig, copyFixture,
  writeConfig, poll, LEVEL, ROOT, type Proc,
} from './helpers.ts';

const Z = 'bl.quorumbl.test';

/** A directory with the fixture data files and a config made of `lines` (1-based line numbers matter). */
function site(lines: string[], name = 'quorumbl.yaml'): { dir: string; config: string } {
  const dir = makeTmpDir();
  mkdirSync(join(dir, 'data'), { mode: 0o755 });
  copyFixture('ip4set.txt', join(dir, 'data'));
  copyFixture('dnset.txt', join(dir, 'data'));
  return { dir, config: writeConfig(dir, lines.join('\n') + '\n', name) };
}

const GOOD = [
  '# a good config', //                                        1
  'server:', //                                                 2
  '  listen: ["127.0.0.1:15353", "[::1]:15353"]', //            3
  '  tcp: { enabled: true, idle_timeout: 10s, max_connections: 64 }', // 4
  '  max_udp_payload: 1232', //                                 5
  '  allow_query: [127.0.0.0/8, ::1/128]', //                   6
  'ttl: { default: 35m, min: 0, max: 1w }', //                  7
  'reload: { check_interval: 60s }', //                         8
  'state_dir: ./state', //                                      9
  'log: { level: info }', //                                    10
  'zones:', //                                                  11
  `  - name: ${Z}`, //                                          12
  '    datasets:', //                                           13
  '      - { type: ip4set, files: [data/ip4set.txt] }', //      14
  '      - { type: dnset, files: [data/dnset.txt] }', //        15
];

/** GOOD with line `n` (1-based) replaced. */
function goodWith(n: number, line: string): string[] {
  const l = GOOD.slice();
  l[n - 1] = line;
  return l;
}

async function expectInvalid(lines: string[], keyPath: RegExp, line: number | null): Promise<string> {
  const { config } = site(lines);
  const r = await runQuorumbl(['check-config', config]);
  const where = `bin/quorumbl check-config ${config}\n--- config ---\n${lines.map((l, i) => `${i + 1}: ${l}`).join('\n')}\n--- output (exit ${r.code}) ---\n${r.output}`;
  assert.equal(r.code, 1, `exit code 1 expected\n${where}`);
  assert.match(r.output, keyPath, `the message must name the key path\n${where}`);
  if (line !== null) {
    assert.ok(r.output.includes(`${basename(config)}:${line}`), `the message must name ${basename(config)}:${line}\n${where}`);
  }
  assert.doesNotMatch(r.output, /^\s+at .*\(.*:\d+:\d+\)$/m, `a config mistake is a message, not a stack trace\n${where}`);
  return r.output;
}

describe('bin/quorumbl --help', () => {
  test('lists the serve, check-config and rbldnsd commands', async () => {
    const r = await runQuorumbl(['--help']);
    assert.equal(r.code, 0, r.output);
    for (const cmd of ['serve', 'check-config', 'rbldnsd']) assert.match(r.output, new RegExp(`\\b${cmd}\\b`), r.output);
  });

  test('an unknown command fails with a hint', async () => {
    const r = await runQuorumbl(['serv']);
    assert.notEqual(r.code, 0, r.output);
    assert.match(r.output, /serv/, r.output);
  });
});

describe('bin/quorumbl check-config', () => {
  test('a good file: exit 0 and "ok"', async () => {
    const { config } = site(GOOD);
    const r = await runQuorumbl(['check-config', config]);
    assert.equal(r.code, 0, r.output);
    assert.match(r.output, /\bok\b/i, r.output);
  });

  test('the shipped default config is valid', async () => {
    const r = await runQuorumbl(['check-config', join(ROOT, 'data', 'default.yaml')]);
    assert.equal(r.code, 0, r.output);
    assert.match(r.output, /\bok\b/i, r.output);
  });

  test('a bad number names server.max_udp_payload and FILE:5', async () => {
    await expectInvalid(goodWith(5, '  max_udp_payload: lots'), /server\.max_udp_payload/, 5);
  });

  test('a bad duration names reload.check_interval and FILE:8', async () => {
    await expectInvalid(goodWith(8, 'reload: { check_interval: soon }'), /reload\.check_interval/, 8);
  });

  test('a bad listen address names server.listen and FILE:3', async () => {
    await expectInvalid(goodWith(3, '  listen: ["127.0.0.1:15353", "localhost"]'), /server\.listen/, 3);
  });

  test('a bad log level names log.level and FILE:10', async () => {
    await expectInvalid(goodWith(10, 'log: { level: loud }'), /log\.level/, 10);
  });

  test('an unknown dataset type names the dataset key and FILE:15', async () => {
    await expectInvalid(
      goodWith(15, '      - { type: dnsset, files: [data/dnset.txt] }'),
      /zones(\.0|\[0\])\.datasets(\.1|\[1\])\.type/,
      15,
    );
  });

  test('an unknown key is rejected, naming server.lisen and FILE:3', async () => {
    await expectInvalid(goodWith(3, '  lisen: ["127.0.0.1:15353"]'), /server\.lisen/, 3);
  });

  test('an unknown top-level key is rejected, naming it and its line', async () => {
    await expectInvalid(goodWith(9, 'statedir: ./state'), /statedir/, 9);
  });

  test('a YAML syntax error names FILE:LINE', async () => {
    const out = await expectInvalid(goodWith(7, 'ttl: { default: 35m, min: 0, max: 1w'), /./, null);
    assert.match(out, /quorumbl\.yaml:\d+/, out);
  });

  test('a config file that does not exist is named', async () => {
    const dir = makeTmpDir();
    const r = await runQuorumbl(['check-config', join(dir, 'nope.yaml')]);
    assert.notEqual(r.code, 0, r.output);
    assert.match(r.output, /nope\.yaml/, r.output);
  });

  test('an environment override is validated too (QUORUMBL_LOG__LEVEL)', async () => {
    const { config } = site(GOOD);
    const bad = await runQuorumbl(['check-config', config], { env: { QUORUMBL_LOG__LEVEL: 'loud' } });
    assert.equal(bad.code, 1, bad.output);
    assert.match(bad.output, /log\.level|QUORUMBL_LOG__LEVEL/, bad.output);
    const good = await runQuorumbl(['check-config', config], { env: { QUORUMBL_LOG__LEVEL: 'debug' } });
    assert.equal(good.code, 0, good.output);
  });
});

describe('serve: environment overrides and data file errors', { skip: toolsOrSkip(['dig']) }, () => {
  /** Starts serve, waits until it answers, stops it; returns its output. */
  async function runOnce(env: Record<string, string>): Promise<Proc> {
    const port = await freePort();
    const { config } = site(goodWith(3, `  listen: ["127.0.0.1:${port}"]`));
    const proc = spawnQuorumbl(['serve', '--config', config], { env });
    try {
      await waitReady(proc, '127.0.0.1', port, Z);
      const r = await dig('127.0.0.1', port, [`2.0.0.127.${Z}`, 'A']);
      assert.equal(r.status, 'NOERROR', r.raw);
    } finally {
      await stopAll(proc);
    }
    return proc;
  }

  test('QUORUMBL_LOG__LEVEL=warn silences the info lines a default run prints', async () => {
    const normal = await runOnce({});
    assert.ok(normal.logs().some((l) => l.level === LEVEL.info), `a default run logs at info level (JSON lines on stdout)\n${normal.tail()}`);
    const quiet = await runOnce({ QUORUMBL_LOG__LEVEL: 'warn' });
    const below = quiet.logs().filter((l) => (l.level ?? 0) < LEVEL.warn);
    assert.deepEqual(below, [], `no debug/info lines with QUORUMBL_LOG__LEVEL=warn\n${quiet.tail()}`);
  });

  test('a missing data file at start (no snapshot yet) is a clear error naming the file', async () => {
    const port = await freePort();
    const lines = goodWith(15, '      - { type: dnset, files: [data/missing-dnset.txt] }');
    lines[2] = `  listen: ["127.0.0.1:${port}"]`;
    const { config } = site(lines);
    const proc = spawnQuorumbl(['serve', '--config', config]);
    try {
      // Either the process stops with a message, or it keeps running and logs an error; both
      // must name the file. Which of the two happened is printed for the report.
      const how = await poll(
        async () => {
          const named = proc.output().includes('missing-dnset.txt');
          if (proc.exitStatus) return named ? `exit ${JSON.stringify(proc.exitStatus)}` : 'exit-without-name';
          const logged = proc.logs().some((l) => (l.level ?? 0) >= LEVEL.error && JSON.stringify(l).includes('missing-dnset.txt'));
          return logged ? 'logged' : undefined;
        },
        'an error naming data/missing-dnset.txt',
        { timeoutMs: 30000, describe: () => proc.tail() },
      );
      assert.notEqual(how, 'exit-without-name', `the process exited without naming the file\n${proc.tail()}`);
      // If it is about to stop, let it, so the exit code can be checked too.
      await Promise.race([proc.exited, new Promise((r) => setTimeout(r, 3000))]);
      if (proc.exitStatus) assert.notEqual(proc.exitStatus.code, 0, `a start that fails must exit non-zero\n${proc.tail()}`);
      assert.doesNotMatch(proc.output(), /^\s+at .*\(.*:\d+:\d+\)$/m, `a missing file is a message, not a stack trace\n${proc.tail()}`);
      console.log(`# missing data file at start: ${proc.exitStatus ? `exit ${JSON.stringify(proc.exitStatus)}` : 'keeps running, error logged'}`);
    } finally {
      await stopAll(proc);
    }
  });
});
