// Untyped use compiles as before, and now takes interfaces as data.
import { connect } from '../../../src/client.js';
import {
  openEvdb,
  type EventRecord,
  type JsonValue,
  type NewEvent,
  type SubscriptionHandler,
} from '../../../src/index.js';
import { placed, type OrderPlaced } from '../shop.js';

export async function untyped(): Promise<number> {
  const evdb = await openEvdb({ dataDir: './never-opened' });
  const events: NewEvent[] = [
    { eventType: 'OrderPlaced', data: { orderId: 'o-1', total: 5 } },
    { eventType: 'OrderPlaced', data: placed },
    {
      eventType: 'Bytes',
      data: new Uint8Array([1, 2]),
      dataContentType: 'application/octet-stream',
    },
    { eventType: 'Lines', data: placed.lines },
    { eventType: 'Nothing', data: null },
    { eventType: 'Count', data: 3 },
  ];
  await evdb.appendEvents('shop', 'order-1', events);
  await evdb.appendBatch('shop', [{ streamId: 'order-2', events }]);
  const read: EventRecord[] = await evdb.streamForward('shop', 'order-1', 0, 10);
  let total = 0;
  for (const event of read) {
    const data: JsonValue | Uint8Array = event.data;
    total += (data as unknown as OrderPlaced).total;
    if (typeof event.data === 'object' && event.data !== null && 'total' in event.data) total += 1;
  }
  const handler: SubscriptionHandler = (batch) => {
    total += batch.length;
  };
  const subscription = await evdb.subscribe('shop', { name: 'billing' }, handler);
  await subscription.ack(read[0] ?? 0);
  await evdb.ackEvent('shop', 'billing', read[0] ?? 0);
  await subscription.close();

  const client = await connect('http://127.0.0.1:2113');
  await client.appendEvents('shop', 'order-1', [{ eventType: 'OrderPlaced', data: placed }]);
  const remote: EventRecord[] = await client.readAllGlobal('shop', 0, 10);
  await client.close();
  await evdb.close();
  return total + remote.length;
}
