// Config of provider range feeds: `providers:` is a list of feeds, each one fetcher run. Several
// feeds may share a provider name (Microsoft 365 = web service + SPF); ranges keep their feed.
//
//   providers:
//     - provider: microsoft365            # DNS-label-like name shown in explain and wl answers
//       type: m365                        # m365 | spf | json | static
//       instance: Worldwide               # Worldwide, China, USGovDoD, USGovGCCHigh
//       # base_url: https://endpoints.office.com
//       # port: 25                        # endpoint sets whose tcpPorts include this port
//     - provider: microsoft365
//       type: spf
//       domain: spf.protection.outlook.com
//     - provider: google
//       type: spf
//       domain: _spf.google.com           # gmail.com redirects here; _netblocks(2).google.com
//     - provider: amazonses
//       type: spf
//       domain: amazonses.com
//   Common fields: feed (default derived: m365-worldwide, spf-<domain>, json-<host>, static),
//   interval (how often to refresh; default 1h for m365 - its version check is cheap - and 1d for
//   the others), timeout (default 30s), enabled (default true), exempt (default true; false keeps
//   the ranges for explain's "owned by" annotation only, e.g. Google goog.json or all of AWS),
//   max_age (default 7d: a feed whose last good fetch is older - or that still runs on the shipped
//   baseline of data/providers - is logged as stale and shown `stale: true` by `quorumbl providers`).
//
// More senders (all SPF unless noted; see sync/providers/README.md):
//     - { provider: sendgrid, type: spf, domain: sendgrid.net }
//     - { provider: mailchimp, type: spf, domain: servers.mcsv.net }
//     - { provider: mandrill, type: spf, domain: spf.mandrillapp.com }
//     - { provider: salesforce, type: spf, domain: _spf.salesforce.com }
//     - { provider: campaignmonitor, type: spf, domain: _spf.createsend.com }
//     - { provider: protonmail, type: spf, domain: _spf.protonmail.ch }
//     - { provider: fastmail, type: spf, domain: spf.messagingengine.com }
//     - { provider: zoho, type: spf, domain: zoho.com }
//     - { provider: outlook-consumer, type: spf, domain: spf-b.hotmail.com }
//     - provider: aws                      # annotation only: exempting AWS exempts every EC2 tenant
//       type: json
//       url: https://ip-ranges.amazonaws.com/ip-ranges.json
//       paths: ["prefixes[].ip_prefix", "ipv6_prefixes[].ipv6_prefix"]
//       filter: { service: AMAZON }
//       version_path: syncToken
//       exempt: false
//     - provider: google-all               # annotation only: goog.json includes Cloud customers
//       type: json
//       url: https://www.gstatic.com/ipranges/goog.json
//       paths: ["prefixes[].ipv4Prefix", "prefixes[].ipv6Prefix"]
//       exempt: false
//     - { provider: partner, type: static, cidrs: [192.0.2.0/24], file: /etc/quorumbl/partner.txt }

import { z } from 'zod';
import { duration } from './types.ts';
import { parseCidr } from '../cidr.ts';
import { parsePath } from '../json-path.ts';

const name = z.string().regex(/^[a-z0-9][a-z0-9_.-]{0,62}$/, 'lowercase letters, digits, dot, dash and underscore');
const domain = z
  .string()
  .regex(/^([a-z0-9_-]+\.)*[a-z0-9_-]+\.?$/i, 'not a domain name')
  .transform((v) => v.replace(/\.$/, '').toLowerCase());

const common = {
  provider: name,
  feed: name.optional(),
  interval: duration.optional(),
  timeout: duration.default(30),
  enabled: z.boolean().default(true),
  exempt: z.boolean().default(true),
  /** older data (since the last good fetch, or the baseline's date) is reported stale */
  max_age: duration.default(7 * 86400),
};

const m365 = z.strictObject({
  ...common,
  type: z.literal('m365'),
  instance: z.enum(['Worldwide', 'China', 'USGovDoD', 'USGovGCCHigh']).default('Worldwide'),
  base_url: z.url({ protocol: /^https?$/ }).default('https://endpoints.office.com'),
  port: z.number().int().min(1).max(65535).default(25),
});

const spf = z.strictObject({
  ...common,
  type: z.literal('spf'),
  domain,
  /** safety budget (not the RFC limit, which is only counted) */
  max_lookups: z.number().int().min(1).max(500).default(50),
  max_depth: z.number().int().min(1).max(50).default(10),
});

const scalar = z.union([z.string(), z.number(), z.boolean()]);
const json = z.strictObject({
  ...common,
  type: z.literal('json'),
  url: z.string().min(1),
  paths: z
    .array(
      z.string().superRefine((v, ctx) => {
        try {
          parsePath(v);
        } catch (e) {
          ctx.addIssue({ code: 'custom', message: (e as Error).message });
        }
      }),
    )
    .min(1),
  filter: z.record(z.string(), z.union([scalar, z.array(scalar)])).optional(),
  version_path: z.string().optional(),
});

const staticList = z
  .strictObject({
    ...common,
    type: z.literal('static'),
    cidrs: z
      .array(
        z.string().superRefine((v, ctx) => {
          if (!parseCidr(v)) ctx.addIssue({ code: 'custom', message: `"${v}" is not an IPv4 or IPv6 CIDR` });
        }),
      )
      .optional(),
    file: z.string().optional(),
  })
  .refine((v) => (v.cidrs?.length ?? 0) > 0 || v.file, { message: 'a static provider feed needs cidrs or a file' });

function defaultFeed(v: { type: string; feed?: string | undefined; instance?: string; domain?: string; url?: string }): string {
  if (v.feed) return v.feed;
  switch (v.type) {
    case 'm365':
      return `m365-${v.instance!.toLowerCase()}`;
    case 'spf':
      return `spf-${v.domain}`;
    case 'json': {
      let host = 'file';
      try {
        host = new URL(v.url!).hostname || 'file';
      } catch {
        /* a path */
      }
      return `json-${host}`;
    }
    default:
      return 'static';
  }
}

/** One provider feed. Output has `feed` and `interval` (seconds) filled in. */
export const providerSchema = z.discriminatedUnion('type', [m365, spf, json, staticList]).transform((v) => ({
  ...v,
  feed: defaultFeed(v),
  interval: v.interval ?? (v.type === 'm365' ? 3600 : 86400),
}));

export type ProviderConfig = z.output<typeof providerSchema>;
export type ProviderConfigInput = z.input<typeof providerSchema>;

/** The defaults: Microsoft 365 (web service + SPF), Google Workspace, Amazon SES. */
export const DEFAULT_PROVIDERS: ProviderConfigInput[] = [
  { provider: 'microsoft365', type: 'm365', instance: 'Worldwide' },
  { provider: 'microsoft365', type: 'spf', domain: 'spf.protection.outlook.com' },
  { provider: 'google', type: 'spf', domain: '_spf.google.com' },
  { provider: 'amazonses', type: 'spf', domain: 'amazonses.com' },
];

/** The whole `providers:` section: defaults when absent, (provider, feed) pairs unique. Use as
 *  `providers: providersSchema` (prefault parses the defaults like user input). */
export const providersSchema = z
  .array(providerSchema)
  .superRefine((list, ctx) => {
    const seen = new Set<string>();
    list.forEach((p, i) => {
      const key = `${p.provider}/${p.feed}`;
      if (seen.has(key)) ctx.addIssue({ code: 'custom', path: [i, 'feed'], message: `duplicate provider feed ${key} (set feed: to tell them apart)` });
      seen.add(key);
    });
  })
  .prefault(DEFAULT_PROVIDERS);
