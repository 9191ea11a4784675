/**
 * A tour of the embedded store: run `npm run demo` (data goes to ./evdb-data, or the directory
 * given as the first argument). Every run adds a new order, so it can be run again and again.
 */
import { EvdbError, NO_STREAM, openEvdb } from '../src/index.js';

const dataDir = process.argv[2] ?? './evdb-data';
const evdb = await openEvdb({ dataDir });
try {
  if (!(await evdb.listStores()).includes('shop')) await evdb.createStore('shop');

  const orderId = `order-${Date.now().toString(36)}`;
  await evdb.appendEvents(
    'shop',
    orderId,
    [{ eventType: 'OrderPlaced', data: { items: ['book', 'pen'], total: 23.5 }, tags: ['eu'] }],
    NO_STREAM,
  );
  const { version, position } = await evdb.appendEvents(
    'shop',
    orderId,
    [{ eventType: 'OrderPaid', data: { amount: 23.5 } }],
    0,
  );
  console.log(`appended to ${orderId}: now at version ${version}, global position ${position}`);

  try {
    await evdb.appendEvents(
      'shop',
      orderId,
      [{ eventType: 'OrderPaid', data: { amount: 23.5 } }],
      0,
    );
  } catch (error) {
    if (!(error instanceof EvdbError) || error.code !== 'wrong_expected_version') throw error;
    console.log(`a stale writer is refused: ${error.message}`);
  }

  for (const event of await evdb.streamForward('shop', orderId, 0, 100)) {
    console.log(
      `  ${event.streamId}@${event.version} ${event.eventType} ${JSON.stringify(event.data)}`,
    );
  }
  const placed = await evdb.readByEventTypes('shop', ['OrderPlaced'], { count: 10_000 });
  const status = await evdb.getStoreStatus('shop');
  console.log(
    `store 'shop' in ${dataDir}: ${status.streamCount} orders, ${status.totalEvents} events, ` +
      `${placed.length} OrderPlaced found by the type index`,
  );
} finally {
  await evdb.close();
}
