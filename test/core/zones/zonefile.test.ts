// The zone-file writer: an RFC 1035 master file that BIND's named-checkzone loads, with the
// records it was given (TXT escapes, owners relative to $ORIGIN, SOA first), in chunks.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ExportError } from '../../../core/zones/export-zone.ts';
import { zonefileChunks } from '../../../core/zones/zonefile.ts';
import type { ZoneRecord } from '../../../core/zones/records.ts';
import { R, zoneOf } from './export-helpers.ts';

const CHECKZONE = '/usr/bin/named-checkzone';

const RECORDS: ZoneRecord[] = [
  R('2.0.0.127', 1, '127.0.0.2'),
  R('2.0.0.127', 1, '127.0.0.5'),
  R('2.0.0.127', 16, 'say "hi" \\ o/ ; not a comment $ (x)'),
  R('*.2.0.10', 1, '127.0.0.3'),
  R('mail', 15, '10 mx.example.'),
  R('', 16, 'apex text'),
  R('caf\u00e9', 16, 'caf\u00e9 \u00fcber'),
  R('long', 16, 'x'.repeat(300)),
];

function write(records: readonly ZoneRecord[], problems: string[] = []): string {
  return [...zonefileChunks(zoneOf('bl.example', records, 2026120601), { maxExpansion: 65536, report: (p) => problems.push(p) })].join('');
}

test('SOA first, then NS, owners relative to $ORIGIN, TXT quoted and escaped', () => {
  const problems: string[] = [];
  const text = write(RECORDS, problems);
  const lines = text.split('\n').filter((l) => l && !l.startsWith(';'));
  assert.equal(lines[0], '$ORIGIN bl.example.');
  assert.equal(lines[1], '@\t300\tIN\tSOA\tns1.example. hostmaster.example. 2026120601 600 300 86400 60');
  assert.deepEqual(lines.slice(2, 4), ['@\t300\tIN\tNS\tns1.example.', '@\t300\tIN\tNS\tns2.example.']);
  assert.ok(lines.includes('2.0.0.127\t300\tIN\tTXT\t"say \\"hi\\" \\\\ o/ ; not a comment $ (x)"'), text);
  assert.ok(lines.includes('*.2.0.10\t300\tIN\tA\t127.0.0.3'));
  assert.ok(lines.includes('caf\\195\\169\t300\tIN\tTXT\t"caf\\195\\169 \\195\\188ber"'), text);
  assert.ok(lines.includes('@\t300\tIN\tTXT\t"apex text"'));
  assert.deepEqual(problems, ['TXT of long is 300 bytes: written as 2 strings']);
});

test("named-checkzone accepts the file and reads back every record", (t) => {
  if (!existsSync(CHECKZONE)) {
    if (process.env.CI === 'true') assert.fail('named-checkzone (bind9-utils) missing');
    t.skip('named-checkzone (bind9-utils) not installed');
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'qbl-zonefile-'));
  try {
    const file = join(dir, 'bl.zone');
    writeFileSync(file, write(RECORDS));
    const r = spawnSync(CHECKZONE, ['-i', 'none', 'bl.example', file], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /loaded serial 2026120601/);
    // the canonical dump has every record, and the TXT with its quotes and backslash intact
    const dump = execFileSync(CHECKZONE, ['-i', 'none', '-D', '-o', '-', 'bl.example', file], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    const rrs = dump.split('\n').filter((l) => l && !l.startsWith(';'));
    assert.equal(rrs.length, RECORDS.length + 3, dump); // + SOA + 2 NS
    assert.ok(dump.includes('"say \\"hi\\" \\\\ o/ ; not a comment $ (x)"'), dump);
    assert.ok(/\*\.2\.0\.10\.bl\.example\.\s+300\s+IN\s+A\s+127\.0\.0\.3/.test(dump), dump);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a zone without SOA is an error naming the zone; a big zone comes out in chunks', () => {
  const noSoa = { ...zoneOf('x.example', []), soa: null };
  assert.throws(() => [...zonefileChunks(noSoa, { maxExpansion: 1, report: () => {} })], (e) => e instanceof ExportError && /zone x\.example has no SOA/.test(e.message));
  const many = Array.from({ length: 20000 }, (_, i) => R(`${i & 255}.${(i >> 8) & 255}.0.10`, 1, '127.0.0.2'));
  const chunks = [...zonefileChunks(zoneOf('bl.example', many), { maxExpansion: 1, report: () => {} })];
  assert.ok(chunks.length > 5, `${chunks.length} chunks`);
  assert.ok(chunks.every((c) => c.length < 70 * 1024));
  assert.equal(chunks.join('').split('\n').filter((l) => l.includes('\tA\t')).length, 20000);
});
