// A subscription handler gets the typed records: a field of no event type is refused.
import { openEvdb } from '../../../src/index.js';
import type { ShopEvent } from '../shop.js';

export async function handlerField(): Promise<void> {
  const evdb = await openEvdb();
  await evdb.subscribe<ShopEvent>('shop', { name: 'billing' }, (batch) => {
    for (const event of batch) {
      // expect-error TS2339: Property 'refund' does not exist on type 'OrderPlaced | OrderPaid'
      console.log(event.data.refund);
    }
  });
}
