// A subscription without a handler yields the typed records too.
import { openEvdb } from '../../../src/index.js';
import type { ShopEvent } from '../shop.js';

export async function iteratorField(): Promise<void> {
  const evdb = await openEvdb();
  const subscription = await evdb.subscribe<ShopEvent>('shop', { name: 'billing' });
  for await (const batch of subscription) {
    for (const event of batch) {
      // expect-error TS2339: Property 'total' does not exist on type 'OrderPaid'
      if (event.eventType === 'OrderPaid') console.log(event.data.total);
    }
  }
}
