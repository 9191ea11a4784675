import assert from 'node:assert/strict';
import { describe } from 'node:test';
import type { EventRecord } from '../../src/core/types.js';
import { event, events, rejectsWith } from './harness.js';
import {
  collect,
  registerCase,
  runsCode,
  waitFor,
  type DefinitionsApi,
  type SubscribingApi,
  type SubscriptionSuiteContext,
} from './subscriptions.js';

/** Reads a whole (link) stream; [] when it does not exist. */
async function readStream(api: DefinitionsApi, storeId: string, streamId: string) {
  if (!(await api.streamExists(storeId, streamId))) return [];
  return api.streamForward(storeId, streamId, 0, 100_000);
}

/** The link stream once it holds `count` events (fails if it gets more). */
async function linked(
  api: DefinitionsApi,
  storeId: string,
  name: string,
  count: number,
): Promise<EventRecord[]> {
  let got: EventRecord[] = [];
  await waitFor(async () => {
    got = await readStream(api, storeId, `$link:${name}`);
    return got.length >= count;
  }, `${count} events in $link:${name}`);
  assert.equal(got.length, count, `exactly ${count} events in $link:${name}`);
  return got;
}

/**
 * The stream link cases of the conformance suite (SPEC §9): backfill and live propagation,
 * declarative and code filters, transforms, exactly-once output with the source ids, restarts.
 */
export function describeLinks(ctx: SubscriptionSuiteContext): void {
  /** Cases that consume subscriptions. */
  const test = (name: string, body: (api: SubscribingApi) => Promise<void>): void => {
    registerCase(ctx, name, 'subscribe', body);
  };
  /** Cases that give links code (filter or transform functions). */
  const testCode = (name: string, body: (api: SubscribingApi) => Promise<void>): void => {
    registerCase(ctx, name, 'code', body);
  };
  const testJson = (name: string, body: (api: DefinitionsApi) => Promise<void>): void => {
    registerCase(ctx, name, 'json', body);
  };

  describe('links', () => {
    testJson(
      'a link with backfill copies matching history, then live events, in source order',
      async (api) => {
        const storeId = await ctx.newStore();
        await api.appendEvents(storeId, 'order-1', [
          event('Placed', { total: 5 }),
          event('Paid', {}),
        ]);
        await api.appendEvents(storeId, 'invoice-1', [event('Placed', { total: 9 })]);
        await api.appendEvents(storeId, 'order-2', [
          event('Placed', { total: 7 }, { tags: ['t'] }),
        ]);
        const definition = await api.createLink(storeId, {
          name: 'placed',
          source: { type: 'stream_pattern', pattern: 'order-*' },
          filter: { eventType: 'Placed' },
          backfill: true,
        });
        assert.equal(definition.linkStream, '$link:placed');
        assert.equal(definition.status, 'running');
        assert.deepEqual(definition.filter, { eventType: 'Placed' });
        assert.deepEqual(definition.code, { filter: false, transform: false });
        const history = await linked(api, storeId, 'placed', 2);
        const sources = await api.readAllGlobal(storeId, 0, 100);
        const expected = [sources[0], sources[3]] as EventRecord[];
        history.forEach((copy, i) => {
          const source = expected[i] as EventRecord;
          assert.equal(copy.eventId, source.eventId, 'the link keeps the source event id');
          assert.equal(copy.eventType, source.eventType);
          assert.deepEqual(copy.data, source.data);
          assert.deepEqual(copy.tags, source.tags);
          assert.equal(copy.version, i);
          assert.deepEqual(copy.metadata, {
            sourceStreamId: source.streamId,
            sourceVersion: source.version,
            sourcePosition: source.position,
          });
        });
        await api.appendEvents(storeId, 'order-3', [
          event('Placed', { total: 1 }),
          event('Paid', {}),
        ]);
        await api.appendEvents(storeId, 'other', [event('Placed', {})]);
        await api.appendEvents(storeId, 'order-1', [event('Placed', { total: 2 })]);
        const all = await linked(api, storeId, 'placed', 4);
        assert.deepEqual(
          all.map((e) => e.metadata.sourceStreamId),
          ['order-1', 'order-2', 'order-3', 'order-1'],
        );
        const info = await api.linkInfo(storeId, 'placed');
        assert.equal(info.status, 'running');
        assert.equal(info.processed, 4);
        assert.equal(info.linkStream, '$link:placed');
        assert.equal(info.linkStreamVersion, 3);
        assert.ok(info.lastPosition >= (all[3]?.metadata.sourcePosition as number));
        assert.equal(info.createdAt, definition.createdAt);
      },
    );

    testJson('without backfill a link starts with the events appended after it', async (api) => {
      const storeId = await ctx.newStore();
      await api.appendEvents(storeId, 's', events(3));
      await api.createLink(storeId, { name: 'later', source: { type: 'stream', streamId: 's' } });
      await api.appendEvents(storeId, 's', events(2));
      const copies = await linked(api, storeId, 'later', 2);
      assert.deepEqual(
        copies.map((e) => e.metadata.sourceVersion),
        [3, 4],
      );
    });

    testCode('code filters and transforms shape what is linked', async (api) => {
      const storeId = await ctx.newStore();
      await api.appendEvents(
        storeId,
        'a',
        Array.from({ length: 10 }, (_, n) => event('N', { n }, { metadata: { by: 'test' } })),
      );
      await api.createLink(storeId, {
        name: 'even',
        source: { type: 'all' },
        filter: (e) => (e.data as { n: number }).n % 2 === 0,
        transform: async (e) => {
          await new Promise((resolve) => setImmediate(resolve));
          return {
            eventType: 'Even',
            data: { double: (e.data as { n: number }).n * 2 },
            metadata: { ...e.metadata, sourceStreamId: 'forged' },
          };
        },
        backfill: true,
      });
      const copies = await linked(api, storeId, 'even', 5);
      assert.deepEqual(
        copies.map((e) => e.data),
        [0, 2, 4, 6, 8].map((n) => ({ double: n * 2 })),
      );
      assert.ok(copies.every((e) => e.eventType === 'Even'));
      assert.equal(copies[1]?.metadata.by, 'test');
      assert.equal(copies[1]?.metadata.sourceStreamId, 'a', 'the source fields are evdb’s');
      const definition = await api.getLink(storeId, 'even');
      assert.deepEqual(definition.code, { filter: true, transform: true });
      assert.equal(definition.filter, undefined);
    });

    testJson(
      'each source event is linked exactly once, also under concurrent appends',
      async (api) => {
        const storeId = await ctx.newStore();
        await api.appendEvents(storeId, 'x-0', events(50));
        await api.createLink(storeId, {
          name: 'once',
          source: { type: 'stream_pattern', pattern: 'x-*' },
          backfill: true,
        });
        await Promise.all(
          Array.from({ length: 4 }, async (_, w) => {
            for (let i = 0; i < 10; i++) await api.appendEvents(storeId, `x-${w}`, events(3));
          }),
        );
        const copies = await linked(api, storeId, 'once', 170);
        const ids = new Set(copies.map((e) => e.eventId));
        assert.equal(ids.size, 170, 'no event twice');
        const sourcePositions = copies.map((e) => e.metadata.sourcePosition as number);
        assert.deepEqual(
          sourcePositions,
          [...sourcePositions].sort((a, b) => a - b),
          'in source order',
        );
        const sources = await api.readAllGlobal(storeId, 0, 1000);
        assert.deepEqual(
          sourcePositions,
          sources.filter((e) => e.streamId.startsWith('x-')).map((e) => e.position),
        );
      },
    );

    testJson('stopLink pauses a link, startLink resumes it where it stopped', async (api) => {
      const storeId = await ctx.newStore();
      await api.createLink(storeId, { name: 'p', source: { type: 'stream', streamId: 's' } });
      await api.appendEvents(storeId, 's', events(2));
      await linked(api, storeId, 'p', 2);
      await api.stopLink(storeId, 'p');
      assert.equal((await api.linkInfo(storeId, 'p')).status, 'stopped');
      assert.equal((await api.linkInfo(storeId, 'p')).active, false);
      await api.appendEvents(storeId, 's', events(3));
      await new Promise((resolve) => setTimeout(resolve, 100));
      assert.equal((await readStream(api, storeId, '$link:p')).length, 2, 'nothing while stopped');
      await api.startLink(storeId, 'p');
      const copies = await linked(api, storeId, 'p', 5);
      assert.deepEqual(
        copies.map((e) => e.metadata.sourceVersion),
        [0, 1, 2, 3, 4],
      );
    });

    testJson('link definitions: list, get, create again, delete', async (api) => {
      const storeId = await ctx.newStore();
      const a = await api.createLink(storeId, { name: 'a', source: { type: 'all' } });
      await api.createLink(storeId, { name: 'b', source: { type: 'stream', streamId: 's' } });
      assert.deepEqual(
        (await api.listLinks(storeId)).map((l) => l.name),
        ['a', 'b'],
      );
      assert.deepEqual(await api.getLink(storeId, 'a'), a);
      assert.equal(a.leaseMs, 10_000, 'the default lease');
      assert.deepEqual(
        await api.createLink(storeId, { name: 'a', source: { type: 'all' } }),
        a,
        'the same definition again is harmless',
      );
      await rejectsWith(
        api.createLink(storeId, { name: 'a', source: { type: 'stream', streamId: 'z' } }),
        'already_exists',
      );
      await rejectsWith(
        api.createLink(storeId, { name: 'a', source: { type: 'all' }, leaseMs: 2_000 }),
        'already_exists',
      );
      const short = await api.createLink(storeId, {
        name: 'c',
        source: { type: 'all' },
        leaseMs: 2_000,
      });
      assert.equal(short.leaseMs, 2_000);
      assert.equal((await api.getLink(storeId, 'c')).leaseMs, 2_000);
      await api.deleteLink(storeId, 'c');
      await api.appendEvents(storeId, 'q', events(2));
      await linked(api, storeId, 'a', 2);
      await api.deleteLink(storeId, 'a');
      await rejectsWith(api.getLink(storeId, 'a'), 'not_found');
      await rejectsWith(api.linkInfo(storeId, 'a'), 'not_found');
      await rejectsWith(api.deleteLink(storeId, 'a'), 'not_found');
      assert.equal(await api.streamExists(storeId, '$link:a'), false, 'its stream is gone');
      assert.deepEqual(
        (await api.listLinks(storeId)).map((l) => l.name),
        ['b'],
      );
      for (const bad of [
        { name: '', source: { type: 'all' } },
        { name: 'x', source: { type: 'everything' } },
        { name: 'x', source: { type: 'stream' } },
        { name: 'x', source: { type: 'all' }, filter: { nope: 1 } },
        { name: 'x', source: { type: 'all' }, transform: 'upper' },
        { name: 'x', source: { type: 'all' }, backfill: 'yes' },
        { name: 'x', source: { type: 'all' }, leaseMs: 99 },
        { name: 'x', source: { type: 'all' }, leaseMs: 1.5 },
        { name: 'x', source: { type: 'all' }, leaseMs: '1000' },
        { name: 'x', source: { type: 'stream', streamId: '$link:x' } },
      ]) {
        await rejectsWith(api.createLink(storeId, bad as never), 'invalid_argument');
      }
    });

    testJson('link streams keep source ids without weakening id checks elsewhere', async (api) => {
      const storeId = await ctx.newStore();
      const id = '0190a0a0-0000-7000-8000-000000000001';
      await api.createLink(storeId, { name: 'ids', source: { type: 'all' } });
      const first = await api.appendEvents(storeId, 's', [event('E', 1, { eventId: id })]);
      const [copy] = await linked(api, storeId, 'ids', 1);
      assert.equal(copy?.eventId, id);
      // A retry of the source append is still recognised as a replay...
      assert.deepEqual(
        await api.appendEvents(storeId, 's', [event('E', 1, { eventId: id })]),
        first,
      );
      // ...and the id is still taken for any other application stream.
      await rejectsWith(
        api.appendEvents(storeId, 'other', [event('E', 1, { eventId: id })]),
        'already_exists',
      );
      // Applications cannot write to link streams.
      await rejectsWith(api.appendEvents(storeId, '$link:ids', events(1)), 'invalid_argument');
      await rejectsWith(api.deleteStream(storeId, '$link:ids'), 'invalid_argument');
    });

    test('subscriptions see link events only when they name a `$` stream', async (api) => {
      const storeId = await ctx.newStore();
      await api.createLink(storeId, { name: 'copy', source: { type: 'all' } });
      const all = await api.subscribe(storeId, { type: 'by_stream', selector: '$all' });
      const byType = await api.subscribe(storeId, { type: 'by_event_type', selector: 'E' });
      const link = await api.subscribe(storeId, { type: 'by_stream', selector: '$link:copy' });
      const linkPattern = await api.subscribe(storeId, {
        type: 'by_event_pattern',
        selector: { streamId: '$link:*' },
      });
      try {
        await api.appendEvents(storeId, 's', [event('E'), event('E')]);
        await linked(api, storeId, 'copy', 2);
        await api.appendEvents(storeId, 's', [event('F')]);
        const seen = await collect(all[Symbol.asyncIterator](), (l) => l.length >= 3);
        assert.deepEqual(
          seen.map((e) => e.streamId),
          ['s', 's', 's'],
          '$all: application streams only',
        );
        const types = await collect(byType[Symbol.asyncIterator](), (l) => l.length >= 2);
        assert.ok(types.every((e) => e.streamId === 's'));
        for (const sub of [link, linkPattern]) {
          const copies = await collect(sub[Symbol.asyncIterator](), (l) => l.length >= 3);
          assert.ok(copies.every((e) => e.streamId === '$link:copy'));
        }
      } finally {
        await Promise.all([all, byType, link, linkPattern].map((sub) => sub.close()));
      }
    });

    if (ctx.persistent) {
      testCode(
        'a link resumes after close and reopen, linking every event exactly once',
        async (initial) => {
          const storeId = await ctx.newStore();
          await initial.appendEvents(storeId, 'src', events(30));
          await initial.createLink(storeId, {
            name: 'r',
            source: { type: 'stream', streamId: 'src' },
            filter: { data: { n: 1 } },
            backfill: true,
          });
          await initial.createLink(storeId, {
            name: 'code',
            source: { type: 'stream', streamId: 'src' },
            transform: (e) => ({ eventType: 'T', data: e.data }),
            backfill: true,
          });
          // Restart while the links may be anywhere in their work.
          await initial.appendEvents(storeId, 'src', events(30));
          const api = await ctx.reopen();
          assert.ok(runsCode(api));
          await api.appendEvents(storeId, 'src', events(30));
          // The declarative link resumes by itself once its store is open again.
          const r = await linked(api, storeId, 'r', 3);
          assert.deepEqual(
            r.map((e) => e.metadata.sourceVersion),
            [1, 31, 61],
          );
          // A link with code resumes when its code is given again.
          await api.createLink(storeId, {
            name: 'code',
            source: { type: 'stream', streamId: 'src' },
            transform: (e) => ({ eventType: 'T', data: e.data }),
            backfill: true,
          });
          const copies = await linked(api, storeId, 'code', 90);
          assert.deepEqual(
            copies.map((e) => e.metadata.sourceVersion),
            Array.from({ length: 90 }, (_, i) => i),
          );
          assert.equal(new Set(copies.map((e) => e.eventId)).size, 90);
        },
      );
    }
  });
}
