// deploy/quorumbl.service passes `systemd-analyze verify` without a warning, its hardening
// scores "OK" or better in `systemd-analyze security` (the score is printed), and the example
// config it points at passes check-config. PID 1 is not systemd here, so the unit is checked
// offline: verify wants every Exec binary to exist, and /opt/quorumbl does not; a drop-in next
// to a copy of the unit points ExecStart at this checkout's real bin/quorumbl through a
// temporary /opt/quorumbl path (the rest of the unit is checked as shipped).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, makeTmpDir, runQuorumbl, toolsOrSkip } from '../integration/helpers.ts';

const UNIT = join(ROOT, 'deploy', 'quorumbl.service');
const INSTALL = '/opt/quorumbl';
const skip = toolsOrSkip(['systemd-analyze']);

function analyze(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('systemd-analyze', args, { timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

/** The values of KEY= in the [Service] section, in order. */
function serviceValues(unit: string, key: string): string[] {
  return [...unit.matchAll(new RegExp(`^${key}=(.*)$`, 'gm'))].map((m) => m[1]!.trim());
}

/**
 * A copy of the unit in a temp dir with a drop-in that replaces the /opt/quorumbl prefix of
 * ExecStart (or the given command line) by a temp path linked to this checkout.
 */
function stage(execStart?: string): string {
  const dir = makeTmpDir('quorumbl-unit-');
  const opt = join(dir, 'opt');
  mkdirSync(opt);
  symlinkSync(ROOT, join(opt, 'quorumbl'));
  const unit = readFileSync(UNIT, 'utf8');
  const [start] = serviceValues(unit, 'ExecStart');
  const line = execStart ?? start!.replace(INSTALL, join(opt, 'quorumbl'));
  copyFileSync(UNIT, join(dir, 'quorumbl.service'));
  mkdirSync(join(dir, 'quorumbl.service.d'));
  writeFileSync(join(dir, 'quorumbl.service.d', 'paths.conf'), `[Service]\nExecStart=\nExecStart=${line}\n`);
  return join(dir, 'quorumbl.service');
}

test('the unit names the documented paths and the hardening the issue asks for', () => {
  const unit = readFileSync(UNIT, 'utf8');
  const start = serviceValues(unit, 'ExecStart');
  assert.deepEqual(start, [`${INSTALL}/bin/quorumbl serve --config /etc/quorumbl/quorumbl.yaml`]);
  const want: Record<string, string> = {
    StateDirectory: 'quorumbl', ConfigurationDirectory: 'quorumbl', ProtectSystem: 'strict', ProtectHome: 'yes',
    PrivateTmp: 'yes', PrivateDevices: 'yes', NoNewPrivileges: 'yes', AmbientCapabilities: 'CAP_NET_BIND_SERVICE',
    CapabilityBoundingSet: 'CAP_NET_BIND_SERVICE', Restart: 'on-failure', ExecReload: '/bin/kill -HUP $MAINPID',
  };
  for (const [k, v] of Object.entries(want)) assert.deepEqual(serviceValues(unit, k), [v], k);
  assert.deepEqual(serviceValues(unit, 'MemoryDenyWriteExecute'), [], 'V8 needs W+X memory: MemoryDenyWriteExecute must stay off');
  assert.ok(serviceValues(unit, 'SystemCallFilter').includes('@system-service'));
  assert.match(serviceValues(unit, 'RestrictAddressFamilies')[0] ?? '', /AF_INET AF_INET6 AF_UNIX/);
});

test('systemd-analyze verify passes without a warning', { skip }, async () => {
  const r = await analyze(['verify', stage()]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.equal(r.stderr.trim(), '', 'verify printed warnings');
});

test('verify is real: a missing ExecStart binary and an unknown key are reported', { skip }, async () => {
  const missing = await analyze(['verify', stage('/nonexistent/quorumbl serve')]);
  assert.notEqual(missing.code, 0);
  assert.match(missing.stderr, /nonexistent\/quorumbl is not executable/);
  const path = stage();
  writeFileSync(join(path + '.d', 'typo.conf'), '[Service]\nProtectSytem=strict\n');
  const typo = await analyze(['verify', path]);
  assert.match(typo.stderr, /Unknown key 'ProtectSytem'/);
});

test('systemd-analyze security: exposure OK or better (printed)', { skip }, async () => {
  const r = await analyze(['security', '--offline=true', stage()]);
  const m = /Overall exposure level for quorumbl\.service: ([\d.]+) (\w+)/.exec(r.stdout);
  assert.ok(m, r.stdout + r.stderr);
  console.log(`# systemd-analyze security: exposure ${m[1]} ${m[2]}`);
  assert.ok(['OK', 'SAFE'].includes(m[2]!), `exposure ${m[1]} ${m[2]}`);
});

test('the example config the unit reads is valid', async () => {
  const r = await runQuorumbl(['check-config', join(ROOT, 'deploy', 'quorumbl.yaml')]);
  assert.equal(r.code, 0, r.output);
});
