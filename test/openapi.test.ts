import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Validator } from '@seriousme/openapi-schema-validator';
import { memory } from '../src/index.js';
import { startServer, type EvdbServer } from '../src/server.js';
import { OPERATION_NAMES } from '../src/protocol/operations.js';
import { buildRoutes } from '../src/gateway/routes.js';
import { OPENAPI_PATH, openApiDocument, packageVersion } from '../src/gateway/openapi.js';

const TOKEN = 'openapi-test-admin-token';

type Document = ReturnType<typeof openApiDocument>;

function operationsOf(document: Document): Map<string, { method: string; path: string }> {
  const found = new Map<string, { method: string; path: string }>();
  for (const [path, item] of Object.entries(document.paths)) {
    for (const [method, operation] of Object.entries(item)) {
      const id = (operation as { operationId: string }).operationId;
      assert.ok(!found.has(id), `operationId ${id} is unique`);
      found.set(id, { method, path });
    }
  }
  return found;
}

describe('OpenAPI document', () => {
  const routes = buildRoutes();
  const document = openApiDocument(routes, packageVersion());

  it('is a valid OpenAPI 3.1 document', async () => {
    const validator = new Validator();
    const result = await validator.validate(structuredClone(document));
    assert.equal(validator.version, '3.1');
    assert.deepEqual(result.errors, undefined);
    assert.equal(result.valid, true);
  });

  it('has every operation of the table at its RPC route, and every resource route', () => {
    const operations = operationsOf(document);
    for (const op of OPERATION_NAMES) {
      assert.deepEqual(operations.get(op), { method: 'post', path: `/rpc/${op}` }, op);
    }
    for (const route of routes.filter((r) => r.binding !== undefined)) {
      assert.deepEqual(
        operations.get(`${route.op}Resource`),
        { method: route.method.toLowerCase(), path: route.path },
        route.op,
      );
    }
    // The table's routes plus /health, /openapi.json and /calls, nothing else.
    assert.equal(operations.size, routes.length + 3);
  });

  it('refers only to schemas it defines', () => {
    const text = JSON.stringify(document);
    const refs = new Set(
      [...text.matchAll(/"\$ref":"#\/components\/schemas\/([^"]+)"/g)].map((m) => m[1]),
    );
    assert.ok(refs.has('EventRecord') && refs.has('NewEvent') && refs.has('Problem'));
    for (const name of refs) assert.ok(name! in document.components.schemas, name);
  });

  it('describes a resource route with its path, query and body parameters', () => {
    const read = document.paths['/stores/{storeId}/streams/{streamId}']?.get as {
      parameters: { name: string; in: string; required: boolean }[];
      responses: Record<string, unknown>;
    };
    assert.deepEqual(
      read.parameters.map((p) => [p.name, p.in, p.required]),
      [
        ['storeId', 'path', true],
        ['streamId', 'path', true],
        ['from', 'query', false],
        ['count', 'query', false],
        ['direction', 'query', false],
      ],
    );
    assert.ok('200' in read.responses && 'default' in read.responses);
    const append = document.paths['/stores/{storeId}/streams/{streamId}']?.post as {
      requestBody: { content: Record<string, { schema: { required: string[] } }> };
    };
    assert.deepEqual(append.requestBody.content['application/json']?.schema.required, ['events']);
  });
});

describe('GET /openapi.json', () => {
  let server: EvdbServer;

  before(async () => {
    server = await startServer({
      port: 0,
      backend: memory(),
      tokens: [{ token: TOKEN, stores: '*', role: 'admin' }],
    });
  });
  after(async () => {
    await server.close();
  });

  it('serves the document without a token, on a server that has tokens', async () => {
    const response = await fetch(server.url + OPENAPI_PATH);
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^application\/json/);
    const served = (await response.json()) as Document;
    assert.deepEqual(
      served,
      JSON.parse(JSON.stringify(openApiDocument(buildRoutes(), packageVersion()))),
    );
    const head = await fetch(server.url + OPENAPI_PATH, { method: 'HEAD' });
    assert.equal(head.status, 200);
  });

  it('still wants a token for the operations it describes', async () => {
    const response = await fetch(server.url + '/rpc/listStores', { method: 'POST', body: '{}' });
    assert.equal(response.status, 401);
    const allowed = await fetch(server.url + '/rpc/listStores', {
      method: 'POST',
      body: '{}',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    });
    assert.equal(allowed.status, 200);
  });

  it('answers other methods with 405 as a problem document', async () => {
    const response = await fetch(server.url + OPENAPI_PATH, { method: 'POST', body: '{}' });
    assert.ok(response.status === 404 || response.status === 405, String(response.status));
    assert.match(response.headers.get('content-type') ?? '', /problem\+json/);
  });
});
