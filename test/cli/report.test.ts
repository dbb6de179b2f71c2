import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDb } from '../../core/db.ts';
import { readAudit } from '../../sync/local/audit.ts';
import { reportCommand } from '../../cli/report.ts';

const T0 = Date.parse('2025-03-01T12:00:00Z');

test('report stores events and prints the score; every report is audited as cli:<user>', async () => {
  const dbPath = join(mkdtempSync(join(tmpdir(), 'qbl-cli-')), 'state.sqlite');
  let t = T0;
  const run = async (args: string[]) => {
    const o = { out: '', err: '' };
    const code = await reportCommand(args, {
      dbPath, user: 'postmaster', now: () => t, reputation: { half_life: 86400, cap: 5 },
      out: (s) => void (o.out += s), err: (s) => void (o.err += s),
    });
    return { code, ...o };
  };
  assert.deepEqual(await run(['192.0.2.1', '--kind', 'spam']), { code: 0, out: 'reported spam for 192.0.2.1 (weight 1); score 0.00 -> 1.00\n', err: '' });
  assert.equal((await run(['192.0.2.1', '--kind', 'trap', '--weight', '2'])).out, 'reported trap for 192.0.2.1 (weight 2); score 1.00 -> 5.00\n');
  t += 86400_000;
  assert.equal((await run(['192.0.2.1', '-k', 'ham'])).out, 'reported ham for 192.0.2.1 (weight 1); score 2.50 -> 1.50\n');
  const fp = await run(['192.0.2.1', '--kind', 'false-positive', '--reporter', 'helpdesk', '--note', 'customer invoice', '--json']);
  assert.equal(fp.code, 0);
  const j = JSON.parse(fp.out) as { event: { reporter: string; note: string }; score: number };
  assert.equal(j.score, -1);
  assert.equal(j.event.reporter, 'helpdesk');
  const db = openDb(dbPath);
  const a = readAudit(db);
  assert.deepEqual(a.map((e) => [e.action, e.actor, e.target]), [
    ['reputation.false-positive', 'cli:postmaster', '192.0.2.1'],
    ['reputation.report', 'cli:postmaster', '192.0.2.1'],
    ['reputation.report', 'cli:postmaster', '192.0.2.1'],
    ['reputation.report', 'cli:postmaster', '192.0.2.1'],
  ]);
  assert.deepEqual(a.map((e) => [(e.before as { score: number }).score, (e.after as { score: number }).score]), [[1.5, -1], [2.5, 1.5], [1, 5], [0, 1]]);
  assert.equal((db.prepare('SELECT count(*) FROM reputation_events').pluck().get() as number), 4);
  db.close();

  const bad = await run(['192.0.2.0/24', '--kind', 'spam']);
  assert.equal(bad.code, 1);
  assert.match(bad.err, /a single address is expected here/);
  assert.match((await run(['x.example', '--kind', 'virus'])).err, /kind must be one of spam, trap, ham, false-positive/);
  assert.match((await run(['x.example', '--kind', 'spam', '--weight', 'lots'])).err, /weight must be a number/);
  assert.equal((await run(['x.example'])).code, 2);
  assert.equal((await run(['a.example', 'b.example', '--kind', 'spam'])).code, 2);
});
