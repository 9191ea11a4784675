// A Date comes back from JSON as a string, so typed data holding one is refused.
import { openEvdb, type TypedEvent } from '../../../src/index.js';

interface Scheduled {
  orderId: string;
  at: Date;
}

export async function dateData(): Promise<void> {
  const evdb = await openEvdb();
  await evdb.appendEvents<TypedEvent<'Scheduled', Scheduled>>('shop', 'order-1', [
    // expect-error TS2322: Type 'Date' is not assignable
    { eventType: 'Scheduled', data: { orderId: 'o-1', at: new Date() } },
  ]);
}
