import { uuidv7 } from '../src/core/ids.js';
import type { Evdb, NewEvent } from '../src/index.js';
import { progress, scaled, stats, verify, type BenchOptions, type Row } from './lib.js';

// Appends as applications make them: about 200 bytes of JSON data, a small metadata object and
// an event id the client chose (a UUIDv7, as evdb's network client gives every event), beside a
// raw insert of the same rows into the same schema, alternating in one run. Shared by the SQLite
// and PostgreSQL suites so both measure exactly the same work.

/** An order event: about 200 bytes of JSON, with a small metadata object and a client id. */
export function realisticEvent(n: number): NewEvent {
  return {
    eventId: uuidv7(),
    eventType: 'OrderPlaced',
    data: {
      orderId: `order-${String(n).padStart(8, '0')}`,
      customer: `customer-${String(n % 10_000).padStart(5, '0')}`,
      total: 129.95 + (n % 100),
      lines: [
        { sku: `sku-${10_000 + (n % 5000)}`, qty: 2, price: 39.99 },
        { sku: `sku-${20_000 + (n % 3000)}`, qty: 1, price: 49.97 },
      ],
      placedAt: '2026-12-07T21:30:00.000Z',
    },
    metadata: { userId: `user-${n % 1000}`, source: 'checkout-api', traceId: `trace-${n}` },
  };
}

/** One row as a raw insert writes it: the same id, type and JSON text evdb stores. */
export interface RawRow {
  eventId: string;
  eventType: string;
  data: string;
  metadata: string;
}

export function rawRow(event: NewEvent): RawRow {
  return {
    eventId: event.eventId as string,
    eventType: event.eventType,
    data: JSON.stringify(event.data),
    metadata: JSON.stringify(event.metadata),
  };
}

/** A fresh table set in the store's schema that the raw driver fills directly. */
export interface RawTable {
  /** Inserts one append's rows in one transaction, as the driver does it at its best. */
  insert(streamId: string, firstVersion: number, rows: RawRow[]): Promise<void> | void;
  count(): Promise<number> | number;
  close(): Promise<void> | void;
}

/** Sizes of the appends, and how many appends of each one run makes. */
const SHAPES = [
  { size: 1, appends: 1000 },
  { size: 10, appends: 300 },
  { size: 100, appends: 60 },
  { size: 1000, appends: 10 },
];

/**
 * Appends of 1, 10, 100 and 1 000 realistic events, each to a new stream with an exact expected
 * version, one writer; beside the raw driver inserting the same rows (encoded the same way, into
 * a store of its own) in the same transaction shape, alternating append by append. Each run on a
 * new store and a new raw table set; the rates count the time of the appends alone.
 */
export async function realisticWorkloads(
  suite: string,
  evdb: Evdb,
  options: BenchOptions,
  newStore: (storeId: string) => Promise<unknown>,
  openRaw: (name: string) => Promise<RawTable> | RawTable,
  rawName: string,
): Promise<Row[]> {
  const rows: Row[] = [];
  for (const shape of SHAPES) {
    const appends = scaled(options, shape.appends);
    const total = appends * shape.size;
    progress(`(7) ${appends} appends of ${shape.size} realistic events vs ${rawName}`);
    const batches = (run: number): NewEvent[][] =>
      Array.from({ length: appends }, (_, i) =>
        Array.from({ length: shape.size }, (_, k) =>
          realisticEvent(run * total + i * shape.size + k),
        ),
      );
    const evdbRates: number[] = [];
    const rawRates: number[] = [];
    for (let run = 0; run < options.runs; run++) {
      const storeId = `real${shape.size}-${run}`;
      await newStore(storeId);
      const table = await openRaw(`raw-real${shape.size}-${run}`);
      let evdbMs = 0;
      let rawMs = 0;
      const appendEvdb = async (i: number, events: NewEvent[]): Promise<void> => {
        const start = performance.now();
        await evdb.appendEvents(storeId, `order-${i}`, events, -1);
        evdbMs += performance.now() - start;
      };
      const insertRaw = async (i: number, events: NewEvent[]): Promise<void> => {
        const start = performance.now();
        await table.insert(`order-${i}`, 0, events.map(rawRow));
        rawMs += performance.now() - start;
      };
      // Append by append, each side first every other time: on a shared machine whose load
      // swings within seconds, both sides then see the same load.
      for (const [i, events] of batches(run).entries()) {
        if (i % 2 === 0) {
          await appendEvdb(i, events);
          await insertRaw(i, events);
        } else {
          await insertRaw(i, events);
          await appendEvdb(i, events);
        }
      }
      verify(
        (await evdb.getStoreStatus(storeId)).totalEvents === total,
        'all realistic appends stored',
      );
      verify((await table.count()) === total, 'raw realistic rows stored');
      await table.close();
      evdbRates.push(total / (evdbMs / 1000));
      rawRates.push(total / (rawMs / 1000));
    }
    const evdbStats = stats(evdbRates);
    const rawStats = stats(rawRates);
    rows.push({
      suite,
      workload:
        shape.size === 1
          ? '(7) sequential appends of 1 event of 200 B + metadata, UUIDv7 ids'
          : `(7) appends of ${shape.size} events of 200 B + metadata, UUIDv7 ids`,
      unit: 'events/s',
      evdb: evdbStats,
      baselineName: `${rawName}, same rows, ${shape.size === 1 ? '1 row' : `${shape.size} rows`} per tx`,
      baseline: rawStats,
      target: { ratio: 0.8, label: '≥ 0.80 of raw' },
    });
  }
  return rows;
}
