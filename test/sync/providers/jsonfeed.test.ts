// JSON feeds with a field path and a filter: AWS ip-ranges.json and Google goog.json shapes.

import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fetchJsonFeed } from '../../../sync/providers/jsonfeed.ts';
import { PROVIDER_FIXTURES } from './dns-server.ts';

const AWS = join(PROVIDER_FIXTURES, 'aws-ip-ranges.json');
const GOOG = join(PROVIDER_FIXTURES, 'goog.json');
const ctx = { stateDir: '/nonexistent', now: () => 1717200000000 };

test('AWS: prefixes filtered by service, IPv4 and IPv6 paths, deduplicated, version kept', async () => {
  const r = await fetchJsonFeed(
    { provider: 'aws', feed: 'amazon', url: AWS, paths: ['prefixes[].ip_prefix', 'ipv6_prefixes[].ipv6_prefix'], filter: { service: 'AMAZON' }, version_path: 'syncToken' },
    ctx,
  );
  assert.deepEqual(r.ranges.map((x) => x.cidr), ['198.51.100.0/24', '54.240.0.0/18', '2001:db8:aaaa::/48']);
  assert.equal(r.version, '1717200000');
  assert.equal(r.ranges[0]!.detail, 'json prefixes[].ip_prefix where service=AMAZON');
  assert.deepEqual(r.warnings, []);
});

test('AWS: a filter value may be a list; without a filter every prefix counts once', async () => {
  const some = await fetchJsonFeed({ provider: 'aws', feed: 's3cf', url: AWS, paths: ['prefixes[].ip_prefix'], filter: { service: ['S3', 'CLOUDFRONT'] } }, ctx);
  assert.deepEqual(some.ranges.map((x) => x.cidr), ['203.0.113.0/25', '203.0.113.128/25']);
  assert.equal(some.v4.start.length, 1); // the two halves merge into one range
  const all = await fetchJsonFeed({ provider: 'aws', feed: 'all', url: AWS, paths: ['prefixes[].ip_prefix', 'ipv6_prefixes[].ipv6_prefix'] }, ctx);
  assert.equal(all.ranges.length, 6);
});

test('goog.json: objects hold ipv4Prefix or ipv6Prefix; each path takes its own', async () => {
  const r = await fetchJsonFeed({ provider: 'google-all', feed: 'goog', url: `file://${GOOG}`, paths: ['prefixes[].ipv4Prefix', 'prefixes[].ipv6Prefix'] }, ctx);
  assert.deepEqual(r.ranges.map((x) => x.cidr), ['74.125.0.0/16', '209.85.128.0/17', '198.51.100.0/24', '2001:4860::/32', '2001:db8:4860::/48']);
});

test('a path that finds nothing and values that are not CIDRs become warnings', async () => {
  const r = await fetchJsonFeed({ provider: 'x', feed: 'y', url: AWS, paths: ['prefixes[].nope', 'prefixes[].region'] }, ctx);
  assert.equal(r.ranges.length, 0);
  assert.match(r.warnings.join('\n'), /prefixes\[\]\.nope: no values/);
  assert.match(r.warnings.join('\n'), /not a CIDR: "us-east-1"/);
});

test('over HTTP, and an HTTP error is an error', async () => {
  const body = readFileSync(GOOG);
  const srv = createServer((req, res) => {
    if (req.url === '/goog.json') res.end(body);
    else {
      res.writeHead(503);
      res.end();
    }
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  try {
    const r = await fetchJsonFeed({ provider: 'g', feed: 'g', url: `http://127.0.0.1:${port}/goog.json`, paths: ['prefixes[].ipv4Prefix'] }, ctx);
    assert.equal(r.ranges.length, 3);
    await assert.rejects(fetchJsonFeed({ provider: 'g', feed: 'g', url: `http://127.0.0.1:${port}/gone.json`, paths: ['prefixes[].ipv4Prefix'] }, ctx), /HTTP 503/);
  } finally {
    srv.close();
  }
});
