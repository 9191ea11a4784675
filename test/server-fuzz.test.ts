// A bounded, seeded fuzz of the server's boundary: a few thousand generated HTTP requests and
// WebSocket frames, each one broken in a way the server must refuse (invalid UTF-8, nesting
// beyond the limit, cut-off JSON, wrong types, unknown routes and frames). Reproducible: the
// seed is fixed (EVDB_FUZZ_SEED overrides it). The server must answer every one below 500,
// store nothing, and still answer afterwards with its memory back near where it started.
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { WebSocket } from 'ws';
import { connect } from '../src/client.js';
import { memory } from '../src/index.js';
import { startServer, type EvdbServer } from '../src/server.js';

const SEED = Number(process.env.EVDB_FUZZ_SEED ?? 20261207);
const HTTP_RUNS = 2000;
const WS_RUNS = 1500;

/** A valid append body, then broken by one of the mutations below. */
const validBody = fc.record({
  storeId: fc.constantFrom('fuzz', 'nope', ''),
  streamId: fc.string({ minLength: 1, maxLength: 20 }),
  events: fc.array(
    fc.record({
      eventType: fc.string({ minLength: 1, maxLength: 10 }),
      data: fc.jsonValue({ maxDepth: 3 }),
    }),
    { minLength: 1, maxLength: 3 },
  ),
});

/** Invalid UTF-8 in the middle of a valid body. */
const notUtf8 = fc
  .tuple(validBody, fc.constantFrom([0xff], [0xfe, 0xff], [0xc3], [0xed, 0xa0, 0x80]))
  .map(([body, bytes]) => {
    const text = Buffer.from(JSON.stringify(body));
    const cut = Math.floor(text.length / 2);
    return Buffer.concat([text.subarray(0, cut), Buffer.from(bytes), text.subarray(cut)]);
  });

/**
 * Ways to break a body's text so that no route may accept it. (Invalid UTF-8 is not among
 * them: WebSocket frames are text, so it is tried over HTTP only, in brokenBody.)
 */
const brokenText = fc.oneof(
  // Nested far beyond the limit.
  fc
    .tuple(fc.integer({ min: 120, max: 50_000 }), fc.constantFrom('[', '{"a":'))
    .map(([depth, open]) => {
      const close = open === '[' ? ']' : '}';
      return Buffer.from(
        `{"storeId":"fuzz","streamId":"s","events":[{"eventType":"T","data":${open.repeat(depth)}1${close.repeat(depth)}}]}`,
      );
    }),
  // Cut off.
  fc.tuple(validBody, fc.nat()).map(([body, n]) => {
    const text = JSON.stringify(body);
    return Buffer.from(text.slice(0, n % text.length));
  }),
  // Wrong types where the schema wants others.
  fc
    .tuple(fc.jsonValue({ maxDepth: 2 }), fc.jsonValue({ maxDepth: 2 }))
    .map(([a, b]) =>
      Buffer.from(JSON.stringify({ storeId: 'fuzz', streamId: a ?? 0, events: [b, null] })),
    ),
  // Random bytes.
  fc.uint8Array({ maxLength: 200 }).map((bytes) => Buffer.from(bytes)),
);

/** Ways to break a body so that no route may accept it. */
const brokenBody = fc.oneof(notUtf8, brokenText);

const writePaths = [
  '/rpc/appendEvents',
  '/rpc/appendBatch',
  '/stores/fuzz/streams/s/events',
  '/calls',
];
const otherPaths = ['/rpc/readAllGlobal', '/rpc/nope', '/stores/fuzz', '/health', '/x/../../etc'];

function send(url: string, method: string, path: string, body: Buffer): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${url}${path}`,
      { method, headers: { 'content-type': 'application/json', 'content-length': body.length } },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

describe('server fuzz', () => {
  let server: EvdbServer;
  before(async () => {
    server = await startServer({ port: 0, backend: memory(), bodyLimitBytes: 1024 * 1024 });
    const client = await connect(server.url);
    await client.createStore('fuzz');
    await client.close();
  });
  after(async () => {
    await server.close();
  });

  it(`${HTTP_RUNS} broken HTTP requests and ${WS_RUNS} broken frames: no 5xx, no writes, still answering`, async () => {
    global.gc?.();
    const rssBefore = process.memoryUsage().rss;
    const statuses = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(
        // No DELETE: without tokens it would remove the store, a valid request.
        fc.constantFrom('POST', 'PUT', 'GET', 'PATCH'),
        fc.constantFrom(...writePaths, ...otherPaths),
        brokenBody,
        async (method, path, body) => {
          const status = await send(server.url, method, path, body);
          statuses.set(status, (statuses.get(status) ?? 0) + 1);
          assert.ok(status > 0 && status < 500, `${method} ${path} answered ${status}`);
        },
      ),
      { seed: SEED, numRuns: HTTP_RUNS },
    );

    const ws = new WebSocket(`${server.url.replace('http', 'ws')}/ws`);
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    let answers = 0;
    let worst = 0;
    ws.on('message', (data: Buffer) => {
      const parsed = JSON.parse(data.toString('utf8')) as unknown;
      for (const frame of Array.isArray(parsed) ? parsed : [parsed]) {
        const f = frame as { type: string; problem?: { status: number } };
        if (f.type === 'error') worst = Math.max(worst, f.problem?.status ?? 0);
        if (f.type === 'error' || f.type === 'result') answers++;
      }
    });
    const frames = fc.sample(
      fc.oneof(
        brokenText.map((body) => body.toString('utf8')),
        fc
          .tuple(fc.nat(), brokenText)
          .map(
            ([id, body]) =>
              `{"type":"call","id":${id},"op":"appendEvents","params":${body.toString('utf8')}}`,
          ),
        fc
          .tuple(fc.nat(), fc.integer({ min: 120, max: 20_000 }))
          .map(
            ([id, depth]) =>
              `{"type":"subscribe","id":${id},"subscription":1,"storeId":"fuzz","options":${'['.repeat(depth)}${']'.repeat(depth)}}`,
          ),
        fc.constantFrom('[]', '{}', 'null', '[[]]', '{"type":"call"}'),
      ),
      { seed: SEED, numRuns: WS_RUNS },
    );
    for (const frame of frames) ws.send(frame);
    // Every message is answered (the socket stays open).
    const deadline = Date.now() + 60_000;
    while (answers < WS_RUNS && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    ws.close();
    assert.ok(answers >= WS_RUNS, `${answers} of ${WS_RUNS} frames answered`);
    assert.ok(worst < 500, `a frame was answered ${worst}`);

    // Nothing was written, and the server still answers.
    const client = await connect(server.url);
    const status = await client.getStoreStatus('fuzz');
    assert.equal(status.lastPosition, -1);
    await client.close();
    global.gc?.();
    const grown = process.memoryUsage().rss - rssBefore;
    // The server runs in this process: its memory after the run is near where it started.
    assert.ok(grown < 100 * 1024 * 1024, `RSS grew by ${Math.round(grown / 1048576)} MiB`);
  });
});
