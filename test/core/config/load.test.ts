import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, ConfigError, DEFAULT_CONFIG } from '../../../core/config/load.ts';

function file(text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'qbl-cfg-'));
  const p = join(dir, 'q.yaml');
  writeFileSync(p, text);
  return p;
}

function problems(path: string, env: NodeJS.ProcessEnv = {}): string[] {
  try {
    loadConfig(path, env);
  } catch (e) {
    if (e instanceof ConfigError) return e.problems;
    throw e;
  }
  assert.fail('expected a ConfigError');
}

test('the embedded default config is valid and serves the demo zone on 5353', () => {
  const { config } = loadConfig(undefined, {});
  assert.deepEqual(config.server.listen, [{ address: '127.0.0.1', port: 5353 }, { address: '::1', port: 5353 }]);
  assert.equal(config.zones[0]!.name, 'demo.dnsbl.internal');
  assert.equal(config.ttl.default, 2100);
  assert.ok(DEFAULT_CONFIG.endsWith('data/default.yaml'));
});

test('an empty file gets every default', () => {
  const { config } = loadConfig(file(''), {});
  assert.equal(config.server.max_udp_payload, 1232);
  assert.equal(config.server.tcp.idle_timeout, 10);
  assert.equal(config.server.tcp.message_timeout, 5);
  assert.equal(config.server.rrl.enabled, 'auto');
  assert.deepEqual(config.zones, []);
});

test('errors name the key path and FILE:LINE', () => {
  const p = file(['server:', '  listen: ["127.0.0.1:99999"]', '  tcp:', '    enabled: maybe', 'ttl: { default: 10x }', 'zones:', '  - name: ok.example', '    datasets:', '      - { type: ip5set, files: [a.txt] }', '    colour: red', ''].join('\n'));
  const got = problems(p);
  const expect = [
    [2, 'server.listen.0', 'not an address:port'],
    [4, 'server.tcp.enabled', 'boolean'],
    [5, 'ttl.default', 'not a duration'],
    [9, 'zones.0.datasets.0.type', 'ip4set'],
    [10, 'zones.0.colour', 'unknown key "colour"'],
  ] as const;
  for (const [line, key, text] of expect) {
    assert.ok(got.some((g) => g.startsWith(`${p}:${line}: ${key}: `) && g.includes(text)), `missing ${key} at line ${line} in:\n${got.join('\n')}`);
  }
});

test('YAML syntax errors give the line', () => {
  const p = file('server:\n  listen: [127.0.0.1:53\nlog: {level: info}\n');
  assert.match(problems(p)[0]!, /q\.yaml:\d+: YAML syntax/);
});

test('environment overrides apply, lists split on commas, and bad values name the variable', () => {
  const p = file('server:\n  listen: ["127.0.0.1:5353"]\n');
  const { config } = loadConfig(p, { QUORUMBL_SERVER__LISTEN: '127.0.0.1:1,[::1]:2', QUORUMBL_LOG__LEVEL: 'debug', QUORUMBL_SERVER__MAX_UDP_PAYLOAD: '4096', QUORUMBL_SERVER__RRL__ENABLED: 'true' });
  assert.deepEqual(config.server.listen, [{ address: '127.0.0.1', port: 1 }, { address: '::1', port: 2 }]);
  assert.equal(config.log.level, 'debug');
  assert.equal(config.server.max_udp_payload, 4096);
  assert.equal(config.server.rrl.enabled, true);
  const one = loadConfig(p, { QUORUMBL_SERVER__ALLOW_QUERY: '10.0.0.0/8' });
  assert.deepEqual(one.config.server.allow_query, ['10.0.0.0/8']);
  const bad = problems(p, { QUORUMBL_SERVER__MAX_UDP_PAYLOAD: '12' });
  assert.match(bad[0]!, /^QUORUMBL_SERVER__MAX_UDP_PAYLOAD \(environment\): server\.max_udp_payload: /);
});

test('ttl default must lie inside min..max', () => {
  assert.match(problems(file('ttl: { default: 1h, max: 10m }\n')).join('\n'), /between ttl\.min and ttl\.max/);
});

test('a missing config file is a clear error', () => {
  assert.match(problems('/nonexistent/q.yaml')[0]!, /cannot read config file \/nonexistent\/q\.yaml: ENOENT/);
});
