// The `transfer:` key: off by default, every mistake named with its path.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { configSchema } from '../../../core/config/schema.ts';
import { resolveTransferZone, transferSchema } from '../../../core/config/transfer.ts';

const key = { name: 'xfr-key', algorithm: 'hmac-sha256', secret: 'c2VjcmV0c2VjcmV0c2VjcmV0' };

function problems(t: unknown): string[] {
  const r = transferSchema.safeParse(t);
  return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
}

test('absent = null (off); the brief example parses with its defaults', () => {
  assert.equal(configSchema.parse({}).transfer, null);
  const t = transferSchema.parse({ keys: [key], acl: { '*': { allow: ['127.0.0.1/32', '::1/128'], keys: ['xfr-key'] } }, notify: [{ address: '127.0.0.1:5300', key: 'xfr-key' }] });
  assert.equal(t.journal, 100);
  assert.equal(t.max_expansion, 65536);
  assert.equal(t.delay, 1);
  assert.equal(t.catalog, null);
  assert.deepEqual(t.notify[0], { address: { address: '127.0.0.1', port: 5300 }, key: 'xfr-key', zones: ['*'] });
});

test('unknown key name in an acl or notify, bad base64, unsupported algorithm, duplicate key: each named', () => {
  assert.deepEqual(problems({ keys: [key], acl: { bl: { allow: ['10.0.0.0/8'], keys: ['nope'] } } }), ['acl.bl.keys.0: unknown TSIG key "nope" (transfer.keys defines: xfr-key)']);
  assert.deepEqual(problems({ keys: [key], notify: [{ address: '10.0.0.1', key: 'nope' }] }), ['notify.0.key: unknown TSIG key "nope" (transfer.keys defines: xfr-key)']);
  assert.deepEqual(problems({ keys: [{ ...key, secret: 'not base64!' }] }), ['keys.0.secret: TSIG key xfr-key: the secret is not valid base64']);
  assert.match(problems({ keys: [{ ...key, algorithm: 'hmac-sha3' }] })[0]!, /^keys\.0\.algorithm: TSIG key xfr-key: unsupported TSIG algorithm 'hmac-sha3'/);
  assert.deepEqual(problems({ keys: [key, key] }), ['keys.1.name: TSIG key xfr-key is defined twice']);
  assert.match(problems({ acl: { '*': { allow: ['300.1.1.1/8'], keys: [] } } }).join('\n'), /is not an IPv4 or IPv6 CIDR/);
  assert.match(problems({ notify: [{ address: 'host.example:53' }] }).join('\n'), /not an address\[:port\]/);
  assert.match(problems({ journal: -1 }).join('\n'), /journal/);
  assert.match(problems({ delay: 'soon' }).join('\n'), /not a duration/);
});

test('short zone names resolve against the base', () => {
  assert.equal(resolveTransferZone('bl', 'dnsbl.example'), 'bl.dnsbl.example');
  assert.equal(resolveTransferZone('spamhaus-drop.mirror', 'dnsbl.example'), 'spamhaus-drop.mirror.dnsbl.example');
  assert.equal(resolveTransferZone('Other.Example.', 'dnsbl.example'), 'other.example');
  assert.equal(resolveTransferZone('*', 'dnsbl.example'), '*');
});
