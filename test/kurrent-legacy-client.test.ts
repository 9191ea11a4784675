import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import {
  BACKWARDS as LEGACY_BACKWARDS,
  END as LEGACY_END,
  EventStoreDBClient,
  FORWARDS as LEGACY_FORWARDS,
  NO_STREAM as LEGACY_NO_STREAM,
  START as LEGACY_START,
  StreamDeletedError as LegacyStreamDeletedError,
  StreamNotFoundError as LegacyStreamNotFoundError,
  WrongExpectedVersionError as LegacyWrongExpectedVersionError,
  jsonEvent as legacyJsonEvent,
} from '@eventstore/db-client';
import { memory } from '../src/index.js';
import { startServer, type EvdbServer } from '../src/server.js';

// The legacy EventStoreDB Node client (6.2.1): pure grpc-js, reads included, with no control
// option on reads. It runs in a process of its own: its generated protobuf code and that of
// @kurrent/kurrentdb-client register the same names in one global namespace.

async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const all: T[] = [];
  for await (const item of iterable) all.push(item);
  return all;
}

describe('EventStoreDB client 6.2.1 against evdb', () => {
  let server: EvdbServer;
  let legacy: EventStoreDBClient;
  before(async () => {
    server = await startServer({ port: 0, backend: memory(), kurrent: { port: 0 } });
    legacy = EventStoreDBClient.connectionString(
      (server.kurrentConnectionString as string).replace('kurrentdb://', 'esdb://'),
    );
  });
  after(async () => {
    await legacy.dispose();
    await server.close();
  });

  it('serves the legacy EventStoreDB client 6.2.1', async () => {
    const stream = `legacy-${randomUUID()}`;
    const events = Array.from({ length: 5 }, (_, n) =>
      legacyJsonEvent({ type: 'Legacy', data: { n } }),
    );
    await legacy.appendToStream(stream, events, { expectedRevision: LEGACY_NO_STREAM });
    await assert.rejects(
      () => legacy.appendToStream(stream, events.slice(0, 1), { expectedRevision: 1n }),
      LegacyWrongExpectedVersionError,
    );
    const revisions = (read: { event?: { revision: bigint } }[]) =>
      read.map((e) => Number(e.event?.revision));
    assert.deepEqual(revisions(await collect(legacy.readStream(stream))), [0, 1, 2, 3, 4]);
    assert.deepEqual(
      revisions(
        await collect(
          legacy.readStream(stream, {
            direction: LEGACY_BACKWARDS,
            fromRevision: LEGACY_END,
            maxCount: 2,
          }),
        ),
      ),
      [4, 3],
    );
    // The legacy client sends these directions as given (no control option).
    assert.deepEqual(
      revisions(
        await collect(
          legacy.readStream(stream, { direction: LEGACY_FORWARDS, fromRevision: LEGACY_END }),
        ),
      ),
      [],
    );
    assert.deepEqual(
      revisions(
        await collect(
          legacy.readStream(stream, { direction: LEGACY_BACKWARDS, fromRevision: LEGACY_START }),
        ),
      ),
      [0],
    );
    const all = await collect(
      legacy.readAll({ direction: LEGACY_BACKWARDS, fromPosition: LEGACY_END, maxCount: 5 }),
    );
    assert.deepEqual(revisions(all), [4, 3, 2, 1, 0]);
    await assert.rejects(
      () => collect(legacy.readStream(`none-${randomUUID()}`)),
      LegacyStreamNotFoundError,
    );

    const subscription = legacy.subscribeToStream(stream, { fromRevision: LEGACY_START });
    const seen: number[] = [];
    for await (const event of subscription) {
      seen.push(Number(event.event?.revision));
      if (seen.length === 5) break;
    }
    assert.deepEqual(seen, [0, 1, 2, 3, 4]);

    await legacy.tombstoneStream(stream);
    await assert.rejects(() => collect(legacy.readStream(stream)), LegacyStreamDeletedError);
  });
});
