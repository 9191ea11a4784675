import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import pg from 'pg';
import { openEvdb, type EventRecord, type Evdb } from '../src/index.js';
import { postgres } from '../src/backends/postgres/index.js';
import { uniqueStoreId } from './conformance/index.js';
import type { AppendOneMessage } from './support/pg-append-one.js';
import { spawnChild, type Child } from './support/pg-process.js';
import type { ReaderMessage } from './support/pg-reader.js';
import { TailChecker } from './support/pg-tail.js';
import type { AckedWrite, WriterMessage } from './support/pg-writer.js';
import { dropSchemas, startPostgres, uniqueSchema } from './support/postgres.js';

const server = await startPostgres();
const schema = uniqueSchema('conc');
const evdb: Evdb = await openEvdb({ backend: postgres({ url: server.url, schema }) });
after(async () => {
  await evdb.close();
  if (!server.owned) await dropSchemas(server.url, schema);
  await server.stop();
});

const common = { url: server.url, schema };

async function finish<M>(child: Child<M>, name: string): Promise<void> {
  const { code, signal } = await child.exited;
  assert.equal(code, 0, `${name} exited with ${code ?? signal}; stderr:\n${child.stderr()}`);
}

/** Polls pg_stat_activity until `count` other sessions wait on a lock of this kind. */
async function waitForLockWaiters(
  client: pg.Client,
  waitEvents: string[],
  count: number,
): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const { rows } = await client.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' " +
        'AND wait_event = ANY($1) AND pid <> pg_backend_pid()',
      [waitEvents],
    );
    if ((rows[0]?.n ?? 0) >= count) return;
    if (Date.now() > deadline) {
      const activity = await client.query(
        "SELECT pid, state, wait_event_type, wait_event, left(query, 100) AS query FROM pg_stat_activity WHERE backend_type = 'client backend'",
      );
      throw new Error(
        `no session waits on ${waitEvents.join('/')}: ${JSON.stringify(activity.rows, null, 1)}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('postgres: many processes on one store', () => {
  it('concurrent writer processes and tailing readers: every reader sees every event once, in order', async () => {
    const storeId = uniqueStoreId('conc');
    await evdb.createStore(storeId);
    const readers = [
      spawnChild<ReaderMessage>('./pg-reader.ts', {
        ...common,
        storeId,
        mode: 'poll',
        pageSize: 7,
      }),
      spawnChild<ReaderMessage>('./pg-reader.ts', {
        ...common,
        storeId,
        mode: 'watch',
        pageSize: 50,
        // Only NOTIFY can wake this reader in time: its fallback poll is an hour away.
        pollIntervalMs: 3_600_000,
      }),
    ];
    await Promise.all(readers.map((reader) => reader.waitFor((m) => m.t === 'ready')));
    const writers = Array.from({ length: 4 }, (_, writer) =>
      spawnChild<WriterMessage>('./pg-writer.ts', {
        ...common,
        storeId,
        writer,
        appends: 45,
        loops: 3,
        sharedStreams: 3,
      }),
    );
    await Promise.all(writers.map((child, i) => finish(child, `writer ${i}`)));
    const { lastPosition, totalEvents } = await evdb.getStoreStatus(storeId);
    for (const reader of readers) reader.send({ until: lastPosition });

    // The log: positions gapless and increasing, every stream's versions contiguous from 0.
    const all = await evdb.readAllGlobal(storeId, 0, 100_000);
    assert.equal(all.length, totalEvents);
    assert.deepEqual(
      all.map((e) => e.position),
      all.map((_, i) => i),
    );
    const versions = new Map<string, number>();
    for (const e of all) {
      const expected = (versions.get(e.streamId) ?? -1) + 1;
      assert.equal(e.version, expected, `stream ${e.streamId} jumps to version ${e.version}`);
      versions.set(e.streamId, e.version);
    }

    // Every acknowledged write is there, where its result said; nothing else is.
    const messages = writers.flatMap((child) => child.messages);
    const acked = messages.flatMap((m): AckedWrite[] => (m.t === 'ack' ? m.writes : []));
    let ackedEvents = 0;
    for (const write of acked) {
      write.eventIds.forEach((eventId, i) => {
        const back = write.eventIds.length - 1 - i;
        const stored = all[write.position - back] as EventRecord;
        assert.equal(stored.eventId, eventId);
        assert.equal(stored.streamId, write.streamId);
        assert.equal(stored.version, write.version - back);
      });
      ackedEvents += write.eventIds.length;
    }
    assert.equal(ackedEvents, all.length, 'only acknowledged appends are stored');

    // Conflicts happened, and each reported the stream's real version at that moment: it lies
    // between what the writer read before and after, and differs from what it expected.
    const conflicts = messages.filter((m) => m.t === 'conflict');
    assert.ok(conflicts.length >= 10, `only ${conflicts.length} conflicts: the test is too gentle`);
    for (const c of conflicts) {
      assert.equal(c.expected, c.before);
      assert.notEqual(c.actual, c.expected);
      assert.ok(c.before <= c.actual && c.actual <= c.after, JSON.stringify(c));
      assert.ok(c.actual <= (versions.get(c.streamId) ?? -1));
    }

    // Each reader, tailing while the writers ran, saw the whole log exactly once, in order.
    const expectedIds = all.map((e) => e.eventId);
    for (const [i, reader] of readers.entries()) {
      const seen = (await reader.waitFor((m) => m.t === 'seen', 60_000)) as Extract<
        ReaderMessage,
        { t: 'seen' }
      >;
      assert.deepEqual(seen.violations, [], `reader ${i}`);
      assert.deepEqual(seen.eventIds, expectedIds, `reader ${i}`);
      await finish(reader, `reader ${i}`);
    }
  });

  it('a commit stalled after taking its position holds back a later commit: no reader sees P+1 before P', async () => {
    const storeId = uniqueStoreId('order');
    await evdb.createStore(storeId);
    await evdb.appendEvents(storeId, 'first', [{ eventType: 'E', data: 0 }]);
    const reader = spawnChild<ReaderMessage>('./pg-reader.ts', {
      ...common,
      storeId,
      mode: 'poll',
      pageSize: 1,
    });
    await reader.waitFor((m) => m.t === 'ready');

    // An uncommitted head for stream 'a', so that commit A stops inside its write: it holds
    // the store lock and has inserted its event at position 1, uncommitted, and waits to
    // insert the head.
    const blocker = new pg.Client({ connectionString: server.url });
    // pg_stat_activity is read once per transaction: watch from a connection outside the blocker's.
    const monitor = new pg.Client({ connectionString: server.url });
    await Promise.all([blocker.connect(), monitor.connect()]);
    try {
      await blocker.query('BEGIN');
      await blocker.query(
        `INSERT INTO ${blocker.escapeIdentifier(`${schema}-${storeId}`)}.streams ` +
          "VALUES ('a', 0, 0, 0)",
      );
      const a = spawnChild<AppendOneMessage>('./pg-append-one.ts', {
        ...common,
        storeId,
        streamId: 'a',
      });
      await waitForLockWaiters(monitor, ['transactionid', 'tuple'], 1);
      // Commit B starts later, in another process, and must wait for A's store lock.
      const b = spawnChild<AppendOneMessage>('./pg-append-one.ts', {
        ...common,
        storeId,
        streamId: 'b',
      });
      await waitForLockWaiters(monitor, ['advisory'], 1);
      await new Promise((resolve) => setTimeout(resolve, 200));
      assert.equal(a.messages.length, 0, 'A cannot finish while its commit is held');
      assert.equal(b.messages.length, 0, 'B cannot commit before A');
      assert.deepEqual(
        (await evdb.readAllGlobal(storeId, 0, 10)).map((e) => e.position),
        [0],
        'neither A nor B is visible yet',
      );
      await blocker.query('ROLLBACK');
      const [ackA, ackB] = await Promise.all([
        a.waitFor((m) => m.t === 'ack'),
        b.waitFor((m) => m.t === 'ack'),
      ]);
      assert.equal(ackA.position, 1);
      assert.equal(ackB.position, 2);
      await Promise.all([finish(a, 'A'), finish(b, 'B')]);
      reader.send({ until: 2 });
      const seen = (await reader.waitFor((m) => m.t === 'seen')) as Extract<
        ReaderMessage,
        { t: 'seen' }
      >;
      assert.deepEqual(seen.violations, []);
      assert.deepEqual(seen.eventIds.slice(1), [ackA.eventId, ackB.eventId]);
      await finish(reader, 'reader');
    } finally {
      await Promise.all([blocker.end(), monitor.end()]);
    }
  });

  it('control: positions taken without the store lock and committed out of order make a reader skip, and the check sees it', async () => {
    // What the lock prevents, done by hand: T1 takes position 1 first, T2 takes position 2 and
    // commits first. A reader polling in between moves past 1 before T1 commits.
    const storeId = uniqueStoreId('control');
    await evdb.createStore(storeId);
    await evdb.appendEvents(storeId, 'first', [{ eventType: 'E', data: 0 }]);
    const events = `${pg.escapeIdentifier(`${schema}-${storeId}`)}.events`;
    const insert = (position: number, streamId: string): string =>
      `INSERT INTO ${events} (position, stream_id, version, event_id, event_type, data, epoch_us) ` +
      `VALUES (${position}, '${streamId}', 0, gen_random_uuid(), 'E', '0', 0)`;
    const t1 = new pg.Client({ connectionString: server.url });
    const t2 = new pg.Client({ connectionString: server.url });
    await Promise.all([t1.connect(), t2.connect()]);
    try {
      const checker = new TailChecker();
      checker.accept(await evdb.readAllGlobal(storeId, checker.next, 10));
      await t1.query('BEGIN');
      await t1.query(insert(1, 'x'));
      await t2.query('BEGIN');
      await t2.query(insert(2, 'y'));
      await t2.query('COMMIT');
      checker.accept(await evdb.readAllGlobal(storeId, checker.next, 10));
      await t1.query('COMMIT');
      checker.accept(await evdb.readAllGlobal(storeId, checker.next, 10));
      assert.deepEqual(checker.violations, ['skipped positions 1..1']);
      assert.equal(checker.eventIds.length, 2, 'position 1 was never read');
    } finally {
      await Promise.all([t1.end(), t2.end()]);
    }
  });
});
