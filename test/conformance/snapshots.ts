import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { EventStoreApi } from '../../src/core/api.js';
import type { FeatureApi } from '../../src/core/feature-api.js';
import { events, rejectsWith } from './harness.js';

/** What the store-feature cases need of `runConformance`'s state. */
export interface FeatureSuiteContext {
  skip?: Record<string, string>;
  api(): EventStoreApi & FeatureApi;
  newStore(): Promise<string>;
}

/** `it`, honouring the target's skip list (by case name, with its reason). */
export function featureTest(
  ctx: FeatureSuiteContext,
): (name: string, body: (api: EventStoreApi & FeatureApi) => Promise<void>) => void {
  return (name, body) => {
    const reason = ctx.skip?.[name];
    if (reason !== undefined) it(name, { skip: reason }, () => undefined);
    else it(name, () => body(ctx.api()));
  };
}

/** The snapshot cases (SPEC §4). */
export function describeSnapshots(ctx: FeatureSuiteContext): void {
  const test = featureTest(ctx);

  describe('snapshots', () => {
    test('record, read exact and latest; recording a version again overwrites it', async (api) => {
      const storeId = await ctx.newStore();
      const first = await api.recordSnapshot(storeId, 'cart', 'cart-1', 3, { data: { items: 1 } });
      assert.deepEqual(
        { ...first, createdAt: undefined },
        { sourceUuid: 'cart', streamUuid: 'cart-1', version: 3, createdAt: undefined },
      );
      assert.ok(!Number.isNaN(Date.parse(first.createdAt)));
      await api.recordSnapshot(storeId, 'cart', 'cart-1', 7, {
        data: { items: 2, tags: ['a', null] },
        metadata: { by: 'test' },
      });
      const exact = await api.readSnapshot(storeId, 'cart', 'cart-1', 3);
      assert.deepEqual(exact.data, { items: 1 });
      assert.deepEqual(exact.metadata, {});
      const latest = await api.readSnapshot(storeId, 'cart', 'cart-1');
      assert.equal(latest.version, 7);
      assert.deepEqual(latest.data, { items: 2, tags: ['a', null] });
      assert.deepEqual(latest.metadata, { by: 'test' });
      assert.deepEqual(await api.readSnapshot(storeId, 'cart', 'cart-1', 'latest'), latest);

      await api.recordSnapshot(storeId, 'cart', 'cart-1', 3, { data: 'replaced' });
      assert.equal((await api.readSnapshot(storeId, 'cart', 'cart-1', 3)).data, 'replaced');
      const listed = await api.listSnapshots(storeId, 'cart', 'cart-1');
      assert.deepEqual(
        listed.map((s) => [s.version, s.data]),
        [
          [3, 'replaced'],
          [7, { items: 2, tags: ['a', null] }],
        ],
      );
      assert.equal((await api.storeStats(storeId)).snapshotCount, 2);
    });

    test('missing snapshots are not_found', async (api) => {
      const storeId = await ctx.newStore();
      await rejectsWith(api.readSnapshot(storeId, 'cart', 'cart-1'), 'not_found');
      await api.recordSnapshot(storeId, 'cart', 'cart-1', 1, { data: null });
      assert.equal((await api.readSnapshot(storeId, 'cart', 'cart-1')).data, null);
      await rejectsWith(api.readSnapshot(storeId, 'cart', 'cart-1', 2), 'not_found');
      await rejectsWith(api.readSnapshot(storeId, 'other', 'cart-1'), 'not_found');
      await rejectsWith(api.deleteSnapshot(storeId, 'cart', 'cart-1', 2), 'not_found');
      await api.deleteSnapshot(storeId, 'cart', 'cart-1', 1);
      await rejectsWith(api.readSnapshot(storeId, 'cart', 'cart-1', 1), 'not_found');
      await rejectsWith(api.deleteSnapshot(storeId, 'cart', 'cart-1', 1), 'not_found');
      assert.equal((await api.storeStats(storeId)).snapshotCount, 0);
    });

    test('listSnapshots filters by source and stream, ascending by version', async (api) => {
      const storeId = await ctx.newStore();
      const record = (source: string, stream: string, version: number): Promise<unknown> =>
        api.recordSnapshot(storeId, source, stream, version, { data: { source, stream, version } });
      await record('b', 's1', 5);
      await record('a', 's1', 2);
      await record('a', 's2', 9);
      await record('a', 's1', 1);
      await record('b', 's2', 0);
      const key = (s: { sourceUuid: string; streamUuid: string; version: number }): string =>
        `${s.sourceUuid}/${s.streamUuid}@${s.version}`;
      assert.deepEqual((await api.listSnapshots(storeId)).map(key), [
        'b/s2@0',
        'a/s1@1',
        'a/s1@2',
        'b/s1@5',
        'a/s2@9',
      ]);
      assert.deepEqual((await api.listSnapshots(storeId, 'a')).map(key), [
        'a/s1@1',
        'a/s1@2',
        'a/s2@9',
      ]);
      assert.deepEqual((await api.listSnapshots(storeId, undefined, 's1')).map(key), [
        'a/s1@1',
        'a/s1@2',
        'b/s1@5',
      ]);
      assert.deepEqual((await api.listSnapshots(storeId, 'b', 's1')).map(key), ['b/s1@5']);
      assert.deepEqual(await api.listSnapshots(storeId, 'nobody'), []);
      const all = await api.listSnapshots(storeId, 'a', 's2');
      assert.deepEqual(all[0]?.data, { source: 'a', stream: 's2', version: 9 });
    });

    test('listAllSnapshots lists summaries without data, newest first', async (api) => {
      const storeId = await ctx.newStore();
      assert.deepEqual(await api.listAllSnapshots(storeId), []);
      await api.recordSnapshot(storeId, 'p', 'x', 1, { data: { big: 'x'.repeat(100) } });
      await api.recordSnapshot(storeId, 'p', 'y', 4, { data: 1 });
      await api.recordSnapshot(storeId, 'q', 'x', 2, { data: 2 });
      const all = await api.listAllSnapshots(storeId);
      assert.deepEqual(
        all.map((s) => [s.sourceUuid, s.streamUuid, s.version]),
        [
          ['q', 'x', 2],
          ['p', 'y', 4],
          ['p', 'x', 1],
        ],
      );
      for (const summary of all) {
        assert.deepEqual(Object.keys(summary).sort(), [
          'createdAt',
          'sourceUuid',
          'streamUuid',
          'version',
        ]);
      }
    });

    test('deleteStream deletes the snapshots of that stream only', async (api) => {
      const storeId = await ctx.newStore();
      await api.appendEvents(storeId, 'order-1', events(3));
      await api.appendEvents(storeId, 'order-2', events(1));
      await api.recordSnapshot(storeId, 'order', 'order-1', 2, { data: 'o1' });
      await api.recordSnapshot(storeId, 'audit', 'order-1', 1, { data: 'o1 audit' });
      await api.recordSnapshot(storeId, 'order', 'order-2', 0, { data: 'o2' });
      await api.deleteStream(storeId, 'order-1');
      assert.deepEqual(await api.listSnapshots(storeId, undefined, 'order-1'), []);
      assert.equal((await api.readSnapshot(storeId, 'order', 'order-2')).data, 'o2');
      assert.equal((await api.storeStats(storeId)).snapshotCount, 1);
    });

    test('invalid snapshot arguments are invalid_argument and store nothing', async (api) => {
      const storeId = await ctx.newStore();
      await rejectsWith(
        api.recordSnapshot(storeId, 'cart', 'cart-1', -1, { data: 1 }),
        'invalid_argument',
      );
      await rejectsWith(
        api.recordSnapshot(storeId, '', 'cart-1', 0, { data: 1 }),
        'invalid_argument',
      );
      await rejectsWith(
        api.recordSnapshot(storeId, 'cart', 'cart-1', 1.5, { data: 1 }),
        'invalid_argument',
      );
      await rejectsWith(
        api.recordSnapshot(storeId, 'cart', 'cart-1', 0, {} as { data: null }),
        'invalid_argument',
      );
      await rejectsWith(api.readSnapshot(storeId, 'cart', 'cart-1', -2), 'invalid_argument');
      assert.equal((await api.storeStats(storeId)).snapshotCount, 0);
    });
  });
}
