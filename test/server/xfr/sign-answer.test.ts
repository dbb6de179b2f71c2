// A secondary asks the SOA with its transfer key before it transfers: the answer must come back
// signed with that key (RFC 8945), over UDP and TCP, or its refresh fails. kdig checks the
// signature of the answer itself.

import { describe, test, after } from 'node:test';
import assert from 'node:assert/strict';
import { toolsOrSkip } from '../helpers.ts';
import { aRecords, defaultTransfer, kdig, keyArg, OTHER_SECRET, startPrimary, zone, type Primary } from './helpers.ts';

const skip = toolsOrSkip(['kdig']);
let p: Primary | undefined;
after(() => p?.stop());

describe('answers to signed queries', { skip }, () => {
  test('a signed SOA query gets a signed answer (UDP and TCP); an unsigned one an unsigned answer', async () => {
    p = await startPrimary([zone('main.test', aRecords(10), 42)], defaultTransfer);
    for (const transport of [[], ['+tcp']]) {
      const r = await kdig(p.port, 'main.test', keyArg(), ['SOA', ...transport]);
      assert.deepEqual(r.errors, [], r.out);
      assert.match(r.out, /status: NOERROR/);
      assert.match(r.out, /main\.test\.\s+\d+\s+IN\s+SOA\s+\S+ \S+ 42 /);
      assert.match(r.out, /xfr-key\.\s+0\s+ANY\s+TSIG\s+hmac-sha256\./, 'the answer carries our TSIG');
    }
    const a = await kdig(p.port, '1.0.0.10.main.test', keyArg('other-key', OTHER_SECRET, 'hmac-sha512'), ['A']);
    assert.deepEqual(a.errors, [], a.out);
    assert.match(a.out, /other-key\.\s+0\s+ANY\s+TSIG\s+hmac-sha512\./);
    const plain = await kdig(p.port, 'main.test', null, ['SOA']);
    assert.match(plain.out, /status: NOERROR/);
    assert.doesNotMatch(plain.out, /TSIG/);
  });

  test('a wrong secret or an unknown key: NOTAUTH with the TSIG error, no data', async () => {
    p ??= await startPrimary([zone('main.test', aRecords(10), 42)], defaultTransfer);
    const bad = await kdig(p.port, 'main.test', keyArg('xfr-key', OTHER_SECRET), ['SOA']);
    // kdig shows NOTAUTH + the TSIG error as one status
    assert.match(bad.out, /status: BADSIG/, bad.out);
    assert.match(bad.out, /ANSWER: 0;/);
    const unknown = await kdig(p.port, 'main.test', keyArg('nobody-key'), ['SOA']);
    assert.match(unknown.out, /status: BADKEY/, unknown.out);
    assert.match(unknown.out, /ANSWER: 0;/);
  });
});
