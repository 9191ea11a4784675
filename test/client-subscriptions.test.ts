import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { WebSocket } from 'ws';
import { connect, type EvdbClient } from '../src/client.js';
import { memory } from '../src/index.js';
import { startServer, type EvdbServer } from '../src/server.js';

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
