import type { EventTypeCount, StoreStats, StreamInfo } from '../core/feature-types.js';
import type { Store } from '../store/store.js';
import { assertStreamId } from '../core/validation.js';
import { existingStream } from './temporal.js';

/** Counts of the store, from its maintained counters (and the snapshot count). */
export async function storeStats(store: Store, subscriptionCount: number): Promise<StoreStats> {
  store.assertOpen();
  const [status, snapshotCount, diskBytes] = await Promise.all([
    store.log.status(),
    store.log.snapshots.count(),
    store.log.diskBytes(),
  ]);
  return {
    storeId: store.storeId,
    streamCount: status.streamCount,
    totalEvents: status.totalEvents,
    snapshotCount,
    subscriptionCount,
    hasEvents: status.totalEvents > 0,
    diskBytes,
  };
}

/** A stream's head, its first and last stored events, and its snapshots, from indexes. */
export async function streamInfo(store: Store, streamId: string): Promise<StreamInfo> {
  assertStreamId(streamId);
  const facts = await existingStream(store, streamId);
  const snapshots = await store.log.snapshots.streamStats(streamId);
  const first = facts.first;
  const last = facts.last;
  return {
    streamId,
    version: facts.version,
    eventCount: first === undefined || last === undefined ? 0 : last.version - first.version + 1,
    firstEventAt: first?.epochUs ?? null,
    lastEventAt: last?.epochUs ?? null,
    snapshots: { count: snapshots.count, latestVersion: snapshots.latestVersion ?? null },
  };
}

/** Events per type, most frequent first (ties by type). */
export async function eventTypeSummary(store: Store): Promise<EventTypeCount[]> {
  store.assertOpen();
  const counts = await store.log.eventTypeCounts();
  return counts.sort(
    (a, b) =>
      b.count - a.count || (a.eventType < b.eventType ? -1 : a.eventType > b.eventType ? 1 : 0),
  );
}
