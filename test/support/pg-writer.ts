/**
 * Child process for test/postgres-concurrency.test.ts: appends to a shared store from its own
 * OS process, with exact expected versions on streams other writers also append to, and prints
 * every outcome as a JSON line.
 */
import { openEvdb, uuidv7, type NewEvent } from '../../src/index.js';
import { isEvdbError } from '../../src/core/errors.js';
import { postgres } from '../../src/backends/postgres/index.js';
import { childConfig, emit } from './pg-process.js';

export interface WriterConfig {
  url: string;
  schema: string;
  storeId: string;
  writer: number;
  /** Appends per concurrent loop. */
  appends: number;
  /** Concurrent loops in this process (so group commits hold several appends). */
  loops: number;
  sharedStreams: number;
}

export interface AckedWrite {
  streamId: string;
  eventIds: string[];
  version: number;
  position: number;
}

export type WriterMessage =
  | { t: 'ack'; writes: AckedWrite[] }
  | {
      t: 'conflict';
      streamId: string;
      expected: number;
      actual: number;
      /** The stream's version read before the append, and right after the conflict. */
      before: number;
      after: number;
    }
  | { t: 'done' };

const config = childConfig<WriterConfig>();
const evdb = await openEvdb({
  backend: postgres({ url: config.url, schema: config.schema, poolSize: 4 }),
});

const newEvents = (streamId: string, count: number): NewEvent[] =>
  Array.from({ length: count }, () => ({
    eventType: 'Wrote',
    data: { writer: config.writer, streamId },
    eventId: uuidv7(),
  }));
const ids = (events: NewEvent[]): string[] => events.map((e) => e.eventId as string);

async function loop(index: number): Promise<void> {
  const own = `w${config.writer}-${index}`;
  let ownVersion = -1;
  for (let i = 0; i < config.appends; i++) {
    const shared = `shared-${(config.writer + i) % config.sharedStreams}`;
    const kind = i % 3;
    if (kind === 0) {
      const events = newEvents(own, 2);
      const result = await evdb.appendEvents(config.storeId, own, events, ownVersion);
      ownVersion = result.version;
      emit({ t: 'ack', writes: [{ streamId: own, eventIds: ids(events), ...result }] });
      continue;
    }
    const before = await evdb.getVersion(config.storeId, shared);
    try {
      if (kind === 1) {
        const events = newEvents(shared, 1);
        const result = await evdb.appendEvents(config.storeId, shared, events, before);
        emit({ t: 'ack', writes: [{ streamId: shared, eventIds: ids(events), ...result }] });
      } else {
        // An atomic batch over a contended stream and this loop's own stream.
        const a = newEvents(shared, 1);
        const b = newEvents(own, 1);
        const { results } = await evdb.appendBatch(config.storeId, [
          { streamId: shared, expectedVersion: before, events: a },
          { streamId: own, expectedVersion: ownVersion, events: b },
        ]);
        const [first, second] = results as [AckedWrite, AckedWrite];
        ownVersion = second.version;
        emit({
          t: 'ack',
          writes: [
            { ...first, eventIds: ids(a) },
            { ...second, eventIds: ids(b) },
          ],
        });
      }
    } catch (error) {
      if (!isEvdbError(error, 'wrong_expected_version')) throw error;
      const after = await evdb.getVersion(config.storeId, shared);
      emit({
        t: 'conflict',
        streamId: shared,
        expected: error.details.expected as number,
        actual: error.details.actual as number,
        before,
        after,
      });
    }
  }
}

await Promise.all(Array.from({ length: config.loops }, (_, i) => loop(i)));
emit({ t: 'done' });
await evdb.close();
