// RFC 9432 catalog zones: the member zones are the PTR targets of `<unique-id>.zones.<catalog>`;
// `version.<catalog>` TXT says the schema version (2; version 1 has the same member layout).

import { RR } from '../../core/zones/records.ts';
import type { ZoneCopy } from './zone-copy.ts';

export interface CatalogMembers {
  zones: string[];
  /** Problems worth a warning (an unknown version, a member twice). */
  warnings: string[];
}

export function catalogMembers(copy: ZoneCopy): CatalogMembers {
  const warnings: string[] = [];
  const version = copy.records.find((r) => r.name === 'version' && r.type === RR.TXT)?.data;
  if (version !== '2' && version !== '1') warnings.push(`catalog ${copy.zone}: version TXT is ${version === undefined ? 'missing' : `"${version}"`} (expected "2")`);
  const zones = new Set<string>();
  for (const r of copy.records) {
    if (r.type !== RR.PTR || !/^[^.]+\.zones$/.test(r.name)) continue;
    const member = r.data.replace(/\.$/, '').toLowerCase();
    if (zones.has(member)) warnings.push(`catalog ${copy.zone}: member ${member} listed twice`);
    zones.add(member);
  }
  return { zones: [...zones].sort(), warnings };
}
