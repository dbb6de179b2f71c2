// Static CIDR lists: inline in the config and/or a local file (one CIDR per line, '#' comments).
// For providers without a machine-readable feed, or ranges an operator vouches for by hand.

import { readFile } from 'node:fs/promises';
import { finishResult, type ProviderContext, type ProviderFeedResult, type RawRange } from './types.ts';

export interface StaticFeedConfig {
  provider: string;
  feed: string;
  cidrs?: string[];
  file?: string;
}

export async function fetchStatic(cfg: StaticFeedConfig, ctx: ProviderContext): Promise<ProviderFeedResult> {
  const fetchedAt = (ctx.now ?? Date.now)();
  const raw: RawRange[] = (cfg.cidrs ?? []).map((c) => ({ cidr: c, detail: 'static list in the config' }));
  if (cfg.file) {
    const lines = (await readFile(cfg.file, 'utf8')).split('\n');
    lines.forEach((line, i) => {
      const t = line.replace(/#.*$/, '').trim();
      if (t) raw.push({ cidr: t, detail: `static file ${cfg.file} line ${i + 1}` });
    });
  }
  return finishResult(cfg.provider, cfg.feed, fetchedAt, raw);
}
