// Zone transfers from a real `quorumbl serve` (transfer: configured), asked by kdig with TSIG:
//   - AXFR of bl with the key; without it, with a wrong secret, from outside the acl: refused;
//   - `quorumbl override add` (another process) raises bl's serial; an IXFR from the old serial
//     carries only that difference, and the new records answer as dig says serve does;
//   - a reload that drops the key from the acl refuses the next transfer.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { digRaw, freePort, ip4Labels, makeTmpDir, poll, runQuorumbl, spawnQuorumbl, stopAll, toolsOrSkip, waitForLog, waitReady, writeConfig, type Proc } from './helpers.ts';
import { kdig, keyArg, recText, SECRET, OTHER_SECRET, type KdigRr } from '../server/xfr/helpers.ts';

const skip = toolsOrSkip(['dig', 'kdig']);
const BASE = 'dnsbl.test';
const BL = `bl.${BASE}`;

const serialOf = (r: KdigRr) => Number(r.data.split(/\s+/)[2]);

describe('zone transfers from a real serve', { skip }, () => {
  let cfg: string;
  let dns: number;
  let serve: Proc | undefined;
  const yaml = (keys: string) =>
    [
      `server: { listen: ["127.0.0.1:${dns}"] }`,
      'web: { enabled: false }',
      'state_dir: state',
      `base: ${BASE}`,
      'sync: { enabled: false }',
      'providers: []',
      'transfer:',
      `  keys: [{ name: xfr-key, algorithm: hmac-sha256, secret: "${SECRET}" }]`,
      '  acl:',
      `    bl: { allow: [127.0.0.1/32], keys: [${keys}] }`,
      '    wl: { allow: [192.0.2.0/24], keys: [xfr-key] }',
      '  delay: 1s',
      '',
    ].join('\n');

  before(async () => {
    const dir = makeTmpDir();
    dns = await freePort();
    cfg = writeConfig(dir, yaml('xfr-key'));
    serve = spawnQuorumbl(['serve', '--config', cfg]);
    await waitReady(serve, '127.0.0.1', dns, BL);
    await waitForLog(serve, 0, (r) => r.msg === 'merged zones served', 'first merge', 30000);
    await waitForLog(serve, 0, (r) => r.msg === 'zone transfer: new version' && r.zone === BL, 'bl materialised', 30000);
  });

  after(async () => {
    await stopAll(serve);
  });

  test('AXFR with the key; refused without it, with a wrong secret, from outside the acl, for a zone no acl names', async () => {
    const r = await kdig(dns, BL, keyArg(), ['AXFR']);
    assert.deepEqual(r.errors, [], r.out.slice(-400));
    assert.equal(r.records[0]!.type, 'SOA');
    assert.equal(r.records.at(-1)!.type, 'SOA');
    // the RFC 5782 test point is in bl
    assert.ok(r.records.some((x) => x.name === `2.0.0.127.${BL}.` && x.type === 'A'), r.out.slice(0, 2000));
    const refusals: [string, string | null, RegExp][] = [
      [BL, null, /REFUSED/],
      [BL, keyArg('xfr-key', OTHER_SECRET), /BADSIG/],
      [`wl.${BASE}`, keyArg(), /REFUSED/],
      [`dbl.${BASE}`, keyArg(), /REFUSED/],
    ];
    for (const [zone, key, want] of refusals) {
      const x = await kdig(dns, zone, key, ['AXFR']);
      assert.equal(x.records.length, 0, `${zone} ${key}`);
      assert.match(x.errors.join('\n'), want, `${zone} ${key}: ${x.out}`);
    }
  });

  test('an override raises the serial; an IXFR from the old serial carries only that difference', async () => {
    const before = await kdig(dns, BL, keyArg(), ['AXFR']);
    const old = serialOf(before.records[0]!);
    const add = await runQuorumbl(['override', 'add', 'deny', '198.51.100.0/24', '--reason', 'transfer test', '--config', cfg]);
    assert.equal(add.code, 0, add.output);
    // serve sees the CLI's commit, bumps the serial, and materialises the new version
    const soa = await poll(async () => {
      const x = await kdig(dns, BL, keyArg(), ['IXFR=' + old]);
      return x.records.length > 1 ? x : undefined;
    }, 'an IXFR with a difference');
    assert.deepEqual(soa.errors, []);
    const recs = soa.records;
    const now = serialOf(recs[0]!);
    assert.ok(now !== old, 'the serial rose');
    assert.equal(recs[1]!.type, 'SOA');
    assert.equal(serialOf(recs[1]!), old, 'the difference starts at the client serial');
    // Only names of 198.51.100.0/24 changed: as IPv4 and as its v4-mapped IPv6 form
    // (::ffff:c633:64xx), none removed; the zone keeps everything else.
    const changed = recs.filter((x) => x.type !== 'SOA');
    assert.ok(changed.length > 0 && changed.length < 10, recs.map((x) => `${x.name} ${x.type} ${x.data}`).join('\n'));
    for (const x of changed) assert.match(x.name, /(^|\.)(100\.51\.198|4\.6\.3\.3\.6\.c\.f\.f\.f\.f(\.0){20})\.bl\.dnsbl\.test\.$/, `${x.name} ${x.type} ${x.data}`);
    const had = new Set(before.records.map(recText));
    for (const x of changed) assert.ok(!had.has(recText(x)), `${recText(x)} was already in the zone: not a difference`);
    // and serve answers what the transferred records say
    const a = changed.find((x) => x.type === 'A' && x.name.includes('100.51.198'))!;
    const name = a.name.replace(/^\*\./, '7.');
    const d = await digRaw('127.0.0.1', dns, [name, 'A']);
    assert.deepEqual(d.replies[0]!.answer.filter((x) => x.type === 'A').map((x) => x.data), [a.data]);
    assert.equal(d.replies[0]!.answer.length > 0, true, ip4Labels('198.51.100.7'));
  });

  test('a reload that takes the key away refuses the next transfer', async () => {
    writeFileSync(cfg, readFileSync(cfg, 'utf8').replace(yaml('xfr-key').split('\n').find((l) => l.includes('bl: {'))!, '    bl: { allow: [127.0.0.2/32], keys: [xfr-key] }'));
    const r = await runQuorumbl(['reload', '--config', cfg, '--wait']);
    assert.equal(r.code, 0, r.output);
    const x = await kdig(dns, BL, keyArg(), ['AXFR']);
    assert.match(x.errors.join('\n'), /REFUSED/, x.out);
  });
});
