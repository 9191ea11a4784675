/**
 * Child process of test/crash.test.ts (import only its types from elsewhere: importing it runs it): appends to a SQLite store as fast as it can from many
 * concurrent loops until it is killed, and reports every acknowledged append on stdout.
 *
 * Usage: node --import tsx test/support/crash-writer.ts <dataDir> <storeId>
 *
 * stdout, one line each, written synchronously so that nothing acknowledged sits in a buffer:
 * - `ready` once the store is open and the loops start;
 * - `ack <json>` after an append's promise resolved (see {@link Ack});
 * - `error <message>` on anything unexpected, before exiting with code 1.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { writeSync } from 'node:fs';
import { isDeepStrictEqual } from 'node:util';
import {
  ANY_VERSION,
  NO_STREAM,
  isEvdbError,
  openEvdb,
  sqlite,
  type AppendResult,
  type NewEvent,
  type StreamWrite,
} from '../../src/index.js';

const EVENT_TYPE = 'CrashTestEvent';

/** One acknowledged append or batch, as reported on stdout. */
export interface Ack {
  appendId: string;
  writes: AckedWrite[];
}

export interface AckedWrite {
  streamId: string;
  eventIds: string[];
  /** Version and global position of the write's last event, as returned by evdb. */
  version: number;
  position: number;
}

/** Metadata of every event the writer appends: all-or-nothing is checked with it. */
export interface CrashMetadata {
  appendId: string;
  /** Events in the whole append (all writes of a batch). */
  events: number;
  /** This event's index in the append, 0-based. */
  index: number;
}

const LOOPS = 16;
const OWN_STREAMS = 4;
const SHARED_STREAMS = 12;

function emit(line: string): void {
  const bytes = Buffer.from(`${line}\n`);
  let offset = 0;
  while (offset < bytes.length) {
    try {
      offset += writeSync(1, bytes, offset);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EAGAIN') throw error;
    }
  }
}

function fail(message: string): never {
  emit(`error ${message.replace(/\n/g, ' ')}`);
  process.exit(1);
}

function randomInt(min: number, max: number): number {
  return min + Math.floor(Math.random() * (max - min + 1));
}

/** Builds the events of one append: fixed ids (so a retry is safe), some with a large payload. */
function buildEvents(appendId: string, counts: number[]): NewEvent[][] {
  const total = counts.reduce((sum, n) => sum + n, 0);
  let index = 0;
  return counts.map((count) =>
    Array.from({ length: count }, (): NewEvent => {
      const metadata: CrashMetadata = { appendId, events: total, index };
      index += 1;
      const pad = randomBytes(Math.random() < 0.1 ? randomInt(500, 3000) : randomInt(0, 64));
      return {
        eventType: EVENT_TYPE,
        data: { appendId, pad: pad.toString('base64') },
        metadata: { ...metadata },
        eventId: randomUUID(),
      };
    }),
  );
}

async function main(): Promise<void> {
  const [dataDir, storeId] = process.argv.slice(2);
  if (dataDir === undefined || storeId === undefined) {
    fail('usage: crash-writer.ts <dataDir> <storeId>');
  }
  // synchronous: 'full' is the default: a commit is acknowledged after the WAL is fsynced.
  const evdb = await openEvdb({ backend: sqlite({ dataDir }) });
  if (!(await evdb.listStores()).includes(storeId)) await evdb.createStore(storeId);

  // Each loop owns a few streams and tracks their versions itself, so its exact expected
  // versions must always hold; shared streams take ANY_VERSION appends and racing batches.
  const own = await Promise.all(
    Array.from({ length: LOOPS }, (_, loop) =>
      Promise.all(
        Array.from({ length: OWN_STREAMS }, async (_, k) => {
          const streamId = `own-${loop}-${k}`;
          return { streamId, version: await evdb.getVersion(storeId, streamId) };
        }),
      ),
    ),
  );
  const shared = (): string => `shared-${randomInt(0, SHARED_STREAMS - 1)}`;

  const acknowledge = (appendId: string, writes: StreamWrite[], results: AppendResult[]): void => {
    const ack: Ack = {
      appendId,
      writes: writes.map((w, i) => {
        const result = results[i];
        if (result === undefined) fail(`no result for write ${i} of ${appendId}`);
        return {
          streamId: w.streamId,
          eventIds: w.events.map((e) => e.eventId as string),
          version: result.version,
          position: result.position,
        };
      }),
    };
    emit(`ack ${JSON.stringify(ack)}`);
  };

  const send = async (writes: StreamWrite[]): Promise<AppendResult[]> => {
    const [only] = writes;
    if (writes.length === 1 && only !== undefined) {
      return [await evdb.appendEvents(storeId, only.streamId, only.events, only.expectedVersion)];
    }
    const { results } = await evdb.appendBatch(storeId, writes);
    return results.map(({ version, position }) => ({ version, position }));
  };

  const loop = async (index: number): Promise<never> => {
    const mine = own[index] ?? fail(`no streams for loop ${index}`);
    for (;;) {
      const appendId = randomUUID();
      const owned = mine[randomInt(0, mine.length - 1)] ?? fail('no stream');
      const kind = Math.random();
      let writes: StreamWrite[];
      if (kind < 0.5) {
        // An owned stream with its exact expected version: must succeed.
        const [events = []] = buildEvents(appendId, [randomInt(1, 20)]);
        writes = [{ streamId: owned.streamId, expectedVersion: owned.version, events }];
      } else if (kind < 0.7) {
        // A shared stream without a version check: must succeed.
        const [events = []] = buildEvents(appendId, [randomInt(1, 20)]);
        writes = [{ streamId: shared(), expectedVersion: ANY_VERSION, events }];
      } else {
        // A batch over 2-3 streams: an owned one, shared ones at the version just read (other
        // loops may move them first: then the whole batch must fail), sometimes a new one.
        const targets: { streamId: string; expectedVersion: number }[] = [
          { streamId: owned.streamId, expectedVersion: owned.version },
        ];
        for (let i = randomInt(1, 2); i > 0; i--) {
          if (Math.random() < 0.25) {
            targets.push({ streamId: `new-${appendId}-${i}`, expectedVersion: NO_STREAM });
            continue;
          }
          const streamId = shared();
          if (targets.some((t) => t.streamId === streamId)) continue;
          targets.push({ streamId, expectedVersion: await evdb.getVersion(storeId, streamId) });
        }
        const events = buildEvents(
          appendId,
          targets.map(() => randomInt(1, 20)),
        );
        writes = targets.map((t, i) => ({ ...t, events: events[i] ?? [] }));
      }

      let results: AppendResult[];
      try {
        results = await send(writes);
      } catch (error) {
        const lostRace =
          writes.length > 1 &&
          isEvdbError(error, 'wrong_expected_version') &&
          String(error.details.streamId).startsWith('shared-');
        if (lostRace) continue;
        fail(`append ${appendId} failed: ${error instanceof Error ? error.stack : String(error)}`);
      }
      acknowledge(appendId, writes, results);

      const mineAt = writes.findIndex((w) => w.streamId === owned.streamId);
      if (mineAt >= 0) {
        const result = results[mineAt] as AppendResult;
        const written = (writes[mineAt] as StreamWrite).events.length;
        if (result.version !== owned.version + written) {
          fail(`own stream ${owned.streamId} went from ${owned.version} to ${result.version}`);
        }
        owned.version = result.version;
      }

      // Now and then, an idempotent retry: same ids, same expected versions, same result.
      if (Math.random() < 0.1) {
        const again = await send(writes);
        if (!isDeepStrictEqual(again, results)) {
          fail(
            `retry of ${appendId} gave ${JSON.stringify(again)}, not ${JSON.stringify(results)}`,
          );
        }
      }
    }
  };

  emit('ready');
  await Promise.all(Array.from({ length: LOOPS }, (_, i) => loop(i)));
}

main().catch((error: unknown) => {
  fail(error instanceof Error ? (error.stack ?? error.message) : String(error));
});
