// Hostile or careless input at the server's boundary: each case reproduces a failure that was
// found by trying it (a 500, a stored replacement character, a raced limit, a held socket, a
// health that lied, a retried refusal, another store's name in /metrics).
import assert from 'node:assert/strict';
import {
  subscribe as subscribeChannel,
  unsubscribe as unsubscribeChannel,
} from 'node:diagnostics_channel';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { connect as netConnect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { WebSocket } from 'ws';
import { connect } from '../src/client.js';
import { memory, openEvdb } from '../src/index.js';
import { postgres } from '../src/backends/postgres/index.js';
import { startServer, type EvdbServer } from '../src/server.js';
import { ADMIN, OTHER, READER, WRITER, startTokenServer } from './support/token-server.js';

interface Raw {
  status: number;
  body: string;
}

/** One HTTP request with a body given as bytes, from an optional local address. */
function send(
  url: string,
  method: string,
  path: string,
  body: Buffer | string | undefined,
  token?: string,
  localAddress?: string,
): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = { 'content-type': 'application/json' };
    if (token !== undefined) headers.authorization = `Bearer ${token}`;
    if (body !== undefined) headers['content-length'] = Buffer.byteLength(body);
    const req = request(`${url}${path}`, { method, headers, localAddress }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

const deep = (levels: number): string => '['.repeat(levels) + ']'.repeat(levels);

/** Opens a WebSocket, authenticates, and collects the answers by id. */
async function openSocket(
  url: string,
  token: string,
): Promise<{
  ws: WebSocket;
  frames: Record<string, unknown>[];
  waitFor: (count: number) => Promise<void>;
}> {
  const ws = new WebSocket(`${url.replace('http', 'ws')}/ws`, {
    headers: { authorization: `Bearer ${token}` },
  });
  const frames: Record<string, unknown>[] = [];
  let wake = (): void => undefined;
  ws.on('message', (data: Buffer) => {
    const parsed = JSON.parse(data.toString('utf8')) as unknown;
    for (const frame of Array.isArray(parsed) ? parsed : [parsed]) {
      const f = frame as Record<string, unknown>;
      if (f.type === 'result' || f.type === 'error') frames.push(f);
    }
    wake();
  });
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  const waitFor = async (count: number): Promise<void> => {
    while (frames.length < count) await new Promise<void>((resolve) => (wake = resolve));
  };
  return { ws, frames, waitFor };
}

describe('server boundary', () => {
  let server: EvdbServer;
  before(async () => {
    server = await startTokenServer();
  });
  after(async () => {
    await server.close();
  });

  it('JSON nested 20 000 deep is invalid_argument on every entry path, not 500', async () => {
    const bomb = deep(20_000);
    const paths: [string, string][] = [
      ['/rpc/readAllGlobal', `{"storeId":"shop","fromPosition":${bomb}}`],
      [
        '/rpc/appendEvents',
        `{"storeId":"shop","streamId":"s","events":[{"eventType":"T","data":${bomb}}]}`,
      ],
      ['/calls', `[{"type":"call","id":0,"op":"listStores","params":${bomb}}]`],
    ];
    for (const [path, body] of paths) {
      const answer = await send(server.url, 'POST', path, body, WRITER);
      assert.equal(answer.status, 400, path);
      const problem = JSON.parse(answer.body) as { code: string; reason?: string };
      assert.equal(problem.code, 'invalid_argument', path);
      assert.match(answer.body, /nested deeper than/);
    }
    const { ws, frames, waitFor } = await openSocket(server.url, WRITER);
    ws.send(`{"type":"call","id":1,"op":"listStores","params":${bomb}}`);
    ws.send(`{"type":"subscribe","id":2,"subscription":1,"storeId":"shop","options":${bomb}}`);
    await waitFor(2);
    for (const frame of frames) {
      assert.equal(frame.type, 'error');
      assert.equal((frame.problem as { code: string }).code, 'invalid_argument');
    }
    ws.close();
    // Data nested exactly at the documented depth (100) is still stored.
    const ok = await send(
      server.url,
      'POST',
      '/rpc/appendEvents',
      JSON.stringify({
        storeId: 'shop',
        streamId: 'deep-ok',
        events: [{ eventType: 'T', data: JSON.parse(deep(100)) as unknown }],
      }),
      WRITER,
    );
    assert.equal(ok.status, 200, ok.body);
  });

  it('a body that is not UTF-8 is refused and nothing is stored', async () => {
    const body = Buffer.concat([
      Buffer.from('{"storeId":"shop","streamId":"utf8","events":[{"eventType":"T'),
      Buffer.from([0xff, 0xfe]),
      Buffer.from('"}]}'),
    ]);
    const answer = await send(server.url, 'POST', '/rpc/appendEvents', body, WRITER);
    assert.equal(answer.status, 400);
    assert.match(answer.body, /not valid UTF-8/);
    const client = await connect(server.url, { token: READER });
    const events = await client.getEvents('shop', 'utf8', 0, 10).catch(() => []);
    assert.equal(events.length, 0);
    await client.close();
  });

  it('subscribe frames sent at once respect the limit and unique numbers; [] is answered', async () => {
    const { ws, frames, waitFor } = await openSocket(server.url, WRITER);
    const subscribe = (id: number, number: number): string =>
      JSON.stringify({
        type: 'subscribe',
        id,
        subscription: number,
        storeId: 'shop',
        options: { type: 'by_event_type', selector: 'T' },
      });
    // 20 frames sharing one number: one opens, the others are refused.
    ws.send(`[${Array.from({ length: 20 }, (_, i) => subscribe(i, 7)).join(',')}]`);
    await waitFor(20);
    assert.equal(
      frames.filter((f) => f.type === 'result').length,
      1,
      JSON.stringify(
        frames.filter(
          (f) =>
            (f.problem as { details?: { reason?: string } } | undefined)?.details?.reason !==
            'duplicate_subscription',
        ),
      ),
    );
    const duplicates = frames.filter((f) => f.type === 'error');
    assert.equal(duplicates.length, 19);
    for (const f of duplicates)
      assert.equal((f.problem as { code: string }).code, 'invalid_argument');
    // 1 000 more without waiting: the connection's limit (100) holds.
    // (In messages of 50 frames: the test server's frame limit is 64 KiB.)
    for (let start = 0; start < 1000; start += 50) {
      ws.send(
        `[${Array.from({ length: 50 }, (_, i) => subscribe(100 + start + i, 100 + start + i)).join(',')}]`,
      );
    }
    await waitFor(1020);
    const opened = frames.filter((f) => f.type === 'result').length;
    assert.equal(opened, 100);
    ws.send('[]');
    await waitFor(1021);
    const last = frames[1020] as { type: string; id: unknown; problem: { code: string } };
    assert.equal(last.type, 'error');
    assert.equal(last.id, null);
    assert.equal(last.problem.code, 'invalid_argument');
    ws.close();
  });

  it('a token scoped to one store sees only that store in /metrics', async () => {
    const admin = await connect(server.url, { token: ADMIN });
    await admin.appendEvents('shop', 'm', [{ eventType: 'T', data: {} }]);
    await admin.appendEvents('other', 'm', [{ eventType: 'T', data: {} }]);
    await admin.close();
    const scoped = await send(server.url, 'GET', '/metrics', undefined, OTHER);
    assert.equal(scoped.status, 200);
    assert.match(scoped.body, /store="other"/);
    assert.doesNotMatch(scoped.body, /store="shop"/);
    const all = await send(server.url, 'GET', '/metrics', undefined, ADMIN);
    assert.match(all.body, /store="shop"/);
  });

  it('a refused upload (413) fails at once, never retried', async () => {
    const retries: unknown[] = [];
    const onRetry = (event: unknown): void => {
      retries.push(event);
    };
    subscribeChannel('evdb:client:retry', onRetry);
    const client = await connect(server.url, { token: WRITER });
    try {
      await assert.rejects(
        client.appendEvents('shop', 'big', [
          { eventType: 'T', data: { blob: 'x'.repeat(1_000_000) } },
        ]),
        (error: { code: string }) => error.code === 'invalid_argument',
      );
      assert.deepEqual(retries, []);
    } finally {
      unsubscribeChannel('evdb:client:retry', onRetry);
      await client.close();
    }
  });
});

describe('client fail fast', () => {
  it('connect with failFast rejects at once when no URL answers', async () => {
    const started = Date.now();
    await assert.rejects(
      connect('http://127.0.0.1:9', { failFast: true }),
      (error: { code: string }) => error.code === 'unavailable',
    );
    // The default policy would wait out ~80 s of retries; fail fast makes one attempt.
    assert.ok(Date.now() - started < 10_000);
  });
});

describe('health and storage', () => {
  const dir = mkdtempSync(join(tmpdir(), 'evdb-boundary-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('a server whose data directory is a file fails to start, saying why', async () => {
    const file = join(dir, 'afile');
    writeFileSync(file, 'not a directory');
    await assert.rejects(
      startServer({ port: 0, dataDir: file }),
      (error: Error & { code: string }) => {
        assert.equal(error.code, 'unavailable');
        assert.match(error.message, /is not a directory/);
        return true;
      },
    );
  });

  it('a server whose PostgreSQL cannot be reached fails to start', async () => {
    await assert.rejects(
      startServer({ port: 0, backend: postgres({ url: 'postgres://evdb@127.0.0.1:9/evdb' }) }),
      (error: { code: string }) => error.code === 'unavailable',
    );
  });

  it('/health answers 503 unhealthy with the reason once the storage breaks', async () => {
    const dataDir = join(dir, 'data');
    const served = await startServer({ port: 0, dataDir });
    try {
      const healthy = await send(served.url, 'GET', '/health', undefined);
      assert.equal(healthy.status, 200);
      assert.equal((JSON.parse(healthy.body) as { status: string }).status, 'healthy');
      // The directory is removed and replaced with a file while the server runs.
      rmSync(dataDir, { recursive: true, force: true });
      writeFileSync(dataDir, 'gone');
      await new Promise((resolve) => setTimeout(resolve, 1100));
      const broken = await send(served.url, 'GET', '/health', undefined);
      assert.equal(broken.status, 503);
      const report = JSON.parse(broken.body) as { status: string; reason: string };
      assert.equal(report.status, 'unhealthy');
      assert.match(report.reason, /data directory/);
    } finally {
      await served.close();
    }
  });

  it('circular data is named as a circular reference', async () => {
    const evdb = await openEvdb({ backend: memory() });
    await evdb.createStore('shop');
    const data: { a: number; self?: unknown } = { a: 1 };
    data.self = data;
    await assert.rejects(
      evdb.appendEvents('shop', 's', [{ eventType: 'T', data }]),
      (error: Error) => {
        assert.match(error.message, /circular reference/);
        assert.ok(error.message.length < 200);
        return true;
      },
    );
    await evdb.close();
  });
});

describe('slow clients and connection floods', () => {
  let server: EvdbServer;
  before(async () => {
    server = await startServer({
      port: 0,
      backend: memory(),
      connections: { headersTimeoutMs: 1000, requestTimeoutMs: 2000, maxPerAddress: 5 },
    });
  });
  after(async () => {
    await server.close();
  });

  it('slowloris connections are cut and capped; another client is still served', async () => {
    const { port } = new URL(server.url);
    const sockets: Socket[] = [];
    const closedAt: number[] = [];
    const started = Date.now();
    for (let i = 0; i < 10; i++) {
      const socket = netConnect({ host: '127.0.0.1', port: Number(port) });
      socket.on('error', () => undefined);
      socket.on('close', () => closedAt.push(Date.now() - started));
      socket.write('GET /health HTTP/1.1\r\nHost: x\r\n');
      sockets.push(socket);
    }
    // One header byte every 200 ms: never a whole request.
    const drip = setInterval(() => {
      for (const socket of sockets) if (!socket.destroyed) socket.write('X');
    }, 200);
    try {
      await new Promise((resolve) => setTimeout(resolve, 400));
      // Beyond the cap of 5 per address, the rest were closed on arrival.
      assert.ok(closedAt.length >= 5, `closed ${closedAt.length}`);
      // Another address is served while the slow ones hold their slots.
      const other = await send(server.url, 'GET', '/health', undefined, undefined, '127.0.0.2');
      assert.equal(other.status, 200);
      // The header timeout cuts the slow ones (1 s, checked every 250 ms).
      const deadline = Date.now() + 5000;
      while (closedAt.length < 10 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      assert.equal(closedAt.length, 10);
    } finally {
      clearInterval(drip);
      for (const socket of sockets) socket.destroy();
    }
  });
});
