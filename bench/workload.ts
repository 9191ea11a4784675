import { randomUUID } from 'node:crypto';
import { uuidv7 } from '../src/core/ids.js';
import type { Evdb, EventRecord, NewEvent } from '../src/index.js';
import { measurePair, progress, scaled, verify, type BenchOptions, type Row } from './lib.js';

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

/** How the events of an id workload get their ids: evdb's own, or the caller's. */
export type IdKind = 'none' | 'v4' | 'v7';

/** Gives each event a caller-chosen id of `kind` (as a client that makes retries safe would). */
export function withIds(events: NewEvent[], kind: IdKind): NewEvent[] {
  if (kind === 'none') return events;
  return events.map((event) => ({ ...event, eventId: kind === 'v4' ? randomUUID() : uuidv7() }));
}

/**
 * The append workloads with caller-chosen ids (random UUIDv4, time-ordered UUIDv7) beside the
 * same workload without ids, alternating in one run, each on a new store: sequential single
 * events, 64 concurrent appenders (group commit), and appends of 100 events.
 */
export async function idWorkloads(
  suite: string,
  evdb: Evdb,
  options: BenchOptions,
  prefix: string,
): Promise<Row[]> {
  const rows: Row[] = [];
  let stores = 0;
  const shapes: { name: string; run: (storeId: string, ids: IdKind) => Promise<number> }[] = [
    {
      name: 'sequential single-event appends',
      run: async (storeId, ids) => {
        const count = scaled(options, 1000);
        for (let i = 0; i < count; i++) {
          await evdb.appendEvents(storeId, `order-${i % 100}`, withIds([newEvent(i)], ids));
        }
        return count;
      },
    },
    {
      name: '64 concurrent appenders, single events',
      run: async (storeId, ids) => {
        const perAppender = scaled(options, 200);
        await Promise.all(
          Array.from({ length: 64 }, async (_, a) => {
            for (let i = 0; i < perAppender; i++) {
              await evdb.appendEvents(storeId, `order-${a}`, withIds([newEvent(i)], ids), i - 1);
            }
          }),
        );
        return 64 * perAppender;
      },
    },
    {
      name: 'appends of 100 events',
      run: async (storeId, ids) => {
        const appends = scaled(options, 100);
        for (let i = 0; i < appends; i++) {
          const events = Array.from({ length: 100 }, (_, k) => newEvent(i * 100 + k));
          await evdb.appendEvents(storeId, `order-${i % 50}`, withIds(events, ids));
        }
        return appends * 100;
      },
    },
  ];
  for (const shape of shapes) {
    for (const kind of ['v4', 'v7'] as const) {
      progress(`(ids) ${shape.name}: UUID${kind} ids vs no ids`);
      const measure = (ids: IdKind) => async (): Promise<number> => {
        const storeId = `${prefix}-ids-${stores++}`;
        await evdb.createStore(storeId);
        const count = await shape.run(storeId, ids);
        verify((await evdb.getStoreStatus(storeId)).totalEvents === count, 'all id appends stored');
        return count;
      };
      const [withId, without] = await measurePair(options.runs, measure(kind), measure('none'));
      rows.push({
        suite,
        workload: `(ids) ${shape.name}, UUID${kind} ids`,
        unit: 'events/s',
        evdb: withId,
        baselineName: 'the same without ids',
        baseline: without,
        target: { ratio: 0.9, label: '≥ 0.90 of no ids' },
      });
    }
  }
  return rows;
}
