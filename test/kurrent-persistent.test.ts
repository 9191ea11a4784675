import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  KurrentDBClient,
  PARK,
  PersistentSubscriptionDoesNotExistError,
  PersistentSubscriptionExistsError,
  RETRY,
  SKIP,
  START,
  jsonEvent,
  persistentSubscriptionToAllSettingsFromDefaults,
  persistentSubscriptionToStreamSettingsFromDefaults,
  streamNameFilter,
  type PersistentSubscriptionToStream,
  type PersistentSubscriptionToStreamResolvedEvent,
} from '@kurrent/kurrentdb-client';
import { sqlite } from '../src/index.js';
import { startServer, type EvdbServer } from '../src/server.js';

// Persistent subscriptions through the official KurrentDB client 1.3.1: groups on a stream and
// on $all, ack, nack (retry, skip, park), parked-message replay, and a checkpoint that survives
// a restart of the server (evdb keeps the group as one of its own persistent subscriptions).

const events = (n: number, type = 'Happened') =>
  Array.from({ length: n }, (_, i) => jsonEvent({ type, data: { n: i } }));

/** Polls until `check` passes: acks travel asynchronously, as on KurrentDB. */
async function eventually(check: () => Promise<void>): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await check();
      return;
    } catch (error) {
      if (attempt >= 100) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

/** Takes the next `n` events of a persistent subscription. */
async function take(
  iterator: AsyncIterator<PersistentSubscriptionToStreamResolvedEvent>,
  n: number,
): Promise<PersistentSubscriptionToStreamResolvedEvent[]> {
  const taken: PersistentSubscriptionToStreamResolvedEvent[] = [];
  while (taken.length < n) {
    const next = await iterator.next();
    if (next.done === true) throw new Error(`the subscription ended after ${taken.length} events`);
    taken.push(next.value);
  }
  return taken;
}

describe('KurrentDB client 1.3.1 against evdb: persistent subscriptions', () => {
  let dataDir: string;
  let server: EvdbServer;
  let client: KurrentDBClient;

  const start = async () => {
    server = await startServer({ port: 0, backend: sqlite({ dataDir }), kurrent: { port: 0 } });
    client = KurrentDBClient.connectionString(server.kurrentConnectionString as string);
  };
  const stop = async () => {
    await client.dispose();
    await server.close();
  };

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'evdb-kurrent-ps-'));
    await start();
  });
  after(async () => {
    await stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('creates, lists, refuses duplicates and unknown groups, and deletes', async () => {
    const stream = `ps-admin-${randomUUID()}`;
    const settings = persistentSubscriptionToStreamSettingsFromDefaults({ startFrom: START });
    await client.createPersistentSubscriptionToStream(stream, 'g1', settings);
    await assert.rejects(
      () => client.createPersistentSubscriptionToStream(stream, 'g1', settings),
      PersistentSubscriptionExistsError,
    );
    const listed = await client.listPersistentSubscriptionsToStream(stream);
    assert.deepEqual(
      listed.map((info) => info.groupName),
      ['g1'],
    );
    const info = await client.getPersistentSubscriptionToStreamInfo(stream, 'g1');
    assert.equal(info.eventSource, stream);
    assert.equal(info.settings.startFrom, START);
    assert.equal(info.settings.maxRetryCount, settings.maxRetryCount);
    await client.updatePersistentSubscriptionToStream(stream, 'g1', {
      ...settings,
      maxRetryCount: 3,
    });
    assert.equal(
      (await client.getPersistentSubscriptionToStreamInfo(stream, 'g1')).settings.maxRetryCount,
      3,
    );
    await client.deletePersistentSubscriptionToStream(stream, 'g1');
    await assert.rejects(
      () => client.getPersistentSubscriptionToStreamInfo(stream, 'g1'),
      PersistentSubscriptionDoesNotExistError,
    );
    const missing = client.subscribeToPersistentSubscriptionToStream(stream, 'nobody');
    await assert.rejects(
      () => take(missing[Symbol.asyncIterator](), 1),
      PersistentSubscriptionDoesNotExistError,
    );
  });

  it('delivers to a group with ack, nack retry, skip and park, and replays parked events', async () => {
    const stream = `ps-${randomUUID()}`;
    await client.appendToStream(stream, events(5));
    await client.createPersistentSubscriptionToStream(
      stream,
      'workers',
      persistentSubscriptionToStreamSettingsFromDefaults({ startFrom: START }),
    );
    const subscription: PersistentSubscriptionToStream =
      client.subscribeToPersistentSubscriptionToStream(stream, 'workers');
    const iterator = subscription[Symbol.asyncIterator]();
    const first = await take(iterator, 5);
    assert.deepEqual(
      first.map((e) => Number(e.event?.revision)),
      [0, 1, 2, 3, 4],
    );
    await subscription.ack(...first.slice(0, 2));
    await subscription.nack(
      RETRY,
      'try again',
      first[2] as PersistentSubscriptionToStreamResolvedEvent,
    );
    await subscription.nack(
      SKIP,
      'not for us',
      first[3] as PersistentSubscriptionToStreamResolvedEvent,
    );
    await subscription.nack(
      PARK,
      'poison',
      first[4] as PersistentSubscriptionToStreamResolvedEvent,
    );
    const [retried] = await take(iterator, 1);
    assert.equal(Number(retried?.event?.revision), 2);
    assert.equal(retried?.retryCount, 1);
    await subscription.ack(retried);

    const parked = await client.getPersistentSubscriptionToStreamInfo(stream, 'workers');
    assert.equal(parked.stats.parkedMessageCount, 1n);
    await client.replayParkedMessagesToStream(stream, 'workers');
    const [replayed] = await take(iterator, 1);
    assert.equal(Number(replayed?.event?.revision), 4);
    await subscription.ack(replayed as PersistentSubscriptionToStreamResolvedEvent);
    await eventually(async () => {
      const after = await client.getPersistentSubscriptionToStreamInfo(stream, 'workers');
      assert.equal(after.stats.parkedMessageCount, 0n);
      assert.equal(after.stats.lastCheckpointedEventRevision, 4n);
    });
    await subscription.unsubscribe();
  });

  it("refuses unknown groups, and streams without groups, in KurrentDB's words", async () => {
    const stream = `ps-none-${randomUUID()}`;
    const refused = async (work: () => Promise<unknown>, group: string, on: string) =>
      assert.rejects(work, (error: unknown) => {
        assert.ok(error instanceof PersistentSubscriptionDoesNotExistError, String(error));
        assert.equal(
          error.message,
          `5 NOT_FOUND: Subscription group ${group} on stream ${on} does not exist.`,
        );
        assert.equal(error.streamName, on);
        if (group !== '') assert.equal(error.groupName, group);
        return true;
      });
    await refused(() => client.replayParkedMessagesToStream(stream, 'nobody'), 'nobody', stream);
    await refused(() => client.replayParkedMessagesToAll('nobody'), 'nobody', '$all');
    // Listing the groups of one stream (or of $all) that has none is refused; listing all is not.
    await refused(() => client.listPersistentSubscriptionsToStream(stream), '', stream);
    await refused(() => client.listPersistentSubscriptionsToAll(), '', '$all');
    assert.ok(Array.isArray(await client.listAllPersistentSubscriptions()));
  });

  it('keeps a replay of parked events asked while no consumer is connected for the next one', async () => {
    const stream = `ps-replay-${randomUUID()}`;
    await client.appendToStream(stream, events(2));
    await client.createPersistentSubscriptionToStream(
      stream,
      'later',
      persistentSubscriptionToStreamSettingsFromDefaults({ startFrom: START }),
    );
    const first = client.subscribeToPersistentSubscriptionToStream(stream, 'later');
    const [poison, fine] = await take(first[Symbol.asyncIterator](), 2);
    await first.nack(PARK, 'poison', poison as PersistentSubscriptionToStreamResolvedEvent);
    await first.ack(fine as PersistentSubscriptionToStreamResolvedEvent);
    await eventually(async () => {
      const info = await client.getPersistentSubscriptionToStreamInfo(stream, 'later');
      assert.equal(info.stats.parkedMessageCount, 1n);
    });
    await first.unsubscribe();
    await eventually(async () => {
      const info = await client.getPersistentSubscriptionToStreamInfo(stream, 'later');
      assert.equal(info.connections.length, 0);
    });
    // Nobody is connected: the replay is accepted and waits, the event still parked.
    await client.replayParkedMessagesToStream(stream, 'later');
    const waiting = await client.getPersistentSubscriptionToStreamInfo(stream, 'later');
    assert.equal(waiting.stats.parkedMessageCount, 1n);
    const second = client.subscribeToPersistentSubscriptionToStream(stream, 'later');
    const [replayed] = await take(second[Symbol.asyncIterator](), 1);
    assert.equal(Number(replayed?.event?.revision), 0);
    await second.ack(replayed as PersistentSubscriptionToStreamResolvedEvent);
    await eventually(async () => {
      const info = await client.getPersistentSubscriptionToStreamInfo(stream, 'later');
      assert.equal(info.stats.parkedMessageCount, 0n);
    });
    await second.unsubscribe();
  });

  it('leaves a replayed event parked when its consumer leaves before finishing it', async () => {
    const stream = `ps-cut-${randomUUID()}`;
    await client.appendToStream(stream, events(1));
    await client.createPersistentSubscriptionToStream(
      stream,
      'cut',
      persistentSubscriptionToStreamSettingsFromDefaults({ startFrom: START }),
    );
    const parkedCount = async () =>
      (await client.getPersistentSubscriptionToStreamInfo(stream, 'cut')).stats.parkedMessageCount;
    const first = client.subscribeToPersistentSubscriptionToStream(stream, 'cut');
    const received = first[Symbol.asyncIterator]();
    const [poison] = await take(received, 1);
    await first.nack(PARK, 'poison', poison as PersistentSubscriptionToStreamResolvedEvent);
    await eventually(async () => assert.equal(await parkedCount(), 1n));
    // Replayed and handed out, then its consumer leaves without finishing it.
    await client.replayParkedMessagesToStream(stream, 'cut');
    const [replayed] = await take(received, 1);
    assert.equal(Number(replayed?.event?.revision), 0);
    await first.unsubscribe();
    await eventually(async () => {
      const info = await client.getPersistentSubscriptionToStreamInfo(stream, 'cut');
      assert.equal(info.connections.length, 0);
    });
    assert.equal(await parkedCount(), 1n);
    // Still parked, so a later replay hands it out again; finishing it unparks it.
    const second = client.subscribeToPersistentSubscriptionToStream(stream, 'cut');
    await client.replayParkedMessagesToStream(stream, 'cut');
    const [again] = await take(second[Symbol.asyncIterator](), 1);
    assert.equal(Number(again?.event?.revision), 0);
    await second.ack(again as PersistentSubscriptionToStreamResolvedEvent);
    await eventually(async () => assert.equal(await parkedCount(), 0n));
    await second.unsubscribe();
  });

  it('hands a retried event out again before the events after it', async () => {
    const stream = `ps-order-${randomUUID()}`;
    await client.appendToStream(stream, [
      ...events(20, 'Again'),
      jsonEvent({ type: 'Done', data: {} }),
    ]);
    await client.createPersistentSubscriptionToStream(
      stream,
      'ordered',
      persistentSubscriptionToStreamSettingsFromDefaults({ startFrom: START }),
    );
    const subscription = client.subscribeToPersistentSubscriptionToStream(stream, 'ordered');
    const seen: string[] = [];
    const nacked = new Set<string>();
    for await (const event of subscription) {
      const id = event.event?.id as string;
      seen.push(event.event?.type as string);
      if (event.event?.type === 'Done') {
        await subscription.ack(event);
        break;
      }
      if (nacked.has(id)) await subscription.ack(event);
      else {
        nacked.add(id);
        await subscription.nack(RETRY, 'once more', event);
      }
    }
    // Every retry came before the event after them (the slot a nack frees waits for its retry).
    assert.equal(seen.filter((type) => type === 'Again').length, 40);
    await subscription.unsubscribe();
  });

  it('keeps a group checkpoint across a restart of the server', async () => {
    const stream = `ps-restart-${randomUUID()}`;
    await client.appendToStream(stream, events(3));
    await client.createPersistentSubscriptionToStream(
      stream,
      'durable',
      persistentSubscriptionToStreamSettingsFromDefaults({ startFrom: START }),
    );
    const before = client.subscribeToPersistentSubscriptionToStream(stream, 'durable');
    const delivered = await take(before[Symbol.asyncIterator](), 3);
    await before.ack(...delivered);
    await eventually(async () => {
      const info = await client.getPersistentSubscriptionToStreamInfo(stream, 'durable');
      assert.equal(info.stats.lastCheckpointedEventRevision, 2n);
    });
    await before.unsubscribe();

    await stop();
    await start();
    await client.appendToStream(stream, events(2, 'Later'));
    const afterRestart = client.subscribeToPersistentSubscriptionToStream(stream, 'durable');
    const next = await take(afterRestart[Symbol.asyncIterator](), 2);
    assert.deepEqual(
      next.map((e) => Number(e.event?.revision)),
      [3, 4],
    );
    await afterRestart.ack(...next);
    await afterRestart.unsubscribe();
  });

  it('runs a group on $all with a stream-name filter, shared by two consumers', async () => {
    const tag = randomUUID().slice(0, 8);
    const group = `all-${tag}`;
    await client.createPersistentSubscriptionToAll(
      group,
      persistentSubscriptionToAllSettingsFromDefaults({ startFrom: START }),
      { filter: streamNameFilter({ prefixes: [`wanted-${tag}`] }) },
    );
    for (let i = 0; i < 3; i++) {
      await client.appendToStream(`noise-${tag}`, events(2));
      await client.appendToStream(`wanted-${tag}-${i}`, events(2));
    }
    const one = client.subscribeToPersistentSubscriptionToAll(group, { bufferSize: 2 });
    const two = client.subscribeToPersistentSubscriptionToAll(group, { bufferSize: 2 });
    const seen: string[] = [];
    const consume = async (subscription: typeof one) => {
      for await (const event of subscription) {
        seen.push(`${event.event?.streamId}/${event.event?.revision}`);
        await subscription.ack(event);
        if (seen.length >= 6) break;
      }
    };
    await Promise.race([consume(one), consume(two)]);
    while (seen.length < 6) await new Promise((resolve) => setTimeout(resolve, 20));
    assert.deepEqual(
      [...seen].sort(),
      [0, 1, 2].flatMap((i) => [`wanted-${tag}-${i}/0`, `wanted-${tag}-${i}/1`]),
    );
    const info = await client.getPersistentSubscriptionToAllInfo(group);
    assert.equal(info.eventSource, '$all');
    await Promise.all([one.unsubscribe(), two.unsubscribe()]);
  });
});
