// /api/v1/users and /api/v1/tokens are declared with @hono/zod-openapi: GET /api/openapi.json
// describes their requests (path parameter, strict bodies with the required fields, the enums)
// and responses (User, Token, the error codes), from the same schemas that check requests.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createApp } from '../../../web/app.ts';
import { LocalStore } from '../../../sync/local/store.ts';
import { tmpDb } from '../../sync/local/helpers.ts';

test('the OpenAPI document describes the users and tokens routes from their schemas', async () => {
  const { db } = tmpDb();
  const app = createApp({ store: new LocalStore(db, { reputation: { half_life: 86400, cap: 10 } }) });
  const doc = await (await app.request('/api/openapi.json')).json() as any;
  assert.deepEqual(Object.keys(doc.paths['/users']).sort(), ['get', 'post']);
  assert.deepEqual(Object.keys(doc.paths['/users/{name}']).sort(), ['delete', 'patch']);
  assert.deepEqual(Object.keys(doc.paths['/tokens']).sort(), ['get', 'post']);
  assert.deepEqual(Object.keys(doc.paths['/tokens/{name}']), ['delete']);

  const create = doc.paths['/users'].post.requestBody.content['application/json'].schema;
  assert.deepEqual(create.required.sort(), ['name', 'password', 'role']);
  assert.equal(create.additionalProperties, false, 'unknown fields are refused');
  assert.deepEqual(create.properties.role.enum, ['admin', 'operator', 'viewer']);
  assert.deepEqual(Object.keys(doc.paths['/users'].post.responses).sort(), ['201', '400', '401', '403', '409', '413', '415', '503']);
  assert.equal(doc.paths['/users/{name}'].patch.parameters[0].in, 'path');
  assert.deepEqual(Object.keys(doc.components.schemas.User.properties).sort(), ['created', 'disabled', 'id', 'lastLogin', 'name', 'role']);
  assert.equal(JSON.stringify(doc.components.schemas.User).includes('password'), false, 'a user never carries a password');

  const tok = doc.paths['/tokens'].post;
  assert.deepEqual(tok.requestBody.content['application/json'].schema.properties.scope.enum, ['reports', 'overrides', 'admin']);
  assert.ok(tok.responses['201'].content['application/json'].schema.properties.token, 'the secret in the creation answer');
  assert.deepEqual(Object.keys(doc.components.schemas.Token.properties).sort(), ['created', 'id', 'lastUsed', 'name', 'revoked', 'scope']);
  assert.equal(doc.paths['/tokens'].get.parameters[0].name, 'all');
});
