import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { execFile, spawnSync } from 'node:child_process';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { WebSocket } from 'ws';
import { ERROR_CODES, EvdbError } from '../src/core/errors.js';
import { LIMITS } from '../src/core/limits.js';
import { Evdb, memory, openEvdb } from '../src/index.js';
import { startServer, httpStatusOf, type EvdbServer } from '../src/server.js';
import { OPERATIONS, OPERATION_NAMES, type OperationSpec } from '../src/protocol/operations.js';
import { schemaError } from '../src/protocol/validator.js';
import { decodeWire, encodeWire, fromBase64, toBase64 } from '../src/protocol/wire.js';
import { buildRoutes, matchRoute, pathSegments } from '../src/gateway/routes.js';
import { HTTP_API_DOC, formattedHttpApiDoc } from '../scripts/http-api-doc.js';

describe('route table', () => {
  const routes = buildRoutes();

  it('names only operations the embedded store has', () => {
    // That every EventStoreApi method has an entry is checked by the compiler (`satisfies`).
    const embedded = new Evdb(memory());
    for (const op of OPERATION_NAMES) {
      assert.equal(typeof (embedded as unknown as Record<string, unknown>)[op], 'function', op);
    }
  });

  it('declares the routes SPEC §0 fixes', () => {
    const find = (op: string): (typeof routes)[number] | undefined =>
      routes.find((r) => r.op === op && r.binding !== undefined);
    const append = find('appendEvents');
    assert.equal(append?.method, 'POST');
    assert.equal(append?.path, '/stores/{storeId}/streams/{streamId}');
    assert.deepEqual(append?.binding?.body, ['events', 'expectedVersion']);
    const read = find('getEvents');
    assert.equal(read?.method, 'GET');
    assert.equal(read?.path, '/stores/{storeId}/streams/{streamId}');
    assert.deepEqual(Object.keys(read?.binding?.query ?? {}), ['from', 'count', 'direction']);
    assert.equal(read?.binding?.responseKey, 'events');
    const all = find('readAllGlobal');
    assert.equal(all?.method, 'GET');
    assert.equal(all?.path, '/stores/{storeId}/all');
    assert.deepEqual(Object.keys(all?.binding?.query ?? {}), ['from', 'count']);
    assert.equal(all?.binding?.responseKey, 'events');
  });

  it('gives every operation an RPC route', () => {
    for (const op of OPERATION_NAMES) {
      assert.ok(
        routes.some((r) => r.method === 'POST' && r.path === `/rpc/${op}`),
        op,
      );
    }
  });

  it('matches literal segments before parameters, and decodes segments', () => {
    const at = (method: string, path: string): string | undefined => {
      const match = matchRoute(routes, method, pathSegments(path));
      return match !== undefined && 'route' in match ? match.route.op : undefined;
    };
    assert.equal(at('GET', '/stores/shop/streams'), 'listStreams');
    assert.equal(at('GET', '/stores/shop/snapshots'), 'listSnapshotPage');
    assert.equal(at('GET', '/stores/shop/subscriptions'), 'listSubscriptionPage');
    assert.equal(at('GET', '/stores/shop/links'), 'listLinkPage');
    assert.equal(at('GET', '/stores/shop/schemas'), 'listSchemaPage');
    assert.equal(at('GET', '/stores/shop/archives'), 'listArchivePage');
    assert.equal(at('GET', '/stores/shop/streams/a'), 'getEvents');
    assert.equal(at('POST', '/stores/shop/streams/a'), 'appendEvents');
    assert.equal(at('DELETE', '/stores/shop/streams/a'), 'deleteStream');
    assert.equal(at('GET', '/stores/shop/streams/a/version'), 'getVersion');
    assert.equal(at('GET', '/stores/shop/status'), 'getStoreStatus');
    assert.equal(at('GET', '/stores/shop'), 'getStoreConfig');
    assert.equal(at('POST', '/rpc/readByTags'), 'readByTags');
    assert.equal(at('GET', '/nowhere'), undefined);
    const slashed = matchRoute(routes, 'GET', pathSegments('/stores/shop/streams/a%2Fb%20c'));
    assert.ok(slashed !== undefined && 'route' in slashed);
    assert.equal(slashed.pathParams.streamId, 'a/b c');
    assert.deepEqual(matchRoute(routes, 'PATCH', pathSegments('/stores/shop')), {
      allowed: ['PUT', 'DELETE', 'GET'],
    });
  });

  it("mirrors the store's LIMITS in its schemas", () => {
    type Schema = Record<string, unknown> & { items?: { properties?: Record<string, Schema> } };
    const schemaOf = (op: keyof typeof OPERATIONS, name: string): Schema =>
      OPERATIONS[op].params.find((p) => p.name === name)?.schema as Schema;
    assert.equal(schemaOf('appendEvents', 'streamId').maxLength, LIMITS.maxStreamIdBytes);
    assert.equal(schemaOf('appendEvents', 'events').maxItems, LIMITS.maxEventsPerAppend);
    assert.equal(schemaOf('appendBatch', 'writes').maxItems, LIMITS.maxWritesPerBatch);
    const tags = schemaOf('appendEvents', 'events').items?.properties?.tags;
    assert.equal(tags?.maxItems, LIMITS.maxTagsPerEvent);
    assert.equal(schemaOf('readByTags', 'tags').maxItems, LIMITS.maxQueryKeys);
    assert.equal(schemaOf('readByEventTypes', 'eventTypes').maxItems, LIMITS.maxQueryKeys);
  });

  it('maps every error code to one status, as the HTTP API promises', () => {
    const expected: Record<string, number> = {
      invalid_argument: 400,
      unauthorized: 401,
      stream_not_found: 404,
      not_found: 404,
      wrong_expected_version: 409,
      already_exists: 409,
      rate_limited: 429,
      unavailable: 503,
      overloaded: 503,
      internal: 500,
    };
    for (const code of ERROR_CODES) {
      const status = httpStatusOf(new EvdbError(code, 'x'));
      assert.ok(status >= 400 && status < 600, code);
      if (expected[code] !== undefined) assert.equal(status, expected[code], code);
    }
    const forbidden = new EvdbError('unauthorized', 'x', { details: { reason: 'forbidden' } });
    assert.equal(httpStatusOf(forbidden), 403);
    const tooLarge = new EvdbError('invalid_argument', 'x', {
      details: { reason: 'payload_too_large' },
    });
    assert.equal(httpStatusOf(tooLarge), 413);
  });

  it('docs/http-api.md is generated from the table and up to date (npm run docs:api)', async () => {
    const committed = readFileSync(HTTP_API_DOC, 'utf8');
    assert.ok(
      committed === (await formattedHttpApiDoc()),
      'docs/http-api.md is stale: run `npm run docs:api` and commit the result',
    );
    for (const op of OPERATION_NAMES) assert.ok(committed.includes(`### ${op}\n`), op);
  });
});

describe('wire encoding', () => {
  it('round-trips bytes, marker-shaped objects and plain JSON', () => {
    const value = {
      bytes: new Uint8Array([0, 1, 2, 253, 254, 255]),
      empty: new Uint8Array(0),
      lookalike: { $bytes: 'AAAA' },
      literal: { $literal: { $bytes: 'x' } },
      nested: [{ a: null, b: [1, 'two', true] }, new Uint8Array([7])],
      two: { $bytes: 'a', other: 1 },
    };
    const decoded = decodeWire(JSON.parse(JSON.stringify(encodeWire(value, 'v')))) as Record<
      string,
      unknown
    >;
    assert.deepEqual(decoded, value);
    assert.ok(decoded.bytes instanceof Uint8Array);
  });

  it('base64 agrees with Node for every length and byte', () => {
    for (let length = 0; length < 70; length++) {
      const bytes = Uint8Array.from({ length }, (_, i) => (i * 37 + length) & 0xff);
      const text = toBase64(bytes);
      assert.equal(text, Buffer.from(bytes).toString('base64'));
      assert.deepEqual(fromBase64(text), bytes);
    }
    assert.throws(() => fromBase64('a*=='), /base64/);
  });

  it('refuses what JSON would silently change', () => {
    const bad: unknown[] = [
      NaN,
      Infinity,
      [1, undefined],
      new Date(),
      () => 1,
      1n,
      new Map(),
      Symbol('s'),
    ];
    for (const value of bad) {
      assert.throws(
        () => encodeWire({ data: value }, 'events[0]'),
        (error: unknown) => error instanceof EvdbError && error.code === 'invalid_argument',
      );
    }
  });
});

describe('server in-process', () => {
  let server: EvdbServer;
  before(async () => {
    server = await startServer({ port: 0, backend: memory() });
  });
  after(async () => {
    await server.close();
  });

  const call = async (
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; type: string; json: unknown }> => {
    const response = await fetch(server.url + path, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    return {
      status: response.status,
      type: response.headers.get('content-type') ?? '',
      json: text === '' ? undefined : (JSON.parse(text) as unknown),
    };
  };

  it('serves the fixed routes with their documented shapes', async () => {
    assert.equal((await call('PUT', '/stores/shop', { settings: { a: 1 } })).status, 201);
    const appended = await call('POST', '/stores/shop/streams/order%2F1', {
      events: [
        { eventType: 'Placed', data: { total: 5 } },
        { eventType: 'Blob', data: { $bytes: toBase64(new Uint8Array([1, 2, 3])) } },
      ],
      expectedVersion: -1,
    });
    assert.deepEqual(appended, {
      status: 200,
      type: appended.type,
      json: { version: 1, position: 1 },
    });
    await call('POST', '/stores/shop/streams/other', { events: [{ eventType: 'X', data: 1 }] });

    const stream = await call('GET', '/stores/shop/streams/order%2F1?from=1&count=5');
    assert.equal(stream.status, 200);
    const [blob] = (stream.json as { events: Record<string, unknown>[] }).events;
    assert.equal(blob?.streamId, 'order/1');
    assert.deepEqual(blob?.data, { $bytes: 'AQID' });
    const backward = await call('GET', '/stores/shop/streams/order%2F1?from=-1&direction=backward');
    assert.deepEqual(
      (backward.json as { events: { version: number }[] }).events.map((e) => e.version),
      [1, 0],
    );
    const all = await call('GET', '/stores/shop/all?from=1&count=10');
    assert.deepEqual(
      (all.json as { events: { position: number }[] }).events.map((e) => e.position),
      [1, 2],
    );
    assert.deepEqual((await call('GET', '/stores/shop/streams')).json, {
      streams: ['order/1', 'other'],
      next: null,
    });
    const first = (await call('GET', '/stores/shop/streams?limit=1')).json as {
      streams: string[];
      next: string;
    };
    assert.deepEqual(first.streams, ['order/1']);
    assert.deepEqual(
      (await call('GET', `/stores/shop/streams?limit=1&after=${encodeURIComponent(first.next)}`))
        .json,
      { streams: ['other'], next: null },
    );
    assert.deepEqual((await call('GET', '/stores/shop/streams?prefix=oth')).json, {
      streams: ['other'],
      next: null,
    });
    assert.deepEqual((await call('GET', '/stores/shop/streams?pattern=*%2F*')).json, {
      streams: ['order/1'],
      next: null,
    });
    assert.equal((await call('GET', '/stores/shop/streams?limit=0')).status, 400);
    assert.deepEqual((await call('GET', '/stores/shop/streams/other/version')).json, {
      version: 0,
    });
  });

  it('answers errors as problem+json with the code, details and retriable', async () => {
    const conflict = await call('POST', '/stores/shop/streams/other', {
      events: [{ eventType: 'X', data: 1 }],
      expectedVersion: 7,
    });
    assert.equal(conflict.status, 409);
    assert.match(conflict.type, /^application\/problem\+json/);
    assert.deepEqual(
      {
        code: (conflict.json as { code: string }).code,
        details: (conflict.json as { details: unknown }).details,
        retriable: (conflict.json as { retriable: boolean }).retriable,
      },
      {
        code: 'wrong_expected_version',
        details: { streamId: 'other', expected: 7, actual: 0 },
        retriable: false,
      },
    );
    const missing = await call('GET', '/stores/shop/streams/nope');
    assert.equal(missing.status, 404);
    assert.equal((missing.json as { code: string }).code, 'stream_not_found');
    const noStore = await call('GET', '/stores/nostore/all');
    assert.equal((noStore.json as { code: string }).code, 'not_found');
    const unknownQuery = await call('GET', '/stores/shop/all?form=1');
    assert.equal(unknownQuery.status, 400);
    assert.match((unknownQuery.json as { detail: string }).detail, /unknown query parameter/);
    const badCount = await call('GET', '/stores/shop/all?count=ten');
    assert.equal(badCount.status, 400);
    const noRoute = await call('GET', '/nowhere');
    assert.equal(noRoute.status, 404);
    const wrongMethod = await call('PATCH', '/stores/shop');
    assert.equal(wrongMethod.status, 405);
    const unknownParam = await call('POST', '/rpc/getVersion', { storeId: 'shop', stream: 'x' });
    assert.equal(unknownParam.status, 400);
  });

  it('answers every RPC operation with a result that matches its declared schema', async () => {
    const CAUSE_ID = '0190a000-0000-7000-8000-000000000001';
    const EFFECT_ID = '0190a000-0000-7000-8000-000000000002';
    await call('PUT', '/stores/rpc', {});
    const streamArgs = { storeId: 'rpc', streamId: 's' };
    const samples: Record<string, Record<string, unknown>> = {
      createStore: { storeId: 'rpc-created', settings: { x: 1 } },
      removeStore: { storeId: 'rpc-created' },
      listStores: {},
      getStoreConfig: { storeId: 'rpc' },
      getStoreStatus: { storeId: 'rpc' },
      appendEvents: { ...streamArgs, events: [{ eventType: 'E', data: { $bytes: 'AA==' } }] },
      appendBatch: {
        storeId: 'rpc',
        writes: [{ streamId: 't', events: [{ eventType: 'F', data: 1, tags: ['x'] }] }],
      },
      getEvents: { ...streamArgs, startVersion: 0, count: 10, direction: 'backward' },
      streamForward: { ...streamArgs, startVersion: 0, count: 10 },
      streamBackward: { ...streamArgs, startVersion: -1, count: 10 },
      getVersion: streamArgs,
      streamExists: streamArgs,
      getStreams: { storeId: 'rpc' },
      listStreams: { storeId: 'rpc', options: { prefix: 's', limit: 1 } },
      deleteStream: { storeId: 'rpc', streamId: 'gone' },
      hasEvents: { storeId: 'rpc' },
      readAllGlobal: { storeId: 'rpc', fromPosition: 0, count: 10 },
      readByEventTypes: { storeId: 'rpc', eventTypes: ['E'], options: { count: 5 } },
      readByTags: { storeId: 'rpc', tags: ['x'], options: { match: 'all' } },
      getWorkers: { storeId: 'rpc' },
      registerWorker: { storeId: 'rpc', worker: { nodeId: 'n', host: 'h', url: 'http://h:1' } },
      unregisterWorker: { storeId: 'rpc', nodeId: 'n' },
      health: {},
      quickHealthCheck: { storeId: 'rpc' },
      recordSnapshot: {
        storeId: 'rpc',
        sourceUuid: 'agg',
        streamUuid: 's',
        version: 0,
        record: { data: { n: 1 }, metadata: { m: 1 } },
      },
      readSnapshot: { storeId: 'rpc', sourceUuid: 'agg', streamUuid: 's', version: 'latest' },
      deleteSnapshot: { storeId: 'rpc', sourceUuid: 'agg', streamUuid: 's', version: 0 },
      listSnapshots: { storeId: 'rpc', sourceUuid: 'agg' },
      listAllSnapshots: { storeId: 'rpc' },
      listSnapshotPage: { storeId: 'rpc', options: { limit: 1 } },
      readUntil: { ...streamArgs, timestampUs: Number.MAX_SAFE_INTEGER, options: { limit: 5 } },
      readRange: { ...streamArgs, fromUs: 0, toUs: 2 ** 52, options: { direction: 'backward' } },
      versionAt: { ...streamArgs, timestampUs: 2 ** 52 },
      scavenge: {
        storeId: 'rpc',
        streamId: 't',
        options: { beforeVersion: 1, requireSnapshot: false, archive: true },
      },
      scavengeDryRun: { ...streamArgs, options: { beforeVersion: 1, requireSnapshot: false } },
      scavengeMatching: { storeId: 'rpc', pattern: 'nothing-*', options: { dryRun: true } },
      listArchives: { storeId: 'rpc' },
      listArchivePage: { storeId: 'rpc', options: { streamId: 't', limit: 1 } },
      readArchive: { storeId: 'rpc', key: 'rpc/t/0-0' },
      getEffects: { storeId: 'rpc', eventId: CAUSE_ID },
      getCause: { storeId: 'rpc', eventId: EFFECT_ID },
      getCausationChain: { storeId: 'rpc', eventId: EFFECT_ID },
      getCorrelated: { storeId: 'rpc', correlationId: 'corr' },
      buildCausationGraph: { storeId: 'rpc', id: 'corr', options: { maxNodes: 10 } },
      registerSchema: { storeId: 'rpc', eventType: 'E2', schema: { version: 2, description: 'd' } },
      getSchema: { storeId: 'rpc', eventType: 'E2' },
      listSchemas: { storeId: 'rpc' },
      listSchemaPage: { storeId: 'rpc', options: { limit: 1 } },
      getSchemaVersion: { storeId: 'rpc', eventType: 'E2' },
      unregisterSchema: { storeId: 'rpc', eventType: 'E2' },
      upcastEvents: { storeId: 'rpc', events: [] },
      storeStats: { storeId: 'rpc' },
      streamInfo: streamArgs,
      eventTypeSummary: { storeId: 'rpc' },
      getMemoryLevel: {},
      getMemoryStats: {},
      saveSubscription: {
        storeId: 'rpc',
        options: { name: 'sub', type: 'by_event_type', selector: 'E' },
      },
      ackEvent: { storeId: 'rpc', name: 'sub', eventOrPosition: 0 },
      getSubscriptions: { storeId: 'rpc' },
      getSubscription: { storeId: 'rpc', name: 'sub' },
      listStoreSubscriptions: { storeId: 'rpc' },
      listSubscriptionPage: { storeId: 'rpc', options: { limit: 1 } },
      subscriptionLag: { storeId: 'rpc', name: 'sub' },
      removeSubscription: { storeId: 'rpc', type: 'by_event_type', selector: 'E', name: 'sub' },
      createLink: {
        storeId: 'rpc',
        options: { name: 'l', source: { type: 'all' }, filter: { eventType: 'E' } },
      },
      getLink: { storeId: 'rpc', name: 'l' },
      listLinks: { storeId: 'rpc' },
      listLinkPage: { storeId: 'rpc', options: { limit: 1 } },
      linkInfo: { storeId: 'rpc', name: 'l' },
      stopLink: { storeId: 'rpc', name: 'l' },
      startLink: { storeId: 'rpc', name: 'l' },
      deleteLink: { storeId: 'rpc', name: 'l' },
      publishToChannel: { channel: 'events', topic: 'rpc.sample', message: { n: 1 } },
      verifyClusterConsistency: {},
      verifyMembershipConsensus: {},
      checkLogConsistency: { storeId: 'rpc' },
    };
    // Events the causation samples read.
    const caused = await call('POST', '/rpc/appendEvents', {
      storeId: 'rpc',
      streamId: 'caused',
      events: [
        { eventType: 'C', data: 1, eventId: CAUSE_ID, correlationId: 'corr' },
        {
          eventType: 'D',
          data: 2,
          eventId: EFFECT_ID,
          causationId: CAUSE_ID,
          correlationId: 'corr',
        },
      ],
    });
    assert.equal(caused.status, 200);
    for (const op of OPERATION_NAMES) {
      const params = samples[op];
      assert.ok(params !== undefined, `no sample call for ${op}: add one`);
      const answer = await call('POST', `/rpc/${op}`, params);
      assert.equal(answer.status, 200, `${op}: ${JSON.stringify(answer.json)}`);
      const spec: OperationSpec = OPERATIONS[op];
      const result = decodeWire((answer.json as { result?: unknown }).result) ?? null;
      assert.equal(schemaError(spec.result, result, op), undefined, `${op} result`);
    }
  });
});

describe('wire encoding without copies', () => {
  it('sends values that need no change as they are, and decodes in place', () => {
    const events = [{ data: { a: [1, { b: 'c' }] }, tags: ['x'], metadata: {} }];
    assert.equal(encodeWire(events, 'events'), events);
    const withBytes = { data: new Uint8Array([1]) };
    assert.notEqual(encodeWire(withBytes, 'event'), withBytes);
    const parsed = JSON.parse('{"a":{"$bytes":"AQ=="},"b":[{"$literal":{"$bytes":"x"}}]}') as {
      a: unknown;
      b: unknown[];
    };
    const decoded = decodeWire(parsed);
    assert.equal(decoded, parsed);
    assert.deepEqual(parsed.a, new Uint8Array([1]));
    assert.deepEqual(parsed.b, [{ $bytes: 'x' }]);
  });
});

describe('WebSocket messages with several frames', () => {
  it('answers every frame of an array message, in one or more messages', async () => {
    const server = await startServer({ port: 0, backend: memory() });
    try {
      await fetch(`${server.url}/stores/multi`, { method: 'PUT' });
      const socket = new WebSocket(`${server.url.replace('http', 'ws')}/ws`);
      const frames: { type: string; id?: number; result?: unknown }[] = [];
      let wake: () => void = () => undefined;
      socket.on('message', (data: Buffer) => {
        const message = JSON.parse(data.toString('utf8')) as unknown;
        frames.push(...((Array.isArray(message) ? message : [message]) as typeof frames));
        wake();
      });
      const until = async (count: number): Promise<void> => {
        while (frames.length < count) await new Promise<void>((resolve) => (wake = resolve));
      };
      await until(1);
      const calls = [1, 2, 3].map((id) => ({
        type: 'call',
        id,
        op: 'appendEvents',
        params: { storeId: 'multi', streamId: `s-${id}`, events: [{ eventType: 'E', data: id }] },
      }));
      socket.send(JSON.stringify([...calls, { type: 'call', id: 4 }]));
      await until(5);
      const answers = new Map(frames.slice(1).map((frame) => [frame.id, frame]));
      for (const id of [1, 2, 3]) assert.equal(answers.get(id)?.type, 'result');
      assert.equal(answers.get(4)?.type, 'error');
      socket.close();
    } finally {
      await server.close();
    }
  });
});

describe('graceful close', () => {
  it('finishes a write in flight, refuses new work, then closes the store', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'evdb-close-'));
    const server = await startServer({ port: 0, dataDir });
    await fetch(`${server.url}/stores/shop`, { method: 'PUT' });
    const { port } = new URL(server.url);

    const socket = new WebSocket(`ws://127.0.0.1:${port}/ws`);
    const frames: Record<string, unknown>[] = [];
    const closeCode = new Promise<number>((resolve) => socket.on('close', resolve));
    await new Promise<void>((resolve) =>
      socket.on('message', (data: Buffer) => {
        frames.push(JSON.parse(data.toString('utf8')) as Record<string, unknown>);
        resolve();
      }),
    );
    assert.equal(frames[0]?.type, 'hello');

    // Send the headers and part of the body: the request is in flight when the shutdown starts.
    const body = JSON.stringify({ events: [{ eventType: 'Late', data: { ok: true } }] });
    let finishBody: () => void = () => undefined;
    const answer = new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port,
          method: 'POST',
          path: '/stores/shop/streams/s',
          headers: {
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(body),
          },
        },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => (text += chunk));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
        },
      );
      req.on('error', reject);
      req.write(body.slice(0, 10));
      finishBody = () => req.end(body.slice(10));
    });
    await new Promise((resolve) => setTimeout(resolve, 50));
    const closed = server.close();

    // While draining, a new call is refused with its id, retriable, marked as not run.
    socket.send(
      JSON.stringify({
        type: 'call',
        id: 7,
        op: 'getVersion',
        params: { storeId: 'shop', streamId: 's' },
      }),
    );
    for (const deadline = Date.now() + 10_000; frames.length < 2;) {
      if (Date.now() > deadline) {
        assert.fail(`no refusal frame within 10 s; frames: ${JSON.stringify(frames)}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const refusal = frames[1] as { type: string; id: number; problem: Record<string, unknown> };
    assert.equal(refusal.type, 'error');
    assert.equal(refusal.id, 7);
    assert.equal(refusal.problem.code, 'unavailable');
    assert.equal(refusal.problem.retriable, true);
    assert.deepEqual(refusal.problem.details, { reason: 'shutting_down' });

    finishBody();
    const { status, text } = await answer;
    assert.equal(status, 200, text);
    assert.deepEqual(JSON.parse(text), { version: 0, position: 0 });
    await closed;
    assert.equal(await closeCode, 1001, 'WebSocket clients are told the server is going away');
    await assert.rejects(fetch(`${server.url}/health`));
    // The store was closed, so the files open again cleanly, with the write in them.
    const reopened = await openEvdb({ dataDir });
    assert.equal(await reopened.getVersion('shop', 's'), 0);
    await reopened.close();
    rmSync(dataDir, { recursive: true, force: true });
  });
});

const hasCurl = spawnSync('curl', ['--version']).status === 0;

describe('README', () => {
  it(
    "the Server and client section's curl commands work as shown",
    { skip: hasCurl ? false : 'curl is not installed' },
    async () => {
      const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
      const section = readme.slice(readme.indexOf('## Server and client'));
      const block = /```sh\n([\s\S]*?)```/.exec(section)?.[1] ?? '';
      const commands = block.split('\n').filter((line) => line.startsWith('curl '));
      assert.equal(commands.length, 4);
      const server = await startServer({ port: 0, backend: memory() });
      try {
        const outputs: string[] = [];
        for (const command of commands) {
          const { stdout } = await promisify(execFile)('sh', [
            '-c',
            `${command.replaceAll('http://127.0.0.1:2113', server.url)} --fail --silent --show-error`,
          ]);
          outputs.push(stdout);
        }
        assert.equal((JSON.parse(outputs[0] as string) as { storeId: string }).storeId, 'shop');
        assert.deepEqual(JSON.parse(outputs[1] as string), { version: 0, position: 0 });
        for (const output of outputs.slice(2)) {
          const { events } = JSON.parse(output) as { events: { data: unknown }[] };
          assert.deepEqual(
            events.map((e) => e.data),
            [{ total: 5 }],
          );
        }
      } finally {
        await server.close();
      }
    },
  );
});
