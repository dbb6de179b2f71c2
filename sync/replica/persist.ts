// A zone copy on disk, so a restarted replica answers at once, before it reaches the primary.
// One file per zone, JSON lines (a record's data may hold any byte), the last line a count and
// a SHA-256 of everything before it: a truncated or altered file is refused, never half-read.
// Written to a temporary file, fsynced, then renamed over the old one (and the folder fsynced).

import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import { openSync, fsyncSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import type { ZoneRecord } from '../../core/zones/records.ts';
import type { ZoneSoa } from './transfer.ts';
import type { ZoneCopy } from './zone-copy.ts';

const MAGIC = 'quorumbl replica copy v1';
const SUFFIX = '.copy';

export function copyFile(dir: string, zone: string): string {
  return join(dir, zone + SUFFIX);
}

/** Writes the copy atomically; yields to the event loop between chunks (a large zone must not
 *  hold up answers). */
export async function saveCopy(dir: string, copy: ZoneCopy): Promise<void> {
  mkdirSync(dir, { recursive: true });
  const file = copyFile(dir, copy.zone);
  const tmp = `${file}.tmp-${process.pid}`;
  const hash = createHash('sha256');
  const fh = await open(tmp, 'w');
  try {
    let chunk = `${MAGIC}\n${JSON.stringify({ zone: copy.zone, soa: copy.soa })}\n`;
    const recs = copy.records;
    for (let i = 0; i < recs.length; i++) {
      const r = recs[i]!;
      chunk += JSON.stringify([r.name, r.type, r.ttl, r.data]) + '\n';
      if (chunk.length > 1 << 18) {
        hash.update(chunk);
        await fh.write(chunk);
        chunk = '';
      }
    }
    hash.update(chunk);
    chunk += `end ${recs.length} ${hash.digest('hex')}\n`;
    await fh.write(chunk);
    await fh.sync();
  } catch (err) {
    await fh.close();
    await rm(tmp, { force: true });
    throw err;
  }
  await fh.close();
  await rename(tmp, file);
  const d = openSync(dir, 'r');
  try {
    fsyncSync(d);
  } finally {
    closeSync(d);
  }
}

/** Reads a copy; throws an Error naming what is wrong (the caller warns and ignores it). */
export function loadCopy(file: string): ZoneCopy {
  const text = readFileSync(file, 'utf8');
  const lastNl = text.lastIndexOf('\n', text.length - 2);
  const body = text.slice(0, lastNl + 1);
  const tail = /^end (\d+) ([0-9a-f]{64})\n$/.exec(text.slice(lastNl + 1));
  if (!text.startsWith(MAGIC + '\n') || !tail) throw new Error('not a complete replica copy (truncated?)');
  if (createHash('sha256').update(body).digest('hex') !== tail[2]) throw new Error('checksum mismatch (file altered or damaged)');
  const lines = body.split('\n');
  const head = JSON.parse(lines[1]!) as { zone: string; soa: ZoneSoa };
  const records: ZoneRecord[] = [];
  for (let i = 2; i < lines.length - 1; i++) {
    const [name, type, ttl, data] = JSON.parse(lines[i]!) as [string, number, number, string];
    records.push({ name, type, ttl, data });
  }
  if (records.length !== Number(tail[1])) throw new Error(`holds ${records.length} records, its last line says ${tail[1]}`);
  return { zone: head.zone, soa: head.soa, records };
}

/** Zone names with a copy in `dir`. */
export function listCopies(dir: string): string[] {
  try {
    return readdirSync(dir).filter((f) => f.endsWith(SUFFIX)).map((f) => f.slice(0, -SUFFIX.length)).sort();
  } catch {
    return [];
  }
}

export function removeCopy(dir: string, zone: string): void {
  rmSync(copyFile(dir, zone), { force: true });
}
