import assert from 'node:assert/strict';
import { describe } from 'node:test';
import type { EventStoreApi } from '../../src/core/api.js';
import type { ListOptions, ListStreamsOptions } from '../../src/core/types.js';
import { events, rejectsWith } from './harness.js';
import { featureTest, type FeatureSuiteContext } from './snapshots.js';

/** Every id `listStreams` answers for `options`, page by page, and the pages' sizes. */
async function pageThrough(
  api: EventStoreApi,
  storeId: string,
  options: ListStreamsOptions,
): Promise<{ ids: string[]; sizes: number[] }> {
  const ids: string[] = [];
  const sizes: number[] = [];
  let after = options.after;
  for (;;) {
    const page = await api.listStreams(storeId, { ...options, after });
    ids.push(...page.streams);
    sizes.push(page.streams.length);
    if (page.next === null) return { ids, sizes };
    assert.ok(sizes.length < 1000, 'paging ends');
    after = page.next;
  }
}

async function writeStreams(api: EventStoreApi, storeId: string, ids: string[]): Promise<void> {
  await api.appendBatch(
    storeId,
    ids.map((streamId) => ({ streamId, events: events(1) })),
  );
}

/** Paged listing of stream ids: cursors, limits, prefixes and patterns. */
export function describeListing(ctx: FeatureSuiteContext): void {
  const test = featureTest(ctx);

  describe('listStreams', () => {
    test('pages through every stream in UTF-8 byte order', async (api) => {
      const storeId = await ctx.newStore();
      assert.deepEqual(await api.listStreams(storeId), { streams: [], next: null });
      // Code points above U+FFFF sort after U+E000-U+FFFF in UTF-8, unlike in UTF-16.
      const ids = ['b', 'a-2', 'C', 'a-10', 'é', '\u{ff5e}', '🎉', 'a'];
      await writeStreams(api, storeId, ids);
      const sorted = ['C', 'a', 'a-10', 'a-2', 'b', 'é', '\u{ff5e}', '🎉'];
      assert.deepEqual(await api.getStreams(storeId), sorted);
      assert.deepEqual(await api.listStreams(storeId), { streams: sorted, next: null });
      const paged = await pageThrough(api, storeId, { limit: 2 });
      assert.deepEqual(paged.ids, sorted);
      assert.deepEqual(paged.sizes, [2, 2, 2, 2]);
      const odd = await pageThrough(api, storeId, { limit: 3 });
      assert.deepEqual(odd.sizes, [3, 3, 2]);
    });

    test('a cursor stays right while streams are added and deleted', async (api) => {
      const storeId = await ctx.newStore();
      await writeStreams(api, storeId, ['s-1', 's-3', 's-5', 's-7']);
      const first = await api.listStreams(storeId, { limit: 2 });
      assert.deepEqual(first.streams, ['s-1', 's-3']);
      assert.ok(first.next !== null);
      await writeStreams(api, storeId, ['s-0', 's-4', 's-8']);
      await api.deleteStream(storeId, 's-3');
      await api.deleteStream(storeId, 's-5');
      const rest = await pageThrough(api, storeId, { after: first.next, limit: 2 });
      assert.deepEqual(rest.ids, ['s-4', 's-7', 's-8']);
    });

    test('a prefix lists the ids that start with it, and only those', async (api) => {
      const storeId = await ctx.newStore();
      await writeStreams(api, storeId, [
        'order-1',
        'order-2',
        'order-10',
        'order',
        'orders',
        'order.',
        'ordeq',
        'a',
        'z',
        'caf\u{10ffff}',
        'caf\u{10ffff}x',
        'cag',
      ]);
      assert.deepEqual((await pageThrough(api, storeId, { prefix: 'order-', limit: 2 })).ids, [
        'order-1',
        'order-10',
        'order-2',
      ]);
      assert.deepEqual((await api.listStreams(storeId, { prefix: 'order' })).streams, [
        'order',
        'order-1',
        'order-10',
        'order-2',
        'order.',
        'orders',
      ]);
      assert.deepEqual((await api.listStreams(storeId, { prefix: 'caf\u{10ffff}' })).streams, [
        'caf\u{10ffff}',
        'caf\u{10ffff}x',
      ]);
      assert.deepEqual(await api.listStreams(storeId, { prefix: 'nothing' }), {
        streams: [],
        next: null,
      });
      // A cursor from another filter still only goes on after its id.
      const all = await api.listStreams(storeId, { limit: 3 });
      assert.deepEqual(
        (await api.listStreams(storeId, { prefix: 'order-', after: all.next ?? '' })).streams,
        ['order-1', 'order-10', 'order-2'],
      );
    });

    test('a pattern filters with * wildcards, a page at a time', async (api) => {
      const storeId = await ctx.newStore();
      const ids = Array.from(
        { length: 30 },
        (_, i) => `cart-${i}-${i % 3 === 0 ? 'open' : 'shut'}`,
      );
      await writeStreams(api, storeId, [...ids, 'other-open', 'cart-x']);
      const open = ids.filter((id) => id.endsWith('-open')).sort();
      const paged = await pageThrough(api, storeId, { pattern: 'cart-*-open', limit: 3 });
      assert.deepEqual(paged.ids, open);
      assert.deepEqual((await api.listStreams(storeId, { pattern: '*open' })).streams, [
        ...open,
        'other-open',
      ]);
      assert.deepEqual((await api.listStreams(storeId, { pattern: 'cart-x' })).streams, ['cart-x']);
      assert.deepEqual((await api.listStreams(storeId, { pattern: 'cart-' })).streams, []);
      assert.deepEqual((await api.listStreams(storeId, { pattern: '*' })).streams.length, 32);
    });

    test('bad paging options are invalid_argument', async (api) => {
      const storeId = await ctx.newStore();
      await writeStreams(api, storeId, ['a']);
      await rejectsWith(api.listStreams(storeId, { limit: 0 }), 'invalid_argument');
      await rejectsWith(api.listStreams(storeId, { limit: 10_001 }), 'invalid_argument');
      await rejectsWith(api.listStreams(storeId, { limit: 1.5 }), 'invalid_argument');
      await rejectsWith(api.listStreams(storeId, { after: 'a' }), 'invalid_argument');
      await rejectsWith(api.listStreams(storeId, { after: 'k1.$$' }), 'invalid_argument');
      await rejectsWith(
        api.listStreams(storeId, { prefix: 'a', pattern: 'a*' }),
        'invalid_argument',
      );
      await rejectsWith(api.listStreams(storeId, { prefix: 'x'.repeat(1025) }), 'invalid_argument');
      await rejectsWith(api.listStreams('missing-store-x'), 'not_found');
    });
  });

  describe('listSnapshotPage', () => {
    /** Every summary `listSnapshotPage` answers, page by page, as source/stream@version. */
    async function pageSnapshots(
      api: EventStoreApi,
      storeId: string,
      options: ListOptions,
    ): Promise<{ keys: string[]; sizes: number[] }> {
      const keys: string[] = [];
      const sizes: number[] = [];
      let after = options.after;
      for (;;) {
        const page = await api.listSnapshotPage(storeId, { ...options, after });
        keys.push(...page.snapshots.map(snapshotKey));
        sizes.push(page.snapshots.length);
        if (page.next === null) return { keys, sizes };
        assert.ok(sizes.length < 1000, 'paging ends');
        after = page.next;
      }
    }

    test('pages through every snapshot newest first, as listAllSnapshots lists them', async (api) => {
      const storeId = await ctx.newStore();
      assert.deepEqual(await api.listSnapshotPage(storeId), { snapshots: [], next: null });
      for (const [source, stream, version] of [
        ['p', 'x', 1],
        ['p', 'y', 4],
        ['q', 'x', 2],
        ['p', 'x', 2],
        ['r', 'z', 0],
      ] as const) {
        await api.recordSnapshot(storeId, source, stream, version, { data: { version } });
      }
      const newestFirst = ['r/z@0', 'p/x@2', 'q/x@2', 'p/y@4', 'p/x@1'];
      assert.deepEqual((await api.listAllSnapshots(storeId)).map(snapshotKey), newestFirst);
      const whole = await api.listSnapshotPage(storeId);
      assert.deepEqual(whole.snapshots.map(snapshotKey), newestFirst);
      assert.equal(whole.next, null);
      assert.deepEqual(Object.keys(whole.snapshots[0] ?? {}).sort(), [
        'createdAt',
        'sourceUuid',
        'streamUuid',
        'version',
      ]);
      assert.deepEqual(await pageSnapshots(api, storeId, { limit: 2 }), {
        keys: newestFirst,
        sizes: [2, 2, 1],
      });
      assert.deepEqual((await pageSnapshots(api, storeId, { limit: 5 })).sizes, [5]);
    });

    test('a cursor stays right while snapshots are recorded and deleted', async (api) => {
      const storeId = await ctx.newStore();
      for (const stream of ['s1', 's2', 's3', 's4', 's5']) {
        await api.recordSnapshot(storeId, 'p', stream, 1, { data: null });
      }
      const first = await api.listSnapshotPage(storeId, { limit: 2 });
      assert.deepEqual(first.snapshots.map(snapshotKey), ['p/s5@1', 'p/s4@1']);
      assert.ok(first.next !== null);
      // Newer snapshots come before the cursor; a deleted one after it is gone.
      await api.recordSnapshot(storeId, 'p', 's6', 1, { data: null });
      await api.deleteSnapshot(storeId, 'p', 's2', 1);
      const rest = await pageSnapshots(api, storeId, { after: first.next, limit: 1 });
      assert.deepEqual(rest.keys, ['p/s3@1', 'p/s1@1']);
    });

    test('bad paging options are invalid_argument', async (api) => {
      const storeId = await ctx.newStore();
      await api.recordSnapshot(storeId, 'p', 's', 1, { data: null });
      await rejectsWith(api.listSnapshotPage(storeId, { limit: 0 }), 'invalid_argument');
      await rejectsWith(api.listSnapshotPage(storeId, { limit: 10_001 }), 'invalid_argument');
      await rejectsWith(api.listSnapshotPage(storeId, { after: 'a' }), 'invalid_argument');
      // A cursor of another list (a stream id) is not a position in this one.
      const streams = ['a', 'b'];
      await writeStreams(api, storeId, streams);
      const streamPage = await api.listStreams(storeId, { limit: 1 });
      await rejectsWith(
        api.listSnapshotPage(storeId, { after: streamPage.next ?? '' }),
        'invalid_argument',
      );
      await rejectsWith(api.listSnapshotPage('missing-store-x'), 'not_found');
    });
  });

  describe('listSchemaPage', () => {
    test('pages through the schemas by event type, as listSchemas lists them', async (api) => {
      const storeId = await ctx.newStore();
      assert.deepEqual(await api.listSchemaPage(storeId), { schemas: [], next: null });
      for (const eventType of ['Paid', 'Placed', 'Cancelled', 'placed']) {
        await api.registerSchema(storeId, eventType, { version: 1 });
      }
      const sorted = ['Cancelled', 'Paid', 'Placed', 'placed'];
      const whole = await api.listSchemaPage(storeId);
      assert.deepEqual(whole, { schemas: await api.listSchemas(storeId), next: null });
      assert.deepEqual(
        whole.schemas.map((schema) => schema.eventType),
        sorted,
      );
      const first = await api.listSchemaPage(storeId, { limit: 2 });
      assert.deepEqual(
        first.schemas.map((schema) => schema.eventType),
        ['Cancelled', 'Paid'],
      );
      assert.ok(first.next !== null);
      await api.unregisterSchema(storeId, 'Placed');
      await api.registerSchema(storeId, 'Shipped', { version: 1 });
      await api.registerSchema(storeId, 'Added', { version: 1 });
      const rest = await api.listSchemaPage(storeId, { after: first.next, limit: 2 });
      assert.deepEqual(
        rest.schemas.map((schema) => schema.eventType),
        ['Shipped', 'placed'],
      );
      assert.equal(rest.next, null);
      await rejectsWith(api.listSchemaPage(storeId, { limit: 0 }), 'invalid_argument');
      await rejectsWith(api.listSchemaPage(storeId, { after: 'Paid' }), 'invalid_argument');
    });
  });
}

function snapshotKey(s: { sourceUuid: string; streamUuid: string; version: number }): string {
  return `${s.sourceUuid}/${s.streamUuid}@${s.version}`;
}
