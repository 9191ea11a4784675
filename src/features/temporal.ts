import { EvdbError, invalidArgument } from '../core/errors.js';
import type { TemporalReadOptions } from '../core/feature-types.js';
import type { Direction, EventRecord } from '../core/types.js';
import type { StreamFacts } from '../backends/feature-storage.js';
import type { Store } from '../store/store.js';
import { DEFAULT_TEMPORAL_LIMIT, LIMITS } from '../core/limits.js';
import { assertInteger, assertMicros, assertStreamId, optionsObject } from '../core/validation.js';

const EARLIEST = Number.MIN_SAFE_INTEGER;

/** Events of a stream written at or before `timestampUs` (µs), in time order. */
export async function readUntil(
  store: Store,
  streamId: string,
  timestampUs: number,
  options: TemporalReadOptions | undefined,
): Promise<EventRecord[]> {
  assertStreamId(streamId);
  assertMicros('timestamp', timestampUs);
  const { direction, limit } = temporalOptions(options);
  await existingStream(store, streamId);
  if (limit === 0) return [];
  return store.log.readStreamByTime(streamId, EARLIEST, timestampUs, limit, direction);
}

/** Events of a stream written from `fromUs` to `toUs`, both included; from > to gives []. */
export async function readRange(
  store: Store,
  streamId: string,
  fromUs: number,
  toUs: number,
  options: TemporalReadOptions | undefined,
): Promise<EventRecord[]> {
  assertStreamId(streamId);
  assertMicros('from', fromUs);
  assertMicros('to', toUs);
  const { direction, limit } = temporalOptions(options);
  await existingStream(store, streamId);
  if (fromUs > toUs || limit === 0) return [];
  return store.log.readStreamByTime(streamId, fromUs, toUs, limit, direction);
}

/**
 * The version of the stream's latest event (in time, then version) written at or before
 * `timestampUs`; -1 when no stored event was.
 */
export async function versionAt(
  store: Store,
  streamId: string,
  timestampUs: number,
): Promise<number> {
  assertStreamId(streamId);
  assertMicros('timestamp', timestampUs);
  await existingStream(store, streamId);
  return latestVersionAt(store, streamId, timestampUs);
}

export async function latestVersionAt(
  store: Store,
  streamId: string,
  timestampUs: number,
): Promise<number> {
  const [latest] = await store.log.readStreamByTime(streamId, EARLIEST, timestampUs, 1, 'backward');
  return latest?.version ?? -1;
}

/** The stream's facts; `stream_not_found` when it has no head. */
export async function existingStream(store: Store, streamId: string): Promise<StreamFacts> {
  store.assertOpen();
  const facts = await store.log.streamFacts(streamId);
  if (facts === undefined) {
    throw new EvdbError(
      'stream_not_found',
      `stream '${streamId}' does not exist in store '${store.storeId}'`,
      { details: { storeId: store.storeId, streamId } },
    );
  }
  return facts;
}

function temporalOptions(options: TemporalReadOptions | undefined): {
  direction: Direction;
  limit: number;
} {
  const { direction = 'forward', limit = DEFAULT_TEMPORAL_LIMIT } = optionsObject(options);
  if (direction !== 'forward' && direction !== 'backward') {
    throw invalidArgument(
      `direction must be 'forward' or 'backward', got ${JSON.stringify(direction)}`,
    );
  }
  return { direction, limit: assertInteger('limit', limit, 0, LIMITS.maxReadCount) };
}
