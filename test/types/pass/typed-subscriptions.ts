// Subscriptions deliver typed batches, to a handler and to an iterator alike.
import { openEvdb, type Subscription, type SubscriptionHandler } from '../../../src/index.js';
import { connect } from '../../../src/client.js';
import type { Equal, OrderPlaced, ShopEvent } from '../shop.js';

const handler: SubscriptionHandler<ShopEvent> = (batch) => {
  for (const event of batch) {
    if (event.eventType === 'OrderPlaced') console.log(event.data.total);
    else console.log(event.data.paidAt);
  }
};

export async function typedSubscriptions(): Promise<void> {
  const evdb = await openEvdb({ dataDir: './never-opened' });
  const handled = await evdb.subscribe<ShopEvent>('shop', { name: 'billing' }, handler);
  const inline = await evdb.subscribe<ShopEvent>(
    'shop',
    { type: 'by_event_type', selector: 'OrderPlaced' },
    async (batch) => {
      const last = batch[batch.length - 1];
      if (last?.eventType === 'OrderPlaced') {
        const exact: Equal<typeof last.data, OrderPlaced> = true;
        console.log(exact);
      }
      await evdb.ackEvent<ShopEvent>('shop', 'billing', last ?? 0);
    },
  );
  const iterated: Subscription<ShopEvent> = await evdb.subscribe<ShopEvent>('shop', {
    name: 'billing',
  });
  for await (const batch of iterated) {
    for (const event of batch) {
      if (event.eventType === 'OrderPaid') console.log(event.data.paidAt);
    }
    await iterated.ack(batch[batch.length - 1] ?? 0);
  }
  await Promise.all([handled.close(), inline.close()]);

  const client = await connect('http://127.0.0.1:2113', { transport: 'websocket' });
  const remote = await client.subscribe<ShopEvent>('shop', { name: 'billing' }, handler);
  await remote.close();
  await client.close();
  await evdb.close();
}
