import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { connect } from '../src/client.js';
import { memory, openEvdb, subscribeTelemetry } from '../src/index.js';
import { startServeNode } from './support/serve-node.js';
import { postgres } from '../src/backends/postgres/index.js';
import { startServer } from '../src/server.js';
import type { TelemetryChannelKey, TelemetryPayloads } from '../src/telemetry/channels.js';
import { until } from './conformance/channels.js';
import { startPostgres, type TestPostgres } from './support/postgres.js';

/** Records what one telemetry event carries until `stop()`. */
function record<K extends TelemetryChannelKey>(
  key: K,
): { seen: TelemetryPayloads[K][]; stop(): void } {
  const seen: TelemetryPayloads[K][] = [];
  const stop = subscribeTelemetry(key, (event) => void seen.push(event));
  return { seen, stop };
}

// The telemetry events not covered by the request, stream, subscription, link, memory and
// upcasting tests: each is seen published here.
describe('telemetry: every event is published', () => {
  it('snapshot created and read, scavenge complete, schema registered', async () => {
    const evdb = await openEvdb({ backend: memory() });
    await evdb.createStore('t');
    const created = record('snapshotCreated');
    const read = record('snapshotRead');
    const scavenged = record('scavengeComplete');
    const registered = record('schemaRegistered');
    await evdb.appendEvents('t', 's', [
      { eventType: 'E', data: {} },
      { eventType: 'E', data: {} },
    ]);
    await evdb.recordSnapshot('t', 'src', 's', 1, { data: { n: 2 } });
    await evdb.readSnapshot('t', 'src', 's');
    await evdb.scavenge('t', 's', { beforeVersion: 1, requireSnapshot: false });
    await evdb.registerSchema('t', 'E', { version: 1 });
    for (const r of [created, read, scavenged, registered]) r.stop();
    assert.equal(created.seen[0]?.storeId, 't');
    assert.equal(read.seen[0]?.storeId, 't');
    assert.equal(scavenged.seen[0]?.storeId, 't');
    assert.equal(registered.seen[0]?.eventType, 'E');
    await evdb.close();
  });

  it('channel broadcast with its recipient count; a dropped message of a slow subscriber', async () => {
    const evdb = await openEvdb({ backend: memory() });
    const broadcast = record('channelBroadcast');
    const dropped = record('channelDropped');
    await evdb.channels.subscribe('logging', 'a.*', () => new Promise(() => undefined));
    await evdb.channels.subscribe('logging', 'a.b', () => undefined);
    await evdb.channels.publish('logging', 'a.b', { n: 0 });
    assert.equal(broadcast.seen[0]?.recipients, 2);
    assert.equal(broadcast.seen[0]?.channel, 'logging');
    assert.equal(broadcast.seen[0]?.origin, evdb.node.nodeId);
    // The first subscriber never returns: beyond its queue, its oldest messages are dropped.
    for (let n = 1; n <= 1_010; n++) await evdb.channels.publish('logging', 'a.c', { n });
    await until(() => dropped.seen.length > 0);
    assert.equal(dropped.seen[0]?.priority, 'low');
    broadcast.stop();
    dropped.stop();
    await evdb.close();
  });

  it('retry exhausted, and worker lookup by a client that discovers workers', async () => {
    const exhausted = record('clientRetryExhausted');
    // A port nobody listens on: every attempt is refused.
    const port = await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, '127.0.0.1', () => {
        const { port: free } = probe.address() as { port: number };
        probe.close(() => resolve(free));
      });
    });
    const nowhere = await connect(`http://127.0.0.1:${port}`, {
      retry: { retries: 2, base: 1, max: 2 },
    });
    await assert.rejects(nowhere.listStores(), { code: 'unavailable' });
    exhausted.stop();
    assert.equal(exhausted.seen[0]?.attempts, 3);
    assert.equal(exhausted.seen[0]?.operation, 'listStores');
    await nowhere.close();

    const server = await startServer({ port: 0, backend: memory() });
    const lookup = record('workerLookup');
    const client = await connect(server.url, { discoverWorkers: true });
    await client.createStore('w');
    await client.getVersion('w', 's');
    await until(() => lookup.seen.length > 0);
    lookup.stop();
    assert.equal(lookup.seen[0]?.storeId, 'w');
    assert.deepEqual(lookup.seen[0]?.workers, [server.url]);
    await client.close();
    await server.close();
  });

  describe('nodes sharing PostgreSQL see each other come and go', () => {
    let pg: TestPostgres;
    before(async () => {
      pg = await startPostgres();
    });
    after(() => pg.stop());

    it('worker registered by heartbeat, unregistered by ttl expiry; node up and down', async () => {
      const watcher = await openEvdb({
        backend: postgres({ url: pg.url }),
        node: { ttlMs: 600 },
      });
      await watcher.createStore('w');
      const registered = record('workerRegistered');
      const unregistered = record('workerUnregistered');
      const up = record('nodeUp');
      const down = record('nodeDown');
      await watcher.advertise('http://watcher.test');
      const me = watcher.node.nodeId;
      const peer = await startServeNode(['--pg-url', pg.url, '--worker-ttl', '600']);
      const peerUrl = peer.url;
      const fromPeer = <E extends { nodeId: string; worker: { url?: string } }>(events: E[]) =>
        events.filter((e) => e.nodeId === me && e.worker.url === peerUrl);
      await until(() => fromPeer(registered.seen).length > 0, 15_000, 'registration seen');
      assert.equal(fromPeer(registered.seen)[0]?.via, 'heartbeat');
      await until(() => up.seen.some((e) => e.url === peerUrl && e.observedBy === me));
      await peer.stop('SIGKILL'); // gone without removing its entries
      await until(() => fromPeer(unregistered.seen).length > 0, 15_000, 'expiry seen');
      assert.equal(fromPeer(unregistered.seen)[0]?.via, 'expired');
      await until(() => down.seen.some((e) => e.url === peerUrl && e.observedBy === me));
      for (const r of [registered, unregistered, up, down]) r.stop();
      await watcher.close();
    });
  });
});
