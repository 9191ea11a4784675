import assert from 'node:assert/strict';
import { describe } from 'node:test';
import type { EventRecord } from '../../src/core/types.js';
import { event, events, rejectsWith } from './harness.js';
import { featureTest, type FeatureSuiteContext } from './snapshots.js';

const versions = (list: EventRecord[]): number[] => list.map((e) => e.version);

/** The scavenging and archive cases (SPEC §6). */
export function describeScavenge(ctx: FeatureSuiteContext): void {
  const test = featureTest(ctx);

  describe('scavenging and archives', () => {
    test('scavenge then append: nothing is overwritten, versions and positions keep growing', async (api) => {
      const storeId = await ctx.newStore();
      await api.appendEvents(storeId, 'other', events(2));
      await api.appendEvents(storeId, 's', events(10));
      const before = await api.getStoreStatus(storeId);
      await api.recordSnapshot(storeId, 'agg', 's', 9, { data: { total: 10 } });

      // Everything: the stream's last event held the store's last position.
      const result = await api.scavenge(storeId, 's', { beforeVersion: 10 });
      assert.deepEqual(result, {
        streamId: 's',
        deletedCount: 10,
        deletedVersions: [0, 9],
        archived: false,
      });
      assert.equal(await api.getVersion(storeId, 's'), 9);
      assert.equal(await api.streamExists(storeId, 's'), true);
      assert.deepEqual(await api.streamForward(storeId, 's', 0, 100), []);
      assert.equal((await api.getStoreStatus(storeId)).lastPosition, before.lastPosition);

      const appended = await api.appendEvents(storeId, 's', events(3, 'After'), 9);
      assert.deepEqual(appended, { version: 12, position: before.lastPosition + 3 });
      await api.appendEvents(storeId, 'other', events(1));
      const stream = await api.streamForward(storeId, 's', 0, 100);
      assert.deepEqual(versions(stream), [10, 11, 12]);
      assert.ok(stream.every((e) => e.eventType === 'After'));
      assert.ok((stream[0] as EventRecord).position > before.lastPosition);
      // A stale writer that still believes the stream is at version 9 cannot overwrite 10..12.
      await rejectsWith(api.appendEvents(storeId, 's', events(1), 9), 'wrong_expected_version', {
        expected: 9,
        actual: 12,
      });
      const all = await api.readAllGlobal(storeId, 0, 100);
      const positions = all.map((e) => e.position);
      assert.deepEqual(
        positions,
        [...positions].sort((a, b) => a - b),
      );
      assert.equal(new Set(positions).size, positions.length);
      assert.deepEqual(
        all.map((e) => `${e.streamId}@${e.version}`),
        ['other@0', 'other@1', 's@10', 's@11', 's@12', 'other@2'],
      );
      const status = await api.getStoreStatus(storeId);
      assert.equal(status.totalEvents, 6);
      assert.equal(status.streamCount, 2);
    });

    test('beforeVersion, keepVersions and scavenging twice', async (api) => {
      const storeId = await ctx.newStore();
      await api.appendEvents(storeId, 's', events(10));
      await api.recordSnapshot(storeId, 'agg', 's', 9, { data: null });
      const first = await api.scavenge(storeId, 's', { beforeVersion: 8, keepVersions: 4 });
      assert.equal(first.deletedCount, 6);
      assert.deepEqual(first.deletedVersions, [0, 5]);
      assert.deepEqual(versions(await api.streamForward(storeId, 's', 0, 100)), [6, 7, 8, 9]);
      assert.deepEqual(versions(await api.streamForward(storeId, 's', 3, 2)), [6, 7]);
      assert.deepEqual(versions(await api.streamBackward(storeId, 's', -1, 100)), [9, 8, 7, 6]);
      assert.deepEqual(await api.streamBackward(storeId, 's', 4, 10), []);

      const again = await api.scavenge(storeId, 's', { beforeVersion: 8, keepVersions: 4 });
      assert.deepEqual(again, {
        streamId: 's',
        deletedCount: 0,
        deletedVersions: null,
        archived: false,
      });
      const tooMany = await api.scavenge(storeId, 's', { beforeVersion: 100, keepVersions: 50 });
      assert.equal(tooMany.deletedCount, 0);
      const noCutoff = await api.scavenge(storeId, 's', {});
      assert.equal(noCutoff.deletedCount, 0);
      const rest = await api.scavenge(storeId, 's', { beforeVersion: 100, keepVersions: 1 });
      assert.deepEqual(rest.deletedVersions, [6, 8]);
      assert.deepEqual(versions(await api.streamForward(storeId, 's', 0, 100)), [9]);
      const info = await api.streamInfo(storeId, 's');
      assert.equal(info.version, 9);
      assert.equal(info.eventCount, 1);
    });

    test('requireSnapshot: a snapshot at or after the last deleted version is needed', async (api) => {
      const storeId = await ctx.newStore();
      await api.appendEvents(storeId, 's', events(6));
      await rejectsWith(api.scavenge(storeId, 's', { beforeVersion: 3 }), 'no_snapshot', {
        streamId: 's',
        cutoff: 2,
      });
      await api.recordSnapshot(storeId, 'agg', 's', 1, { data: 1 });
      await rejectsWith(api.scavengeDryRun(storeId, 's', { beforeVersion: 3 }), 'no_snapshot', {
        latestSnapshotVersion: 1,
      });
      assert.equal((await api.streamForward(storeId, 's', 0, 10)).length, 6);
      const unchecked = await api.scavenge(storeId, 's', {
        beforeVersion: 3,
        requireSnapshot: false,
      });
      assert.equal(unchecked.deletedCount, 3);
      await api.recordSnapshot(storeId, 'agg', 's', 4, { data: 4 });
      assert.equal((await api.scavenge(storeId, 's', { beforeVersion: 5 })).deletedCount, 2);
    });

    test('before: deletes up to versionAt(before); a dry run deletes nothing', async (api) => {
      const storeId = await ctx.newStore();
      for (let n = 0; n < 4; n++) await api.appendEvents(storeId, 's', [event('Tick', { n })]);
      const written = await api.streamForward(storeId, 's', 0, 10);
      const cut = (written[2] as EventRecord).epochUs;
      const options = { before: cut - 1, requireSnapshot: false };
      const dry = await api.scavengeDryRun(storeId, 's', options);
      assert.deepEqual(dry, {
        streamId: 's',
        deletedCount: 2,
        deletedVersions: [0, 1],
        archived: false,
        dryRun: true,
      });
      assert.equal((await api.streamForward(storeId, 's', 0, 10)).length, 4);
      const done = await api.scavenge(storeId, 's', options);
      assert.equal(done.deletedCount, 2);
      assert.equal(done.dryRun, undefined);
      assert.deepEqual(versions(await api.streamForward(storeId, 's', 0, 10)), [2, 3]);
      assert.deepEqual(versions(await api.readUntil(storeId, 's', cut)), [2]);
      assert.equal(await api.versionAt(storeId, 's', cut - 1), -1);
    });

    test('archive round trip: archived events are listed and read back unchanged', async (api) => {
      const storeId = await ctx.newStore();
      await api.appendEvents(storeId, 'a/b c', [
        event('Bytes', new Uint8Array([0, 1, 255])),
        event('Json', { nested: { x: [1, 'two', null] } }, { tags: ['t'], metadata: { m: 1 } }),
        event('Json', { $bytes: 'not really' }, { causationId: 'c', correlationId: 'k' }),
        ...events(3),
      ]);
      await api.appendEvents(storeId, 'plain', events(4));
      const original = await api.streamForward(storeId, 'a/b c', 0, 10);
      const result = await api.scavenge(storeId, 'a/b c', {
        beforeVersion: 4,
        requireSnapshot: false,
        archive: true,
      });
      assert.equal(result.archived, true);
      assert.equal(result.archiveKey, `${storeId}/a/b c/0-3`);
      const second = await api.scavenge(storeId, 'plain', {
        beforeVersion: 2,
        requireSnapshot: false,
        archive: true,
      });
      assert.deepEqual(await api.listArchives(storeId), [
        `${storeId}/a/b c/0-3`,
        `${storeId}/plain/0-1`,
      ]);
      assert.deepEqual(await api.listArchives(storeId, 'plain'), [second.archiveKey]);
      assert.deepEqual(await api.listArchives(storeId, 'a'), []);
      assert.deepEqual(await api.readArchive(storeId, result.archiveKey), original.slice(0, 4));
      assert.deepEqual(versions(await api.streamForward(storeId, 'a/b c', 0, 10)), [4, 5]);
      await rejectsWith(api.readArchive(storeId, `${storeId}/plain/2-3`), 'not_found');
      await rejectsWith(api.readArchive(storeId, 'no-slashes'), 'invalid_argument');
      await rejectsWith(api.readArchive(storeId, `other/plain/0-1`), 'invalid_argument');
    });

    test('listArchivePage pages the archived ranges by stream, then version, as listArchives lists them', async (api) => {
      const storeId = await ctx.newStore();
      assert.deepEqual(await api.listArchivePage(storeId), { archives: [], next: null });
      const archive = { requireSnapshot: false, archive: true } as const;
      for (const streamId of ['b', 'a', 'é', 'a-1']) {
        await api.appendEvents(storeId, streamId, events(6));
        await api.scavenge(storeId, streamId, { ...archive, beforeVersion: 2 });
      }
      await api.scavenge(storeId, 'b', { ...archive, beforeVersion: 5 });
      const sorted = ['a/0-1', 'a-1/0-1', 'b/0-1', 'b/2-4', 'é/0-1'].map((k) => `${storeId}/${k}`);
      const whole = await api.listArchivePage(storeId);
      assert.deepEqual(whole, { archives: sorted, next: null });
      assert.deepEqual(whole.archives, await api.listArchives(storeId));
      const first = await api.listArchivePage(storeId, { limit: 2 });
      assert.deepEqual(first.archives, sorted.slice(0, 2));
      assert.ok(first.next !== null);
      // A range archived after the cursor is seen; one before it is not.
      await api.appendEvents(storeId, 'c', events(3));
      await api.scavenge(storeId, 'c', { ...archive, beforeVersion: 1 });
      await api.appendEvents(storeId, '0', events(3));
      await api.scavenge(storeId, '0', { ...archive, beforeVersion: 1 });
      const second = await api.listArchivePage(storeId, { after: first.next, limit: 3 });
      assert.deepEqual(second.archives, [...sorted.slice(2, 4), `${storeId}/c/0-0`]);
      assert.ok(second.next !== null);
      const last = await api.listArchivePage(storeId, { after: second.next, limit: 3 });
      assert.deepEqual(last, { archives: [`${storeId}/é/0-1`], next: null });
      assert.deepEqual(await api.listArchivePage(storeId, { streamId: 'b', limit: 1 }), {
        archives: [`${storeId}/b/0-1`],
        next: (await api.listArchivePage(storeId, { limit: 4 })).next,
      });
      assert.deepEqual(await api.listArchivePage(storeId, { streamId: 'missing' }), {
        archives: [],
        next: null,
      });
      await rejectsWith(api.listArchivePage(storeId, { limit: 0 }), 'invalid_argument');
      await rejectsWith(api.listArchivePage(storeId, { after: 'b/0-1' }), 'invalid_argument');
      const foreign = (await api.listArchivePage(storeId, { limit: 1 })).next as string;
      const other = await ctx.newStore();
      await rejectsWith(api.listArchivePage(other, { after: foreign }), 'invalid_argument');
      await rejectsWith(api.listArchivePage('missing-store-x'), 'not_found');
    });

    test('scavengeMatching scavenges matching streams and reports errors per stream', async (api) => {
      const storeId = await ctx.newStore();
      for (const streamId of ['order-1', 'order-2', 'order-3', 'cart-1']) {
        await api.appendEvents(storeId, streamId, events(3));
      }
      await api.recordSnapshot(storeId, 'agg', 'order-1', 2, { data: 1 });
      await api.recordSnapshot(storeId, 'agg', 'order-3', 2, { data: 3 });
      const dry = await api.scavengeMatching(storeId, 'order-*', {
        beforeVersion: 2,
        dryRun: true,
      });
      assert.deepEqual(
        dry.map((r) => [r.streamId, r.ok]),
        [
          ['order-1', true],
          ['order-2', false],
          ['order-3', true],
        ],
      );
      assert.equal((await api.streamForward(storeId, 'order-1', 0, 10)).length, 3);
      const results = await api.scavengeMatching(storeId, 'order-*', { beforeVersion: 2 });
      const failed = results.find((r) => r.streamId === 'order-2');
      assert.ok(failed !== undefined && !failed.ok);
      assert.equal(failed.error.code, 'no_snapshot');
      const done = results.filter((r) => r.ok);
      assert.deepEqual(
        done.map((r) => [r.streamId, r.ok && r.deletedCount]),
        [
          ['order-1', 2],
          ['order-3', 2],
        ],
      );
      assert.equal((await api.streamForward(storeId, 'order-2', 0, 10)).length, 3);
      assert.equal((await api.streamForward(storeId, 'cart-1', 0, 10)).length, 3);
      assert.deepEqual(await api.scavengeMatching(storeId, 'nothing-*', {}), []);
    });

    test('scavenging a missing stream is stream_not_found; bad options are invalid', async (api) => {
      const storeId = await ctx.newStore();
      await rejectsWith(api.scavenge(storeId, 'nope', { beforeVersion: 1 }), 'stream_not_found');
      await rejectsWith(api.scavengeDryRun(storeId, 'nope', {}), 'stream_not_found');
      await api.appendEvents(storeId, 's', events(2));
      await rejectsWith(api.scavenge(storeId, 's', { beforeVersion: -1 }), 'invalid_argument');
      await rejectsWith(api.scavenge(storeId, 's', { keepVersions: 1.5 }), 'invalid_argument');
      await rejectsWith(api.scavengeMatching(storeId, '', {}), 'invalid_argument');
      assert.equal((await api.streamForward(storeId, 's', 0, 10)).length, 2);
    });

    test('counts and indexes forget scavenged events', async (api) => {
      const storeId = await ctx.newStore();
      await api.appendEvents(storeId, 's', [
        event('A', 1, { tags: ['x'], correlationId: 'k' }),
        event('B', 2, { tags: ['x'] }),
        event('A', 3, { tags: ['x'], correlationId: 'k' }),
      ]);
      await api.scavenge(storeId, 's', { beforeVersion: 2, requireSnapshot: false });
      assert.deepEqual(await api.eventTypeSummary(storeId), [{ eventType: 'A', count: 1 }]);
      assert.deepEqual(versions(await api.readByTags(storeId, ['x'])), [2]);
      assert.deepEqual(versions(await api.readByEventTypes(storeId, ['A', 'B'])), [2]);
      assert.deepEqual(versions(await api.getCorrelated(storeId, 'k')), [2]);
      const stats = await api.storeStats(storeId);
      assert.equal(stats.totalEvents, 1);
      assert.equal(stats.streamCount, 1);
    });
  });
}
