// Readiness probe: a minimal hand-built DNS query over UDP, resent every `intervalMs`
// until the server answers NOERROR with at least one answer record.
import { createSocket } from 'node:dgram';

const QTYPE: Record<string, number> = { A: 1, TXT: 16, SOA: 6, NS: 2 };

export function buildQuery(id: number, name: string, type: string): Buffer {
  const labels = name.replace(/\.$/, '').split('.');
  const qname = Buffer.concat([...labels.map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l, 'latin1')])), Buffer.from([0])]);
  const head = Buffer.alloc(12);
  head.writeUInt16BE(id, 0); // flags 0: standard query, RD clear (authoritative server)
  head.writeUInt16BE(1, 4);
  const tail = Buffer.alloc(4);
  tail.writeUInt16BE(QTYPE[type] ?? 1, 0);
  tail.writeUInt16BE(1, 2);
  return Buffer.concat([head, qname, tail]);
}

export interface ProbeResult {
  ms: number; // from `since` to the first good answer
  attempts: number;
}

/**
 * Polls 127.0.0.1:port until a NOERROR answer with records arrives. Rejects after
 * `timeoutMs` or as soon as `abort` resolves (e.g. the server process exited).
 */
export function waitForAnswer(
  port: number, name: string, since: bigint, opts: { intervalMs?: number; timeoutMs: number; abort: Promise<string> },
): Promise<ProbeResult> {
  const intervalMs = opts.intervalMs ?? 10;
  return new Promise((resolve, reject) => {
    const sock = createSocket('udp4');
    let attempts = 0;
    let id = 1;
    let done = false;
    const finish = (err: Error | null, res?: ProbeResult): void => {
      if (done) return;
      done = true;
      clearInterval(timer);
      clearTimeout(deadline);
      sock.close();
      if (err) reject(err);
      else resolve(res!);
    };
    sock.on('message', (msg) => {
      if (msg.length < 12 || !(msg[2]! & 0x80)) return;
      const rcode = msg[3]! & 0x0f;
      const ancount = msg.readUInt16BE(6);
      if (rcode === 0 && ancount > 0) {
        finish(null, { ms: Number(process.hrtime.bigint() - since) / 1e6, attempts });
      }
    });
    sock.on('error', () => {}); // ICMP port unreachable while the server is still loading
    const send = (): void => {
      attempts++;
      id = (id + 1) & 0xffff;
      sock.send(buildQuery(id, name, 'A'), port, '127.0.0.1', () => {});
    };
    const timer = setInterval(send, intervalMs);
    const deadline = setTimeout(() => finish(new Error(`no NOERROR answer for ${name} within ${opts.timeoutMs} ms`)), opts.timeoutMs);
    opts.abort.then((why) => finish(new Error(why)));
    send();
  });
}
