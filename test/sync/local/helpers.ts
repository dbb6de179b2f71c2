// Shared by the local-state tests: a real SQLite file in a fresh temp dir, and a settable clock.

import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDb, type Db } from '../../../core/db.ts';

export const T0 = Date.parse('2025-03-01T12:00:00Z');
export const HOUR = 3_600_000;
export const DAY = 24 * HOUR;

export function tmpDb(): { db: Db; path: string } {
  const dir = mkdtempSync(join(tmpdir(), 'qbl-local-'));
  const path = join(dir, 'state.sqlite');
  return { db: openDb(path), path };
}

export class Clock {
  constructor(public t = T0) {}
  readonly now = (): number => this.t;
  advance(ms: number): void {
    this.t += ms;
  }
}
