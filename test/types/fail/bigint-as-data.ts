// A bigint has no JSON form.
import { openEvdb } from '../../../src/index.js';

export async function bigintData(): Promise<void> {
  const evdb = await openEvdb();
  // expect-error TS2322: Type 'bigint' is not assignable to type 'EventData'
  await evdb.appendEvents('shop', 'order-1', [{ eventType: 'Big', data: 10n }]);
}
