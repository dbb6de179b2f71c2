import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseRbldnsdArgs, parseTtlOption, resolveBind, UsageError } from '../../cli/rbldnsd-args.ts';

test('rbldnsd options, grouped flags and attached values', () => {
  const a = parseRbldnsdArgs(['-na', '-b127.2/5300', '-b', '::1/5301', '-w', '/srv/z', '-t', '5m:1m:10m', '-c', '30s', '-e', '-q', '-vv', '-C', '-l', '+q.log', '-s', 'st', '-p', 'pid', '-u', 'rbldns', 'bl.example:ip4set:a.txt,b.txt', 'bl.example:dnset:c:d', 'other.example.:generic:/abs/g']);
  assert.deepEqual(a.binds, ['127.2/5300', '::1/5301']);
  assert.deepEqual(a.ttl, { def: 300, min: 60, max: 600 });
  assert.equal(a.checkInterval, 30);
  assert.ok(a.lazy && a.acceptHostBits && a.quick && !a.gunzip);
  assert.equal(a.hideVersion, 2);
  assert.equal(a.queryLog, '+q.log');
  assert.equal(a.user, 'rbldns');
  assert.deepEqual(a.zones, [
    { name: 'bl.example', datasets: [{ type: 'ip4set', files: ['/srv/z/a.txt', '/srv/z/b.txt'] }, { type: 'dnset', files: ['/srv/z/c', '/srv/z/d'] }] },
    { name: 'other.example', datasets: [{ type: 'generic', files: ['/abs/g'] }] },
  ]);
});

test('-t parts may be empty; bad values are usage errors', () => {
  assert.deepEqual(parseTtlOption('::1h'), { def: 2100, min: 0, max: 3600 });
  assert.throws(() => parseTtlOption('::10m'), /default TTL 2100 outside 0..600/); // rbldnsd: inconsistent def:min:max
  assert.throws(() => parseTtlOption('0'), UsageError);
  assert.throws(() => parseTtlOption('1h:2h'), /outside/);
});

test('missing -b, unknown types and chroot are rejected clearly', () => {
  assert.throws(() => parseRbldnsdArgs(['z:ip4set:f']), /no listening address/);
  assert.throws(() => parseRbldnsdArgs(['-b', '127.0.0.1', 'z:ip5set:f']), /unknown dataset type "ip5set"/);
  assert.throws(() => parseRbldnsdArgs(['-r', '/x', '-b', '127.0.0.1', 'z:ip4set:f']), /chroot/);
  assert.throws(() => parseRbldnsdArgs(['-b', '127.0.0.1']), /no zones/);
  assert.throws(() => parseRbldnsdArgs(['-Z', 'z:ip4set:f']), /unknown option -Z/);
});

test('-b accepts inet_aton forms, IPv6, names and ports', async () => {
  assert.deepEqual(await resolveBind('127.2'), [{ address: '127.0.0.2', port: 53 }]);
  assert.deepEqual(await resolveBind('127.0.0.1/5353'), [{ address: '127.0.0.1', port: 5353 }]);
  assert.deepEqual(await resolveBind('::1/5353'), [{ address: '::1', port: 5353 }]);
  assert.ok((await resolveBind('localhost/53', 4)).some((x) => x.address === '127.0.0.1'));
  await assert.rejects(resolveBind('127.0.0.1/99999'), /invalid port/);
});

test('acl datasets: one per zone, one global (:acl:file, kept as the zone named ""), never a zone alone', () => {
  const a = parseRbldnsdArgs(['-b', '127.0.0.1', '-w', '/d', ':acl:g.txt', 'Z.example:acl:a.txt', 'z.example:ip4set:s.txt', 'y.example:ip4set:s.txt']);
  assert.deepEqual(a.zones, [
    { name: '', datasets: [{ type: 'acl', files: ['/d/g.txt'] }] },
    { name: 'z.example', datasets: [{ type: 'acl', files: ['/d/a.txt'] }, { type: 'ip4set', files: ['/d/s.txt'] }] },
    { name: 'y.example', datasets: [{ type: 'ip4set', files: ['/d/s.txt'] }] },
  ]);
  const b = ['-b', '127.0.0.1'];
  assert.throws(() => parseRbldnsdArgs([...b, ':acl:g', ':acl:h', 'z:ip4set:f']), /global acl specified more than once/);
  assert.throws(() => parseRbldnsdArgs([...b, 'z:acl:a', 'z:acl:b', 'z:ip4set:f']), /repeated ACL definition for zone z/);
  assert.throws(() => parseRbldnsdArgs([...b, 'z:acl:a']), /missing data for zone z/);
  assert.throws(() => parseRbldnsdArgs([...b, ':ip4set:f']), /missing zone name/);
});
