import assert from 'node:assert/strict';
import { describe } from 'node:test';
import type { EventRecord } from '../../src/core/types.js';
import { event, events, rejectsWith } from './harness.js';
import { featureTest, type FeatureSuiteContext } from './snapshots.js';

/** The inspection and memory-level cases (SPEC §11, §15). */
export function describeInspection(ctx: FeatureSuiteContext): void {
  const test = featureTest(ctx);

  describe('inspection', () => {
    test('storeStats counts streams, events, snapshots and bytes', async (api) => {
      const storeId = await ctx.newStore();
      const empty = await api.storeStats(storeId);
      assert.deepEqual(
        { ...empty, diskBytes: 0 },
        {
          storeId,
          streamCount: 0,
          totalEvents: 0,
          snapshotCount: 0,
          subscriptionCount: 0,
          hasEvents: false,
          diskBytes: 0,
        },
      );
      assert.ok(Number.isSafeInteger(empty.diskBytes) && empty.diskBytes >= 0);
      await api.appendEvents(storeId, 'a', events(3));
      await api.appendEvents(storeId, 'b', events(2));
      await api.recordSnapshot(storeId, 'x', 'a', 2, { data: {} });
      const stats = await api.storeStats(storeId);
      assert.equal(stats.streamCount, 2);
      assert.equal(stats.totalEvents, 5);
      assert.equal(stats.snapshotCount, 1);
      assert.equal(stats.hasEvents, true);
      await rejectsWith(api.storeStats('missing-store-x'), 'not_found');
    });

    test('streamInfo reads the head, the first and last events and the snapshots', async (api) => {
      const storeId = await ctx.newStore();
      await api.appendEvents(storeId, 's', events(2));
      await api.appendEvents(storeId, 's', events(2));
      const written = await api.streamForward(storeId, 's', 0, 10);
      assert.deepEqual(await api.streamInfo(storeId, 's'), {
        streamId: 's',
        version: 3,
        eventCount: 4,
        firstEventAt: (written[0] as EventRecord).epochUs,
        lastEventAt: (written[3] as EventRecord).epochUs,
        snapshots: { count: 0, latestVersion: null },
      });
      await api.recordSnapshot(storeId, 'p', 's', 1, { data: 1 });
      await api.recordSnapshot(storeId, 'q', 's', 3, { data: 3 });
      await api.scavenge(storeId, 's', { beforeVersion: 2 });
      const info = await api.streamInfo(storeId, 's');
      assert.equal(info.version, 3);
      assert.equal(info.eventCount, 2);
      assert.equal(info.firstEventAt, (written[2] as EventRecord).epochUs);
      assert.deepEqual(info.snapshots, { count: 2, latestVersion: 3 });
      await api.scavenge(storeId, 's', { beforeVersion: 4 });
      assert.deepEqual(await api.streamInfo(storeId, 's'), {
        streamId: 's',
        version: 3,
        eventCount: 0,
        firstEventAt: null,
        lastEventAt: null,
        snapshots: { count: 2, latestVersion: 3 },
      });
      // An existing stream with no events left reads as empty.
      assert.deepEqual(await api.readUntil(storeId, 's', Number.MAX_SAFE_INTEGER), []);
      assert.equal(await api.versionAt(storeId, 's', Number.MAX_SAFE_INTEGER), -1);
      await rejectsWith(api.streamInfo(storeId, 'nope'), 'stream_not_found');
    });

    test('eventTypeSummary counts per type, most frequent first, across folds and deletes', async (api) => {
      const storeId = await ctx.newStore();
      assert.deepEqual(await api.eventTypeSummary(storeId), []);
      await api.appendEvents(storeId, 'small', [event('B', 1), event('A', 2), event('C', 3)]);
      assert.deepEqual(await api.eventTypeSummary(storeId), [
        { eventType: 'A', count: 1 },
        { eventType: 'B', count: 1 },
        { eventType: 'C', count: 1 },
      ]);
      // Enough events to pass the backends' counter fold points (every 4096 positions).
      await api.appendEvents(storeId, 'big-a', events(3000, 'A'));
      await api.appendEvents(storeId, 'big-b', events(2500, 'B'));
      await api.appendEvents(storeId, 'tail', events(10, 'C'));
      assert.deepEqual(await api.eventTypeSummary(storeId), [
        { eventType: 'A', count: 3001 },
        { eventType: 'B', count: 2501 },
        { eventType: 'C', count: 11 },
      ]);
      await api.deleteStream(storeId, 'big-a');
      await api.deleteStream(storeId, 'small');
      await api.scavenge(storeId, 'tail', { beforeVersion: 10, requireSnapshot: false });
      assert.deepEqual(await api.eventTypeSummary(storeId), [{ eventType: 'B', count: 2500 }]);
      assert.equal((await api.storeStats(storeId)).totalEvents, 2500);
      await api.appendEvents(storeId, 'again', events(2, 'A'));
      assert.deepEqual(await api.eventTypeSummary(storeId), [
        { eventType: 'B', count: 2500 },
        { eventType: 'A', count: 2 },
      ]);
    });

    test('getMemoryLevel and getMemoryStats describe the serving process', async (api) => {
      const level = await api.getMemoryLevel();
      assert.ok(['normal', 'elevated', 'critical'].includes(level));
      const stats = await api.getMemoryStats();
      assert.equal(stats.level, level);
      assert.ok(stats.used > 0 && stats.total > 0);
      assert.ok(stats.lastCheck > 0 && stats.lastCheck <= Date.now() + 1000);
    });
  });
}
