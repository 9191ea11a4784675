// After a check of the event type, data is that type's and no other's.
import { openEvdb } from '../../../src/index.js';
import type { ShopEvent } from '../shop.js';

export async function wrongNarrowing(): Promise<number> {
  const evdb = await openEvdb();
  for (const event of await evdb.readAllGlobal<ShopEvent>('shop', 0, 10)) {
    // expect-error TS2339: Property 'total' does not exist on type 'OrderPaid'
    if (event.eventType === 'OrderPaid') return event.data.total;
  }
  return 0;
}
