import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { loadDataset, LoadError, parseTimestamp } from '../../../core/rbldnsd/reader.ts';
import { LoadState, defaultLoadOptions, parseTime } from '../../../core/rbldnsd/state.ts';
import type { Dataset, DatasetMeta, DatasetType } from '../../../core/datasets/types.ts';

/** A type that records what the reader hands to a loader. */
function recorder() {
  const seen: { lines: string[]; files: string[]; meta?: DatasetMeta; state?: LoadState } = { lines: [], files: [] };
  const type: DatasetType = {
    name: 'rec',
    createLoader(state) {
      return {
        state,
        startFile: (f) => void seen.files.push(f),
        addLine: (l, at) => void seen.lines.push(`${at.line}|${l}`),
        finish(meta) {
          seen.meta = meta;
          seen.state = state;
          return { type: 'rec', ttl: state.currentTtl, meta, size: 0, query: () => false, dump() {}, snapshot: () => ({ type: 'rec', meta: null, arrays: [] }) } satisfies Dataset;
        },
      };
    },
    fromSnapshot: () => assert.fail(),
  };
  return { type, seen };
}

function files(...contents: (string | Buffer)[]): string[] {
  const dir = mkdtempSync(join(tmpdir(), 'qbl-rd-'));
  return contents.map((c, i) => {
    const p = join(dir, `f${i}`);
    writeFileSync(p, c);
    return p;
  });
}

test('comments, blanks, CRLF and 2-char special prefixes', () => {
  const { type, seen } = recorder();
  const warns: string[] = [];
  const [f] = files('# comment\r\n; comment\r\n\r\n  1.2.3.4  \r\n;$TTL 2h\r\n#$0 zero\r\n:$1 one\r\n\t5.6.7.8 :2:txt\r\n');
  loadDataset(type, [f!], defaultLoadOptions({ warn: (at, m) => warns.push(`${at.line}:${m}`) }));
  assert.deepEqual(seen.lines, ['4|1.2.3.4', '8|5.6.7.8 :2:txt']);
  assert.equal(seen.state!.ttl, 7200);
  assert.deepEqual(seen.state!.subst.slice(0, 2), ['zero', 'one']);
  assert.deepEqual(warns, []);
});

test('$SOA, $NS: first wins, ttl 0 = TTL at that point, "-" names skipped, bad ones warned', () => {
  const { type, seen } = recorder();
  const warns: string[] = [];
  const [a, b] = files(
    '$TTL 10m\n$SOA 0 NS1.Example.NET. host.example.net 0 2h 30m 1w 5m\n$NS 1d ns1.example.net -ns0.example.net ns2.example.net ns1.example.net\n$NS ns9.example.net\n',
    '$SOA 1h other. x. 1 1 1 1 1\n$NS 1h other.\n$bogus 1\n$SOA 1 2 3\n',
  );
  loadDataset(type, [a!, b!], defaultLoadOptions({ warn: (at, m) => warns.push(`${at.file.slice(-2)}:${at.line}:${m}`) }));
  assert.deepEqual(seen.meta!.soa, { ttl: 600, mname: 'ns1.example.net', rname: 'host.example.net', serial: 0, refresh: 7200, retry: 1800, expire: 604800, minimum: 300 });
  assert.deepEqual(seen.meta!.ns, { ttl: 86400, names: ['ns1.example.net', 'ns2.example.net'] });
  assert.deepEqual(seen.files, [a, b]);
  assert.deepEqual(warns, ['f0:4:invalid $NS (need ttl and at least one name)', 'f1:3:unknown special $bogus', 'f1:4:invalid $SOA (need ttl origin person serial refresh retry expire minimum)']);
});

test('$TTL is clamped by -t, 0 means the default; $MAXRANGE4 may only be lowered', () => {
  const { type, seen } = recorder();
  const warns: string[] = [];
  const [f] = files('$TTL 1w\n$MAXRANGE4 /24\n$MAXRANGE4 65536\n');
  loadDataset(type, [f!], defaultLoadOptions({ ttl: { def: 300, min: 60, max: 600 }, warn: (_a, m) => warns.push(m) }));
  assert.equal(seen.state!.ttl, 600);
  assert.equal(seen.state!.maxRange4, 256);
  assert.deepEqual(warns, ['$MAXRANGE4 may only be lowered, ignored']);
  const st = new LoadState(defaultLoadOptions({ ttl: { def: 300, min: 60, max: 600 } }));
  assert.equal(st.clampTtl(0), 300);
  assert.equal(st.clampTtl(1), 60);
});

test('$TIMESTAMP: expiry recorded, future creation is fatal, years past 2038 are a warning', () => {
  const { type, seen } = recorder();
  const warns: string[] = [];
  const [ok] = files('$TIMESTAMP 2024-01-01 +3d\n$TIMESTAMP 2099:01:01\n');
  loadDataset(type, [ok!], defaultLoadOptions({ warn: (_a, m) => warns.push(m) }));
  assert.equal(seen.meta!.created, Date.UTC(2024, 0, 1) / 1000);
  assert.equal(seen.meta!.expires, Date.UTC(2024, 0, 4) / 1000);
  assert.deepEqual(warns, ['invalid $TIMESTAMP']);
  const [future] = files('$TIMESTAMP 2037-01-01\n');
  assert.throws(() => loadDataset(recorder().type, [future!], defaultLoadOptions()), (e: Error) => e instanceof LoadError && /:1: \$TIMESTAMP is in the future/.test(e.message));
  assert.equal(parseTimestamp('20240101123456'), Date.UTC(2024, 0, 1, 12, 34, 56) / 1000);
});

test('gzip files are read transparently unless disabled; broken gzip is an error', () => {
  const { type, seen } = recorder();
  const [gz] = files(gzipSync('1.2.3.4\n'));
  loadDataset(type, [gz!], defaultLoadOptions());
  assert.deepEqual(seen.lines, ['1|1.2.3.4']);
  const [bad] = files(Buffer.from([0x1f, 0x8b, 1, 2, 3]));
  assert.throws(() => loadDataset(recorder().type, [bad!], defaultLoadOptions()), /broken gzip/);
});

test('a missing file is a clear error naming it; a final line without newline is read', () => {
  assert.throws(() => loadDataset(recorder().type, ['/nonexistent/data.txt'], defaultLoadOptions()), /cannot read data file \/nonexistent\/data\.txt: ENOENT/);
  const { type, seen } = recorder();
  const [f] = files('1.2.3.4\n5.6.7.8');
  loadDataset(type, [f!], defaultLoadOptions());
  assert.deepEqual(seen.lines, ['1|1.2.3.4', '2|5.6.7.8']);
  assert.equal(parseTime('2W'), 1209600);
  assert.equal(parseTime('1x'), undefined);
});

/** A type whose loader takes the byte hook: records byte lines, and text lines separately. */
function byteRecorder() {
  const seen: { bytes: string[]; lines: string[] } = { bytes: [], lines: [] };
  const base = recorder();
  const type: DatasetType = {
    ...base.type,
    createLoader(state) {
      const l = base.type.createLoader(state);
      l.addLine = (line, at) => void seen.lines.push(`${at.line}|${line}`);
      l.addBytes = (buf, s, e, at) => void seen.bytes.push(`${at.line}|${buf.toString('latin1', s, e)}`);
      return l;
    },
  };
  return { type, seen, base: base.seen };
}

test('a loader with addBytes gets data lines as bytes (stripped), never specials or comments', () => {
  const { type, seen, base } = byteRecorder();
  const [f] = files(Buffer.from('# c\n$TTL 1h\n  1.2.3.4 \r\n;x\n:$1 one\n\t!5.6.7.8 :2:t\xe9\n\n1.2.3.5', 'latin1'));
  loadDataset(type, [f!], defaultLoadOptions({ warn: () => assert.fail() }));
  assert.deepEqual(seen.bytes, ['3|1.2.3.4', '6|!5.6.7.8 :2:t\xe9', '8|1.2.3.5']);
  assert.deepEqual(seen.lines, []);
  assert.equal(base.state!.ttl, 3600);
  assert.equal(base.state!.subst[1], 'one');
});

test('big files stream in chunks: lines across chunk edges, CRLF, a line longer than the buffer', () => {
  // ~3 MiB of lines of varied length so that line ends fall on every offset of a chunk edge
  const parts: string[] = [];
  const want: string[] = [];
  let lineNo = 0;
  for (let i = 0; lineNo < 200_000; i++) {
    const text = `${i}.${'x'.repeat(i % 23)}`;
    parts.push(i % 5 === 0 ? ` ${text}\r` : text);
    want.push(`${++lineNo}|${text}`);
    if (i === 100_000) {
      // 2.5 MiB line: truncated to 32 KiB (one warning), numbering goes on
      parts.push(`long${'y'.repeat(2.5 * 1024 * 1024)}`);
      want.push(`${++lineNo}|long${'y'.repeat(32 * 1024 - 4)}`);
    }
  }
  const text = parts.join('\n');
  assert.ok(text.length > 3 * 1024 * 1024);
  for (const body of [text, text + '\n', gzipSync(text)]) {
    const { type, seen } = recorder();
    const warns: string[] = [];
    const [f] = files(body);
    loadDataset(type, [f!], defaultLoadOptions({ warn: (at, m) => warns.push(`${at.line}:${m}`) }));
    assert.equal(seen.lines.length, want.length);
    assert.deepEqual(seen.lines, want);
    assert.deepEqual(warns, ['100002:line too long, truncated']);
  }
});
