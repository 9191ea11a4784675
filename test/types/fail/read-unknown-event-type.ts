// Reading by event type takes the union's event types only.
import { openEvdb } from '../../../src/index.js';
import type { ShopEvent } from '../shop.js';

export async function readUnknownType(): Promise<void> {
  const evdb = await openEvdb();
  // expect-error TS2322: Type '"OrderShipped"' is not assignable to type '"OrderPlaced" | "OrderPaid"'
  await evdb.readByEventTypes<ShopEvent>('shop', ['OrderShipped']);
}
