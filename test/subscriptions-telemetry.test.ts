import assert from 'node:assert/strict';
import { it } from 'node:test';
import { memory, openEvdb, subscribeTelemetry, type EventRecord } from '../src/index.js';

// Subscriptions and links publish on their telemetry channels (SPEC §16).
it('subscriptions and links publish created, delivered, checkpoint, deleted, link started and stopped', async () => {
  const seen: [string, Record<string, unknown>][] = [];
  const keys = [
    'subscriptionCreated',
    'subscriptionDeleted',
    'subscriptionDelivered',
    'subscriptionCheckpoint',
    'linkStarted',
    'linkStopped',
  ] as const;
  const stops = keys.map((key) =>
    subscribeTelemetry(key, (event) => {
      if (event.storeId === 'tele') seen.push([key, { ...event }]);
    }),
  );
  const evdb = await openEvdb({ backend: memory() });
  try {
    await evdb.createStore('tele');
    await evdb.appendEvents('tele', 's', [
      { eventType: 'E', data: 1 },
      { eventType: 'E', data: 2 },
    ]);
    await evdb.saveSubscription('tele', { name: 't', type: 'by_stream', selector: 's' });
    const sub = await evdb.subscribe('tele', { name: 't' });
    const batch = (await sub[Symbol.asyncIterator]().next()).value as EventRecord[];
    await sub.ack(batch[1] as EventRecord);
    await sub.close();
    await evdb.removeSubscription('tele', 'by_stream', 's', 't');
    await evdb.createLink('tele', { name: 'l', source: { type: 'all' } });
    while (!seen.some(([key]) => key === 'linkStarted')) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    await evdb.stopLink('tele', 'l');
  } finally {
    await evdb.close();
    for (const stop of stops) stop();
  }
  assert.deepEqual(seen, [
    ['subscriptionCreated', { storeId: 'tele', name: 't', type: 'by_stream', startPosition: 0 }],
    ['subscriptionDelivered', { storeId: 'tele', name: 't', events: 2, position: 1 }],
    ['subscriptionCheckpoint', { storeId: 'tele', name: 't', position: 1 }],
    ['subscriptionDeleted', { storeId: 'tele', name: 't' }],
    ['linkStarted', { storeId: 'tele', name: 'l' }],
    ['linkStopped', { storeId: 'tele', name: 'l' }],
  ]);
});
