// Collects the records datasets produce for one question (the RecordSink of
// core/datasets/types.ts): drops identical RRs, keeps the smallest TTL per type (rbldnsd
// gives all RRs of one type the lowest TTL seen) and stops at 255 records. One instance is
// reused for every query.

import type { RecordSink } from '../core/datasets/types.ts';
import { T_A, T_ANY, T_MX, T_TXT } from './wire.ts';

export const MAX_ANSWERS = 255;

export class AnswerSink implements RecordSink {
  wantA = false;
  wantTxt = false;
  wantMx = false;
  qtype = 0;
  count = 0;
  /** Record type per slot (T_A, T_TXT, T_MX). */
  readonly types = new Uint16Array(MAX_ANSWERS);
  /** A: the address; MX: the preference. */
  readonly nums = new Float64Array(MAX_ANSWERS);
  /** TXT: the byte string; MX: the exchange. */
  readonly strs: (string | null)[] = new Array<string | null>(MAX_ANSWERS).fill(null);
  minA = 0;
  minTxt = 0;
  minMx = 0;

  reset(qtype: number): void {
    this.qtype = qtype;
    this.wantA = qtype === T_A || qtype === T_ANY;
    this.wantTxt = qtype === T_TXT || qtype === T_ANY;
    this.wantMx = qtype === T_MX || qtype === T_ANY;
    this.count = 0;
    this.minA = this.minTxt = this.minMx = 0x7fffffff;
  }

  a(ip: number, ttl: number): void {
    if (!this.wantA) return;
    ip >>>= 0;
    if (ttl < this.minA) this.minA = ttl;
    const n = this.count;
    for (let i = 0; i < n; i++) if (this.types[i] === T_A && this.nums[i] === ip) return;
    if (n >= MAX_ANSWERS) return;
    this.types[n] = T_A;
    this.nums[n] = ip;
    this.count = n + 1;
  }

  txt(text: string, ttl: number): void {
    if (!this.wantTxt) return;
    if (ttl < this.minTxt) this.minTxt = ttl;
    const n = this.count;
    for (let i = 0; i < n; i++) if (this.types[i] === T_TXT && this.strs[i] === text) return;
    if (n >= MAX_ANSWERS) return;
    this.types[n] = T_TXT;
    this.strs[n] = text;
    this.count = n + 1;
  }

  mx(preference: number, exchange: string, ttl: number): void {
    if (!this.wantMx) return;
    if (ttl < this.minMx) this.minMx = ttl;
    const n = this.count;
    const ex = exchange.toLowerCase();
    for (let i = 0; i < n; i++) {
      if (this.types[i] === T_MX && this.nums[i] === preference && this.strs[i]!.toLowerCase() === ex) return;
    }
    if (n >= MAX_ANSWERS) return;
    this.types[n] = T_MX;
    this.nums[n] = preference;
    this.strs[n] = exchange;
    this.count = n + 1;
  }

  /** Drops string references so a finished query does not pin TXT strings. */
  clearStrings(): void {
    for (let i = 0; i < this.count; i++) this.strs[i] = null;
  }
}
