import assert from 'node:assert/strict';
import diagnosticsChannel from 'node:diagnostics_channel';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { WebSocket } from 'ws';
import {
  connect,
  TELEMETRY_CHANNELS,
  type EvdbClient,
  type WebSocketConstructor,
} from '../src/client.js';
import type { EventRecord } from '../src/core/types.js';
import { MAX_SUBSCRIPTIONS_PER_CONNECTION } from '../src/gateway/ws-subscriptions.js';
import { memory } from '../src/index.js';
import { startServer, type EvdbServer } from '../src/server.js';
import { rejectsWith } from './conformance/index.js';
import { collect, nextBatch, waitFor } from './conformance/subscriptions.js';
import { startServerProcess } from './support/server-harness.js';

describe('subscription and link operations through the client', () => {
  let server: EvdbServer;
  const clients: EvdbClient[] = [];
  before(async () => {
    server = await startServer({ port: 0, backend: memory() });
    clients.push(
      await connect(server.url),
      await connect(server.url, { transport: 'websocket', WebSocket }),
    );
  });
  after(async () => {
    for (const client of clients) await client.close();
    await server.close();
  });

  for (const [i, transport] of ['http', 'websocket'].entries()) {
    it(`manages persistent subscriptions and their checkpoints (${transport})`, async () => {
      const client = clients[i] as EvdbClient;
      const storeId = `subs-${transport}`;
      await client.createStore(storeId);
      await client.appendEvents(storeId, 'order-1', [
        { eventType: 'OrderPlaced', data: { total: 5 } },
        { eventType: 'OrderPaid', data: { total: 5 } },
      ]);
      const saved = await client.saveSubscription(storeId, {
        name: 'billing',
        type: 'by_event_type',
        selector: 'OrderPaid',
        startFrom: 0,
      });
      assert.equal(saved.checkpoint, -1);
      const [listed] = await client.listStoreSubscriptions(storeId);
      assert.equal(listed?.name, 'billing');
      assert.equal((await client.subscriptionLag(storeId, 'billing')).lagEvents, 1);
      // Acknowledging with the event itself, as read back through the client.
      const [, paid] = await client.streamForward(storeId, 'order-1', 0, 10);
      assert.equal(await client.ackEvent(storeId, 'billing', paid!), 1);
      assert.equal((await client.getSubscription(storeId, 'billing')).checkpoint, 1);
      assert.equal((await client.subscriptionLag(storeId, 'billing')).lagEvents, 0);
      await client.removeSubscription(storeId, 'by_event_type', 'OrderPaid', 'billing');
      await assert.rejects(client.getSubscription(storeId, 'billing'), { code: 'not_found' });
      assert.deepEqual(await client.getSubscriptions(storeId), []);
    });

    it(`creates links with a declarative filter, and refuses code (${transport})`, async () => {
      const client = clients[i] as EvdbClient;
      const storeId = `links-${transport}`;
      await client.createStore(storeId);
      await client.appendEvents(storeId, 'order-1', [
        { eventType: 'OrderPlaced', data: { total: 500 } },
        { eventType: 'OrderPlaced', data: { total: 5 } },
      ]);
      const link = await client.createLink(storeId, {
        name: 'big',
        source: { type: 'all' },
        filter: { data: { total: 500 } },
        backfill: true,
      });
      assert.equal(link.linkStream, '$link:big');
      let linked = -1;
      for (let tries = 0; tries < 200 && linked < 0; tries++) {
        linked = await client.getVersion(storeId, '$link:big');
        if (linked < 0) await new Promise((resolve) => setTimeout(resolve, 10));
      }
      assert.equal(linked, 0);
      assert.equal((await client.linkInfo(storeId, 'big')).processed, 1);
      assert.deepEqual(
        (await client.listLinks(storeId)).map((l) => l.name),
        ['big'],
      );
      await client.stopLink(storeId, 'big');
      assert.equal((await client.getLink(storeId, 'big')).status, 'stopped');
      await client.startLink(storeId, 'big');
      await client.deleteLink(storeId, 'big');
      await assert.rejects(client.getLink(storeId, 'big'), { code: 'not_found' });
      await assert.rejects(
        client.createLink(storeId, { name: 'code', source: { type: 'all' }, filter: () => true }),
        { code: 'invalid_argument' },
      );
    });
  }
});

/** A WebSocket that the test can cut (as a network failure would) and keep from reconnecting. */
function cuttableWebSocket(): {
  WebSocket: WebSocketConstructor;
  cut(): void;
  refuse: { now: boolean };
} {
  const open = new Set<WebSocket>();
  const refuse = { now: false };
  class Cuttable extends WebSocket {
    constructor(url: string) {
      if (refuse.now) throw new Error('the network is down');
      super(url);
      open.add(this);
      this.on('close', () => open.delete(this));
    }
  }
  return {
    WebSocket: Cuttable,
    cut: () => {
      for (const socket of open) socket.terminate();
    },
    refuse,
  };
}

const positionsOf = (events: EventRecord[]): number[] => events.map((e) => e.position);
const range = (from: number, to: number): number[] =>
  Array.from({ length: to - from + 1 }, (_, i) => from + i);

async function appendMany(client: EvdbClient, storeId: string, count: number): Promise<void> {
  for (let done = 0; done < count; done += 1000) {
    const size = Math.min(1000, count - done);
    await client.appendEvents(
      storeId,
      `s-${done}`,
      Array.from({ length: size }, (_, i) => ({ eventType: 'E', data: { n: done + i } })),
    );
  }
}

describe('live subscriptions through the WebSocket client', () => {
  let server: EvdbServer;
  const clients: EvdbClient[] = [];
  const open = async (options: Parameters<typeof connect>[1] = {}): Promise<EvdbClient> => {
    const client = await connect(server.url, { transport: 'websocket', WebSocket, ...options });
    clients.push(client);
    return client;
  };
  before(async () => {
    server = await startServer({ port: 0, backend: memory() });
  });
  after(async () => {
    for (const client of clients) await client.close();
    await server.close();
  });

  it('over HTTP, subscribe fails with invalid_argument naming the WebSocket transport', async () => {
    const client = await connect(server.url);
    clients.push(client);
    await client.createStore('over-http');
    const error = await rejectsWith(
      client.subscribe('over-http', { type: 'by_stream', selector: '$all' }),
      'invalid_argument',
    );
    assert.match(error.message, /transport: 'websocket'/);
  });

  it('refuses options that are not JSON, and a handler that is not a function', async () => {
    const client = await open();
    await client.createStore('not-json');
    const error = await rejectsWith(
      client.subscribe('not-json', {
        type: 'by_stream',
        selector: '$all',
        filter: () => true,
      } as never),
      'invalid_argument',
    );
    assert.match(error.message, /options\.filter/);
    await rejectsWith(
      client.subscribe('not-json', { type: 'by_stream', selector: '$all' }, 'no' as never),
      'invalid_argument',
    );
    // onError stays in the client, so it may be a function.
    const sub = await client.subscribe('not-json', {
      type: 'by_stream',
      selector: '$all',
      onError: () => undefined,
    });
    await sub.close();
  });

  it('back-pressure: a slow consumer of a large store keeps the server at most one batch ahead', async () => {
    const client = await open();
    const storeId = 'slow-consumer';
    await client.createStore(storeId);
    const total = 20_000;
    await appendMany(client, storeId, total);
    // What the server's subscription reads from the log, batch by batch (its telemetry).
    let read = 0;
    const onDelivered = (message: unknown): void => {
      if ((message as { storeId?: string }).storeId === storeId) read++;
    };
    diagnosticsChannel.subscribe(TELEMETRY_CHANNELS.subscriptionDelivered, onDelivered);
    try {
      const sub = await client.subscribe(storeId, {
        type: 'by_stream',
        selector: '$all',
        startFrom: 0,
        batchSize: 100,
      });
      const received: number[] = [];
      let consumed = 0;
      let mostAhead = 0;
      for await (const batch of sub) {
        consumed++;
        received.push(...positionsOf(batch));
        // Read by the server and not yet taken by the consumer: the batch on its way ahead.
        mostAhead = Math.max(mostAhead, read - consumed);
        if (consumed <= 40) await new Promise((resolve) => setTimeout(resolve, 10));
        if (received.length >= total) break;
      }
      assert.deepEqual(received, range(0, total - 1));
      assert.ok(mostAhead <= 1, `the server read ${mostAhead} batches ahead of the consumer`);
      assert.equal(consumed, total / 100);
    } finally {
      diagnosticsChannel.unsubscribe(TELEMETRY_CHANNELS.subscriptionDelivered, onDelivered);
    }
  });

  it('a handler gets every event once, transient, catch-up then live', async () => {
    const client = await open();
    const storeId = 'handler-live';
    await client.createStore(storeId);
    await appendMany(client, storeId, 250);
    const seen: number[] = [];
    const sub = await client.subscribe(
      storeId,
      { type: 'by_stream', selector: '$all', startFrom: 0, batchSize: 60 },
      async (batch) => {
        seen.push(...positionsOf(batch));
        await new Promise((resolve) => setImmediate(resolve));
      },
    );
    await waitFor(() => seen.length === 250, 'the catch-up');
    await client.appendEvents(storeId, 'live', [{ eventType: 'E', data: {} }]);
    await waitFor(() => seen.length === 251, 'the live event');
    assert.deepEqual(seen, range(0, 250));
    await sub.close();
    await sub.done;
  });

  it('resumes after the connection is cut: transient after the last event, persistent from its checkpoint', async () => {
    const network = cuttableWebSocket();
    const client = await open({ WebSocket: network.WebSocket, retry: { base: 20, max: 200 } });
    const storeId = 'cut';
    await client.createStore(storeId);
    await client.saveSubscription(storeId, { name: 'p', type: 'by_stream', selector: '$all' });
    const transient = await client.subscribe(storeId, { type: 'by_stream', selector: '$all' });
    const persistent = await client.subscribe(storeId, { name: 'p', batchSize: 10 });
    const transientIt = transient[Symbol.asyncIterator]();
    const persistentIt = persistent[Symbol.asyncIterator]();
    const writer = await connect(server.url);
    clients.push(writer);
    const got: number[] = [];
    const acked: number[] = [];
    for (let round = 0; round < 3; round++) {
      await writer.appendEvents(
        storeId,
        'w',
        Array.from({ length: 25 }, (_, i) => ({ eventType: 'E', data: { round, i } })),
      );
      const upTo = 25 * (round + 1);
      await collect(transientIt, (all) => all.length >= upTo - got.length).then((events) =>
        got.push(...positionsOf(events)),
      );
      // The persistent consumer acknowledges all but the last batch it got in this round.
      const batches: EventRecord[][] = [];
      while ((batches.at(-1)?.at(-1)?.position ?? -1) < upTo - 1) {
        batches.push(await nextBatch(persistentIt));
      }
      for (const batch of batches.slice(0, -1)) await persistent.ack(batch.at(-1) as EventRecord);
      acked.push((batches.at(-2)?.at(-1) as EventRecord).position);
      network.cut();
    }
    assert.deepEqual(got, range(0, 74), 'the transient subscription lost and repeated nothing');
    // After a cut the persistent subscription starts again after what was acknowledged.
    await writer.appendEvents(storeId, 'w', [{ eventType: 'E', data: {} }]);
    const again = await collect(persistentIt, (all) => all.some((e) => e.position === 75));
    assert.equal(again[0]?.position, (acked.at(-1) as number) + 1);
    assert.deepEqual(positionsOf(again), range((acked.at(-1) as number) + 1, 75));
    const more = await nextBatch(transientIt);
    assert.deepEqual(positionsOf(more), [75]);
    await transient.close();
    await persistent.close();
  });

  it('a handled notification lost with its connection is stored on resuming: the batch is not delivered again', async () => {
    // `handled` is not answered: a connection that drops with it unsent loses it.
    const lose = { handled: false };
    class Lossy extends WebSocket {
      override send(data: string): void {
        if (lose.handled && data.includes('"type":"handled"')) {
          lose.handled = false;
          this.terminate();
          return;
        }
        super.send(data);
      }
    }
    const client = await open({ WebSocket: Lossy, retry: { base: 20, max: 200 } });
    const storeId = 'lost-handled';
    await client.createStore(storeId);
    await client.saveSubscription(storeId, { name: 'p', type: 'by_stream', selector: '$all' });
    const handled: number[][] = [];
    const subscription = await client.subscribe(storeId, { name: 'p', batchSize: 5 }, (batch) => {
      handled.push(positionsOf(batch));
      lose.handled = handled.length === 1;
    });
    await client.appendEvents(
      storeId,
      'w',
      Array.from({ length: 5 }, (_, i) => ({ eventType: 'E', data: { i } })),
    );
    await waitFor(() => handled.length === 1, 'the first batch');
    await waitFor(
      async () => (await client.getSubscription(storeId, 'p')).checkpoint === 4,
      'the checkpoint stored by the client',
    );
    await client.appendEvents(storeId, 'w', [{ eventType: 'E', data: {} }]);
    await waitFor(() => handled.length === 2, 'the next batch');
    assert.deepEqual(handled, [[0, 1, 2, 3, 4], [5]]);
    await subscription.close();
  });

  it('a cut connection releases the lease: another client takes over from the checkpoint; the first, unable to reconnect, ends with unavailable', async () => {
    const network = cuttableWebSocket();
    const first = await open({ WebSocket: network.WebSocket, retry: { retries: 1, base: 10 } });
    const second = await open();
    const storeId = 'handover';
    await first.createStore(storeId);
    await first.appendEvents(
      storeId,
      's',
      Array.from({ length: 6 }, (_, n) => ({ eventType: 'E', data: { n } })),
    );
    await first.saveSubscription(storeId, { name: 'one', type: 'by_stream', selector: '$all' });
    // A long lease: the takeover below cannot come from its expiry.
    const a = await first.subscribe(storeId, { name: 'one', batchSize: 2, leaseMs: 600_000 });
    const aIt = a[Symbol.asyncIterator]();
    assert.deepEqual(positionsOf(await nextBatch(aIt)), [0, 1]);
    await a.ack(1);
    const b = await second.subscribe(storeId, { name: 'one', batchSize: 2, leaseMs: 600_000 });
    const bNext = b[Symbol.asyncIterator]().next();
    network.refuse.now = true;
    network.cut();
    const taken = await bNext;
    assert.deepEqual(positionsOf(taken.value as EventRecord[]), [2, 3]);
    const error = await rejectsWith(a.done, 'unavailable');
    assert.equal(typeof error.details.transport, 'string', 'the transport error');
    await b.close();
  });

  it('a connection holds at most MAX_SUBSCRIPTIONS_PER_CONNECTION subscriptions', async () => {
    const client = await open();
    await client.createStore('many');
    const subs = [];
    for (let i = 0; i < MAX_SUBSCRIPTIONS_PER_CONNECTION; i++) {
      subs.push(await client.subscribe('many', { type: 'by_stream', selector: '$all' }));
    }
    const error = await rejectsWith(
      client.subscribe('many', { type: 'by_stream', selector: '$all' }),
      'rate_limited',
    );
    assert.equal(error.details.limit, MAX_SUBSCRIPTIONS_PER_CONNECTION);
    await subs.pop()?.close();
    subs.push(await client.subscribe('many', { type: 'by_stream', selector: '$all' }));
    await Promise.all(subs.map((sub) => sub.close()));
  });
});

describe('live subscriptions and tokens', () => {
  let server: EvdbServer;
  const clients: EvdbClient[] = [];
  const tokens = [
    { token: 'admin', stores: '*' as const, role: 'admin' as const },
    { token: 'reader', stores: '*' as const, role: 'read' as const },
    { token: 'writer', stores: '*' as const, role: 'write' as const },
    { token: 'other', stores: ['elsewhere'], role: 'admin' as const },
  ];
  before(async () => {
    server = await startServer({ port: 0, backend: memory(), tokens });
    const admin = await connect(server.url, { token: 'admin' });
    clients.push(admin);
    await admin.createStore('guarded');
    await admin.saveSubscription('guarded', { name: 'p', type: 'by_stream', selector: '$all' });
  });
  after(async () => {
    for (const client of clients) await client.close();
    await server.close();
  });
  const as = async (token: string): Promise<EvdbClient> => {
    const client = await connect(server.url, { transport: 'websocket', WebSocket, token });
    clients.push(client);
    return client;
  };

  it('a read token consumes transient subscriptions; a persistent one needs write, like ackEvent', async () => {
    const reader = await as('reader');
    const transient = await reader.subscribe('guarded', { type: 'by_stream', selector: '$all' });
    await transient.close();
    const refused = await rejectsWith(reader.subscribe('guarded', { name: 'p' }), 'unauthorized');
    assert.equal(refused.details.reason, 'forbidden');
    assert.equal(refused.details.needed, 'write');
    const writer = await as('writer');
    const persistent = await writer.subscribe('guarded', { name: 'p' });
    await persistent.close();
  });

  it('a token without access to the store is refused', async () => {
    const other = await as('other');
    await rejectsWith(
      other.subscribe('guarded', { type: 'by_stream', selector: '$all' }),
      'unauthorized',
    );
  });
});

describe('live subscriptions across a server killed and restarted', () => {
  it('transient and persistent subscriptions resume with no lost event', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'evdb-client-subscriptions-'));
    let server = await startServerProcess(dataDir);
    const client = await connect(server.url, {
      transport: 'websocket',
      WebSocket,
      retry: { base: 50, max: 400, retries: 40 },
      timeoutMs: 60_000,
    });
    try {
      const storeId = 'restart';
      await client.createStore(storeId);
      await client.saveSubscription(storeId, { name: 'p', type: 'by_stream', selector: '$all' });
      const transient = await client.subscribe(storeId, { type: 'by_stream', selector: '$all' });
      const handled: number[] = [];
      // The killed server cannot release its lease: a short one lets the restarted one take over.
      const persistent = await client.subscribe(
        storeId,
        { name: 'p', batchSize: 20, leaseMs: 500 },
        (batch) => {
          handled.push(...positionsOf(batch));
        },
      );
      const received = collect(transient[Symbol.asyncIterator](), (all) => all.length >= 150);
      for (let round = 0; round < 3; round++) {
        await client.appendEvents(
          storeId,
          `round-${round}`,
          Array.from({ length: 50 }, (_, i) => ({ eventType: 'E', data: { round, i } })),
        );
        if (round === 2) break;
        // Killed right after the append: the subscriptions may not have the events yet.
        await server.kill();
        await new Promise((resolve) => setTimeout(resolve, 150));
        server = await startServerProcess(dataDir, { port: server.port });
      }
      assert.deepEqual(positionsOf(await received), range(0, 149), 'transient: each event once');
      await waitFor(() => new Set(handled).size === 150, 'the persistent handler', 30_000);
      assert.deepEqual(
        [...new Set(handled)].sort((a, b) => a - b),
        range(0, 149),
      );
      await waitFor(
        async () => (await client.getSubscription(storeId, 'p')).checkpoint === 149,
        'the checkpoint',
      );
      await transient.close();
      await persistent.close();
    } finally {
      await client.close();
      await server.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
