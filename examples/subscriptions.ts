/**
 * A persistent subscription with a handler: every OrderPlaced event is delivered once its
 * handler has resolved, and the checkpoint is kept with the store, so a second run delivers only
 * the orders placed since the first.
 *
 *   node --import tsx examples/subscriptions.ts [dataDir]
 */
import { openEvdb, type EventRecord } from '../src/index.js';

const dataDir = process.argv[2] ?? './evdb-data';
const evdb = await openEvdb({ dataDir });
try {
  if (!(await evdb.listStores()).includes('shop')) await evdb.createStore('shop');
  // Saving the same subscription again keeps its checkpoint.
  await evdb.saveSubscription('shop', {
    name: 'mailer',
    type: 'by_event_type',
    selector: 'OrderPlaced',
    startFrom: 0,
  });
  const orderId = `order-${Date.now().toString(36)}`;
  await evdb.appendEvents('shop', orderId, [
    { eventType: 'OrderPlaced', data: { email: 'ann@example.com' } },
  ]);

  const mailed: EventRecord[] = [];
  const sub = await evdb.subscribe('shop', { name: 'mailer' }, (batch) => {
    mailed.push(...batch);
  });
  // Delivered up to this run's order: everything before it was acknowledged by earlier runs.
  while (!mailed.some((e) => e.streamId === orderId)) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  await sub.close();
  console.log(`mailed ${mailed.length} new order(s): ${mailed.map((e) => e.streamId).join(', ')}`);
  const lag = await evdb.subscriptionLag('shop', 'mailer');
  console.log(`mailer checkpoint ${lag.checkpoint}, lag ${lag.lagEvents}`);
} finally {
  await evdb.close();
}
