/**
 * The same store on PostgreSQL: give the database URL as the first argument or in
 * EVDB_PG_URL. Every store gets a schema of its own (`evdb-shop`); any number of processes and
 * servers can share the database.
 *
 *   node --import tsx examples/postgres.ts postgres://user:pass@localhost:5432/db
 */
import { openEvdb } from '../src/index.js';
import { postgres } from '../src/backends/postgres/index.js';

const url = process.argv[2] ?? process.env.EVDB_PG_URL;
if (url === undefined) {
  console.error('usage: examples/postgres.ts <postgres-url> (or set EVDB_PG_URL)');
  process.exit(2);
}
const evdb = await openEvdb({ backend: postgres({ url }) });
try {
  if (!(await evdb.listStores()).includes('shop')) await evdb.createStore('shop');
  const orderId = `order-${Date.now().toString(36)}`;
  await evdb.appendEvents('shop', orderId, [
    { eventType: 'OrderPlaced', data: { total: 30 }, tags: ['eu'] },
  ]);
  const tagged = await evdb.readByTags('shop', ['eu'], { match: 'any' });
  console.log(`${orderId} stored; ${tagged.length} order(s) tagged eu`);
  console.log(`backend ${(await evdb.getStoreStatus('shop')).backend}`);
} finally {
  await evdb.close();
}
