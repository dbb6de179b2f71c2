import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fetchKind } from '../../../sync/fetch/index.ts';
import { backoffMs } from '../../../sync/fetch/retry.ts';
import { FetchError, redactUrl } from '../../../sync/fetch/types.ts';

test('URL forms map to their transport', () => {
  const cases: [string, string | null][] = [
    ['https://www.spamhaus.org/drop/drop_v4.json', 'http'],
    ['HTTP://example.org/list.txt', 'http'],
    ['rsync://rsync.example.net:8873/psbl/psbl.txt', 'rsync'],
    ['psbl-mirror.example.com::psbl/psbl.txt', 'rsync'],
    ['mirror@rsync.example.net::RBLDNSD-ALL/dnsbl-1', 'rsync'],
    ['[2001:db8::1]::mod/file', 'rsync'],
    ['axfr://192.0.2.53/bl.example', 'axfr'],
    ['axfr://[2001:db8::53]:5353/bl.example', 'axfr'],
    ['file:///var/lib/quorumbl/local.txt', 'file'],
    ['/srv/dnsbl/local.txt', 'file'],
    ['data/local.txt', 'file'],
    ['C:relative', 'file'],
    ['ftp://example.org/list.txt', null],
  ];
  for (const [url, kind] of cases) assert.equal(fetchKind(url), kind, url);
});

test('errors never show URL credentials', () => {
  assert.equal(redactUrl('https://user:secret@example.org/x'), 'https://***@example.org/x');
  const e = new FetchError('rsync://user:pw@host/m/f', 'boom', true);
  assert.equal(e.message, 'rsync://***@host/m/f: boom');
  assert.equal(e.retryable, true);
});

test('backoff doubles per attempt with jitter, capped', () => {
  for (let i = 0; i < 50; i++) {
    const a0 = backoffMs(0, 1000);
    const a3 = backoffMs(3, 1000);
    assert.ok(a0 >= 500 && a0 <= 1000, String(a0));
    assert.ok(a3 >= 4000 && a3 <= 8000, String(a3));
    assert.ok(backoffMs(20, 1000) <= 30_000);
  }
});
