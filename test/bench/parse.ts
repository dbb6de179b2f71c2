// Plain-list parse rate: generates a seeded N-line plain list in memory (mostly single IPv4
// addresses, some CIDRs, a-b ranges, IPv6, comments, trailing comments, blank lines, CRLF) and
// times parseSource on it. Goal: >= 3M lines/s.
//
//   node --import tsx test/bench/parse.ts [--lines 10000000] [--seed 1] [--runs 3] [--json]

import { parseArgs } from 'node:util';
import { parseSource } from '../../core/formats/index.ts';
import { mulberry32 as prng } from './datagen.ts';

const { values } = parseArgs({
  options: {
    lines: { type: 'string', default: '10000000' },
    seed: { type: 'string', default: '1' },
    runs: { type: 'string', default: '3' },
    json: { type: 'boolean', default: false },
  },
});
const LINES = Number(values.lines);
const RUNS = Math.max(1, Number(values.runs));

/** Writes the list straight into one Buffer (ASCII), growing it when needed. */
function generate(lines: number, seed: number): Buffer {
  const rnd = prng(seed);
  let buf = Buffer.allocUnsafe(lines * 16 + 1024);
  let p = 0;
  const put = (s: string): void => {
    if (p + s.length + 64 > buf.length) {
      const nb = Buffer.allocUnsafe(buf.length * 2);
      buf.copy(nb, 0, 0, p);
      buf = nb;
    }
    p += buf.write(s, p, 'latin1');
  };
  const quad = (v: number): string => `${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`;
  for (let i = 0; i < lines; i++) {
    const k = rnd() % 1000;
    const ip = rnd();
    let line: string;
    if (k < 880) line = quad(ip);
    else if (k < 920) {
      const bits = 16 + (rnd() % 17);
      line = `${quad(bits === 32 ? ip : (ip >>> (32 - bits)) << (32 - bits) >>> 0)}/${bits}`;
    } else if (k < 940) line = `${quad(ip)}-${quad(Math.min(0xffffffff, ip + (rnd() % 512)))}`;
    else if (k < 955) line = `2001:db8:${(ip >>> 16).toString(16)}:${(ip & 0xffff).toString(16)}::${(rnd() & 0xffff).toString(16)}`;
    else if (k < 970) line = `# comment ${i}`;
    else if (k < 980) line = '';
    else line = `${quad(ip)} # trailing comment`;
    put(k % 7 === 0 ? line + '\r\n' : line + '\n');
  }
  // a copy over its own ArrayBuffer (like a file read), exactly sized
  const out = Buffer.alloc(p);
  buf.copy(out, 0, 0, p);
  return out;
}

const t0 = performance.now();
const data = generate(LINES, Number(values.seed));
const genMs = performance.now() - t0;
const mb = data.length / 1e6;
if (!values.json) console.log(`generated ${LINES} lines, ${mb.toFixed(1)} MB in ${(genMs / 1000).toFixed(1)} s`);

const runs: { seconds: number; linesPerSec: number; mbPerSec: number }[] = [];
let last: ReturnType<typeof parseSource> | undefined;
for (let r = 0; r < RUNS; r++) {
  last = undefined;
  const s = performance.now();
  last = parseSource(data, { format: 'plain', kind: 'ip', maxPrefix4: 8, maxPrefix6: 19 });
  const sec = (performance.now() - s) / 1000;
  runs.push({ seconds: sec, linesPerSec: last.lines / sec, mbPerSec: mb / sec });
  if (!values.json) {
    console.log(
      `run ${r + 1}: ${sec.toFixed(3)} s  ${(last.lines / sec / 1e6).toFixed(2)} M lines/s  ${(mb / sec).toFixed(0)} MB/s  ` +
        `(${last.entries} entries, ${last.v4.start.length} v4 ranges, ${last.v6.start.length / 4} v6 ranges, ${last.errors} errors)`,
    );
  }
}
const best = runs.reduce((a, b) => (b.linesPerSec > a.linesPerSec ? b : a));
const rssMb = process.memoryUsage().rss / 1e6;
const maxRssMb = process.resourceUsage().maxRSS / 1e3;
const result = {
  lines: LINES,
  bytes: data.length,
  best: { seconds: +best.seconds.toFixed(3), linesPerSec: Math.round(best.linesPerSec), mbPerSec: +best.mbPerSec.toFixed(1) },
  runs,
  rssMb: +rssMb.toFixed(0),
  maxRssMb: +maxRssMb.toFixed(0),
  goalLinesPerSec: 3e6,
  goalMet: best.linesPerSec >= 3e6,
};
if (values.json) console.log(JSON.stringify(result));
else {
  console.log(
    `best: ${(best.linesPerSec / 1e6).toFixed(2)} M lines/s, ${best.mbPerSec.toFixed(0)} MB/s (goal 3M lines/s: ${result.goalMet ? 'met' : 'NOT met'}); ` +
      `RSS now ${rssMb.toFixed(0)} MB, peak ${maxRssMb.toFixed(0)} MB (includes the ${mb.toFixed(0)} MB input)`,
  );
}
