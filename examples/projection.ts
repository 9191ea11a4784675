/**
 * A read model: order totals per customer in a SQL table, kept up to date from the event log.
 * The projection stores the last position it applied in the same transaction as the rows it
 * changed, so it applies each event exactly once, even when a batch is delivered again after a
 * crash; it then resumes from that position (a transient subscription with `startFrom`).
 *
 *   node --import tsx examples/projection.ts [dataDir]
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { openEvdb, type EventRecord } from '../src/index.js';

const dataDir = process.argv[2] ?? './evdb-data';
const evdb = await openEvdb({ dataDir });
mkdirSync(dataDir, { recursive: true });
const readModel = new Database(join(dataDir, 'read-model.db'));
readModel.exec(`
  CREATE TABLE IF NOT EXISTS customer_totals (customer TEXT PRIMARY KEY, orders INTEGER, total REAL);
  CREATE TABLE IF NOT EXISTS projection_position (id INTEGER PRIMARY KEY CHECK (id = 1), position INTEGER);
`);
const applied = (): number =>
  (
    readModel.prepare('SELECT position FROM projection_position WHERE id = 1').get() as
      { position: number } | undefined
  )?.position ?? -1;
const apply = readModel.transaction((batch: EventRecord[]) => {
  const from = applied();
  const add = readModel.prepare(
    'INSERT INTO customer_totals (customer, orders, total) VALUES (?, 1, ?) ' +
      'ON CONFLICT (customer) DO UPDATE SET orders = orders + 1, total = total + excluded.total',
  );
  for (const event of batch) {
    if (event.position <= from) continue; // applied before a crash: not again
    const { customer, total } = event.data as { customer?: unknown; total?: unknown };
    if (typeof customer === 'string' && typeof total === 'number') add.run(customer, total);
  }
  const last = batch.at(-1);
  if (last !== undefined && last.position > from) {
    readModel
      .prepare('INSERT OR REPLACE INTO projection_position (id, position) VALUES (1, ?)')
      .run(last.position);
  }
});

try {
  if (!(await evdb.listStores()).includes('shop')) await evdb.createStore('shop');
  const run = Date.now().toString(36);
  const { position: lastWritten } = await evdb
    .appendBatch('shop', [
      {
        streamId: `order-${run}-1`,
        events: [{ eventType: 'OrderPlaced', data: { customer: 'ann', total: 10 } }],
      },
      {
        streamId: `order-${run}-2`,
        events: [{ eventType: 'OrderPlaced', data: { customer: 'bob', total: 4 } }],
      },
      {
        streamId: `order-${run}-3`,
        events: [{ eventType: 'OrderPlaced', data: { customer: 'ann', total: 5 } }],
      },
    ])
    .then((r) => r.results.at(-1)!);

  const sub = await evdb.subscribe(
    'shop',
    { type: 'by_event_type', selector: 'OrderPlaced', startFrom: applied() + 1 },
    (batch) => apply(batch),
  );
  while (applied() < lastWritten) await new Promise((resolve) => setTimeout(resolve, 10));
  await sub.close();
  for (const row of readModel.prepare('SELECT * FROM customer_totals ORDER BY customer').all()) {
    const { customer, orders, total } = row as { customer: string; orders: number; total: number };
    console.log(`${customer}: ${orders} order(s), total ${total}`);
  }
} finally {
  readModel.close();
  await evdb.close();
}
