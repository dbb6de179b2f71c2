// A strict parser of the Prometheus text exposition format (version 0.0.4), enough for what
// /metrics writes: every line must be a HELP/TYPE comment or a well-formed sample of a declared
// family, or the test fails naming the line.

import assert from 'node:assert/strict';

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export function parseExposition(text: string): { types: Map<string, string>; help: Map<string, string>; samples: Sample[] } {
  const types = new Map<string, string>();
  const help = new Map<string, string>();
  const samples: Sample[] = [];
  const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
  assert.ok(text.endsWith('\n'), 'the exposition ends with a newline');
  for (const [i, line] of text.split('\n').entries()) {
    if (line === '') continue;
    const at = `line ${i + 1}: ${line}`;
    let m = /^# (HELP|TYPE) (\S+) (.*)$/.exec(line);
    if (m) {
      assert.match(m[2]!, NAME, at);
      if (m[1] === 'TYPE') {
        assert.ok(['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(m[3]!), at);
        assert.ok(!types.has(m[2]!), `${at}: TYPE twice`);
        types.set(m[2]!, m[3]!);
      } else help.set(m[2]!, m[3]!);
      continue;
    }
    m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(m, `${at}: not a sample line`);
    const labels: Record<string, string> = {};
    if (m[2]) {
      const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)/gy;
      let pos = 0;
      for (let l = re.exec(m[2]); l; l = re.exec(m[2])) {
        labels[l[1]!] = l[2]!.replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
        pos = re.lastIndex;
      }
      assert.equal(pos, m[2].length, `${at}: bad label set`);
    }
    // Go's ParseFloat (Prometheus) takes NaN in any case; prom-client writes an empty gauge as "Nan".
    const value = m[3] === '+Inf' ? Infinity : m[3] === '-Inf' ? -Infinity : /^nan$/i.test(m[3]!) ? NaN : Number(m[3]);
    assert.ok(!Number.isNaN(value) || /^nan$/i.test(m[3]!), `${at}: bad value`);
    const name = m[1]!;
    const family = types.has(name) ? name : name.replace(/_(bucket|sum|count)$/, '');
    assert.ok(types.has(family), `${at}: sample without a TYPE line`);
    samples.push({ name, labels, value });
  }
  return { types, help, samples };
}

export function value(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  const s = samples.filter((x) => x.name === name && Object.entries(labels).every(([k, v]) => x.labels[k] === v));
  assert.ok(s.length <= 1, `${name} ${JSON.stringify(labels)}: ${s.length} samples`);
  return s[0]?.value;
}

