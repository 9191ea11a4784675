// KurrentDB's hard delete ("tombstone"): the stream can never be written or read again.
//
// evdb keeps this state in the log itself, as KurrentDB does: a tombstone appends one event of
// type `$streamDeleted` to the stream (checked against the caller's expected revision, so it is
// atomic with that check). The adapter knows the tombstoned streams of a store from the
// event-type index (read once when the store is first used) and then from a live subscription
// to that type, so tombstones written through another node sharing the store reach it too.
// evdb's own API does not refuse writes to such a stream; the KurrentDB endpoint refuses them
// (StreamDeleted) and reports the stream as deleted to every read.
import type { Evdb } from '../../embedded/evdb.js';
import type { Subscription } from '../../core/types.js';
import { streamDeleted } from './errors.js';
import { TOMBSTONE_EVENT_TYPE } from './wire.js';

const PAGE = 1000;

interface StoreTombstones {
  streams: Set<string>;
  subscription: Subscription;
}

export class Tombstones {
  private readonly stores = new Map<string, Promise<StoreTombstones>>();

  constructor(private readonly evdb: Evdb) {}

  async isTombstoned(storeId: string, streamId: string): Promise<boolean> {
    return (await this.of(storeId)).streams.has(streamId);
  }

  async assertWritable(storeId: string, streamId: string): Promise<void> {
    if (await this.isTombstoned(storeId, streamId)) throw streamDeleted(streamId);
  }

  /** Records a tombstone this node has just written (before the subscription reports it). */
  async add(storeId: string, streamId: string): Promise<void> {
    (await this.of(storeId)).streams.add(streamId);
  }

  async close(): Promise<void> {
    const loaded = await Promise.allSettled(this.stores.values());
    this.stores.clear();
    for (const entry of loaded) {
      if (entry.status === 'fulfilled') await entry.value.subscription.close();
    }
  }

  private of(storeId: string): Promise<StoreTombstones> {
    let loading = this.stores.get(storeId);
    if (loading === undefined) {
      loading = this.load(storeId);
      loading.catch(() => this.stores.delete(storeId));
      this.stores.set(storeId, loading);
    }
    return loading;
  }

  private async load(storeId: string): Promise<StoreTombstones> {
    const streams = new Set<string>();
    // Taken before the index is read: the subscription starts after it, so a tombstone written
    // meanwhile is seen by one or both, never by neither.
    const { lastPosition } = await this.evdb.getStoreStatus(storeId);
    let from = 0;
    for (;;) {
      const page = await this.evdb.readByEventTypes(storeId, [TOMBSTONE_EVENT_TYPE], {
        fromPosition: from,
        count: PAGE,
      });
      for (const event of page) streams.add(event.streamId);
      const last = page.at(-1);
      if (page.length < PAGE || last === undefined) break;
      from = last.position + 1;
    }
    const subscription = await this.evdb.subscribe(
      storeId,
      { type: 'by_event_type', selector: TOMBSTONE_EVENT_TYPE, startFrom: lastPosition + 1 },
      (batch) => {
        for (const event of batch) streams.add(event.streamId);
      },
    );
    return { streams, subscription };
  }
}
