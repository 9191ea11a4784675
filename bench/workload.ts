import type { Evdb, EventRecord, NewEvent } from '../src/index.js';
import { progress, verify } from './lib.js';

// Event bodies, the shape of the big stores, and the raw row decoding shared by the SQLite and
// PostgreSQL suites, so both measure exactly the same work.

/** A typical small event body (~110 bytes of JSON). */
export function payload(n: number): {
  n: number;
  customer: string;
  amount: number;
  items: string[];
  note: string;
} {
  return {
    n,
    customer: `customer-${n % 1000}`,
    amount: n * 1.5,
    items: ['sku-1', 'sku-2'],
    note: 'benchmark',
  };
}

export function newEvent(n: number, eventType = 'OrderPlaced'): NewEvent {
  return { eventType, data: payload(n) };
}

/** Reads rows like evdb does and decodes them the same way: the floor for read workloads. */
export function rawDecode(row: unknown[]): unknown {
  return {
    position: row[0],
    streamId: row[1],
    version: row[2],
    eventId: row[3],
    eventType: row[4],
    data: JSON.parse(row[5] as string) as unknown,
    metadata: row[6] === null ? {} : (JSON.parse(row[6] as string) as unknown),
    tags: row[7] === null ? [] : (JSON.parse(row[7] as string) as unknown),
    epochUs: row[8],
  };
}

/** Fills a store with `total` events over 1000 streams; 1% of them have the type `Rare`. */
export async function populate(
  evdb: Evdb,
  storeId: string,
  total: number,
  create: (storeId: string) => Promise<unknown> = (id) => evdb.createStore(id),
): Promise<void> {
  await create(storeId);
  const chunk = 1000;
  const started = Date.now();
  for (let i = 0; i < total; i += chunk) {
    const events = Array.from({ length: Math.min(chunk, total - i) }, (_, k) => {
      const n = i + k;
      return newEvent(n, n % 100 === 7 ? 'Rare' : 'OrderPlaced');
    });
    await evdb.appendEvents(storeId, `order-${(i / chunk) % 1000}`, events);
    if ((i / chunk) % 100 === 99) {
      progress(
        `  ${storeId}: ${i + chunk} / ${total} events (${((Date.now() - started) / 1000).toFixed(0)} s)`,
      );
    }
  }
}

export async function readAllByPages(
  read: (from: number) => Promise<EventRecord[] | unknown[]> | unknown[],
  positionOf: (item: never) => number,
): Promise<number> {
  let count = 0;
  let from = 0;
  let last = -1;
  for (;;) {
    const page = (await read(from)) as never[];
    if (page.length === 0) break;
    for (const item of page) {
      const position = positionOf(item);
      verify(position > last, 'strictly increasing positions');
      last = position;
    }
    count += page.length;
    from = last + 1;
  }
  return count;
}
