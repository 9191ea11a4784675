// The network client takes the same type arguments as the embedded store.
import { connect, type EvdbClient } from '../../../src/client.js';
import type { EventStoreApi } from '../../../src/index.js';
import { paid, placed, type ShopEvent, type ShopEventFromMap } from '../shop.js';

/** Code written against the shared interface, typed. */
async function lastTotal(store: EventStoreApi, streamId: string): Promise<number> {
  const events = await store.streamBackward<ShopEventFromMap>('shop', streamId, -1, 10);
  for (const event of events) if (event.eventType === 'OrderPlaced') return event.data.total;
  return 0;
}

export async function typedClient(): Promise<number> {
  const client: EvdbClient = await connect('http://127.0.0.1:2113');
  await client.appendEvents<ShopEvent>('shop', 'order-1', [
    { eventType: 'OrderPlaced', data: placed },
    { eventType: 'OrderPaid', data: paid },
  ]);
  const events = await client.streamForward<ShopEvent>('shop', 'order-1', 0, 100);
  let count = 0;
  for (const event of events) {
    count += event.eventType === 'OrderPaid' ? event.data.paidAt.length : event.data.total;
  }
  count += await lastTotal(client, 'order-1');
  await client.close();
  return count;
}
