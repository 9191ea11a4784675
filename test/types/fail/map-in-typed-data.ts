// A Map becomes {} in JSON, so typed data holding one is refused.
import { openEvdb, type TypedEvent } from '../../../src/index.js';

interface Inventory {
  counts: Map<string, number>;
}

export async function mapData(): Promise<void> {
  const evdb = await openEvdb();
  await evdb.appendEvents<TypedEvent<'Counted', Inventory>>('shop', 'stock', [
    // expect-error TS2322: Type 'Map<string, number>' is not assignable
    { eventType: 'Counted', data: { counts: new Map<string, number>() } },
  ]);
}
