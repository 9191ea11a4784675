// The network client checks type/data pairs as the embedded store does.
import { connect } from '../../../src/client.js';
import { paid, type ShopEvent } from '../shop.js';

export async function clientPair(): Promise<void> {
  const client = await connect('http://127.0.0.1:2113');
  await client.appendEvents<ShopEvent>('shop', 'order-1', [
    // expect-error TS2322: Types of property 'data' are incompatible
    { eventType: 'OrderPlaced', data: paid },
  ]);
}
