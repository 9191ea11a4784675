import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import diagnosticsChannel from 'node:diagnostics_channel';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import { trace } from '@opentelemetry/api';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { connect, type EvdbClient } from '../src/client.js';
import {
  TELEMETRY_CHANNELS,
  enableOpenTelemetry,
  memory,
  openEvdb,
  subscribeTelemetry,
  telemetryHandlerErrors,
  type NodeEvent,
  type RequestEvent,
  type RetryEvent,
  type StreamReadEvent,
  type StreamWriteEvent,
} from '../src/index.js';
import { startServer, type EvdbServer } from '../src/server.js';
import { telemetry } from '../src/telemetry/publish.js';

/** Collects what a channel publishes until `stop()`. */
function record<T>(name: string): { events: T[]; stop(): void } {
  const events: T[] = [];
  const handler = (message: unknown): void => {
    events.push(message as T);
  };
  diagnosticsChannel.subscribe(name, handler);
  return { events, stop: () => diagnosticsChannel.unsubscribe(name, handler) };
}

describe('telemetry events on diagnostics_channel', () => {
  let server: EvdbServer;
  let client: EvdbClient;
  const logLines: string[] = [];
  before(async () => {
    server = await startServer({
      port: 0,
      backend: memory(),
      logLevel: 'info',
      log: (line) => logLines.push(line),
    });
    client = await connect(server.url);
    await client.createStore('tel');
  });
  after(async () => {
    await client.close();
    await server.close();
  });

  it('publishes request start/stop/error with operation, store, duration and status', async () => {
    const starts = record<RequestEvent>(TELEMETRY_CHANNELS.requestStart);
    const stops = record<RequestEvent>(TELEMETRY_CHANNELS.requestStop);
    const errors = record<RequestEvent>(TELEMETRY_CHANNELS.requestError);
    try {
      await client.appendEvents('tel', 'a', [{ eventType: 'E', data: 1 }]);
      await assert.rejects(client.getEvents('tel', 'missing', 0, 10), { code: 'stream_not_found' });
    } finally {
      starts.stop();
      stops.stop();
      errors.stop();
    }
    const mine = (e: RequestEvent): boolean => e.nodeId === server.nodeId;
    assert.deepEqual(
      starts.events.filter(mine).map((e) => [e.operation, e.storeId, e.transport]),
      [
        ['appendEvents', 'tel', 'http'],
        ['getEvents', 'tel', 'http'],
      ],
    );
    const [stop] = stops.events.filter(mine);
    assert.equal(stop?.operation, 'appendEvents');
    assert.equal(stop?.status, 200);
    assert.ok((stop?.durationMs ?? -1) >= 0);
    const [error] = errors.events.filter(mine);
    assert.equal(error?.operation, 'getEvents');
    assert.equal(error?.status, 404);
    assert.equal(error?.code, 'stream_not_found');
    // The same object travels from start to its outcome.
    assert.ok(stop !== undefined && starts.events.includes(stop));
  });

  it('publishes stream writes and reads of the embedded store', async () => {
    const evdb = await openEvdb({ backend: memory(), node: { nodeId: 'embedded-1' } });
    const writes = record<StreamWriteEvent>(TELEMETRY_CHANNELS.streamWrite);
    const reads = record<StreamReadEvent>(TELEMETRY_CHANNELS.streamRead);
    try {
      await evdb.createStore('s');
      await evdb.appendEvents('s', 'x', [
        { eventType: 'A', data: 1 },
        { eventType: 'B', data: 2 },
      ]);
      await evdb.appendBatch('s', [
        { streamId: 'y', events: [{ eventType: 'A', data: 3 }] },
        { streamId: 'z', events: [{ eventType: 'A', data: 4 }] },
      ]);
      await evdb.readAllGlobal('s', 0, 100);
      await evdb.streamForward('s', 'x', 0, 1);
      await evdb.readByEventTypes('s', ['A']);
    } finally {
      writes.stop();
      reads.stop();
      await evdb.close();
    }
    const ownWrites = writes.events.filter((e) => e.nodeId === 'embedded-1');
    assert.deepEqual(
      ownWrites.map((e) => [e.storeId, e.streamIds, e.events, e.position]),
      [
        ['s', ['x'], 2, 1],
        ['s', ['y', 'z'], 2, 3],
      ],
    );
    const ownReads = reads.events.filter((e) => e.nodeId === 'embedded-1');
    assert.deepEqual(
      ownReads.map((e) => [e.source, e.events]),
      [
        ['$all', 4],
        ['x', 1],
        ['$types', 3],
      ],
    );
  });

  it('publishes client retries', async () => {
    const retries = record<RetryEvent>(TELEMETRY_CHANNELS.clientRetry);
    // Nothing listens on port 1: every attempt is refused.
    const offline = await connect('http://127.0.0.1:1', { retry: { base: 1, max: 2, retries: 2 } });
    try {
      await assert.rejects(offline.listStores(), { code: 'unavailable' });
    } finally {
      retries.stop();
      await offline.close();
    }
    const own = retries.events.filter((e) => e.url === 'http://127.0.0.1:1');
    assert.deepEqual(
      own.map((e) => [e.operation, e.attempt, e.code]),
      [
        ['listStores', 0, 'unavailable'],
        ['listStores', 1, 'unavailable'],
      ],
    );
  });

  it('writes one JSON log line per request, failures with their code', () => {
    const requests = logLines
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .filter((line) => line.msg === 'request');
    const failed = requests.find((line) => line.code === 'stream_not_found');
    assert.equal(failed?.level, 'warn');
    assert.equal(failed?.status, 404);
    const ok = requests.find((line) => line.operation === 'appendEvents');
    assert.equal(ok?.level, 'info');
    assert.equal(ok?.storeId, 'tel');
  });

  it('publishes node up and down', async () => {
    const ups = record<NodeEvent>(TELEMETRY_CHANNELS.nodeUp);
    const downs = record<NodeEvent>(TELEMETRY_CHANNELS.nodeDown);
    try {
      const node = await startServer({ port: 0, backend: memory(), node: { nodeId: 'up-down' } });
      await node.close();
      assert.deepEqual(
        ups.events.filter((e) => e.nodeId === 'up-down').map((e) => e.url),
        [node.url],
      );
      assert.equal(downs.events.filter((e) => e.nodeId === 'up-down').length, 1);
    } finally {
      ups.stop();
      downs.stop();
    }
  });

  it('costs nothing to build when nobody listens', () => {
    // No subscriber in this process listens on a channel no feature publishes yet.
    assert.equal(telemetry.snapshotRead.hasSubscribers, false);
  });
});

describe('/metrics', () => {
  let server: EvdbServer;
  before(async () => {
    server = await startServer({ port: 0, backend: memory() });
  });
  after(async () => {
    await server.close();
  });

  it('counts requests by operation and status, events written and read, errors by code', async () => {
    const client = await connect(server.url, { transport: 'http' });
    await client.createStore('m');
    for (let i = 0; i < 3; i++) {
      await client.appendEvents('m', `s-${i}`, [
        { eventType: 'E', data: i },
        { eventType: 'E', data: i },
      ]);
    }
    await client.readAllGlobal('m', 0, 100);
    await assert.rejects(client.appendEvents('m', 's-0', [{ eventType: 'E', data: 0 }], 7), {
      code: 'wrong_expected_version',
    });
    await client.close();
    const response = await fetch(`${server.url}/metrics`);
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    const text = await response.text();
    const value = (series: string): number => {
      const line = text.split('\n').find((l) => l.startsWith(series + ' '));
      assert.ok(line !== undefined, `no ${series} in\n${text}`);
      return Number(line.slice(series.length + 1));
    };
    assert.equal(value('evdb_requests_total{operation="appendEvents",status="200"}'), 3);
    assert.equal(value('evdb_requests_total{operation="appendEvents",status="409"}'), 1);
    assert.equal(value('evdb_errors_total{code="wrong_expected_version"}'), 1);
    assert.equal(value('evdb_appends_total{store="m"}'), 3);
    assert.equal(value('evdb_events_written_total{store="m"}'), 6);
    assert.equal(value('evdb_events_read_total{store="m"}'), 6);
    assert.equal(value('evdb_requests_in_flight'), 0);
    assert.equal(
      value('evdb_request_duration_seconds_count{operation="appendEvents",status="200"}'),
      3,
    );
    assert.equal(
      value(
        'evdb_request_duration_seconds_bucket{operation="appendEvents",status="200",le="+Inf"}',
      ),
      3,
    );
    assert.match(text, /^# TYPE evdb_request_duration_seconds histogram$/m);
  });

  it('needs a token of any role when the server listens beyond loopback', async () => {
    const open = await startServer({
      port: 0,
      host: '0.0.0.0',
      backend: memory(),
      tokens: [{ token: 'reader', role: 'read', stores: ['other'] }],
    });
    try {
      const port = new URL(open.url).port;
      const url = `http://127.0.0.1:${port}/metrics`;
      assert.equal((await fetch(url)).status, 401);
      const ok = await fetch(url, { headers: { authorization: 'Bearer reader' } });
      assert.equal(ok.status, 200);
      // Before any request: unlabelled metrics are there, at zero.
      assert.match(await ok.text(), /^evdb_requests_in_flight 0$/m);
    } finally {
      await open.close();
    }
  });
});

describe('OpenTelemetry spans', () => {
  it('turns requests and embedded stream writes/reads into spans', async () => {
    const exporter = new InMemorySpanExporter();
    const provider = new BasicTracerProvider({
      spanProcessors: [new SimpleSpanProcessor(exporter)],
    });
    trace.setGlobalTracerProvider(provider);
    const server = await startServer({ port: 0, backend: memory() });
    const stop = await enableOpenTelemetry({ requests: false, streams: true });
    assert.ok(stop !== undefined, '@opentelemetry/api is a devDependency');
    try {
      const client = await connect(server.url);
      await client.createStore('ot');
      await client.appendEvents('ot', 'a', [{ eventType: 'E', data: 1 }]);
      await assert.rejects(client.streamForward('ot', 'nope', 0, 1), {
        code: 'stream_not_found',
      });
      await client.close();
    } finally {
      stop();
      await server.close();
      trace.disable();
    }
    const spans = exporter.getFinishedSpans();
    const byName = (name: string) => spans.filter((s) => s.name === name);
    const [append] = byName('evdb appendEvents');
    assert.equal(append?.attributes['evdb.store_id'], 'ot');
    assert.equal(append?.attributes['http.response.status_code'], 200);
    const [failed] = byName('evdb streamForward');
    assert.equal(failed?.status.code, 2); // SpanStatusCode.ERROR
    assert.equal(failed?.attributes['evdb.error_code'], 'stream_not_found');
    const [write] = byName('evdb append');
    assert.equal(write?.attributes['evdb.events'], 1);
    assert.deepEqual(write?.attributes['evdb.stream_ids'], ['a']);
  });
});

describe('a failing telemetry subscriber', () => {
  it('never breaks the store (subscribeTelemetry)', async () => {
    const before = telemetryHandlerErrors();
    const stops = [
      subscribeTelemetry('streamWrite', () => {
        throw new Error('broken handler');
      }),
      subscribeTelemetry('requestStop', () => {
        throw new Error('broken handler');
      }),
    ];
    const server = await startServer({ port: 0, backend: memory() });
    try {
      const client = await connect(server.url);
      await client.createStore('f');
      const result = await client.appendEvents('f', 'a', [{ eventType: 'E', data: 1 }]);
      assert.deepEqual(result, { version: 0, position: 0 });
      assert.equal((await client.streamForward('f', 'a', 0, 10)).length, 1);
      await client.close();
    } finally {
      for (const stop of stops) stop();
      await server.close();
    }
    assert.ok(telemetryHandlerErrors() >= before + 2);
  });

  it('never breaks the store (a bare diagnostics_channel subscriber)', async () => {
    // Node re-raises a bare subscriber's error as an uncaught exception after the publisher
    // returned; the store's call has completed with its real result by then. The child process
    // records both and exits.
    const script = `
      import diagnosticsChannel from 'node:diagnostics_channel';
      import { openEvdb, memory, TELEMETRY_CHANNELS } from './src/index.ts';
      const uncaught = [];
      process.on('uncaughtException', (error) => uncaught.push(error.message));
      diagnosticsChannel.subscribe(TELEMETRY_CHANNELS.streamWrite, () => { throw new Error('bare handler'); });
      const evdb = await openEvdb({ backend: memory() });
      await evdb.createStore('b');
      const result = await evdb.appendEvents('b', 'a', [{ eventType: 'E', data: 1 }]);
      const read = await evdb.streamForward('b', 'a', 0, 10);
      await new Promise((resolve) => setTimeout(resolve, 10));
      console.log(JSON.stringify({ result, read: read.length, uncaught }));
      await evdb.close();
    `;
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '-e', script],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    const [code] = (await once(child, 'exit')) as [number];
    assert.equal(code, 0);
    assert.deepEqual(JSON.parse(out), {
      result: { version: 0, position: 0 },
      read: 1,
      uncaught: ['bare handler'],
    });
  });
});
