import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { EventStoreApi } from '../../src/core/api.js';
import { ANY_VERSION, NO_STREAM, STREAM_EXISTS, type EventRecord } from '../../src/core/types.js';
import { event, events, rejectsWith, uniqueStoreId } from './harness.js';
import { describeLinks } from './links.js';
import { describeCausation } from './causation.js';
import { describeInspection } from './inspection.js';
import { describeListing } from './listing.js';
import { describeSubscriptionListing } from './subscription-listing.js';
import { describeScavenge } from './scavenge.js';
import { describeSchemas } from './schemas.js';
import { describeSnapshots, type FeatureSuiteContext } from './snapshots.js';
import { describeTemporal } from './temporal.js';
import { describeSubscriptions, type SubscriptionSuiteContext } from './subscriptions.js';

/** What a backend (or the client in front of a server) gives the conformance suite. */
export interface ConformanceTarget {
  /** Shown in the test names. */
  name: string;
  /**
   * Opens the API under test. When `persistent` is true, opening again after `close()` must
   * show the same data.
   */
  open(): Promise<EventStoreApi>;
  persistent: boolean;
  /** Cases this target cannot run, by test name, each with the reason. Nothing is skipped silently. */
  skip?: Record<string, string>;
}

export { event, events, rejectsWith, uniqueStoreId } from './harness.js';
export { runModelProperties } from './properties.js';

/**
 * Runs the evdb conformance suite against a target. Call it from a `node:test` file.
 *
 * @example
 * import { runConformance } from 'evdb/testing';
 * import { openEvdb, memory } from 'evdb';
 * runConformance({ name: 'memory', persistent: false, open: () => openEvdb({ backend: memory() }) });
 */
export function runConformance(target: ConformanceTarget): void {
  describe(`conformance: ${target.name}`, () => {
    let api: EventStoreApi;
    before(async () => {
      api = await target.open();
    });
    after(async () => {
      await api.close();
    });

    const test = (name: string, body: () => Promise<void>): void => {
      const reason = target.skip?.[name];
      if (reason !== undefined) it(name, { skip: reason }, body);
      else it(name, body);
    };
    const newStore = async (): Promise<string> => {
      const storeId = uniqueStoreId();
      await api.createStore(storeId);
      return storeId;
    };

    describe('stores', () => {
      test('createStore returns its config and listStores lists it, sorted', async () => {
        const a = uniqueStoreId('b');
        const b = uniqueStoreId('a');
        const config = await api.createStore(a, { purpose: 'test' });
        assert.equal(config.storeId, a);
        assert.deepEqual(config.settings, { purpose: 'test' });
        assert.ok(!Number.isNaN(Date.parse(config.createdAt)));
        await api.createStore(b);
        const listed = await api.listStores();
        assert.ok(listed.includes(a) && listed.includes(b));
        assert.deepEqual(listed, [...listed].sort());
        assert.deepEqual(await api.getStoreConfig(a), config);
      });

      test('createStore of an existing store fails with already_exists', async () => {
        const storeId = await newStore();
        await rejectsWith(api.createStore(storeId), 'already_exists');
      });

      test('getStoreStatus counts streams and events', async () => {
        const storeId = await newStore();
        let status = await api.getStoreStatus(storeId);
        assert.equal(status.storeId, storeId);
        assert.equal(status.streamCount, 0);
        assert.equal(status.totalEvents, 0);
        assert.equal(status.lastPosition, -1);
        await api.appendEvents(storeId, 'a', events(3));
        await api.appendEvents(storeId, 'b', events(2));
        status = await api.getStoreStatus(storeId);
        assert.equal(status.streamCount, 2);
        assert.equal(status.totalEvents, 5);
        assert.equal(status.lastPosition, 4);
        await api.deleteStream(storeId, 'a');
        status = await api.getStoreStatus(storeId);
        assert.equal(status.streamCount, 1);
        assert.equal(status.totalEvents, 2);
        assert.equal(status.lastPosition, 4);
      });

      test('removeStore deletes the store and its data', async () => {
        const storeId = await newStore();
        await api.appendEvents(storeId, 's', events(2));
        await api.removeStore(storeId);
        assert.ok(!(await api.listStores()).includes(storeId));
        await rejectsWith(api.readAllGlobal(storeId, 0, 10), 'not_found');
        await rejectsWith(api.removeStore(storeId), 'not_found');
        await api.createStore(storeId);
        assert.equal(await api.hasEvents(storeId), false);
      });

      test('operations on a missing store fail with not_found', async () => {
        const storeId = uniqueStoreId('missing');
        await rejectsWith(api.appendEvents(storeId, 's', events(1)), 'not_found');
        await rejectsWith(api.getVersion(storeId, 's'), 'not_found');
        await rejectsWith(api.getStoreConfig(storeId), 'not_found');
        await rejectsWith(api.getStoreStatus(storeId), 'not_found');
      });

      test('invalid store ids are rejected', async () => {
        for (const bad of ['', 'UPPER', '../etc', 'a/b', 'x'.repeat(49), '-lead', 'sp ace']) {
          await rejectsWith(api.createStore(bad), 'invalid_argument');
        }
        await rejectsWith(api.readAllGlobal('../x', 0, 1), 'invalid_argument');
      });

      test('stores are isolated: same stream ids, own versions and positions', async () => {
        const a = await newStore();
        const b = await newStore();
        await api.appendEvents(a, 'order-1', events(3));
        const resultB = await api.appendEvents(b, 'order-1', events(1));
        assert.deepEqual(resultB, { version: 0, position: 0 });
        assert.equal(await api.getVersion(a, 'order-1'), 2);
        assert.equal((await api.readAllGlobal(b, 0, 10)).length, 1);
        await api.deleteStream(a, 'order-1');
        assert.equal(await api.getVersion(b, 'order-1'), 0);
      });
    });

    describe('append and expected versions', () => {
      test('versions are 0-based and contiguous; the result names the last version and position', async () => {
        const storeId = await newStore();
        assert.deepEqual(await api.appendEvents(storeId, 's', events(3)), {
          version: 2,
          position: 2,
        });
        assert.deepEqual(await api.appendEvents(storeId, 'other', events(1)), {
          version: 0,
          position: 3,
        });
        assert.deepEqual(await api.appendEvents(storeId, 's', events(2)), {
          version: 4,
          position: 5,
        });
        const read = await api.streamForward(storeId, 's', 0, 100);
        assert.deepEqual(
          read.map((e) => e.version),
          [0, 1, 2, 3, 4],
        );
        assert.deepEqual(
          read.map((e) => e.position),
          [0, 1, 2, 4, 5],
        );
      });

      test('NO_STREAM succeeds on a new stream and fails on an existing one with the actual version', async () => {
        const storeId = await newStore();
        await api.appendEvents(storeId, 's', events(2), NO_STREAM);
        await rejectsWith(
          api.appendEvents(storeId, 's', events(1), NO_STREAM),
          'wrong_expected_version',
          {
            expected: NO_STREAM,
            actual: 1,
          },
        );
      });

      test('an exact expected version must equal the current version', async () => {
        const storeId = await newStore();
        await rejectsWith(api.appendEvents(storeId, 's', events(1), 0), 'wrong_expected_version', {
          expected: 0,
          actual: -1,
        });
        await api.appendEvents(storeId, 's', events(1), NO_STREAM);
        await api.appendEvents(storeId, 's', events(2), 0);
        await rejectsWith(api.appendEvents(storeId, 's', events(1), 1), 'wrong_expected_version', {
          expected: 1,
          actual: 2,
        });
        await rejectsWith(api.appendEvents(storeId, 's', events(1), 5), 'wrong_expected_version', {
          expected: 5,
          actual: 2,
        });
        assert.equal((await api.appendEvents(storeId, 's', events(1), 2)).version, 3);
      });

      test('STREAM_EXISTS fails on a missing stream and succeeds on an existing one', async () => {
        const storeId = await newStore();
        await rejectsWith(
          api.appendEvents(storeId, 's', events(1), STREAM_EXISTS),
          'wrong_expected_version',
          {
            expected: STREAM_EXISTS,
            actual: -1,
          },
        );
        await api.appendEvents(storeId, 's', events(1));
        assert.equal((await api.appendEvents(storeId, 's', events(1), STREAM_EXISTS)).version, 1);
      });

      test('ANY_VERSION and an omitted expected version never check', async () => {
        const storeId = await newStore();
        await api.appendEvents(storeId, 's', events(1), ANY_VERSION);
        await api.appendEvents(storeId, 's', events(1));
        assert.equal(await api.getVersion(storeId, 's'), 1);
      });

      test('an empty append writes nothing and returns the current version', async () => {
        const storeId = await newStore();
        assert.deepEqual(await api.appendEvents(storeId, 's', []), { version: -1, position: -1 });
        assert.equal(await api.streamExists(storeId, 's'), false);
        await api.appendEvents(storeId, 'x', events(1));
        await api.appendEvents(storeId, 's', events(2));
        assert.deepEqual(await api.appendEvents(storeId, 's', [], 1), { version: 1, position: 2 });
        await rejectsWith(api.appendEvents(storeId, 's', [], 0), 'wrong_expected_version');
      });

      test('records carry every field; one append shares one timestamp', async () => {
        const storeId = await newStore();
        const bytes = new Uint8Array([0, 1, 2, 250, 255]);
        await api.appendEvents(storeId, 'order-1', [
          event(
            'OrderPlaced',
            { total: 5, items: ['a', 'b'], nested: { ok: true, none: null } },
            {
              metadata: { user: 'u1' },
              tags: ['vip', 'eu'],
              causationId: 'cause-1',
              correlationId: 'corr-1',
            },
          ),
          event('Blob', bytes),
          event('Custom', 'text', {
            dataContentType: 'application/vnd.test+json',
            metadataContentType: 'application/json',
          }),
        ]);
        const [placed, blob, custom] = (await api.streamForward(storeId, 'order-1', 0, 10)) as [
          EventRecord,
          EventRecord,
          EventRecord,
        ];
        assert.match(
          placed.eventId,
          /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
        );
        assert.equal(placed.eventType, 'OrderPlaced');
        assert.equal(placed.streamId, 'order-1');
        assert.deepEqual(placed.data, {
          total: 5,
          items: ['a', 'b'],
          nested: { ok: true, none: null },
        });
        assert.deepEqual(placed.metadata, { user: 'u1' });
        assert.deepEqual(placed.tags, ['vip', 'eu']);
        assert.equal(placed.causationId, 'cause-1');
        assert.equal(placed.correlationId, 'corr-1');
        assert.equal(placed.dataContentType, 'application/json');
        assert.equal(placed.metadataContentType, 'application/json');
        assert.ok(Math.abs(placed.timestamp - Date.now()) < 60_000);
        assert.equal(placed.timestamp, Math.floor(placed.epochUs / 1000));
        assert.deepEqual(Array.from(blob.data as Uint8Array), Array.from(bytes));
        assert.ok(blob.data instanceof Uint8Array);
        assert.equal(blob.dataContentType, 'application/octet-stream');
        assert.deepEqual(blob.metadata, {});
        assert.deepEqual(blob.tags, []);
        assert.equal(blob.causationId, undefined);
        assert.equal(custom.data, 'text');
        assert.equal(custom.dataContentType, 'application/vnd.test+json');
        assert.equal(blob.epochUs, placed.epochUs);
        assert.equal(custom.epochUs, placed.epochUs);
        assert.ok(placed.eventId < blob.eventId, 'default ids are UUIDv7s in creation order');
      });

      test('given event ids are kept (lower-cased)', async () => {
        const storeId = await newStore();
        const eventId = '0190B2D4-8C9A-4F1E-9C3B-1234567890AB';
        await api.appendEvents(storeId, 's', [event('E', 1, { eventId })]);
        const [read] = await api.streamForward(storeId, 's', 0, 1);
        assert.equal(read?.eventId, eventId.toLowerCase());
      });

      test('concurrent appends with the same expected version: exactly one wins', async () => {
        const storeId = await newStore();
        const attempts = await Promise.allSettled(
          Array.from({ length: 20 }, (_, i) =>
            api.appendEvents(storeId, 's', [event('E', { i })], NO_STREAM),
          ),
        );
        const won = attempts.filter((a) => a.status === 'fulfilled');
        assert.equal(won.length, 1);
        for (const attempt of attempts) {
          if (attempt.status === 'rejected') {
            const error = attempt.reason as { code: string; details: Record<string, unknown> };
            assert.equal(error.code, 'wrong_expected_version');
            assert.equal(error.details.actual, 0);
          }
        }
        assert.equal(await api.getVersion(storeId, 's'), 0);
      });

      test('concurrent appends to many streams get unique, gapless positions', async () => {
        const storeId = await newStore();
        const results = await Promise.all(
          Array.from({ length: 50 }, (_, i) =>
            api.appendEvents(storeId, `s-${i % 7}`, events(1 + (i % 3))),
          ),
        );
        const all = await api.readAllGlobal(storeId, 0, 1000);
        assert.deepEqual(
          all.map((e) => e.position),
          all.map((_, i) => i),
        );
        const byStream = new Map<string, number[]>();
        for (const e of all)
          byStream.set(e.streamId, [...(byStream.get(e.streamId) ?? []), e.version]);
        for (const versions of byStream.values())
          assert.deepEqual(
            versions,
            versions.map((_, i) => i),
          );
        assert.equal(new Set(results.map((r) => r.position)).size, 50);
      });
    });

    describe('idempotent retries', () => {
      test('resending an append with the same ids and expected version returns the original result', async () => {
        const storeId = await newStore();
        const batch = events(3).map((e, i) => ({
          ...e,
          eventId: `0190b2d4-8c9a-7f1e-9c3b-00000000000${i}`,
        }));
        const first = await api.appendEvents(storeId, 's', batch, NO_STREAM);
        await api.appendEvents(storeId, 's', events(1));
        assert.deepEqual(await api.appendEvents(storeId, 's', batch, NO_STREAM), first);
        assert.equal(await api.getVersion(storeId, 's'), 3);
        const more = events(2).map((e, i) => ({
          ...e,
          eventId: `0190b2d4-8c9a-7f1e-9c3b-00000000001${i}`,
        }));
        const second = await api.appendEvents(storeId, 's', more, 3);
        assert.deepEqual(await api.appendEvents(storeId, 's', more, 3), second);
        assert.equal((await api.streamForward(storeId, 's', 0, 100)).length, 6);
      });

      test('with ANY_VERSION, ids already in the stream are detected', async () => {
        const storeId = await newStore();
        const batch = events(2).map((e, i) => ({
          ...e,
          eventId: `0190b2d4-8c9a-7f1e-9c3b-00000000002${i}`,
        }));
        const first = await api.appendEvents(storeId, 's', batch);
        await api.appendEvents(storeId, 's', events(5));
        assert.deepEqual(await api.appendEvents(storeId, 's', batch), first);
        assert.equal(await api.getVersion(storeId, 's'), 6);
      });

      test('a retry that only partly matches, or reuses an id elsewhere, is refused', async () => {
        const storeId = await newStore();
        const ids = [0, 1, 2].map((i) => `0190b2d4-8c9a-7f1e-9c3b-00000000003${i}`);
        await api.appendEvents(storeId, 's', [
          event('E', 0, { eventId: ids[0] }),
          event('E', 1, { eventId: ids[1] }),
        ]);
        await rejectsWith(
          api.appendEvents(storeId, 's', [
            event('E', 0, { eventId: ids[0] }),
            event('E', 2, { eventId: ids[2] }),
          ]),
          'already_exists',
        );
        await rejectsWith(
          api.appendEvents(storeId, 'other', [event('E', 0, { eventId: ids[0] })]),
          'already_exists',
        );
        await rejectsWith(
          api.appendEvents(storeId, 'other', [
            event('E', 9, { eventId: ids[2] }),
            event('E', 0, { eventId: ids[1] }),
          ]),
          'already_exists',
        );
        assert.equal(await api.streamExists(storeId, 'other'), false);
        assert.equal(await api.getVersion(storeId, 's'), 1);
      });

      test('an id reused with other content is refused, naming the id, not taken for a replay', async () => {
        const storeId = await newStore();
        const id = '0190b2d4-8c9a-7f1e-9c3b-000000000050';
        const original = {
          eventId: id,
          eventType: 'Deposited',
          data: { x: 1 },
          metadata: { by: 'a' },
          tags: ['t'],
        };
        const first = await api.appendEvents(storeId, 's', [original], NO_STREAM);
        const reuses = [
          { ...original, data: { x: 2 } },
          { ...original, eventType: 'Withdrawn' },
          { ...original, metadata: { by: 'b' } },
          { ...original, tags: ['u'] },
          { ...original, data: new Uint8Array([1]) },
        ];
        for (const reuse of reuses) {
          for (const expected of [NO_STREAM, ANY_VERSION]) {
            const error = await rejectsWith(
              api.appendEvents(storeId, 's', [reuse], expected),
              'already_exists',
              { eventId: id },
            );
            assert.match(error.message, new RegExp(id));
          }
        }
        // Second event of a batch differs: the whole resend is refused.
        const firstOfPair = { ...original, eventId: '0190b2d4-8c9a-7f1e-9c3b-000000000051' };
        const secondOfPair = { ...original, eventId: '0190b2d4-8c9a-7f1e-9c3b-000000000052' };
        await api.appendEvents(storeId, 'p', [firstOfPair, secondOfPair], NO_STREAM);
        await rejectsWith(
          api.appendEvents(
            storeId,
            'p',
            [firstOfPair, { ...secondOfPair, data: { x: 3 } }],
            NO_STREAM,
          ),
          'already_exists',
          { eventId: secondOfPair.eventId },
        );
        // The same content is still a replay, whatever its causation and correlation ids.
        assert.deepEqual(
          await api.appendEvents(
            storeId,
            's',
            [{ ...original, causationId: 'c', correlationId: 'r' }],
            NO_STREAM,
          ),
          first,
        );
        const stored = await api.streamForward(storeId, 's', 0, 10);
        assert.equal(stored.length, 1);
        assert.deepEqual(stored[0]?.data, { x: 1 });
      });

      test('a retry with a different expected version is a conflict, not a replay', async () => {
        const storeId = await newStore();
        const eventId = '0190b2d4-8c9a-7f1e-9c3b-000000000040';
        await api.appendEvents(storeId, 's', events(2));
        await api.appendEvents(storeId, 's', [event('E', 0, { eventId })], 1);
        await rejectsWith(
          api.appendEvents(storeId, 's', [event('E', 0, { eventId })], 0),
          'wrong_expected_version',
          {
            actual: 2,
          },
        );
      });

      test('identical appends racing in one group commit write once', async () => {
        const storeId = await newStore();
        const batch = events(2).map((e, i) => ({
          ...e,
          eventId: `0190b2d4-8c9a-7f1e-9c3b-00000000005${i}`,
        }));
        const results = await Promise.all(
          Array.from({ length: 5 }, () => api.appendEvents(storeId, 's', batch, NO_STREAM)),
        );
        for (const result of results) assert.deepEqual(result, results[0]);
        assert.equal(await api.getVersion(storeId, 's'), 1);
      });

      test('the same id twice in one append is invalid', async () => {
        const storeId = await newStore();
        const eventId = '0190b2d4-8c9a-7f1e-9c3b-000000000060';
        await rejectsWith(
          api.appendEvents(storeId, 's', [event('E', 0, { eventId }), event('E', 1, { eventId })]),
          'invalid_argument',
        );
      });
    });

    describe('atomicity', () => {
      test('an append with one invalid event writes nothing', async () => {
        const storeId = await newStore();
        await rejectsWith(
          api.appendEvents(storeId, 's', [
            event('Good', 1),
            { eventType: '', data: 1 },
            event('Good', 2),
          ]),
          'invalid_argument',
        );
        assert.equal(await api.streamExists(storeId, 's'), false);
        assert.equal(await api.hasEvents(storeId), false);
      });

      test('appendBatch writes every stream or none', async () => {
        const storeId = await newStore();
        await api.appendEvents(storeId, 'b', events(1));
        await rejectsWith(
          api.appendBatch(storeId, [
            { streamId: 'a', expectedVersion: NO_STREAM, events: events(2) },
            { streamId: 'b', expectedVersion: NO_STREAM, events: events(1) },
          ]),
          'wrong_expected_version',
          { streamId: 'b', expected: NO_STREAM, actual: 0 },
        );
        assert.equal(await api.streamExists(storeId, 'a'), false);
        assert.equal(await api.getVersion(storeId, 'b'), 0);
        const { results } = await api.appendBatch(storeId, [
          { streamId: 'a', expectedVersion: NO_STREAM, events: events(2) },
          { streamId: 'b', expectedVersion: 0, events: events(1) },
          { streamId: 'c', events: [] },
        ]);
        assert.deepEqual(results, [
          { streamId: 'a', version: 1, position: 2 },
          { streamId: 'b', version: 1, position: 3 },
          { streamId: 'c', version: -1, position: -1 },
        ]);
        assert.deepEqual(
          (await api.readAllGlobal(storeId, 0, 10)).map((e) => `${e.streamId}@${e.version}`),
          ['b@0', 'a@0', 'a@1', 'b@1'],
        );
      });

      test('a failing batch does not disturb appends committed beside it', async () => {
        const storeId = await newStore();
        await api.appendEvents(storeId, 'taken', events(1));
        const [ok, failed, alsoOk] = await Promise.allSettled([
          api.appendEvents(storeId, 'x', events(2)),
          api.appendBatch(storeId, [
            { streamId: 'y', events: events(1) },
            { streamId: 'taken', expectedVersion: NO_STREAM, events: events(1) },
          ]),
          api.appendEvents(storeId, 'z', events(1)),
        ]);
        assert.equal(ok.status, 'fulfilled');
        assert.equal(failed.status, 'rejected');
        assert.equal(alsoOk.status, 'fulfilled');
        assert.deepEqual(
          (await api.readAllGlobal(storeId, 0, 10)).map((e) => e.position),
          [0, 1, 2, 3],
        );
        assert.equal(await api.streamExists(storeId, 'y'), false);
      });

      test('the same stream twice in one batch is invalid', async () => {
        const storeId = await newStore();
        await rejectsWith(
          api.appendBatch(storeId, [
            { streamId: 'a', events: events(1) },
            { streamId: 'a', events: events(1) },
          ]),
          'invalid_argument',
        );
      });
    });

    describe('stream reads', () => {
      test('getEvents reads forward and backward with paging', async () => {
        const storeId = await newStore();
        await api.appendEvents(storeId, 's', events(10));
        const versions = (list: EventRecord[]): number[] => list.map((e) => e.version);
        assert.deepEqual(
          versions(await api.getEvents(storeId, 's', 3, 4, 'forward')),
          [3, 4, 5, 6],
        );
        assert.deepEqual(versions(await api.getEvents(storeId, 's', 3, 4)), [3, 4, 5, 6]);
        assert.deepEqual(
          versions(await api.getEvents(storeId, 's', 3, 4, 'backward')),
          [3, 2, 1, 0],
        );
        assert.deepEqual(versions(await api.streamBackward(storeId, 's', -1, 3)), [9, 8, 7]);
        assert.deepEqual(versions(await api.streamBackward(storeId, 's', 50, 2)), [9, 8]);
        assert.deepEqual(versions(await api.streamForward(storeId, 's', 8, 100)), [8, 9]);
        assert.deepEqual(await api.streamForward(storeId, 's', 10, 5), []);
        assert.deepEqual(await api.streamForward(storeId, 's', 0, 0), []);
        const paged: number[] = [];
        for (let from = 0; ; from += 3) {
          const page = await api.streamForward(storeId, 's', from, 3);
          paged.push(...versions(page));
          if (page.length < 3) break;
        }
        assert.deepEqual(paged, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
        assert.deepEqual(
          (await api.streamForward(storeId, 's', 0, 10)).map((e) => (e.data as { n: number }).n),
          [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
        );
      });

      test('reading a missing stream fails with stream_not_found', async () => {
        const storeId = await newStore();
        await rejectsWith(api.streamForward(storeId, 'nope', 0, 10), 'stream_not_found');
        await rejectsWith(api.streamBackward(storeId, 'nope', -1, 10), 'stream_not_found');
        await rejectsWith(api.streamForward(storeId, '$link:nope', 0, 10), 'stream_not_found');
      });

      test('getVersion, streamExists, getStreams and hasEvents', async () => {
        const storeId = await newStore();
        assert.equal(await api.hasEvents(storeId), false);
        assert.equal(await api.getVersion(storeId, 'b'), -1);
        assert.equal(await api.streamExists(storeId, 'b'), false);
        assert.deepEqual(await api.getStreams(storeId), []);
        for (const id of ['b', 'a-2', 'C', 'a-10']) await api.appendEvents(storeId, id, events(2));
        assert.equal(await api.hasEvents(storeId), true);
        assert.equal(await api.getVersion(storeId, 'b'), 1);
        assert.equal(await api.streamExists(storeId, 'b'), true);
        assert.deepEqual(await api.getStreams(storeId), ['C', 'a-10', 'a-2', 'b']);
      });

      test('stream ids may hold any UTF-8 up to 1 KiB', async () => {
        const storeId = await newStore();
        const ids = ['ordre/été 1', 'emoji-🎉', 'x'.repeat(1024), 'with space', 'a:b:c'];
        for (const id of ids) await api.appendEvents(storeId, id, events(1));
        for (const id of ids)
          assert.equal((await api.streamForward(storeId, id, 0, 1))[0]?.streamId, id);
        await rejectsWith(
          api.appendEvents(storeId, 'x'.repeat(1025), events(1)),
          'invalid_argument',
        );
        await rejectsWith(
          api.appendEvents(storeId, 'é'.repeat(513), events(1)),
          'invalid_argument',
        );
      });
    });

    describe('deleteStream', () => {
      test('removes every event; the stream can be written again from version 0', async () => {
        const storeId = await newStore();
        await api.appendEvents(storeId, 's', events(3, 'T', { tags: ['t'] }));
        await api.appendEvents(storeId, 'keep', events(1, 'T', { tags: ['t'] }));
        assert.deepEqual(await api.deleteStream(storeId, 's'), {
          streamId: 's',
          deleted: true,
          deletedCount: 3,
        });
        assert.equal(await api.getVersion(storeId, 's'), -1);
        assert.equal(await api.streamExists(storeId, 's'), false);
        await rejectsWith(api.streamForward(storeId, 's', 0, 10), 'stream_not_found');
        assert.deepEqual(
          (await api.readAllGlobal(storeId, 0, 10)).map((e) => e.streamId),
          ['keep'],
        );
        assert.deepEqual(
          (await api.readByEventTypes(storeId, ['T'])).map((e) => e.streamId),
          ['keep'],
        );
        assert.deepEqual(
          (await api.readByTags(storeId, ['t'])).map((e) => e.streamId),
          ['keep'],
        );
        assert.deepEqual(await api.getStreams(storeId), ['keep']);
        const again = await api.appendEvents(storeId, 's', events(1), NO_STREAM);
        assert.deepEqual(again, { version: 0, position: 4 }, 'positions never move back');
      });

      test('deleting a missing stream is a no-op, so retries are safe', async () => {
        const storeId = await newStore();
        assert.deepEqual(await api.deleteStream(storeId, 'nope'), {
          streamId: 'nope',
          deleted: false,
          deletedCount: 0,
        });
      });

      test('event ids of a deleted stream may be written again', async () => {
        const storeId = await newStore();
        const eventId = '0190b2d4-8c9a-7f1e-9c3b-000000000070';
        await api.appendEvents(storeId, 's', [event('E', 1, { eventId })]);
        await api.deleteStream(storeId, 's');
        assert.deepEqual(await api.appendEvents(storeId, 's', [event('E', 1, { eventId })]), {
          version: 0,
          position: 1,
        });
      });
    });

    describe('$all', () => {
      test('readAllGlobal pages by position and returns every event once, in order', async () => {
        const storeId = await newStore();
        for (let i = 0; i < 10; i++) await api.appendEvents(storeId, `s-${i % 3}`, events(3));
        await api.deleteStream(storeId, 's-1');
        const expected = (await api.readAllGlobal(storeId, 0, 1000)).map((e) => e.position);
        assert.equal(expected.length, 21);
        const seen: number[] = [];
        let from = 0;
        for (;;) {
          const page = await api.readAllGlobal(storeId, from, 4);
          if (page.length === 0) break;
          seen.push(...page.map((e) => e.position));
          from = (page[page.length - 1] as EventRecord).position + 1;
        }
        assert.deepEqual(seen, expected);
        assert.deepEqual(
          seen,
          [...seen].sort((a, b) => a - b),
        );
        assert.deepEqual(await api.readAllGlobal(storeId, 1000, 10), []);
        assert.deepEqual(await api.readAllGlobal(storeId, 0, 0), []);
      });
    });

    describe('type and tag queries', () => {
      test('readByEventTypes returns matching events in position order, paged', async () => {
        const storeId = await newStore();
        for (let i = 0; i < 12; i++) {
          await api.appendEvents(storeId, `s-${i % 4}`, [
            event(['A', 'B', 'C'][i % 3] as string, { i }),
          ]);
        }
        const a = await api.readByEventTypes(storeId, ['A']);
        assert.deepEqual(
          a.map((e) => (e.data as { i: number }).i),
          [0, 3, 6, 9],
        );
        const ab = await api.readByEventTypes(storeId, ['B', 'A']);
        assert.deepEqual(
          ab.map((e) => (e.data as { i: number }).i),
          [0, 1, 3, 4, 6, 7, 9, 10],
        );
        const page = await api.readByEventTypes(storeId, ['A', 'B'], { fromPosition: 4, count: 3 });
        assert.deepEqual(
          page.map((e) => e.position),
          [4, 6, 7],
        );
        assert.deepEqual(await api.readByEventTypes(storeId, ['Nope']), []);
        assert.deepEqual(await api.readByEventTypes(storeId, []), []);
      });

      test('readByTags matches any or all; untagged events never match', async () => {
        const storeId = await newStore();
        await api.appendEvents(storeId, 's', [
          event('E', 0, { tags: ['a'] }),
          event('E', 1, { tags: ['a', 'b'] }),
          event('E', 2),
          event('E', 3, { tags: ['b', 'c'] }),
          event('E', 4, { tags: ['c', 'b', 'a'] }),
        ]);
        const data = (list: EventRecord[]): unknown[] => list.map((e) => e.data);
        assert.deepEqual(data(await api.readByTags(storeId, ['a'])), [0, 1, 4]);
        assert.deepEqual(
          data(await api.readByTags(storeId, ['a', 'c'], { match: 'any' })),
          [0, 1, 3, 4],
        );
        assert.deepEqual(data(await api.readByTags(storeId, ['a', 'b'], { match: 'all' })), [1, 4]);
        assert.deepEqual(
          data(await api.readByTags(storeId, ['a', 'b', 'c'], { match: 'all' })),
          [4],
        );
        assert.deepEqual(
          data(await api.readByTags(storeId, ['b'], { fromPosition: 2, count: 1 })),
          [3],
        );
        assert.deepEqual(
          data(await api.readByTags(storeId, ['a', 'b'], { match: 'all', fromPosition: 2 })),
          [4],
        );
        assert.deepEqual(await api.readByTags(storeId, []), []);
        assert.deepEqual(await api.readByTags(storeId, ['zzz']), []);
      });
    });

    describe('invalid input', () => {
      test('bad stream ids, versions, counts and events are invalid_argument and write nothing', async () => {
        const storeId = await newStore();
        const bad: [string, () => Promise<unknown>][] = [
          ['empty stream id', () => api.appendEvents(storeId, '', events(1))],
          ['reserved stream id', () => api.appendEvents(storeId, '$all', events(1))],
          [
            'non-string stream id',
            () => api.appendEvents(storeId, 42 as unknown as string, events(1)),
          ],
          ['NUL in stream id', () => api.appendEvents(storeId, 'a\u0000b', events(1))],
          ['expected version -3', () => api.appendEvents(storeId, 's', events(1), -3)],
          ['fractional version', () => api.appendEvents(storeId, 's', events(1), 1.5)],
          ['events not an array', () => api.appendEvents(storeId, 's', {} as unknown as [])],
          ['missing event type', () => api.appendEvents(storeId, 's', [{ data: 1 } as never])],
          ['missing data', () => api.appendEvents(storeId, 's', [{ eventType: 'E' } as never])],
          ['NaN data', () => api.appendEvents(storeId, 's', [event('E', { x: NaN })])],
          ['Infinity', () => api.appendEvents(storeId, 's', [event('E', [Infinity])])],
          ['function data', () => api.appendEvents(storeId, 's', [event('E', { f: () => 1 })])],
          ['Date data', () => api.appendEvents(storeId, 's', [event('E', { at: new Date() })])],
          ['bigint data', () => api.appendEvents(storeId, 's', [event('E', { n: 1n })])],
          [
            'undefined in array',
            () => api.appendEvents(storeId, 's', [event('E', [1, undefined] as never)]),
          ],
          [
            'metadata not an object',
            () => api.appendEvents(storeId, 's', [event('E', 1, { metadata: [] as never })]),
          ],
          [
            'tags not strings',
            () => api.appendEvents(storeId, 's', [event('E', 1, { tags: [1] as never })]),
          ],
          ['empty tag', () => api.appendEvents(storeId, 's', [event('E', 1, { tags: [''] })])],
          [
            'event id not a UUID',
            () => api.appendEvents(storeId, 's', [event('E', 1, { eventId: 'abc' })]),
          ],
          ['negative count', () => api.streamForward(storeId, 's', 0, -1)],
          ['huge count', () => api.readAllGlobal(storeId, 0, 10_000_000)],
          ['negative start', () => api.streamForward(storeId, 's', -1, 1)],
          ['backward start -2', () => api.streamBackward(storeId, 's', -2, 1)],
          ['bad direction', () => api.getEvents(storeId, 's', 0, 1, 'sideways' as never)],
          ['negative position', () => api.readAllGlobal(storeId, -1, 1)],
          ['types not an array', () => api.readByEventTypes(storeId, 'A' as never)],
          ['bad tag match', () => api.readByTags(storeId, ['a'], { match: 'some' as never })],
          ['batch not an array', () => api.appendBatch(storeId, {} as never)],
        ];
        for (const [name, call] of bad) {
          const error = await rejectsWith(call, 'invalid_argument').catch((e: Error) => {
            throw new Error(`${name}: ${e.message}`);
          });
          assert.ok(error.message.length > 10, `${name}: the message says what is wrong`);
          assert.equal(error.retriable, false);
        }
        assert.equal(await api.hasEvents(storeId), false);
      });

      test('oversized events are rejected with the limit named', async () => {
        const storeId = await newStore();
        const error = await rejectsWith(
          api.appendEvents(storeId, 's', [event('Big', 'x'.repeat(4 * 1024 * 1024 + 1))]),
          'invalid_argument',
        );
        assert.match(error.message, /at most/);
        assert.equal(await api.hasEvents(storeId), false);
      });
    });

    const subscriptionContext: SubscriptionSuiteContext = {
      name: target.name,
      persistent: target.persistent,
      skip: target.skip,
      api: () => api,
      reopen: async () => {
        await api.close();
        api = await target.open();
        return api;
      },
      newStore,
    };
    describeSubscriptions(subscriptionContext);
    describeLinks(subscriptionContext);
    describeSubscriptionListing(subscriptionContext);

    const featureContext: FeatureSuiteContext = { skip: target.skip, api: () => api, newStore };
    describeSnapshots(featureContext);
    describeTemporal(featureContext);
    describeScavenge(featureContext);
    describeCausation(featureContext);
    describeSchemas(featureContext);
    describeInspection(featureContext);
    describeListing(featureContext);

    if (target.persistent) {
      describe('persistence', () => {
        test('everything survives close and reopen', async () => {
          const storeId = await newStore();
          await api.appendEvents(storeId, 's', events(3, 'T', { tags: ['x'] }));
          await api.appendEvents(storeId, 'gone', events(2));
          await api.deleteStream(storeId, 'gone');
          const before = await api.readAllGlobal(storeId, 0, 100);
          await api.close();
          api = await target.open();
          assert.deepEqual(await api.readAllGlobal(storeId, 0, 100), before);
          assert.equal(await api.getVersion(storeId, 's'), 2);
          assert.deepEqual((await api.readByTags(storeId, ['x'])).length, 3);
          assert.deepEqual(await api.appendEvents(storeId, 'next', events(1)), {
            version: 0,
            position: 5,
          });
          assert.ok((await api.listStores()).includes(storeId));
        });
      });
    }
  });
}
