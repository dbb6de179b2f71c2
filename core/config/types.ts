// zod types shared by the config schema and the provider feeds' schema. Their own module because
// core/config/schema.ts imports core/config/providers.ts (which could not import them back).

import { z } from 'zod';
import { parseTime } from '../rbldnsd/state.ts';

/** Seconds: a number, or text with an rbldnsd unit (10s, 35m, 1w). */
export const duration = z.union([z.number().int().nonnegative(), z.string()]).transform((v, ctx) => {
  if (typeof v === 'number') return v;
  const t = parseTime(v.trim());
  if (t === undefined) {
    ctx.addIssue({ code: 'custom', message: `"${v}" is not a duration (a number of seconds, or with a unit s m h d w)` });
    return z.NEVER;
  }
  return t;
});
