// `quorumbl export` from a shell, on a synced state directory with overrides and no serve
// running: zone files BIND's named-checkzone accepts and rbldnsd files, one per zone in a
// directory or one to stdout; short zone names; mistakes are exit 2 naming what is wrong; a
// write that fails halfway (a full disk) leaves the previous file whole and no temp file.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runQuorumbl, toolsOrSkip } from '../integration/helpers.ts';
import { BASE, addOverrides, syncedState, type ExportState } from '../integration/export-setup.ts';
import { fill, tmpfs, tmpfsOrSkip, unmountAll } from '../core/tmpfs.ts';

const skip = toolsOrSkip(['named-checkzone']);
const ZONES = ['bl', 'wl', 'dbl', 'psbl.mirror'];

describe('quorumbl export', { skip }, () => {
  let st: ExportState;
  const run = (...args: string[]) => runQuorumbl(['export', ...args, '--config', st.cfg], { timeoutMs: 60000 });

  before(async () => {
    st = await syncedState();
    await addOverrides(st.cfg);
  });
  after(() => unmountAll());

  test('zone files of bl, wl, dbl and a mirror into a directory: named-checkzone loads each; the overrides are in', async () => {
    const out = join(st.dir, 'zones');
    mkdirSync(out);
    const r = await run('--format', 'zonefile', '--out', out, ...ZONES);
    assert.equal(r.code, 0, r.output);
    const files = readdirSync(out).sort();
    assert.deepEqual(files, [`bl.${BASE}.zone`, `dbl.${BASE}.zone`, `psbl.mirror.${BASE}.zone`, `wl.${BASE}.zone`], 'one file per zone, no temp file left');
    for (const f of files) {
      const zone = f.replace(/\.zone$/, '');
      const c = spawnSync('named-checkzone', ['-i', 'none', zone, join(out, f)], { encoding: 'utf8' });
      assert.equal(c.status, 0, `${f}: ${c.stdout}${c.stderr}`);
    }
    const bl = readFileSync(join(out, `bl.${BASE}.zone`), 'utf8');
    assert.match(bl, /^250\.2\.0\.192\t\d+\tIN\tA\t127\.0\.0\.5$/m, 'the deny override of 192.0.2.250');
    assert.doesNotMatch(bl, /^41\.22\.107\.40\t/m, 'the allowed M365 address is not in bl');
    assert.match(readFileSync(join(out, `dbl.${BASE}.zone`), 'utf8'), /^\*\.deny-zone\.example\t\d+\tIN\tA\t/m, 'the *.domain deny as a wildcard');
  });

  test('one zone to stdout by its short name; rbldnsd format to stdout', async () => {
    const z = await run('--format', 'zonefile', 'dbl');
    assert.equal(z.code, 0, z.output);
    assert.match(z.stdout, new RegExp(`^\\$ORIGIN dbl\\.${BASE.replace('.', '\\.')}\\.$`, 'm'));
    assert.match(z.stdout, /^test\t\d+\tIN\tA\t127\.0\.1\.2$/m, 'the RFC 5782 test point of dbl');
    const r = await run('--format', 'rbldnsd', `bl.${BASE}.`);
    assert.equal(r.code, 0, r.output);
    assert.match(r.stdout, /^\$SOA \d+ /m);
    assert.match(r.stdout, /^\$DATASET ip4set:/m);
    assert.match(r.stdout, /^192\.0\.2\.250 :127\.0\.0\.5:/m);
  });

  test('mistakes: exit 2 naming what is wrong', async () => {
    const cases: [string[], RegExp][] = [
      [['bl'], /--format rbldnsd\|zonefile is required/],
      [['--format', 'bind', 'bl'], /--format must be rbldnsd or zonefile, not "bind"/],
      [['--format', 'zonefile', 'bl', 'nope'], /no zone "nope"/],
      [['--format', 'rbldnsd', 'bl', 'wl'], /rbldnsd files hold one zone each/],
      [['--format', 'zonefile', '--out', join(st.dir, 'x.zone'), 'bl', 'wl'], /is not a directory: name one zone/],
    ];
    for (const [args, msg] of cases) {
      const r = await run(...args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.output}`);
      assert.match(r.stderr, msg, args.join(' '));
      assert.equal(r.stdout, '', args.join(' '));
    }
    assert.equal(existsSync(join(st.dir, 'x.zone')), false);
  });

  test('a full disk halfway through: the previous file stays whole, no temp file, exit 1 naming the file', async (t) => {
    const why = tmpfsOrSkip();
    if (why) return t.skip(why);
    const dir = tmpfs('256k');
    const file = join(dir, 'bl.zone');
    writeFileSync(file, '; the previous export\n');
    // leave a few KB: the zone (tens of KB) starts to go in, then the disk is full
    fill(join(dir, 'filler'));
    spawnSync('truncate', ['-s', '-12k', join(dir, 'filler')]);
    const r = await run('--format', 'zonefile', '--out', file, 'bl');
    assert.equal(r.code, 1, r.output);
    assert.match(r.stderr, new RegExp(`cannot write ${file.replace(/[/.]/g, '\\$&')}: .*ENOSPC`));
    assert.equal(readFileSync(file, 'utf8'), '; the previous export\n');
    assert.deepEqual(readdirSync(dir).sort(), ['bl.zone', 'filler']);
  });
});
