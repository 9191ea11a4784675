import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import {
  createServer,
  request,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connect, type EvdbClient } from '../src/client.js';
import type { EventRecord, NewEvent } from '../src/core/types.js';
import { rejectsWith } from './conformance/index.js';
import { startServerProcess, type ServerProcess } from './support/server-harness.js';

const dataDir = mkdtempSync(join(tmpdir(), 'evdb-server-fault-'));
let server: ServerProcess;

before(async () => {
  server = await startServerProcess(dataDir);
});
after(async () => {
  await server.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('server killed and restarted under write load', () => {
  it('every write completes exactly once through the client retries', async () => {
    const client = await connect(server.url, {
      retry: { base: 50, max: 400, retries: 40 },
      timeoutMs: 60_000,
    });
    await client.createStore('load');
    const WRITERS = 8;
    const APPENDS = 30;
    const KILL_AFTER = [40, 130]; // acknowledged appends before each SIGKILL
    let acknowledged = 0;
    let slowest = 0;
    let wake: () => void = () => undefined;
    const acks: { writer: number; n: number; version: number; position: number }[] = [];

    const writer = async (w: number): Promise<void> => {
      let version = -1;
      for (let n = 0; n < APPENDS; n++) {
        const size = 1 + ((w + n) % 3);
        // No event ids: the client fixes them before the first attempt, which is what makes
        // its retries replays.
        const events: NewEvent[] = Array.from({ length: size }, (_, k) => ({
          eventType: 'Written',
          data: { w, n, k },
        }));
        const started = performance.now();
        const result = await client.appendEvents('load', `w-${w}`, events, version);
        slowest = Math.max(slowest, performance.now() - started);
        assert.equal(result.version, version + size, `writer ${w} append ${n}`);
        version = result.version;
        acks.push({ writer: w, n, version: result.version, position: result.position });
        acknowledged++;
        wake();
      }
    };

    const killer = async (): Promise<number> => {
      let kills = 0;
      for (const threshold of KILL_AFTER) {
        while (acknowledged < threshold && acknowledged < WRITERS * APPENDS) {
          await new Promise<void>((resolve) => (wake = resolve));
        }
        if (acknowledged >= WRITERS * APPENDS) break;
        await server.kill();
        kills++;
        await new Promise((resolve) => setTimeout(resolve, 150));
        server = await startServerProcess(dataDir, { port: server.port });
      }
      return kills;
    };

    const [kills] = await Promise.all([
      killer(),
      ...Array.from({ length: WRITERS }, (_, w) => writer(w)),
    ]);
    assert.equal(kills, KILL_AFTER.length, 'the server was killed while writers were writing');
    assert.equal(acks.length, WRITERS * APPENDS);
    // Some appends were in flight across a restart (down for at least 150 ms) and were retried.
    assert.ok(slowest >= 150, `the slowest append took ${slowest.toFixed(0)} ms`);

    const all: EventRecord[] = [];
    for (let from = 0; ;) {
      const page = await client.readAllGlobal('load', from, 1000);
      all.push(...page);
      if (page.length < 1000) break;
      from = (page.at(-1) as EventRecord).position + 1;
    }
    assert.equal(new Set(all.map((e) => e.eventId)).size, all.length, 'no event id twice');
    assert.deepEqual(
      all.map((e) => e.position),
      all.map((e) => e.position).sort((a, b) => a - b),
    );
    for (let w = 0; w < WRITERS; w++) {
      const stream = all.filter((e) => e.streamId === `w-${w}`);
      const expected: string[] = [];
      for (let n = 0; n < APPENDS; n++) {
        for (let k = 0; k < 1 + ((w + n) % 3); k++) expected.push(`${n}.${k}`);
      }
      assert.deepEqual(
        stream.map((e) => `${(e.data as { n: number }).n}.${(e.data as { k: number }).k}`),
        expected,
        `writer ${w}: every append once, in order, no gaps`,
      );
      assert.deepEqual(
        stream.map((e) => e.version),
        expected.map((_, i) => i),
      );
      for (const ack of acks.filter((a) => a.writer === w)) {
        const last = stream.find((e) => e.version === ack.version);
        assert.equal((last?.data as { n: number } | undefined)?.n, ack.n, 'acknowledged, present');
        assert.equal(last?.position, ack.position, 'the acknowledged position is the real one');
      }
    }
    await client.close();
  });
});

/** An HTTP proxy in front of the server that counts requests and can misbehave on purpose. */
class CountingProxy {
  readonly counts = new Map<string, number>();
  /** Return true to take over the answer (the request is still counted). */
  intercept: (req: IncomingMessage, res: ServerResponse, count: number) => boolean = () => false;
  private server: Server | undefined;

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      const path = req.url ?? '/';
      const count = (this.counts.get(path) ?? 0) + 1;
      this.counts.set(path, count);
      if (this.intercept(req, res, count)) return;
      const target = new URL(server.url);
      const upstream = request(
        {
          host: target.hostname,
          port: target.port,
          path,
          method: req.method,
          headers: req.headers,
        },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      upstream.on('error', () => res.destroy());
      req.pipe(upstream);
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  count(path: string): number {
    return this.counts.get(path) ?? 0;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise((resolve) => this.server?.close(resolve));
  }
}

describe('what the client retries', () => {
  const proxy = new CountingProxy();
  let client: EvdbClient;
  before(async () => {
    const url = await proxy.start();
    client = await connect(url, { retry: { base: 20, max: 100, retries: 5 } });
    await client.createStore('retries');
    await client.appendEvents('retries', 's', [{ eventType: 'E', data: 1 }]);
  });
  after(async () => {
    await client.close();
    await proxy.stop();
  });

  it('caller errors return at once: one request, in under 50 ms', async () => {
    // With a 1 s backoff base, a retry would take over a second: the time shows it too.
    const slowRetries = client.withOptions({ retry: { base: 1_000 } });
    const timings: number[] = [];
    for (let trial = 0; trial < 3; trial++) {
      proxy.counts.clear();
      const started = performance.now();
      await rejectsWith(
        slowRetries.appendEvents('retries', 's', [{ eventType: 'E', data: 2 }], 5),
        'wrong_expected_version',
        { expected: 5, actual: 0 },
      );
      timings.push(performance.now() - started);
      assert.equal(proxy.count('/rpc/appendEvents'), 1, 'the server saw one request');
    }
    // The fastest of three, so that a scheduling hiccup on a busy machine is not a failure.
    const fastest = Math.min(...timings);
    assert.ok(
      fastest < 50,
      `wrong_expected_version took ${timings.map((t) => t.toFixed(1)).join(', ')} ms`,
    );
    assert.ok(Math.max(...timings) < 1_000, 'no attempt waited for a retry');
    for (const [call, code] of [
      [() => client.streamForward('retries', 'missing', 0, 1), 'stream_not_found'],
      [() => client.getVersion('no-such-store', 's'), 'not_found'],
      [() => client.readAllGlobal('retries', -1, 1), 'invalid_argument'],
      [() => client.createStore('retries'), 'already_exists'],
    ] as const) {
      proxy.counts.clear();
      await rejectsWith(call, code);
      assert.equal(
        [...proxy.counts.values()].reduce((a, b) => a + b, 0),
        1,
        code,
      );
    }
  });

  it('transient answers are retried until the call succeeds', async () => {
    proxy.counts.clear();
    proxy.intercept = (_req, res, count) => {
      if (count > 2) return false;
      res.writeHead(503, { 'content-type': 'application/problem+json' });
      res.end(
        JSON.stringify({ code: 'unavailable', detail: 'busy', retriable: true, status: 503 }),
      );
      return true;
    };
    try {
      assert.equal(await client.getVersion('retries', 's'), 0);
      assert.equal(proxy.count('/rpc/getVersion'), 3);
      // A transient failure while running may have had an effect: createStore is not resent...
      await rejectsWith(client.createStore('maybe-created'), 'unavailable');
      assert.equal(proxy.count('/rpc/createStore'), 1);
    } finally {
      proxy.intercept = () => false;
    }
  });

  it('a refusal before running (server shutting down) is retried for any call', async () => {
    proxy.counts.clear();
    proxy.intercept = (_req, res, count) => {
      if (count > 2) return false;
      res.writeHead(503, { 'content-type': 'application/problem+json' });
      res.end(
        JSON.stringify({
          code: 'unavailable',
          detail: 'the server is shutting down',
          details: { reason: 'shutting_down' },
          retriable: true,
          status: 503,
        }),
      );
      return true;
    };
    try {
      assert.equal((await client.createStore('after-restart')).storeId, 'after-restart');
      assert.equal(proxy.count('/rpc/createStore'), 3);
    } finally {
      proxy.intercept = () => false;
    }
  });

  it('a reset connection is retried for idempotent calls only', async () => {
    proxy.counts.clear();
    // The request reaches the "server" and the connection dies: the outcome is unknown.
    proxy.intercept = (req) => {
      req.socket.destroy();
      return true;
    };
    try {
      await rejectsWith(client.getVersion('retries', 's'), 'unavailable');
      assert.equal(proxy.count('/rpc/getVersion'), 6, 'first attempt + 5 retries');
      await rejectsWith(client.createStore('new-store'), 'unavailable');
      assert.equal(proxy.count('/rpc/createStore'), 1, 'createStore is not resent blindly');
    } finally {
      proxy.intercept = () => false;
    }
  });

  it('a call that outlives its timeout fails with timeout', async () => {
    proxy.intercept = () => true; // never answers
    try {
      const started = performance.now();
      const error = await rejectsWith(
        client.withOptions({ timeoutMs: 200 }).getVersion('retries', 's'),
        'timeout',
      );
      assert.ok(performance.now() - started >= 190);
      assert.equal(error.details.timeoutMs, 200);
    } finally {
      proxy.intercept = () => false;
    }
  });

  it('retries are configurable per call', async () => {
    proxy.counts.clear();
    proxy.intercept = (req) => {
      req.socket.destroy();
      return true;
    };
    try {
      await rejectsWith(
        client.withOptions({ retry: { retries: 1 } }).getVersion('retries', 's'),
        'unavailable',
      );
      assert.equal(proxy.count('/rpc/getVersion'), 2);
    } finally {
      proxy.intercept = () => false;
    }
  });
});
