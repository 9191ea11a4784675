// Streams.Read: reads of one stream or of `$all`, both directions, with counts and `$all`
// filters; catch-up subscriptions (the same RPC) are in subscribe.ts.
//
// `$all` here is every event of the store outside evdb's own `$` streams (link streams), in
// both reads and subscriptions, because evdb's `$all` subscriptions leave those out and catch-up
// and live delivery must agree.
import { EvdbError } from '../../core/errors.js';
import type { EventRecord } from '../../core/types.js';
import { streamDeleted, toGrpcError } from './errors.js';
import { compileFilter, type EventFilter } from './filters.js';
import {
  PAGE,
  inAll,
  send,
  sendEvent,
  sendNotFound,
  streamPage,
  type Call,
  type ReadDeps,
  type ReadOptions,
  type Reader,
} from './read-session.js';
import { isVisible, streamLimits } from './stream-metadata.js';
import { subscribeAll, subscribeStream } from './subscribe.js';
import { positionFromWire, streamFromWire, uint64FromWire } from './wire.js';

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
