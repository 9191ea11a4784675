import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import {
  type KurrentDBClient,
  START,
  StreamDeletedError,
  eventTypeFilter,
  streamNameFilter,
  type Position,
  type ResolvedEvent,
} from '@kurrent/kurrentdb-client';
import {
  events,
  collect,
  rejectsWith,
  startKurrentNode,
  type KurrentNode,
} from './support/kurrent-client.js';

// Catch-up subscriptions of the official KurrentDB Node client (1.3.1, unmodified) against
// evdb's KurrentDB endpoint (streams, appends and reads are in kurrent-streams.test.ts).
// Its appends, deletes and subscriptions go through @grpc/grpc-js; its reads go through its
// native Rust bridge (@kurrent/bridge), which opens its own HTTP/2 connection.

describe('KurrentDB client 1.3.1 against evdb: catch-up subscriptions', () => {
  let node: KurrentNode;
  let client: KurrentDBClient;

  before(async () => {
    node = await startKurrentNode();
    client = node.client;
  });
  after(() => node.close());

  describe('catch-up subscriptions', () => {
    it('subscribes to a stream: history, caught up once, then live', async () => {
      const stream = `sub-${randomUUID()}`;
      await client.appendToStream(stream, events(3));
      const subscription = client.subscribeToStream(stream, { fromRevision: START });
      const seen: number[] = [];
      let caughtUp = 0;
      subscription.on('caughtUp', () => {
        caughtUp++;
        void client.appendToStream(stream, events(2, 'Happened', 3));
      });
      for await (const event of subscription) {
        seen.push(Number(event.event?.revision));
        if (seen.length === 5) break;
      }
      assert.deepEqual(seen, [0, 1, 2, 3, 4]);
      assert.equal(caughtUp, 1);
    });

    it('subscribes to a stream after a revision, and to a stream that does not exist yet', async () => {
      const stream = `sub-late-${randomUUID()}`;
      const subscription = client.subscribeToStream(stream, { fromRevision: START });
      const later = client.subscribeToStream(stream, { fromRevision: 1n });
      await client.appendToStream(stream, events(4));
      const firstTwo: number[] = [];
      for await (const event of subscription) {
        firstTwo.push(Number(event.event?.revision));
        if (firstTwo.length === 2) break;
      }
      const after: number[] = [];
      for await (const event of later) {
        after.push(Number(event.event?.revision));
        if (after.length === 2) break;
      }
      assert.deepEqual(firstTwo, [0, 1]);
      assert.deepEqual(after, [2, 3]);
    });

    it('subscribes to $all with a filter, with checkpoints, from a position (exclusive)', async () => {
      const tag = randomUUID().slice(0, 8);
      for (let i = 0; i < 4; i++) {
        await client.appendToStream(`noise-${tag}`, events(40, `Noise${tag}`));
        await client.appendToStream(`wanted-${tag}-${i}`, events(1, `Wanted${tag}`));
      }
      const checkpoints: Position[] = [];
      const subscription = client.subscribeToAll({
        fromPosition: START,
        filter: eventTypeFilter({
          prefixes: [`Wanted${tag}`],
          checkpointInterval: 2,
          checkpointReached: (_sub, position) => {
            checkpoints.push(position);
          },
        }),
      });
      const wanted: ResolvedEvent[] = [];
      for await (const event of subscription) {
        wanted.push(event);
        if (wanted.length === 4) break;
      }
      assert.deepEqual(
        wanted.map((e) => e.event?.streamId),
        [0, 1, 2, 3].map((i) => `wanted-${tag}-${i}`),
      );
      assert.ok(checkpoints.length >= 2, `checkpoints: ${checkpoints.length}`);
      const from = wanted[1]?.event?.position as Position;
      const rest = client.subscribeToAll({
        fromPosition: from,
        filter: streamNameFilter({ prefixes: [`wanted-${tag}`] }),
      });
      const after: string[] = [];
      for await (const event of rest) {
        after.push(event.event?.streamId as string);
        if (after.length === 2) break;
      }
      assert.deepEqual(after, [`wanted-${tag}-2`, `wanted-${tag}-3`]);
    });

    it('ends a stream subscription with StreamDeletedError when the stream is tombstoned', async () => {
      const stream = `sub-hard-${randomUUID()}`;
      await client.appendToStream(stream, events(1));
      const subscription = client.subscribeToStream(stream, { fromRevision: START });
      subscription.on('caughtUp', () => {
        void client.tombstoneStream(stream);
      });
      await rejectsWith(() => collect(subscription), StreamDeletedError);
    });
  });
});
