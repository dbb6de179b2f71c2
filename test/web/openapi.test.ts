// GET /api/openapi.json against the app with every optional part: an OpenAPI 3.1 document that
// holds together (every $ref resolves, every operation has responses, unique operationIds, path
// parameters declared), that lists EVERY route the app registers under /api/v1 (a route added
// without createRoute fails here) and nothing else, and whose request schemas are the server's:
// a body built from the document is accepted, one violating it refused.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SCOPES } from '../../sync/local/tokens.ts';
import { api } from './auth/helpers.ts';
import { docPath, fullApp, MUTATING, routesOf } from './full-app.ts';

type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any
const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'options', 'head', 'trace'];

/** Routes still declared with plain hono by other parts of issue 10 (users, tokens, audit are
 *  being converted on their own branches). Once a route is in the document the test below says
 *  to remove it from here. */
const NOT_YET = new Set<string>([]);

async function documentOf(base: string): Promise<Json> {
  const res = await fetch(base + '/api/openapi.json');
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
  return res.json();
}

function pointer(doc: Json, ref: string): unknown {
  assert.ok(ref.startsWith('#/'), `only local $refs: ${ref}`);
  let at: Json = doc;
  for (const part of ref.slice(2).split('/').map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))) {
    if (at === null || typeof at !== 'object' || !(part in at)) return undefined;
    at = at[part];
  }
  return at;
}

function refsIn(x: unknown, out: string[] = []): string[] {
  if (Array.isArray(x)) for (const v of x) refsIn(v, out);
  else if (x && typeof x === 'object') {
    for (const [k, v] of Object.entries(x)) {
      if (k === '$ref' && typeof v === 'string') out.push(v);
      else refsIn(v, out);
    }
  }
  return out;
}

function operations(doc: Json): { path: string; method: string; op: Json }[] {
  const out: { path: string; method: string; op: Json }[] = [];
  for (const [path, item] of Object.entries(doc.paths as Record<string, Json>)) {
    for (const m of METHODS) if (item[m]) out.push({ path, method: m.toUpperCase(), op: item[m] });
  }
  return out;
}

const deref = (doc: Json, s: Json): Json => (s && s.$ref ? deref(doc, pointer(doc, s.$ref)) : s);

/** The smallest body the schema accepts: required properties only, from their examples, else
 *  the first enum value or a value of the type. */
function sample(doc: Json, schema: Json): unknown {
  const s = deref(doc, schema);
  if (s.example !== undefined) return s.example;
  if (s.enum) return s.enum[0];
  if (s.anyOf) return sample(doc, s.anyOf[0]);
  switch (s.type) {
    case 'object': return Object.fromEntries((s.required ?? []).map((k: string) => [k, sample(doc, s.properties[k])]));
    case 'string': return 'x';
    case 'number': case 'integer': return 1;
    case 'boolean': return false;
    case 'array': return [];
    default: return null;
  }
}

test('GET /api/openapi.json (no token): an OpenAPI 3.1 document that holds together', async () => {
  const f = await fullApp();
  const doc = await documentOf(f.base);
  assert.equal(doc.openapi, '3.1.0');
  assert.equal(doc.info.title, 'quorumbl API');
  assert.equal(doc.info.version, 'test');
  assert.deepEqual(doc.servers, [{ url: '/api/v1' }]);
  assert.deepEqual(Object.keys(doc.components.securitySchemes).sort(), ['bearer', 'session']);
  for (const req of doc.security) for (const name of Object.keys(req)) assert.ok(doc.components.securitySchemes[name], `security scheme ${name}`);

  const refs = refsIn(doc);
  assert.ok(refs.length > 0);
  for (const ref of refs) assert.ok(pointer(doc, ref) !== undefined, `$ref ${ref} resolves`);

  const ops = operations(doc);
  assert.ok(ops.length >= 9, `${ops.length} operations`);
  const ids = new Map<string, string>();
  for (const { path, method, op } of ops) {
    const where = `${method} ${path}`;
    assert.match(path, /^\//, where);
    const codes = Object.keys(op.responses ?? {});
    assert.ok(codes.length > 0, `${where} has responses`);
    assert.ok(codes.some((c) => /^2\d\d$/.test(c)), `${where} documents its success`);
    for (const c of codes) {
      assert.match(c, /^[1-5]\d\d$|^default$/, `${where}: response ${c}`);
      assert.equal(typeof deref(doc, op.responses[c]).description, 'string', `${where} ${c} has a description`);
    }
    if (op.operationId !== undefined) {
      assert.ok(!ids.has(op.operationId), `operationId ${op.operationId} of ${where} is also ${ids.get(op.operationId)}`);
      ids.set(op.operationId, where);
    }
    // Path parameters: each {name} of the template declared (in: path, required), no others.
    const inTemplate = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]).sort();
    const declared = (op.parameters ?? []).map((p: Json) => deref(doc, p)).filter((p: Json) => p.in === 'path');
    assert.deepEqual(declared.map((p: Json) => p.name).sort(), inTemplate, `${where}: path parameters`);
    for (const p of declared) assert.equal(p.required, true, `${where}: ${p.name} required`);
    // What it needs (security.test.ts tries every write with the wrong scope from this).
    assert.ok(['any', ...SCOPES].includes(op['x-scope']), `${where} declares x-scope (requireScope in createRoute's middleware, or 'x-scope': 'any'): ${op['x-scope']}`);
    if (op.requestBody) {
      const body = deref(doc, op.requestBody);
      assert.ok(body.content['application/json']?.schema, `${where}: a JSON body schema`);
    }
  }
});

test('every route the app registers under /api/v1 is in the document, and the document names no route the app lacks', async () => {
  const f = await fullApp();
  const doc = await documentOf(f.base);
  const registered = routesOf(f.app).filter((r) => r.path.startsWith('/api/v1/') || r.path === '/api/v1').map((r) => `${r.method} ${docPath(r.path)}`);
  assert.ok(registered.length >= 15, `${registered.length} API routes found: ${registered.join(', ')}`);
  const documented = new Set(operations(doc).map((o) => `${o.method} ${o.path}`));
  const missing = registered.filter((r) => !documented.has(r) && !NOT_YET.has(r));
  assert.deepEqual(missing, [], 'routes registered without createRoute (declare them with createRoute + app.openapi on an apiRouter())');
  const done = [...NOT_YET].filter((r) => documented.has(r));
  assert.deepEqual(done, [], 'these are in the document now: remove them from NOT_YET in this test');
  const ghosts = [...documented].filter((d) => !registered.includes(d));
  assert.deepEqual(ghosts, [], 'documented but not served');
  // The writes are all there: the security test relies on it.
  assert.ok(registered.filter((r) => MUTATING.has(r.split(' ')[0]!)).length >= 6);
});

test('the document is what the server checks: a body built from its schema is accepted, one violating it refused with the field named', async () => {
  const f = await fullApp();
  const doc = await documentOf(f.base);
  const rows = () => ({
    overrides: (f.store.db.prepare('SELECT count(*) AS n FROM overrides').get() as { n: number }).n,
    audit: (f.store.db.prepare('SELECT count(*) AS n FROM audit_log').get() as { n: number }).n,
  });
  const schema = deref(doc, doc.paths['/overrides'].post.requestBody).content['application/json'].schema;
  const s = deref(doc, schema);
  assert.equal(s.additionalProperties, false);
  assert.deepEqual(s.properties.action.enum, ['allow', 'deny']);
  const good = sample(doc, schema) as Record<string, unknown>;
  assert.deepEqual(Object.keys(good).sort(), [...s.required].sort());

  const before = rows();
  const bad: [string, unknown, string][] = [
    ['an action outside the enum', { ...good, action: 'block' }, 'action'],
    ['a field the schema does not have', { ...good, admin: true }, 'admin'],
    ['a number where it says string', { ...good, reason: 7 }, 'reason'],
    ...(s.required as string[]).map((k): [string, unknown, string] => [`without the required ${k}`, { ...good, [k]: undefined }, k]),
  ];
  for (const [what, body, field] of bad) {
    const r = await api(f, 'POST', '/api/v1/overrides', { token: f.tokens.admin, body });
    assert.equal(r.status, 400, `${what}: ${JSON.stringify(r.json)}`);
    assert.equal(r.json.field, field, `${what}: ${r.json.error}`);
  }
  assert.deepEqual(rows(), before, 'nothing stored by a refused request');

  // Every JSON body the document describes: an empty object lacks its required fields, an
  // unknown field is refused where the schema forbids more. Nothing changes.
  for (const { path, method, op } of operations(doc)) {
    if (!op.requestBody) continue;
    const sc = deref(doc, deref(doc, op.requestBody).content['application/json'].schema);
    const url = '/api/v1' + path.replace(/\{[^}]+\}/g, '1');
    if (sc.required?.length) {
      const r = await api(f, method, url, { token: f.tokens.admin, body: {} });
      assert.equal(r.status, 400, `${method} ${path} with {}: ${JSON.stringify(r.json)}`);
      assert.ok(sc.required.includes(r.json.field), `${method} ${path}: names a required field (${r.json.error})`);
    }
    if (sc.additionalProperties === false) {
      const r = await api(f, method, url, { token: f.tokens.admin, body: { ...(sample(doc, sc) as object), 'not-a-field': 1 } });
      assert.equal(r.status, 400, `${method} ${path} with an unknown field: ${JSON.stringify(r.json)}`);
    }
  }
  assert.deepEqual(rows(), before, 'nothing stored by a refused request');

  // The sample itself is what the server takes.
  const ok = await api(f, 'POST', '/api/v1/overrides', { token: f.tokens.admin, body: good });
  assert.equal(ok.status, 201, JSON.stringify(ok.json));
  assert.equal(ok.json.override.key, good.key);
});
