// The answer to a TSIG-signed ordinary query is signed with the same key (RFC 8945 5.3). A
// secondary (Knot, NSD, a quorumbl replica) asks a zone's SOA with its transfer key before it
// transfers; an unsigned answer fails that refresh, so an unchanged zone would count as
// unreachable and expire. A query signed with an unknown key, a bad MAC or a skewed clock gets
// NOTAUTH with the TSIG error, as a transfer does. Only signed queries reach this.

import { parseMessage } from '../../core/dns/message.ts';
import { ResponseSigner, signError, verifyRequest, type RequestTsig } from '../../core/dns/tsig.ts';
import type { TransferAccess } from './access.ts';

const RCODE_NOTAUTH = 9;

/** Header (id, QR, opcode, RD of the reply; `tc`; `rcode`) + the question, no records. */
function bare(reply: Buffer, qEnd: number, rcode: number, tc: boolean): Buffer {
  const b = Buffer.from(reply.subarray(0, qEnd));
  b[2] = (reply[2]! & 0xf9) | (tc ? 0x02 : 0);
  b[3] = (reply[3]! & 0xf0) | rcode;
  b.fill(0, 6, 12);
  return b;
}

/** Responder.signAnswer for the keys of `access()` (the transfer keys; reloads swap them). */
export function answerSigner(access: () => TransferAccess): (query: Buffer, reply: Buffer, qEnd: number, limit: number) => Buffer | null {
  return (query, reply, qEnd, limit) => {
    let tsig: RequestTsig;
    try {
      tsig = verifyRequest(parseMessage(query), access().keys);
    } catch {
      return null; // a TSIG the parser cannot read: the answer goes out as it is
    }
    if (!tsig.signed) return null;
    if (tsig.error !== 0) return signError(bare(reply, qEnd, RCODE_NOTAUTH, false), tsig as Extract<RequestTsig, { nameWire: Buffer }>);
    const signed = new ResponseSigner(tsig.key!, tsig.mac, tsig.origId).sign(Buffer.from(reply));
    if (signed.length <= limit) return signed;
    // too big for the client's UDP size once signed: TC, and the client asks again over TCP
    return new ResponseSigner(tsig.key!, tsig.mac, tsig.origId).sign(bare(reply, qEnd, reply[3]! & 0x0f, true));
  };
}
