// The server side of TSIG (RFC 8945) against the client side already used by the AXFR client:
// a request signed by signQuery verifies; a changed byte, another secret, an unknown key or a
// skewed clock give BADSIG / BADKEY / BADTIME; a signed response stream passes TsigVerifier,
// and a message dropped or swapped in the chain does not.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildQuery, parseMessage } from '../../../core/dns/message.ts';
import { prepareKey, ResponseSigner, signError, signQuery, TsigVerifier, verifyRequest, TSIG_BADKEY, TSIG_BADSIG, TSIG_BADTIME } from '../../../core/dns/tsig.ts';

const key = prepareKey({ name: 'xfr-key', algorithm: 'hmac-sha256', secret: 'c2VjcmV0c2VjcmV0c2VjcmV0' });
const other = prepareKey({ name: 'xfr-key', algorithm: 'hmac-sha256', secret: 'b3RoZXJvdGhlcm90aGVy' });
const keys = new Map([['xfr-key', key]]);

/** A response message (header + question), `n` telling them apart. */
function response(id: number, n: number): Buffer {
  const b = buildQuery(id, `m${n}.bl.test`, 252);
  b.writeUInt16BE(0x8400, 2);
  return b;
}

test('a signed request verifies; tampering, another secret, an unknown key, a skewed clock do not', () => {
  const { msg, mac } = signQuery(buildQuery(42, 'bl.test', 252), key);
  const ok = verifyRequest(parseMessage(msg), keys);
  assert.equal(ok.signed && ok.error, 0);
  assert.ok(ok.signed && ok.mac.equals(mac));
  assert.deepEqual(verifyRequest(parseMessage(buildQuery(1, 'bl.test', 252)), keys), { signed: false });

  const bad = Buffer.from(msg);
  bad[13] ^= 0x20; // 'b' -> 'B' in the question: the MAC is over the bytes as sent
  const r1 = verifyRequest(parseMessage(bad), keys);
  assert.equal(r1.signed && r1.error, TSIG_BADSIG);
  const r2 = verifyRequest(parseMessage(signQuery(buildQuery(42, 'bl.test', 252), other).msg), keys);
  assert.equal(r2.signed && r2.error, TSIG_BADSIG);
  const r3 = verifyRequest(parseMessage(msg), new Map([['another', key]]));
  assert.equal(r3.signed && r3.error, TSIG_BADKEY);
  const r4 = verifyRequest(parseMessage(msg), keys, Math.floor(Date.now() / 1000) + 1000);
  assert.equal(r4.signed && r4.error, TSIG_BADTIME);
});

test('a response stream signed message by message passes the client verifier; a gap does not', () => {
  const { msg, mac } = signQuery(buildQuery(42, 'bl.test', 252), key);
  const req = verifyRequest(parseMessage(msg), keys);
  assert.ok(req.signed && req.error === 0);
  const signer = new ResponseSigner(key, req.mac, req.origId);
  const stream = [1, 2, 3].map((n) => signer.sign(response(42, n)));
  const v = new TsigVerifier(key, mac);
  for (const m of stream) v.verify(parseMessage(m));
  assert.ok(v.lastSigned);
  const v2 = new TsigVerifier(key, mac);
  v2.verify(parseMessage(stream[0]!));
  assert.throws(() => v2.verify(parseMessage(stream[2]!)), /BADSIG/);
});

test('BADKEY and BADSIG errors carry an empty MAC; BADTIME is signed with our time', () => {
  const { msg } = signQuery(buildQuery(42, 'bl.test', 252), key, 1_000_000);
  const req = verifyRequest(parseMessage(msg), keys);
  assert.ok(req.signed && req.error === TSIG_BADTIME && 'nameWire' in req);
  const out = parseMessage(signError(response(42, 0), req as never, 2_000_000));
  const rr = out.additional[0]!;
  assert.equal(rr.type, 250);
  const r3 = verifyRequest(parseMessage(msg), new Map([['another', key]]));
  const e = parseMessage(signError(response(42, 0), r3 as never));
  // MAC size 0 (after the algorithm name, time 6, fudge 2)
  const b = e.buf;
  const algEnd = e.additional[0]!.rdOff + key.algWire.length;
  assert.equal(b.readUInt16BE(algEnd + 8), 0);
  assert.equal(b.readUInt16BE(algEnd + 8 + 2 + 2), TSIG_BADKEY);
});
