import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { openEvdb, type EventRecord, type Evdb } from '../src/index.js';
import { postgres } from '../src/backends/postgres/index.js';
import { uniqueStoreId } from './conformance/index.js';
import type { CrashAck, CrashEventData, CrashWriterMessage } from './support/pg-crash-writer.js';
import { spawnChild, type Child } from './support/pg-process.js';
import { dropSchemas, startPostgres, uniqueSchema } from './support/postgres.js';

const server = await startPostgres();
const schema = uniqueSchema('crash');
let evdb: Evdb = await openEvdb({ backend: postgres({ url: server.url, schema }) });
after(async () => {
  await evdb.close();
  if (!server.owned) await dropSchemas(server.url, schema);
  await server.stop();
});

function startWriter(storeId: string, writer: number, retry: boolean): Child<CrashWriterMessage> {
  return spawnChild<CrashWriterMessage>('./pg-crash-writer.ts', {
    url: server.url,
    schema,
    storeId,
    writer,
    loops: 3,
    retry,
  });
}

const acks = (child: Child<CrashWriterMessage>): CrashAck[] =>
  child.messages.filter((m): m is CrashAck => m.t === 'ack');

/**
 * Checks the store after a crash: the log is whole (positions gapless and increasing, versions
 * contiguous, every append present with all its events or not at all, each event once), and
 * every acknowledged append is stored where its result said.
 */
async function assertIntact(storeId: string, acknowledged: CrashAck[]): Promise<EventRecord[]> {
  const all = await evdb.readAllGlobal(storeId, 0, 100_000);
  assert.deepEqual(
    all.map((e) => e.position),
    all.map((_, i) => i),
    'positions are gapless and increasing',
  );
  const versions = new Map<string, number>();
  const perAppend = new Map<string, { size: number; count: number }>();
  for (const e of all) {
    const expected = (versions.get(e.streamId) ?? -1) + 1;
    assert.equal(e.version, expected, `stream ${e.streamId} jumps to version ${e.version}`);
    versions.set(e.streamId, e.version);
    const { appendId, size } = e.data as unknown as CrashEventData;
    const entry = perAppend.get(appendId) ?? { size, count: 0 };
    entry.count += 1;
    perAppend.set(appendId, entry);
  }
  for (const [appendId, { size, count }] of perAppend) {
    assert.equal(count, size, `append ${appendId} has ${count} of its ${size} events`);
  }
  assert.equal(new Set(all.map((e) => e.eventId)).size, all.length, 'every event is stored once');
  for (const ack of acknowledged) {
    for (const write of ack.writes) {
      write.eventIds.forEach((eventId, i) => {
        const back = write.eventIds.length - 1 - i;
        const stored = all[write.position - back];
        assert.equal(stored?.eventId, eventId, `acknowledged append ${ack.appendId} is stored`);
        assert.equal(stored.streamId, write.streamId);
        assert.equal(stored.version, write.version - back);
      });
    }
  }
  return all;
}

describe('postgres: crashes', () => {
  it('SIGKILL of a writer mid-load: every acknowledged append is stored in full, nothing half-written', async () => {
    const storeId = uniqueStoreId('kill');
    await evdb.createStore(storeId);
    const writer = startWriter(storeId, 0, false);
    await writer.waitFor(() => acks(writer).length >= 150, 60_000);
    writer.process.kill('SIGKILL');
    const { signal } = await writer.exited;
    assert.equal(signal, 'SIGKILL');
    const acknowledged = acks(writer);

    // Another writer goes on at once. Its commit also settles the log first: a COMMIT the killed
    // process had already sent is still completed by the server, under the store's lock.
    const data = { appendId: 'after-kill', size: 1 } satisfies CrashEventData;
    const next = await evdb.appendEvents(storeId, 'after-kill', [{ eventType: 'E', data }]);
    const all = await assertIntact(storeId, acknowledged);
    assert.ok(all.length > acknowledged.length);
    assert.equal(all[next.position]?.streamId, 'after-kill');
  });

  it(
    'immediate restart of the server mid-load: writers see unavailable, retry with the same ids, and every acknowledged append is stored exactly once',
    {
      skip: server.owned
        ? false
        : 'the server named by EVDB_TEST_PG_URL is not ours to crash; run without it to start a throwaway cluster',
    },
    async (t) => {
      const storeId = uniqueStoreId('restart');
      await evdb.createStore(storeId);
      const writers = [startWriter(storeId, 0, true), startWriter(storeId, 1, true)];
      await Promise.all(writers.map((w) => w.waitFor(() => acks(w).length >= 60, 60_000)));
      await server.restart('immediate');
      const afterRestart = writers.map((w) => acks(w).length);
      await Promise.all(
        writers.map((w, i) =>
          w.waitFor(() => acks(w).length >= (afterRestart[i] as number) + 60, 60_000),
        ),
      );
      for (const w of writers) w.send({ stop: true });
      for (const [i, w] of writers.entries()) {
        const { code, signal } = await w.exited;
        assert.equal(code, 0, `writer ${i} exited with ${code ?? signal}: ${w.stderr()}`);
      }
      const errors = writers.flatMap((w) =>
        w.messages.filter((m): m is Extract<CrashWriterMessage, { t: 'error' }> => m.t === 'error'),
      );
      assert.ok(errors.length > 0, 'the writers noticed the crash');
      for (const error of errors) {
        assert.equal(error.code, 'unavailable', error.message);
        assert.equal(error.retriable, true);
      }
      const retried = writers.flatMap((w) => acks(w).filter((ack) => ack.attempts > 1));
      assert.ok(retried.length > 0, 'some appends succeeded only on a retry');
      t.diagnostic(`${errors.length} unavailable errors, ${retried.length} appends retried`);

      // The backend of this process lost its connections too; a fresh one reads the result.
      await evdb.close();
      evdb = await openEvdb({ backend: postgres({ url: server.url, schema }) });
      await assertIntact(
        storeId,
        writers.flatMap((w) => acks(w)),
      );
    },
  );
});
