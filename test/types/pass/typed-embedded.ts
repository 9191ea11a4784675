// Typed events on the embedded store: appends check type/data pairs, reads narrow by type.
import { NO_STREAM, openEvdb, type EventRecord, type TypedEvent } from '../../../src/index.js';
import {
  paid,
  placed,
  type Equal,
  type OrderPaid,
  type OrderPlaced,
  type ShopEvent,
} from '../shop.js';

export async function typedEmbedded(): Promise<number> {
  const evdb = await openEvdb({ dataDir: './never-opened' });
  await evdb.appendEvents<ShopEvent>(
    'shop',
    'order-1',
    [
      { eventType: 'OrderPlaced', data: placed, tags: ['eu'] },
      { eventType: 'OrderPaid', data: paid },
      { eventType: 'OrderPlaced', data: { orderId: 'o-2', total: 3, lines: [] } },
    ],
    NO_STREAM,
  );
  await evdb.appendBatch<ShopEvent>('shop', [
    { streamId: 'order-2', events: [{ eventType: 'OrderPaid', data: paid }] },
  ]);

  // Binary events: the data type is Uint8Array, written and read as such.
  type Attachment = TypedEvent<'AttachmentAdded', Uint8Array>;
  await evdb.appendEvents<Attachment>('shop', 'order-1-files', [
    { eventType: 'AttachmentAdded', data: new Uint8Array([1]), dataContentType: 'image/png' },
  ]);
  const [file] = await evdb.streamForward<Attachment>('shop', 'order-1-files', 0, 1);
  const bytes: Uint8Array | undefined = file?.data;

  let total = bytes?.length ?? 0;
  const forward = await evdb.streamForward<ShopEvent>('shop', 'order-1', 0, 100);
  const backward = await evdb.streamBackward<ShopEvent>('shop', 'order-1', -1, 100);
  const all = await evdb.readAllGlobal<ShopEvent>('shop', 0, 100);
  const byType = await evdb.readByEventTypes<ShopEvent>('shop', ['OrderPaid']);
  const byTag = await evdb.readByTags<ShopEvent>('shop', ['eu']);
  const some = await evdb.getEvents<ShopEvent>('shop', 'order-1', 0, 10, 'forward');
  for (const event of [...forward, ...backward, ...all, ...byType, ...byTag, ...some]) {
    if (event.eventType === 'OrderPlaced') {
      const data: OrderPlaced = event.data;
      total += data.total + data.lines.length;
    } else {
      const exact: Equal<typeof event.data, OrderPaid> = true;
      total += exact ? event.data.paidAt.length : 0;
    }
    // Fields other than type and data are the same as untyped.
    total += event.position + event.version;
  }
  const records: EventRecord<ShopEvent>[] = forward;
  const placedRecord = records.find(
    (event): event is EventRecord<ShopEvent> & { eventType: 'OrderPlaced' } =>
      event.eventType === 'OrderPlaced',
  );
  total += placedRecord?.data.total ?? 0;
  await evdb.close();
  return total;
}
