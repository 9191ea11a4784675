// Data read back is a union until the event type is checked.
import { openEvdb } from '../../../src/index.js';
import type { ShopEvent } from '../shop.js';

export async function withoutNarrowing(): Promise<string | undefined> {
  const evdb = await openEvdb();
  const events = await evdb.streamForward<ShopEvent>('shop', 'order-1', 0, 10);
  // expect-error TS2339: Property 'paidAt' does not exist on type 'OrderPlaced | OrderPaid'
  return events[0]?.data.paidAt;
}
