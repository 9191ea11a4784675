import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { connect } from '../src/client.js';
import { TELEMETRY_CHANNELS, memory, openEvdb, type WorkerEvent } from '../src/index.js';
import { startServer, type EvdbServer } from '../src/server.js';
import diagnosticsChannel from 'node:diagnostics_channel';

describe('workers and health of an embedded store', () => {
  it('lists itself as the only worker, and can be unregistered and registered again', async () => {
    const evdb = await openEvdb({ backend: memory(), node: { nodeId: 'solo', host: 'box' } });
    const events: WorkerEvent[] = [];
    const listen = (message: unknown): void => {
      events.push(message as WorkerEvent);
    };
    diagnosticsChannel.subscribe(TELEMETRY_CHANNELS.workerUnregistered, listen);
    diagnosticsChannel.subscribe(TELEMETRY_CHANNELS.workerRegistered, listen);
    try {
      await assert.rejects(evdb.getWorkers('nope'), { code: 'not_found' });
      await evdb.createStore('w');
      const [self] = await evdb.getWorkers('w');
      assert.equal(self?.nodeId, 'solo');
      assert.equal(self?.host, 'box');
      assert.equal(self?.url, undefined);
      assert.ok((self?.lastHeartbeat ?? 0) >= (self?.startedAt ?? Infinity));

      assert.equal(await evdb.unregisterWorker('w'), true);
      assert.deepEqual(await evdb.getWorkers('w'), []);
      assert.equal(await evdb.unregisterWorker('w'), false);
      assert.equal((await evdb.quickHealthCheck('w')).workers, 0);
      await evdb.registerWorker('w');
      assert.deepEqual(
        (await evdb.getWorkers('w')).map((w) => w.nodeId),
        ['solo'],
      );

      // Another worker, registered by a caller, lives for its ttl.
      await evdb.registerWorker('w', {
        nodeId: 'side',
        host: 'other',
        url: 'http://other:1',
        ttlMs: 150,
      });
      assert.deepEqual(
        (await evdb.getWorkers('w')).map((w) => [w.nodeId, w.url]),
        [
          ['side', 'http://other:1'],
          ['solo', undefined],
        ],
      );
      await new Promise((resolve) => setTimeout(resolve, 200));
      assert.deepEqual(
        (await evdb.getWorkers('w')).map((w) => w.nodeId),
        ['solo'],
      );
      await assert.rejects(evdb.registerWorker('w', { nodeId: '', host: 'x' }), {
        code: 'invalid_argument',
      });
    } finally {
      diagnosticsChannel.unsubscribe(TELEMETRY_CHANNELS.workerUnregistered, listen);
      diagnosticsChannel.unsubscribe(TELEMETRY_CHANNELS.workerRegistered, listen);
      await evdb.close();
    }
    assert.deepEqual(
      events.filter((e) => e.nodeId === 'solo').map((e) => [e.storeId, e.worker.nodeId]),
      [
        ['w', 'solo'],
        ['w', 'solo'],
        ['w', 'side'],
      ],
    );
  });

  it('health: healthy with its stores, unhealthy once closing', async () => {
    const evdb = await openEvdb({ backend: memory() });
    await evdb.createStore('a');
    await evdb.createStore('b');
    await evdb.appendEvents('b', 's', [{ eventType: 'E', data: 1 }]);
    const report = await evdb.health();
    assert.equal(report.status, 'healthy');
    assert.deepEqual(
      report.stores.map((s) => [s.storeId, s.status, s.lastPosition, s.workers]),
      [
        ['a', 'healthy', -1, 1],
        ['b', 'healthy', 0, 1],
      ],
    );
    assert.deepEqual(
      report.workers.map((w) => w.nodeId),
      [evdb.node.nodeId],
    );
    assert.equal(report.node.nodeId, evdb.node.nodeId);
    assert.ok(report.node.uptimeMs >= 0);
    const quick = await evdb.quickHealthCheck('b');
    assert.equal(quick.status, 'healthy');
    assert.equal(quick.lastPosition, 0);
    await assert.rejects(evdb.quickHealthCheck('zzz'), { code: 'not_found' });
    const closing = evdb.close();
    assert.equal((await evdb.health()).status, 'unhealthy');
    await closing;
  });
});

describe('workers and health through the server', () => {
  let server: EvdbServer;
  before(async () => {
    server = await startServer({ port: 0, backend: memory(), node: { nodeId: 'node-a' } });
  });
  after(async () => {
    await server.close();
  });

  it('the server lists itself with its URL; routes answer as documented', async () => {
    const client = await connect(server.url);
    await client.createStore('shop');
    const workers = await client.getWorkers('shop');
    assert.deepEqual(
      workers.map((w) => [w.nodeId, w.url]),
      [['node-a', server.url]],
    );
    const rest = (await (await fetch(`${server.url}/stores/shop/workers`)).json()) as {
      workers: { nodeId: string }[];
    };
    assert.deepEqual(
      rest.workers.map((w) => w.nodeId),
      ['node-a'],
    );
    const health = (await (await fetch(`${server.url}/node/health`)).json()) as {
      status: string;
      node: { nodeId: string };
    };
    assert.equal(health.status, 'healthy');
    assert.equal(health.node.nodeId, 'node-a');
    const quick = (await (await fetch(`${server.url}/stores/shop/health`)).json()) as {
      status: string;
    };
    assert.equal(quick.status, 'healthy');
    const removed = await fetch(`${server.url}/stores/shop/workers/node-a`, { method: 'DELETE' });
    assert.deepEqual(await removed.json(), { unregistered: true });
    assert.deepEqual(await client.getWorkers('shop'), []);
    await client.registerWorker('shop');
    assert.equal((await client.getWorkers('shop')).length, 1);
    await client.close();
  });

  it('health shows only the stores a token may read', async () => {
    const guarded = await startServer({
      port: 0,
      backend: memory(),
      tokens: [
        { token: 'admin', role: 'admin', stores: '*' },
        { token: 'one', role: 'read', stores: ['one'] },
      ],
    });
    try {
      const admin = await connect(guarded.url, { token: 'admin' });
      await admin.createStore('one');
      await admin.createStore('two');
      const limited = await connect(guarded.url, { token: 'one' });
      assert.deepEqual(
        (await limited.health()).stores.map((s) => s.storeId),
        ['one'],
      );
      await assert.rejects(limited.getWorkers('two'), { code: 'unauthorized' });
      await assert.rejects(limited.registerWorker('one'), { code: 'unauthorized' });
      await admin.close();
      await limited.close();
    } finally {
      await guarded.close();
    }
  });

  it('the client routes by getWorkers when asked (discoverWorkers)', async () => {
    const other = await startServer({ port: 0, backend: memory(), node: { nodeId: 'node-b' } });
    try {
      const admin = await connect(other.url);
      await admin.createStore('routed');
      // node-b advertises node-a's URL for the store as an extra worker, and unregisters
      // itself: a discovering client given only node-b's URL then sends the store's calls to
      // node-a, which has no such store.
      await admin.registerWorker('routed', {
        nodeId: 'elsewhere',
        host: 'localhost',
        url: server.url,
      });
      await admin.unregisterWorker('routed');
      const discovering = await connect(other.url, { discoverWorkers: { refreshMs: 0 } });
      await assert.rejects(discovering.getVersion('routed', 's'), { code: 'not_found' });
      const plain = await connect(other.url);
      assert.equal(await plain.getVersion('routed', 's'), -1);
      // With no worker listed the client falls back to the URLs it was given.
      await admin.unregisterWorker('routed', 'elsewhere');
      assert.deepEqual(await admin.getWorkers('routed'), []);
      const fallback = await connect(other.url, { discoverWorkers: true });
      assert.equal(await fallback.getVersion('routed', 's'), -1);
      await fallback.close();
      for (const c of [admin, discovering, plain]) await c.close();
    } finally {
      await other.close();
    }
  });
});
