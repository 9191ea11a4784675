/**
 * Child process for test/postgres-crash.test.ts: appends without pause to its own streams of a
 * PostgreSQL store, each append with fixed event ids and an exact expected version, and prints
 * each acknowledged append synchronously, before starting the next one. With `retry`, a
 * retriable failure (the server went away) is retried with the same ids and expected version
 * until it succeeds; each failure is printed too. Stops when the parent sends `{stop: true}`.
 */
import { openEvdb, uuidv7, type NewEvent } from '../../src/index.js';
import { EvdbError } from '../../src/core/errors.js';
import { postgres } from '../../src/backends/postgres/index.js';
import { childConfig, emit, parentMessages } from './pg-process.js';

export interface CrashWriterConfig {
  url: string;
  schema: string;
  storeId: string;
  writer: number;
  loops: number;
  retry: boolean;
}

/** What each stored event's data says about the append it belongs to. */
export interface CrashEventData {
  appendId: string;
  /** How many events the whole append (or batch) wrote. */
  size: number;
}

export interface CrashAck {
  t: 'ack';
  appendId: string;
  attempts: number;
  writes: { streamId: string; eventIds: string[]; version: number; position: number }[];
}

export type CrashWriterMessage =
  CrashAck | { t: 'error'; code: string; retriable: boolean; message: string } | { t: 'done' };

const config = childConfig<CrashWriterConfig>();
const evdb = await openEvdb({
  backend: postgres({ url: config.url, schema: config.schema, poolSize: 4 }),
});
let stopping = false;
void (async () => {
  for await (const message of parentMessages()) {
    if ((message as { stop?: boolean }).stop === true) stopping = true;
  }
})();

function newEvents(appendId: string, count: number, size: number): NewEvent[] {
  return Array.from({ length: count }, () => ({
    eventType: 'Crashy',
    data: { appendId, size } satisfies CrashEventData,
    eventId: uuidv7(),
  }));
}

async function attempt<T>(work: () => Promise<T>): Promise<{ result: T; attempts: number }> {
  for (let attempts = 1; ; attempts++) {
    try {
      return { result: await work(), attempts };
    } catch (error) {
      if (!(error instanceof EvdbError) || !config.retry || !error.retriable) throw error;
      emit({ t: 'error', code: error.code, retriable: error.retriable, message: error.message });
      await new Promise((resolve) => setTimeout(resolve, Math.min(20 * attempts, 300)));
    }
  }
}

async function loop(index: number): Promise<void> {
  const main = `c${config.writer}-${index}`;
  const side = `${main}-side`;
  let mainVersion = -1;
  let sideVersion = -1;
  for (let i = 0; !stopping; i++) {
    const appendId = `${config.writer}-${index}-${i}`;
    if (i % 4 === 3) {
      const a = newEvents(appendId, 2, 3);
      const b = newEvents(appendId, 1, 3);
      const { result, attempts } = await attempt(() =>
        evdb.appendBatch(config.storeId, [
          { streamId: main, expectedVersion: mainVersion, events: a },
          { streamId: side, expectedVersion: sideVersion, events: b },
        ]),
      );
      const [first, second] = result.results as [
        { streamId: string; version: number; position: number },
        { streamId: string; version: number; position: number },
      ];
      mainVersion = first.version;
      sideVersion = second.version;
      emit({
        t: 'ack',
        appendId,
        attempts,
        writes: [
          { ...first, eventIds: a.map((e) => e.eventId as string) },
          { ...second, eventIds: b.map((e) => e.eventId as string) },
        ],
      });
    } else {
      const size = 1 + (i % 4);
      const events = newEvents(appendId, size, size);
      const { result, attempts } = await attempt(() =>
        evdb.appendEvents(config.storeId, main, events, mainVersion),
      );
      mainVersion = result.version;
      emit({
        t: 'ack',
        appendId,
        attempts,
        writes: [{ streamId: main, eventIds: events.map((e) => e.eventId as string), ...result }],
      });
    }
  }
}

await Promise.all(Array.from({ length: config.loops }, (_, i) => loop(i)));
emit({ t: 'done' });
await evdb.close();
process.exit(0);
