// Records the network client reads narrow by event type, and only then.
import { connect } from '../../../src/client.js';
import type { ShopEvent } from '../shop.js';

export async function clientRead(): Promise<number | undefined> {
  const client = await connect('http://127.0.0.1:2113');
  const events = await client.streamForward<ShopEvent>('shop', 'order-1', 0, 10);
  // expect-error TS2339: Property 'total' does not exist on type 'OrderPlaced | OrderPaid'
  return events[0]?.data.total;
}
