import assert from 'node:assert/strict';
import { test } from 'node:test';
import { providerSchema, providersSchema } from '../../../core/config/providers.ts';

test('defaults: Microsoft 365 (web service + SPF), Google, Amazon SES', () => {
  const list = providersSchema.parse(undefined);
  assert.deepEqual(list.map((p) => `${p.provider}/${p.feed}/${p.type}`), [
    'microsoft365/m365-worldwide/m365',
    'microsoft365/spf-spf.protection.outlook.com/spf',
    'google/spf-_spf.google.com/spf',
    'amazonses/spf-amazonses.com/spf',
  ]);
  const m = list[0]!;
  assert.ok(m.type === 'm365' && m.base_url === 'https://endpoints.office.com' && m.port === 25 && m.interval === 3600);
  assert.equal(list[2]!.interval, 86400);
  assert.ok(list.every((p) => p.exempt && p.enabled && p.timeout === 30));
});

test('a feed config with its options; durations with units', () => {
  const p = providerSchema.parse({
    provider: 'aws', type: 'json', url: 'https://ip-ranges.amazonaws.com/ip-ranges.json',
    paths: ['prefixes[].ip_prefix'], filter: { service: 'AMAZON' }, interval: '12h', exempt: false,
  });
  assert.ok(p.type === 'json' && p.feed === 'json-ip-ranges.amazonaws.com' && p.interval === 43200 && !p.exempt);
});

test('mistakes are refused with a message', () => {
  const err = (v: unknown) => {
    const r = providerSchema.safeParse(v);
    assert.ok(!r.success);
    return r.error.issues.map((i) => i.message).join('; ');
  };
  assert.match(err({ provider: 'x', type: 'static', cidrs: ['300.0.0.0/8'] }), /not an IPv4 or IPv6 CIDR/);
  assert.match(err({ provider: 'x', type: 'static' }), /needs cidrs or a file/);
  assert.match(err({ provider: 'x', type: 'json', url: 'u', paths: ['a..b'] }), /bad field path/);
  assert.ok(err({ provider: 'x', type: 'nope' }));
  assert.ok(err({ provider: 'x', type: 'spf', domain: 'a.example', extra: 1 }));
  const dup = providersSchema.safeParse([{ provider: 'g', type: 'spf', domain: 'a.example' }, { provider: 'g', type: 'spf', domain: 'a.example' }]);
  assert.ok(!dup.success && /duplicate provider feed g\/spf-a.example/.test(dup.error.issues[0]!.message));
});
