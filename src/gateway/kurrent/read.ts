// Streams.Read: reads of one stream or of `$all`, both directions, with counts and `$all`
// filters, and catch-up subscriptions (count_option = subscription) that send `caught_up` once
// and then go live on evdb's own transient subscriptions.
//
// `$all` here is every event of the store outside evdb's own `$` streams (link streams), in
// both reads and subscriptions, because evdb's `$all` subscriptions leave those out and catch-up
// and live delivery must agree.
import { randomUUID } from 'node:crypto';
import type { ServerWritableStream } from '@grpc/grpc-js';
import { EvdbError, isEvdbError } from '../../core/errors.js';
import type { EventRecord, Subscription } from '../../core/types.js';
import type { Evdb } from '../../embedded/evdb.js';
import type { CallContexts } from './call-context.js';
import { streamDeleted, toGrpcError } from './errors.js';
import { compileFilter, type EventFilter, type WireFilterOptions } from './filters.js';
import { isVisible, streamLimits } from './stream-metadata.js';
import type { Tombstones } from './tombstones.js';
import {
  TOMBSTONE_EVENT_TYPE,
  positionFromWire,
  positionToWire,
  recordedEventToWire,
  streamFromWire,
  streamToWire,
  timestampNow,
  uint64FromWire,
  type WirePosition,
  type WireStreamIdentifier,
} from './wire.js';

const PAGE = 500;

export interface ReadDeps {
  evdb: Evdb;
  contexts: CallContexts;
  tombstones: Tombstones;
}

interface ReadOptions {
  stream?: {
    stream_identifier?: WireStreamIdentifier;
    revision?: string;
    start?: object;
    end?: object;
  };
  all?: { position?: WirePosition; start?: object; end?: object };
  read_direction?: 'Forwards' | 'Backwards';
  count?: string;
  subscription?: object;
  filter?: WireFilterOptions;
  uuid_option?: { structured?: object; string?: object };
  control_option?: { compatibility?: number };
}

type Call = ServerWritableStream<{ options?: ReadOptions }, unknown>;

/** What one read or subscription needs to answer. */
interface Reader {
  deps: ReadDeps;
  call: Call;
  storeId: string;
  structuredIds: boolean;
}

export function readHandler(deps: ReadDeps) {
  return (call: Call): void => {
    void serveRead(deps, call).then(
      () => {
        if (!call.cancelled) call.end();
      },
      (error: unknown) => {
        if (!call.cancelled) call.emit('error', toGrpcError(error));
      },
    );
  };
}

async function serveRead(deps: ReadDeps, call: Call): Promise<void> {
  const options = call.request.options;
  if (options === undefined || options === null)
    throw new EvdbError('invalid_argument', 'the read has no options');
  const { storeId } = deps.contexts.of(call.metadata, 'read');
  const reader: Reader = {
    deps,
    call,
    storeId,
    structuredIds: options.uuid_option?.structured !== undefined,
  };
  const backwards = options.read_direction === 'Backwards';
  const subscribing = options.subscription !== undefined && options.subscription !== null;
  if (options.stream !== undefined && options.stream !== null) {
    if (options.filter !== undefined && options.filter !== null) {
      throw new EvdbError('invalid_argument', 'filters apply to $all only');
    }
    const streamId = streamFromWire(options.stream.stream_identifier);
    if (await deps.tombstones.isTombstoned(storeId, streamId)) throw streamDeleted(streamId);
    if (subscribing) return subscribeStream(reader, streamId, options.stream);
    const count = uint64FromWire(options.count, Number.MAX_SAFE_INTEGER);
    const compatible = (options.control_option?.compatibility ?? 0) >= 1;
    return backwards
      ? readStreamBackward(reader, streamId, options.stream, count, compatible)
      : readStreamForward(reader, streamId, options.stream, count, compatible);
  }
  if (options.all !== undefined && options.all !== null) {
    const filter = compileFilter(options.filter);
    if (subscribing) return subscribeAll(reader, options.all, filter);
    const count = uint64FromWire(options.count, Number.MAX_SAFE_INTEGER);
    return backwards
      ? readAllBackward(reader, options.all, count, filter)
      : readAllForward(reader, options.all, count, filter);
  }
  throw new EvdbError('invalid_argument', 'the read names neither a stream nor $all');
}

/** Writes one response, waiting while the client's window is full. */
async function send(call: Call, response: object): Promise<void> {
  if (call.cancelled) throw new EvdbError('unavailable', 'the call was cancelled');
  if (!call.write(response)) {
    await new Promise<void>((resolve) => {
      const done = (): void => {
        call.off('drain', done);
        call.off('cancelled', done);
        resolve();
      };
      call.on('drain', done);
      call.on('cancelled', done);
    });
  }
}

function sendEvent(reader: Reader, event: EventRecord): Promise<void> {
  return send(reader.call, {
    event: {
      event: recordedEventToWire(event, reader.structuredIds),
      commit_position: String(event.position),
    },
  });
}

async function sendNotFound(reader: Reader, streamId: string): Promise<void> {
  await send(reader.call, { stream_not_found: { stream_identifier: streamToWire(streamId) } });
}

/** Reads one page of a stream; undefined when the stream does not exist. */
async function streamPage(
  reader: Reader,
  streamId: string,
  from: number,
  count: number,
  direction: 'forward' | 'backward',
): Promise<EventRecord[] | undefined> {
  try {
    return await reader.deps.evdb.getEvents(reader.storeId, streamId, from, count, direction);
  } catch (error) {
    if (isEvdbError(error, 'stream_not_found')) return undefined;
    throw error;
  }
}

async function finishStreamRead(
  reader: Reader,
  streamId: string,
  compatible: boolean,
): Promise<void> {
  if (!compatible) return;
  const version = await reader.deps.evdb.getVersion(reader.storeId, streamId);
  if (version >= 0) await send(reader.call, { last_stream_position: String(version) });
}

async function readStreamForward(
  reader: Reader,
  streamId: string,
  options: NonNullable<ReadOptions['stream']>,
  count: number,
  compatible: boolean,
): Promise<void> {
  const { evdb } = reader.deps;
  if (options.end !== undefined && options.end !== null) {
    if (!(await evdb.streamExists(reader.storeId, streamId))) return sendNotFound(reader, streamId);
    return finishStreamRead(reader, streamId, compatible);
  }
  const limits = await streamLimits(evdb, reader.storeId, streamId);
  let next = Math.max(
    uint64FromWire(options.revision, Number.MAX_SAFE_INTEGER),
    limits?.firstVisible ?? 0,
  );
  let remaining = count;
  while (remaining > 0) {
    const want = Math.min(remaining, PAGE);
    const page = await streamPage(reader, streamId, next, want, 'forward');
    if (page === undefined) return sendNotFound(reader, streamId);
    for (const event of page) {
      if (!isVisible(limits, event)) continue;
      await sendEvent(reader, event);
      remaining--;
    }
    const last = page.at(-1);
    if (page.length < want || last === undefined) break;
    next = last.version + 1;
  }
  return finishStreamRead(reader, streamId, compatible);
}

async function readStreamBackward(
  reader: Reader,
  streamId: string,
  options: NonNullable<ReadOptions['stream']>,
  count: number,
  compatible: boolean,
): Promise<void> {
  let next = -1; // from the end
  if (options.start !== undefined && options.start !== null) next = 0;
  else if (options.revision !== undefined && options.revision !== null) {
    next = uint64FromWire(options.revision, -1);
  }
  const limits = await streamLimits(reader.deps.evdb, reader.storeId, streamId);
  const firstVisible = limits?.firstVisible ?? 0;
  let remaining = count;
  while (remaining > 0) {
    const want = Math.min(remaining, PAGE);
    const page = await streamPage(reader, streamId, next, want, 'backward');
    if (page === undefined) return sendNotFound(reader, streamId);
    for (const event of page) {
      if (event.version < firstVisible) return finishStreamRead(reader, streamId, compatible);
      if (!isVisible(limits, event)) continue;
      await sendEvent(reader, event);
      remaining--;
    }
    const last = page.at(-1);
    if (page.length < want || last === undefined || last.version === 0) break;
    next = last.version - 1;
  }
  return finishStreamRead(reader, streamId, compatible);
}

/** `$all` without evdb's own `$` streams (see the top of this file). */
function inAll(event: EventRecord): boolean {
  return !event.streamId.startsWith('$');
}

async function readAllForward(
  reader: Reader,
  options: NonNullable<ReadOptions['all']>,
  count: number,
  filter: EventFilter | undefined,
): Promise<void> {
  if (options.end !== undefined && options.end !== null) return;
  let from =
    options.position === undefined || options.position === null
      ? 0
      : positionFromWire(options.position);
  let remaining = count;
  while (remaining > 0) {
    const page = await reader.deps.evdb.readAllGlobal(reader.storeId, from, PAGE);
    for (const event of page) {
      if (!inAll(event) || (filter !== undefined && !filter.matches(event))) continue;
      await sendEvent(reader, event);
      if (--remaining === 0) return;
    }
    const last = page.at(-1);
    if (page.length < PAGE || last === undefined) return;
    from = last.position + 1;
  }
}

async function readAllBackward(
  reader: Reader,
  options: NonNullable<ReadOptions['all']>,
  count: number,
  filter: EventFilter | undefined,
): Promise<void> {
  const { lastPosition } = await reader.deps.evdb.getStoreStatus(reader.storeId);
  // Backwards from a position returns the events before it.
  let upper =
    options.position === undefined || options.position === null
      ? lastPosition
      : Math.min(lastPosition, positionFromWire(options.position) - 1);
  let remaining = count;
  while (remaining > 0 && upper >= 0) {
    const lower = Math.max(0, upper - PAGE + 1);
    const page = await reader.deps.evdb.readAllGlobal(reader.storeId, lower, upper - lower + 1);
    for (let i = page.length - 1; i >= 0; i--) {
      const event = page[i] as EventRecord;
      if (!inAll(event) || (filter !== undefined && !filter.matches(event))) continue;
      await sendEvent(reader, event);
      if (--remaining === 0) return;
    }
    upper = lower - 1;
  }
}

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

async function subscribeStream(
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

async function subscribeAll(
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
