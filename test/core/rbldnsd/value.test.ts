import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseAValue, parseEntryValue, expandTxt, BUILTIN_DEFAULT, type Value } from '../../../core/rbldnsd/value.ts';
import { LoadState, defaultLoadOptions } from '../../../core/rbldnsd/state.ts';

const at = { file: 'f', line: 1 };
const ip = (s: string) => s.split('.').reduce((a, x) => a * 256 + Number(x), 0);

test('A values are read inet_aton-style and 0.0.0.0 is invalid', () => {
  assert.equal(parseAValue('5'), ip('127.0.0.5'));
  assert.equal(parseAValue('127.1'), ip('127.0.0.1'));
  assert.equal(parseAValue('127.0.1'), ip('127.0.0.1'));
  assert.equal(parseAValue('10.0.0.1'), ip('10.0.0.1'));
  assert.equal(parseAValue('0.0.0.0'), undefined);
  assert.equal(parseAValue('256'), undefined);
  assert.equal(parseAValue('bad'), undefined);
});

test('entry value forms follow rbldnsd', () => {
  const warnings: string[] = [];
  const st = new LoadState(defaultLoadOptions({ warn: (_a, m) => warnings.push(m) }));
  const cur: Value = { a: ip('127.0.0.2'), txt: 'default $' };
  assert.equal(parseEntryValue('', cur, st, at), cur);
  assert.equal(parseEntryValue('# comment', cur, st, at), cur);
  assert.deepEqual(parseEntryValue(':3:Custom $', cur, st, at), { a: ip('127.0.0.3'), txt: 'Custom $' });
  assert.deepEqual(parseEntryValue(':5:', cur, st, at), { a: ip('127.0.0.5'), txt: null });
  assert.deepEqual(parseEntryValue(':4', cur, st, at), { a: ip('127.0.0.4'), txt: 'default $' });
  assert.deepEqual(parseEntryValue('text: with colons', cur, st, at), { a: ip('127.0.0.2'), txt: 'text: with colons' });
  assert.deepEqual(parseEntryValue(':127.0.0.6:   spaced', cur, st, at), { a: ip('127.0.0.6'), txt: 'spaced' });
  assert.equal(parseEntryValue(':4 # comment', cur, st, at), 'unrecognized value for an entry');
  assert.deepEqual(parseEntryValue(':127.0.0.3 :spaced', cur, st, at), { a: ip('127.0.0.3'), txt: 'spaced' });
  assert.equal(parseEntryValue(':bad:x', cur, st, at), 'invalid A RR');
  assert.equal(parseEntryValue(':0:x', cur, st, at), 'invalid A RR');
  const long = parseEntryValue(':2:' + 'x'.repeat(300), cur, st, at) as Value;
  assert.equal(long.txt!.length, 255);
  assert.deepEqual(warnings, ['TXT template longer than 255 bytes, truncated']);
  assert.equal(BUILTIN_DEFAULT.txt, null);
});

test('TXT expansion: $ subject, $$, $n, undefined $n kept, $= quirks, 254-byte cap', () => {
  const s = { subst: ['zero', 'one', null, null, null, null, null, null, null, null], base: null };
  assert.equal(expandTxt('Listed $ see $0 and $1, $$5 $9', '192.0.2.1', s), 'Listed 192.0.2.1 see zero and one, $5 $9');
  assert.equal(expandTxt('self $= end', 'x', s), 'self self $= end end');
  assert.equal(expandTxt(null, 'x', s), null);
  assert.equal(expandTxt('=no base so the equals sign goes', 'x', s), 'no base so the equals sign goes');
  assert.equal(expandTxt('$', '', s), null);
  assert.equal(expandTxt('x'.repeat(255), 's', s)!.length, 254);
  const b = { subst: new Array(10).fill(null), base: 'See https://bl.example/info?$= ($) for details' };
  assert.equal(expandTxt('r123', '192.0.2.1', b), 'See https://bl.example/info?r123 (192.0.2.1) for details');
  assert.equal(expandTxt('$1 and $= and $$', '192.0.2.1', b), 'See https://bl.example/info?$1 and $= and $$ (192.0.2.1) for details');
  assert.equal(expandTxt('=own $', '192.0.2.1', b), 'own 192.0.2.1');
});
