// The image's HEALTHCHECK (curl is not in the image): GET /readyz on the web listener; exit 0
// when it answers 200. The listener is web.listen from QUORUMBL_WEB__LISTEN, else from
// /data/quorumbl.yaml, else the default 127.0.0.1:8053; a wildcard address is probed on loopback.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

function webListen() {
  if (process.env.QUORUMBL_WEB__LISTEN) return process.env.QUORUMBL_WEB__LISTEN;
  try {
    const { parse } = createRequire('/app/package.json')('yaml');
    const listen = parse(readFileSync('/data/quorumbl.yaml', 'utf8'))?.web?.listen;
    if (typeof listen === 'string') return listen;
  } catch (e) {
    if (e.code !== 'ENOENT') console.error(`healthcheck: /data/quorumbl.yaml: ${e.message}`);
  }
  return '127.0.0.1:8053'; // the default, and where the embedded mode's 0.0.0.0:8053 answers
}

const listen = webListen();
const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(listen);
if (!m) {
  console.error(`healthcheck: cannot read web.listen "${listen}"`);
  process.exit(1);
}
let host = m[1] ?? m[2];
if (host === '' || host === '0.0.0.0') host = '127.0.0.1';
if (host === '::') host = '::1';
const url = `http://${host.includes(':') ? `[${host}]` : host}:${m[3]}/readyz`;
try {
  const res = await fetch(url, { signal: AbortSignal.timeout(4000) });
  if (!res.ok) console.error(`healthcheck: ${url}: HTTP ${res.status} ${(await res.text()).slice(0, 300)}`);
  process.exit(res.ok ? 0 : 1);
} catch (e) {
  console.error(`healthcheck: ${url}: ${e.cause?.code ?? e.message}`);
  process.exit(1);
}
