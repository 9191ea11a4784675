// An event type the union does not have is refused.
import { openEvdb } from '../../../src/index.js';
import { paid, type ShopEvent } from '../shop.js';

export async function unknownType(): Promise<void> {
  const evdb = await openEvdb();
  await evdb.appendEvents<ShopEvent>('shop', 'order-1', [
    // expect-error TS2322: Type '"OrderShipped"' is not assignable to type '"OrderPlaced" | "OrderPaid"'
    { eventType: 'OrderShipped', data: paid },
  ]);
}
