import assert from 'node:assert/strict';
import { describe } from 'node:test';
import type { EventStoreApi } from '../../src/core/api.js';
import type { FeatureApi } from '../../src/core/feature-api.js';
import type { EventRecord } from '../../src/core/types.js';
import { event, events, rejectsWith } from './harness.js';
import { featureTest, type FeatureSuiteContext } from './snapshots.js';

/** Five events appended one by one: five commits, five distinct, increasing times. */
async function fiveCommits(
  api: EventStoreApi & FeatureApi,
  storeId: string,
  streamId: string,
): Promise<EventRecord[]> {
  for (let n = 0; n < 5; n++) await api.appendEvents(storeId, streamId, [event('Tick', { n })]);
  const written = await api.streamForward(storeId, streamId, 0, 10);
  for (let i = 1; i < written.length; i++) {
    assert.ok((written[i] as EventRecord).epochUs > (written[i - 1] as EventRecord).epochUs);
  }
  return written;
}

const versions = (list: EventRecord[]): number[] => list.map((e) => e.version);

/** The temporal query cases (SPEC §5). */
export function describeTemporal(ctx: FeatureSuiteContext): void {
  const test = featureTest(ctx);

  describe('temporal queries', () => {
    test('readUntil includes its bound, reads forward or backward, and limits', async (api) => {
      const storeId = await ctx.newStore();
      const e = await fiveCommits(api, storeId, 's');
      const t = (i: number): number => (e[i] as EventRecord).epochUs;
      assert.deepEqual(versions(await api.readUntil(storeId, 's', t(2))), [0, 1, 2]);
      assert.deepEqual(versions(await api.readUntil(storeId, 's', t(2) - 1)), [0, 1]);
      assert.deepEqual(
        versions(await api.readUntil(storeId, 's', t(2), { direction: 'backward' })),
        [2, 1, 0],
      );
      assert.deepEqual(versions(await api.readUntil(storeId, 's', t(4), { limit: 2 })), [0, 1]);
      assert.deepEqual(
        versions(await api.readUntil(storeId, 's', t(4), { direction: 'backward', limit: 2 })),
        [4, 3],
      );
      assert.deepEqual(await api.readUntil(storeId, 's', t(0) - 1), []);
      assert.deepEqual(await api.readUntil(storeId, 's', t(4), { limit: 0 }), []);
      const [first] = await api.readUntil(storeId, 's', t(0));
      assert.deepEqual(first, e[0]);
    });

    test('readRange includes both ends; from > to is empty', async (api) => {
      const storeId = await ctx.newStore();
      const e = await fiveCommits(api, storeId, 's');
      const t = (i: number): number => (e[i] as EventRecord).epochUs;
      assert.deepEqual(versions(await api.readRange(storeId, 's', t(1), t(3))), [1, 2, 3]);
      assert.deepEqual(versions(await api.readRange(storeId, 's', t(1) + 1, t(3) - 1)), [2]);
      assert.deepEqual(versions(await api.readRange(storeId, 's', t(2), t(2))), [2]);
      assert.deepEqual(await api.readRange(storeId, 's', t(3), t(1)), []);
      assert.deepEqual(await api.readRange(storeId, 's', t(4) + 1, t(4) + 1000), []);
      assert.deepEqual(
        versions(await api.readRange(storeId, 's', t(0), t(4), { direction: 'backward' })),
        [4, 3, 2, 1, 0],
      );
      assert.deepEqual(
        versions(await api.readRange(storeId, 's', t(0), t(4), { limit: 3 })),
        [0, 1, 2],
      );
    });

    test('versionAt is the version of the last event at or before a time', async (api) => {
      const storeId = await ctx.newStore();
      const e = await fiveCommits(api, storeId, 's');
      const t = (i: number): number => (e[i] as EventRecord).epochUs;
      assert.equal(await api.versionAt(storeId, 's', t(0) - 1), -1);
      assert.equal(await api.versionAt(storeId, 's', t(0)), 0);
      assert.equal(await api.versionAt(storeId, 's', t(3) - 1), 2);
      assert.equal(await api.versionAt(storeId, 's', t(3)), 3);
      assert.equal(await api.versionAt(storeId, 's', t(4) + 1_000_000), 4);
    });

    test('events of one append share a time and come in version order', async (api) => {
      const storeId = await ctx.newStore();
      await api.appendEvents(storeId, 's', events(3));
      await api.appendEvents(storeId, 'other', events(2));
      const written = await api.streamForward(storeId, 's', 0, 10);
      const at = (written[0] as EventRecord).epochUs;
      assert.deepEqual(versions(await api.readRange(storeId, 's', at, at)), [0, 1, 2]);
      assert.deepEqual(
        versions(await api.readRange(storeId, 's', at, at, { direction: 'backward' })),
        [2, 1, 0],
      );
      assert.equal(await api.versionAt(storeId, 's', at), 2);
      const other = await api.readUntil(storeId, 'other', Number.MAX_SAFE_INTEGER);
      assert.deepEqual(
        other.map((e) => e.streamId),
        ['other', 'other'],
      );
    });

    test('time queries see only what scavenging left, and nothing when it left nothing', async (api) => {
      const storeId = await ctx.newStore();
      const e = await fiveCommits(api, storeId, 's');
      const t = (i: number): number => (e[i] as EventRecord).epochUs;
      await api.scavenge(storeId, 's', { beforeVersion: 2, requireSnapshot: false });
      assert.deepEqual(versions(await api.readUntil(storeId, 's', t(3))), [2, 3]);
      assert.deepEqual(versions(await api.readRange(storeId, 's', t(0), t(2))), [2]);
      assert.deepEqual(await api.readUntil(storeId, 's', t(1)), []);
      assert.equal(await api.versionAt(storeId, 's', t(4)), 4);
      await api.scavenge(storeId, 's', { beforeVersion: 5, requireSnapshot: false });
      assert.deepEqual(await api.readUntil(storeId, 's', t(4)), []);
      // The next append is the stream's only event again.
      await api.appendEvents(storeId, 's', [event('Tick', { n: 5 })]);
      assert.deepEqual(versions(await api.readUntil(storeId, 's', Number.MAX_SAFE_INTEGER)), [5]);
    });

    test('missing streams are stream_not_found; bad arguments are invalid_argument', async (api) => {
      const storeId = await ctx.newStore();
      await rejectsWith(api.readUntil(storeId, 'nope', 1), 'stream_not_found');
      await rejectsWith(api.readRange(storeId, 'nope', 1, 2), 'stream_not_found');
      await rejectsWith(api.readRange(storeId, 'nope', 2, 1), 'stream_not_found');
      await rejectsWith(api.versionAt(storeId, 'nope', 1), 'stream_not_found');
      await api.appendEvents(storeId, 's', events(1));
      await rejectsWith(api.readUntil(storeId, 's', 1.5), 'invalid_argument');
      await rejectsWith(api.readUntil(storeId, 's', 1, { limit: -1 }), 'invalid_argument');
      await rejectsWith(
        api.readRange(storeId, 's', 1, 2, { direction: 'sideways' as 'forward' }),
        'invalid_argument',
      );
    });
  });
}
