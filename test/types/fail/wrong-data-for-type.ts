// An event type with the data of another type is refused.
import { openEvdb } from '../../../src/index.js';
import { placed, type ShopEvent } from '../shop.js';

export async function wrongData(): Promise<void> {
  const evdb = await openEvdb();
  // expect-error TS2322: Type '{ eventType: "OrderPaid"; data: OrderPlaced; }' is not assignable
  await evdb.appendEvents<ShopEvent>('shop', 'order-1', [{ eventType: 'OrderPaid', data: placed }]);
}
