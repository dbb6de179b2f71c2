import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseHostPort, parseTsigSpec, replicaSchema } from '../../../core/config/replica.ts';

test('parseHostPort: port 53 by default, IPv6 bare or in brackets, errors say what is wrong', () => {
  assert.deepEqual(parseHostPort('192.0.2.1'), { host: '192.0.2.1', port: 53 });
  assert.deepEqual(parseHostPort('primary.example:5300'), { host: 'primary.example', port: 5300 });
  assert.deepEqual(parseHostPort('2001:db8::1'), { host: '2001:db8::1', port: 53 });
  assert.deepEqual(parseHostPort('[2001:db8::1]:5300'), { host: '2001:db8::1', port: 5300 });
  assert.match(parseHostPort('h:0') as string, /port must be 1-65535/);
  assert.match(parseHostPort('a b') as string, /not HOST\[:PORT\]/);
});

test('parseTsigSpec: dig -y form, algorithm optional (hmac-sha256)', () => {
  assert.deepEqual(parseTsigSpec('hmac-sha512:k:c2VjcmV0'), { name: 'k', algorithm: 'hmac-sha512', secret: 'c2VjcmV0' });
  assert.deepEqual(parseTsigSpec('k:c2VjcmV0'), { name: 'k', algorithm: 'hmac-sha256', secret: 'c2VjcmV0' });
  assert.match(parseTsigSpec('k') as string, /expected/);
  assert.match(parseTsigSpec('k:not base64!') as string, /not base64/);
});

test('replica: defaults off; a bad primary is a config error naming the value', () => {
  const d = replicaSchema.parse(undefined);
  assert.equal(d.primary, null);
  assert.deepEqual(d.zones, []);
  assert.equal(d.first_retry, 10);
  const bad = replicaSchema.safeParse({ primary: 'x:70000' });
  assert.equal(bad.success, false);
  assert.match(JSON.stringify(bad.error?.issues), /port must be 1-65535/);
  assert.equal(replicaSchema.parse({ primary: 'p:5300', zones: ['BL.Test.'], first_retry: '1m' }).zones[0], 'bl.test');
});
