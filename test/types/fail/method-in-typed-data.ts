// Typed data is checked all the way down: a method does not survive JSON.
import { openEvdb, type TypedEvent } from '../../../src/index.js';

interface WithMethod {
  orderId: string;
  customer: { name: string; greet(): string };
}
declare const withMethod: WithMethod;

export async function methodData(): Promise<void> {
  const evdb = await openEvdb();
  await evdb.appendEvents<TypedEvent<'Greeted', WithMethod>>('shop', 'order-1', [
    // expect-error TS2322: Type 'WithMethod' is not assignable to type '{ orderId: string; customer: { name: string; greet: never; }; }'
    { eventType: 'Greeted', data: withMethod },
  ]);
}
