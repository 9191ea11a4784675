import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import {
  ANY,
  BACKWARDS,
  DeadlineExceededError,
  END,
  FORWARDS,
  KurrentDBClient,
  NO_STREAM,
  START,
  STREAM_EXISTS,
  StreamDeletedError,
  StreamNotFoundError,
  WrongExpectedVersionError,
  binaryEvent,
  eventTypeFilter,
  excludeSystemEvents,
  jsonEvent,
  streamNameFilter,
  type AppendStreamState,
  type Position,
  type ResolvedEvent,
} from '@kurrent/kurrentdb-client';
import { sqlite } from '../src/index.js';
import {
  events,
  collect,
  rejectsWith,
  startKurrentNode,
  type KurrentNode,
} from './support/kurrent-client.js';
import { startServer } from '../src/server.js';

// The official KurrentDB Node client (1.3.1, unmodified) against evdb's KurrentDB endpoint
// (a little over 400 lines: every stream operation of the client, against one server).
// Its appends, deletes and subscriptions go through @grpc/grpc-js; its reads go through its
// native Rust bridge (@kurrent/bridge), which opens its own HTTP/2 connection.

describe('KurrentDB client 1.3.1 against evdb: streams', () => {
  let node: KurrentNode;
  let client: KurrentDBClient;

  before(async () => {
    node = await startKurrentNode();
    client = node.client;
  });
  after(() => node.close());

  describe('appendToStream', () => {
    it('honours every expected state on the BatchAppend path', async () => {
      const stream = `orders-${randomUUID()}`;
      const first = await client.appendToStream(stream, events(2), { streamState: NO_STREAM });
      assert.equal(first.success, true);
      assert.equal(first.nextExpectedRevision, 1n);
      await rejectsWith(
        () => client.appendToStream(stream, events(1), { streamState: NO_STREAM }),
        WrongExpectedVersionError,
      );
      const exists = await client.appendToStream(stream, events(1), {
        streamState: STREAM_EXISTS,
      });
      assert.equal(exists.nextExpectedRevision, 2n);
      const exact = await client.appendToStream(stream, events(1), { streamState: 2n });
      assert.equal(exact.nextExpectedRevision, 3n);
      const any = await client.appendToStream(stream, events(1), { streamState: ANY });
      assert.equal(any.nextExpectedRevision, 4n);
      await assert.rejects(
        () => client.appendToStream(stream, events(1), { streamState: 1n }),
        (error: unknown) => {
          assert.ok(error instanceof WrongExpectedVersionError);
          assert.equal(error.streamName, stream);
          assert.equal(error.expectedState, 1n);
          assert.equal(error.actualState, 4n);
          return true;
        },
      );
      await rejectsWith(
        () =>
          client.appendToStream(`missing-${randomUUID()}`, events(1), {
            streamState: STREAM_EXISTS,
          }),
        WrongExpectedVersionError,
      );
    });

    it('honours every expected state on the Append path (per-call credentials)', async () => {
      // Per-call credentials make the client use the unary-streaming Append instead.
      const credentials = { username: 'admin', password: 'changeit' };
      const stream = `orders-${randomUUID()}`;
      const states: [AppendStreamState, boolean, bigint][] = [
        [NO_STREAM, true, 0n],
        [NO_STREAM, false, 0n],
        [STREAM_EXISTS, true, 1n],
        [1n, true, 2n],
        [0n, false, 2n],
        [ANY, true, 3n],
      ];
      for (const [streamState, ok, revision] of states) {
        const attempt = () =>
          client.appendToStream(stream, events(1), { streamState, credentials });
        if (ok) {
          const result = await attempt();
          assert.equal(result.nextExpectedRevision, revision, `state ${String(streamState)}`);
        } else {
          await assert.rejects(attempt, (error: unknown) => {
            assert.ok(error instanceof WrongExpectedVersionError);
            assert.equal(error.actualState, revision);
            return true;
          });
        }
      }
    });

    it('reports a wrong expected version as a result when throwOnAppendFailure is off', async () => {
      const lenient = KurrentDBClient.connectionString(
        `${node.server.kurrentConnectionString}&throwOnAppendFailure=false`,
      );
      try {
        const stream = `orders-${randomUUID()}`;
        await lenient.appendToStream(stream, events(2));
        const result = await lenient.appendToStream(stream, events(1), {
          streamState: NO_STREAM,
          credentials: { username: 'admin', password: 'changeit' },
        });
        assert.equal(result.success, false);
        assert.equal(result.nextExpectedRevision, 1n);
      } finally {
        await lenient.dispose();
      }
    });

    it('takes a re-append of the same event ids as the original append, once', async () => {
      const stream = `orders-${randomUUID()}`;
      const batch = events(3);
      const first = await client.appendToStream(stream, batch, { streamState: NO_STREAM });
      const again = await client.appendToStream(stream, batch, { streamState: NO_STREAM });
      assert.deepEqual(again, first);
      const any = await client.appendToStream(stream, batch, { streamState: ANY });
      assert.equal(any.nextExpectedRevision, 2n);
      const read = await collect(client.readStream(stream));
      assert.equal(read.length, 3);
    });

    it('keeps JSON and binary data, metadata, ids and types', async () => {
      const stream = `mixed-${randomUUID()}`;
      const id = randomUUID();
      const bytes = new Uint8Array([0, 1, 2, 250, 255]);
      await client.appendToStream(stream, [
        jsonEvent({
          id,
          type: 'Json',
          data: { text: 'ünïcödé', list: [1, 2] },
          metadata: { by: 'me' },
        }),
        binaryEvent({ type: 'Bytes', data: bytes, metadata: new Uint8Array([9, 8, 7]) }),
      ]);
      const [json, binary] = await collect(client.readStream(stream));
      assert.equal(json?.event?.id, id);
      assert.equal(json?.event?.type, 'Json');
      assert.equal(json?.event?.isJson, true);
      assert.deepEqual(json?.event?.data, { text: 'ünïcödé', list: [1, 2] });
      assert.deepEqual(json?.event?.metadata, { by: 'me' });
      assert.equal(binary?.event?.isJson, false);
      assert.deepEqual(new Uint8Array(binary?.event?.data), bytes);
      assert.deepEqual(
        new Uint8Array(binary?.event?.metadata as Uint8Array),
        new Uint8Array([9, 8, 7]),
      );
      // The Rust bridge turns `created` (ticks) into whole seconds.
      const created = json?.event?.created;
      assert.ok(Math.abs(created.getTime() - Date.now()) < 60_000);
    });

    it('takes an event larger than the 3 MiB chunk of the client, and refuses one over 4 MiB', async () => {
      // The client then opens the batch with a chunk that holds only the options.
      const stream = `big-${randomUUID()}`;
      const blob = 'x'.repeat(3.5 * 1024 * 1024);
      await client.appendToStream(stream, [
        jsonEvent({ type: 'Small', data: { n: 1 } }),
        jsonEvent({ type: 'Big', data: { blob } }),
      ]);
      const read = await collect(client.readStream(stream));
      assert.equal((read[1]?.event?.data as { blob: string }).blob.length, blob.length);
      // evdb's limit for one event (KurrentDB's is 16 MiB): refused, nothing written.
      await assert.rejects(() =>
        client.appendToStream(
          stream,
          jsonEvent({ type: 'Huge', data: { blob: 'y'.repeat(5 * 1024 * 1024) } }),
        ),
      );
      assert.equal((await collect(client.readStream(stream))).length, 2);
    });

    it('answers a batch whose deadline passes while it arrives, and keeps the shared BatchAppend call', async () => {
      // About 8 MB: the client sends it in three chunks; the deadline has passed at the first.
      const stream = `late-${randomUUID()}`;
      const many = Array.from({ length: 30_000 }, (_, n) =>
        jsonEvent({ type: 'Late', data: { n, pad: 'p'.repeat(200) } }),
      );
      await rejectsWith(
        () => client.appendToStream(stream, many, { deadline: 1 }),
        DeadlineExceededError,
      );
      // The rest of that batch is dropped; the call all appends of the client share goes on.
      const next = await client.appendToStream(stream, events(1));
      assert.equal(next.nextExpectedRevision, 0n);
    });

    it('stores JSON events as JSON that evdb readers see', async () => {
      const stream = `shared-${randomUUID()}`;
      await client.appendToStream(stream, [jsonEvent({ type: 'Shared', data: { total: 5 } })]);
      const [event] = await node.server.evdb.streamForward('default', stream, 0, 10);
      assert.deepEqual(event?.data, { total: 5 });
      assert.equal(event?.eventType, 'Shared');
    });
  });

  describe('readStream', () => {
    const stream = `read-${randomUUID()}`;
    before(async () => {
      await client.appendToStream(stream, events(10));
    });
    const revisions = (read: ResolvedEvent[]) => read.map((e) => Number(e.event?.revision));

    it('reads forwards and backwards, from a revision, with a count', async () => {
      assert.deepEqual(
        revisions(await collect(client.readStream(stream))),
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
      );
      assert.deepEqual(
        revisions(await collect(client.readStream(stream, { fromRevision: 3n, maxCount: 4 }))),
        [3, 4, 5, 6],
      );
      assert.deepEqual(
        revisions(
          await collect(
            client.readStream(stream, { direction: BACKWARDS, fromRevision: END, maxCount: 3 }),
          ),
        ),
        [9, 8, 7],
      );
      assert.deepEqual(
        revisions(
          await collect(client.readStream(stream, { direction: BACKWARDS, fromRevision: 4n })),
        ),
        [4, 3, 2, 1, 0],
      );
      // The client's bridge turns a forward read from END into a backward read from the end,
      // and a backward read from START into a forward one, so KurrentDB answers these too.
      assert.deepEqual(
        revisions(
          await collect(client.readStream(stream, { direction: FORWARDS, fromRevision: END })),
        ),
        [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
      );
      assert.deepEqual(
        revisions(
          await collect(client.readStream(stream, { direction: BACKWARDS, fromRevision: START })),
        ),
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
      );
    });

    it('answers a missing stream with StreamNotFoundError', async () => {
      await rejectsWith(
        () => collect(client.readStream(`nothing-${randomUUID()}`)),
        StreamNotFoundError,
      );
    });
  });

  describe('readAll', () => {
    const tag = randomUUID().slice(0, 8);
    before(async () => {
      await client.appendToStream(`alpha-${tag}`, events(3, `A${tag}`));
      await client.appendToStream(`beta-${tag}`, events(2, `B${tag}`));
    });

    it('reads $all forwards and backwards and round-trips positions', async () => {
      const forwards = await collect(client.readAll({ fromPosition: START }));
      const mine = forwards.filter((e) => e.event?.streamId.endsWith(tag));
      assert.equal(mine.length, 5);
      const backwards = await collect(
        client.readAll({ direction: BACKWARDS, fromPosition: END, maxCount: 5 }),
      );
      assert.deepEqual(
        backwards.map((e) => e.event?.id),
        mine.map((e) => e.event?.id).reverse(),
      );
      // Every position a client was given reads back the same event.
      for (const event of mine) {
        const position = event.event?.position as Position;
        const [again] = await collect(client.readAll({ fromPosition: position, maxCount: 1 }));
        assert.equal(again?.event?.id, event.event?.id);
      }
      // Backwards from a position returns the events before it.
      const third = mine[2]?.event?.position as Position;
      const before = await collect(
        client.readAll({ direction: BACKWARDS, fromPosition: third, maxCount: 2 }),
      );
      assert.deepEqual(
        before.map((e) => e.event?.id),
        [mine[1]?.event?.id, mine[0]?.event?.id],
      );
    });

    it('filters by stream-name prefix and event-type regex', async () => {
      const byStream = await collect(
        client.readAll({ filter: streamNameFilter({ prefixes: [`beta-${tag}`] }) }),
      );
      assert.deepEqual(
        byStream.map((e) => e.event?.streamId),
        [`beta-${tag}`, `beta-${tag}`],
      );
      const byType = await collect(
        client.readAll({ filter: eventTypeFilter({ regex: `^A${tag}$` }), maxCount: 2 }),
      );
      assert.deepEqual(
        byType.map((e) => e.event?.type),
        [`A${tag}`, `A${tag}`],
      );
      const user = await collect(client.readAll({ filter: excludeSystemEvents() }));
      assert.ok(user.every((e) => !e.event?.type.startsWith('$')));
    });
  });

  describe('deleteStream and tombstoneStream', () => {
    it('soft-deletes: the stream reads as not found and can be written again', async () => {
      const stream = `soft-${randomUUID()}`;
      await client.appendToStream(stream, events(2));
      await rejectsWith(
        () => client.deleteStream(stream, { expectedRevision: 0n }),
        WrongExpectedVersionError,
      );
      await client.deleteStream(stream, { expectedRevision: 1n });
      await rejectsWith(() => collect(client.readStream(stream)), StreamNotFoundError);
      // Deliberately unlike KurrentDB, which would continue at revision 2: evdb's deleteStream
      // removes the events, and the stream starts again at revision 0.
      const again = await client.appendToStream(stream, events(1), { streamState: NO_STREAM });
      assert.equal(again.nextExpectedRevision, 0n);
    });

    it('refuses to delete a stream that does not exist, as KurrentDB does', async () => {
      // The client's own suite (reconnect/no-reconnection) expects WrongExpectedVersionError.
      const stream = `never-${randomUUID()}`;
      await rejectsWith(() => client.deleteStream(stream), WrongExpectedVersionError);
      await client.appendToStream(stream, events(1));
      await client.deleteStream(stream);
      await rejectsWith(() => client.deleteStream(stream), WrongExpectedVersionError);
      // A stream with metadata and no events exists implicitly: no_stream deletes it.
      const implicit = `implicit-${randomUUID()}`;
      await rejectsWith(
        () => client.deleteStream(implicit, { expectedRevision: NO_STREAM }),
        WrongExpectedVersionError,
      );
      await client.setStreamMetadata(implicit, { cacheControl: 10 });
      assert.ok(await client.deleteStream(implicit, { expectedRevision: NO_STREAM }));
    });

    it('tombstones: the stream can never be read or written again', async () => {
      const stream = `hard-${randomUUID()}`;
      await client.appendToStream(stream, events(2));
      await rejectsWith(
        () => client.tombstoneStream(stream, { expectedRevision: 5n }),
        WrongExpectedVersionError,
      );
      await client.tombstoneStream(stream, { expectedRevision: 1n });
      await rejectsWith(() => collect(client.readStream(stream)), StreamDeletedError);
      await rejectsWith(() => client.appendToStream(stream, events(1)), StreamDeletedError);
      await rejectsWith(
        () =>
          client.appendToStream(stream, events(1), {
            credentials: { username: 'a', password: 'b' },
          }),
        StreamDeletedError,
      );
      await rejectsWith(() => client.deleteStream(stream), StreamDeletedError);
      await rejectsWith(() => client.tombstoneStream(stream), StreamDeletedError);
    });

    it('keeps tombstones across a restart of the server', async () => {
      const stream = `hard-restart-${randomUUID()}`;
      await client.appendToStream(stream, events(1));
      await client.tombstoneStream(stream);
      const other = await startServer({
        port: 0,
        backend: sqlite({ dataDir: node.dataDir }),
        kurrent: { port: 0 },
      });
      const otherClient = KurrentDBClient.connectionString(other.kurrentConnectionString as string);
      try {
        await rejectsWith(() => otherClient.appendToStream(stream, events(1)), StreamDeletedError);
      } finally {
        await otherClient.dispose();
        await other.close();
      }
    });
  });

  describe('stream metadata', () => {
    it('writes $$<stream> and reads it back, custom keys included', async () => {
      const stream = `meta-${randomUUID()}`;
      const empty = await client.getStreamMetadata(stream);
      assert.equal(empty.metadata, undefined);
      await client.setStreamMetadata(stream, {
        maxCount: 5,
        truncateBefore: 1,
        acl: { readRoles: ['$admins'] },
        owner: 'billing',
      });
      const { metadata } = await client.getStreamMetadata(stream);
      assert.deepEqual(metadata, {
        maxCount: 5,
        truncateBefore: 1,
        acl: { readRoles: ['$admins'] },
        owner: 'billing',
      });
      // Kept as an evdb system stream, out of reach of evdb's own public writes.
      assert.equal(await node.server.evdb.getVersion('default', `$$${stream}`), 0);
    });

    it('applies $tb and $maxCount to reads of the stream, and $maxAge', async () => {
      const stream = `limited-${randomUUID()}`;
      await client.appendToStream(stream, events(10));
      const revisions = async (options = {}) =>
        (await collect(client.readStream(stream, options))).map((e) => Number(e.event?.revision));
      await client.setStreamMetadata(stream, { truncateBefore: 4 });
      assert.deepEqual(await revisions(), [4, 5, 6, 7, 8, 9]);
      assert.deepEqual(
        await revisions({ direction: BACKWARDS, fromRevision: END }),
        [9, 8, 7, 6, 5, 4],
      );
      await client.setStreamMetadata(stream, { maxCount: 3 });
      assert.deepEqual(await revisions(), [7, 8, 9]);
      assert.deepEqual(await revisions({ fromRevision: 1n, maxCount: 2 }), [7, 8]);
      await client.appendToStream(stream, events(1));
      assert.deepEqual(await revisions(), [8, 9, 10]);
      await client.setStreamMetadata(stream, { maxAge: 3600 });
      assert.equal((await revisions()).length, 11);
      // Events of the hour before are hidden once maxAge is shorter than their age; the
      // second-precision of maxAge makes a zero-second age the way to show it at once.
      await client.setStreamMetadata(stream, { maxAge: 0 });
      await new Promise((resolve) => setTimeout(resolve, 5));
      assert.deepEqual(await revisions(), []);
    });
  });
});
