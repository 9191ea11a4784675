/**
 * A server and a client in one program: the server keeps its stores under the directory given
 * as the first argument (default ./evdb-data), listens on a free port of 127.0.0.1, and the
 * client talks to it over HTTP with the same API as the embedded store.
 *
 *   node --import tsx examples/server-and-client.ts [dataDir]
 */
import { connect } from '../src/client.js';
import { startServer } from '../src/server.js';

const dataDir = process.argv[2] ?? './evdb-data';
const server = await startServer({ dataDir, port: 0 });
const client = await connect(server.url);
try {
  if (!(await client.listStores()).includes('shop')) await client.createStore('shop');
  const orderId = `order-${Date.now().toString(36)}`;
  const { version, position } = await client.appendEvents('shop', orderId, [
    { eventType: 'OrderPlaced', data: { total: 12 } },
    { eventType: 'OrderPaid', data: { amount: 12 } },
  ]);
  console.log(
    `the server at ${server.url} stored ${orderId} up to version ${version}, position ${position}`,
  );
  const events = await client.streamForward('shop', orderId, 0, 10);
  console.log(`read back: ${events.map((e) => e.eventType).join(', ')}`);
  const status = await client.getStoreStatus('shop');
  console.log(`the store holds ${status.totalEvents} events in ${status.streamCount} streams`);
} finally {
  await client.close();
  await server.close();
}
