// Catch-up subscriptions (Streams.Read with count_option = subscription): the history read
// from the log, then exactly one `caught_up`, then live events from evdb's own transient
// subscriptions, started right after the last position the history covered, so the switch
// neither skips nor repeats an event. Filtered `$all` subscriptions send checkpoints.
import { randomUUID } from 'node:crypto';
import type { EventRecord, Subscription } from '../../core/types.js';
import { streamDeleted } from './errors.js';
import type { EventFilter } from './filters.js';
import {
  PAGE,
  inAll,
  send,
  sendEvent,
  streamPage,
  type ReadOptions,
  type Reader,
} from './read-session.js';
import {
  TOMBSTONE_EVENT_TYPE,
  positionFromWire,
  positionToWire,
  timestampNow,
  uint64FromWire,
} from './wire.js';

async function confirm(reader: Reader): Promise<void> {
  await send(reader.call, { confirmation: { subscription_id: randomUUID() } });
}

/** Runs an evdb subscription until the call ends, handing each event to `deliver`. */
async function goLive(
  reader: Reader,
  subscription: Subscription,
  deliver: (event: EventRecord) => Promise<void>,
): Promise<void> {
  const stop = (): void => void subscription.close();
  reader.call.on('cancelled', stop);
  try {
    for await (const batch of subscription) {
      for (const event of batch) await deliver(event);
      if (reader.call.cancelled) break;
    }
  } catch (error) {
    if (!reader.call.cancelled) throw error;
  } finally {
    reader.call.off('cancelled', stop);
    await subscription.close();
  }
}

export async function subscribeStream(
  reader: Reader,
  streamId: string,
  options: NonNullable<ReadOptions['stream']>,
): Promise<void> {
  const { evdb } = reader.deps;
  // Every event of the store up to `seen` is either delivered by the catch-up reads below or
  // excluded by `nextRevision`; live delivery starts after it.
  let seen = (await evdb.getStoreStatus(reader.storeId)).lastPosition;
  let nextRevision: number;
  if (options.end !== undefined && options.end !== null) {
    nextRevision = (await evdb.getVersion(reader.storeId, streamId)) + 1;
  } else if (options.revision !== undefined && options.revision !== null) {
    nextRevision = uint64FromWire(options.revision, Number.MAX_SAFE_INTEGER) + 1;
  } else {
    nextRevision = 0;
  }
  await confirm(reader);
  const deliver = async (event: EventRecord): Promise<void> => {
    if (event.version < nextRevision) return;
    if (event.eventType === TOMBSTONE_EVENT_TYPE) throw streamDeleted(streamId);
    await sendEvent(reader, event);
    nextRevision = event.version + 1;
    seen = Math.max(seen, event.position);
  };
  for (;;) {
    const page = await streamPage(reader, streamId, nextRevision, PAGE, 'forward');
    if (page === undefined) break;
    for (const event of page) await deliver(event);
    if (page.length < PAGE) break;
  }
  await send(reader.call, {
    caught_up: {
      timestamp: timestampNow(),
      ...(nextRevision > 0 ? { stream_revision: String(nextRevision - 1) } : {}),
    },
  });
  const subscription = await evdb.subscribe(reader.storeId, {
    type: 'by_stream',
    selector: streamId,
    startFrom: seen + 1,
  });
  await goLive(reader, subscription, deliver);
}

export async function subscribeAll(
  reader: Reader,
  options: NonNullable<ReadOptions['all']>,
  filter: EventFilter | undefined,
): Promise<void> {
  const { evdb } = reader.deps;
  let next: number;
  if (options.end !== undefined && options.end !== null) {
    next = (await evdb.getStoreStatus(reader.storeId)).lastPosition + 1;
  } else if (options.position !== undefined && options.position !== null) {
    // Subscriptions from a position start after it.
    next = positionFromWire(options.position) + 1;
  } else {
    next = 0;
  }
  await confirm(reader);
  let sinceCheckpoint = 0;
  const deliver = async (event: EventRecord): Promise<void> => {
    if (event.position < next) return;
    next = event.position + 1;
    if (inAll(event) && (filter === undefined || filter.matches(event)))
      await sendEvent(reader, event);
    if (filter !== undefined && ++sinceCheckpoint >= filter.checkpointInterval) {
      sinceCheckpoint = 0;
      await send(reader.call, {
        checkpoint: { ...positionToWire(event.position), timestamp: timestampNow() },
      });
    }
  };
  for (;;) {
    const page = await evdb.readAllGlobal(reader.storeId, next, PAGE);
    for (const event of page) await deliver(event);
    if (page.length < PAGE) break;
  }
  await send(reader.call, {
    caught_up: {
      timestamp: timestampNow(),
      ...(next > 0 ? { position: positionToWire(next - 1) } : {}),
    },
  });
  const subscription = await evdb.subscribe(reader.storeId, {
    type: 'by_stream',
    selector: '$all',
    startFrom: next,
  });
  await goLive(reader, subscription, deliver);
}
