// A function is not event data, untyped either.
import { openEvdb } from '../../../src/index.js';

export async function functionData(): Promise<void> {
  const evdb = await openEvdb();
  // expect-error TS2322: is not assignable to type 'EventData'
  await evdb.appendEvents('shop', 'order-1', [{ eventType: 'Callback', data: () => 1 }]);
}
