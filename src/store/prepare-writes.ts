import { invalidArgument } from '../core/errors.js';
import { isUuid, uuidv7 } from '../core/ids.js';
import {
  ANY_VERSION,
  BYTES_CONTENT_TYPE,
  JSON_CONTENT_TYPE,
  type NewEvent,
  type StreamWrite,
} from '../core/types.js';
import { LIMITS } from '../core/limits.js';
import {
  assertExpectedVersion,
  assertJson,
  assertStreamId,
  assertWritableStreamId,
  describe,
} from '../core/validation.js';
import type { PreparedEvent } from '../backends/event-log.js';
import type { PreparedWrite } from './append-planner.js';

export interface PreparedAppend {
  writes: PreparedWrite[];
}

/** Validates the writes of one append or batch and fixes their event ids. */
export function prepareWrites(writes: readonly StreamWrite[]): PreparedAppend {
  return prepare(writes, assertWritableStreamId);
}

/**
 * Validates a write evdb makes itself to one of its `$`-prefixed streams (a link stream).
 * Only code inside evdb calls it: the public operations validate with `prepareWrites`, which
 * refuses reserved ids.
 */
export function prepareSystemWrite(write: StreamWrite): PreparedAppend {
  return prepare([write], (streamId) => {
    assertStreamId(streamId);
    if (!streamId.startsWith('$')) {
      throw invalidArgument(`'${streamId}' is not a system stream id (they start with '$')`);
    }
  });
}

function prepare(
  writes: readonly StreamWrite[],
  assertStream: (streamId: unknown) => asserts streamId is string,
): PreparedAppend {
  const seenIds = new Set<string>();
  const seenStreams = new Set<string>();
  let totalBytes = 0;
  const prepared = writes.map((write, w) => {
    const where = writes.length === 1 ? '' : `writes[${w}].`;
    if (typeof write !== 'object' || write === null) {
      throw invalidArgument(`${where || 'write '}must be an object with streamId and events`);
    }
    assertStream(write.streamId);
    if (seenStreams.has(write.streamId)) {
      throw invalidArgument(
        `stream '${write.streamId}' appears twice in one batch; merge its events into one write`,
      );
    }
    seenStreams.add(write.streamId);
    const expectedVersion = write.expectedVersion ?? ANY_VERSION;
    assertExpectedVersion(expectedVersion);
    if (!Array.isArray(write.events)) throw invalidArgument(`${where}events must be an array`);
    if (write.events.length > LIMITS.maxEventsPerAppend) {
      throw invalidArgument(
        `${where}events has ${write.events.length} events; one append takes at most ${LIMITS.maxEventsPerAppend}`,
      );
    }
    const events = write.events.map((event, i) => {
      const { prepared: p, bytes } = prepareEvent(event, `${where}events[${i}]`);
      if (seenIds.has(p.eventId)) {
        throw invalidArgument(
          `${where}events[${i}].eventId ${p.eventId} appears twice in one append`,
        );
      }
      seenIds.add(p.eventId);
      totalBytes += bytes;
      return p;
    });
    if (totalBytes > LIMITS.maxAppendBytes) {
      throw invalidArgument(
        `the append is larger than ${LIMITS.maxAppendBytes} bytes of event data`,
      );
    }
    return { streamId: write.streamId, expectedVersion, events };
  });
  return { writes: prepared };
}

function prepareEvent(event: NewEvent, path: string): { prepared: PreparedEvent; bytes: number } {
  if (typeof event !== 'object' || event === null || Array.isArray(event)) {
    throw invalidArgument(`${path} must be an event object, got ${describe(event)}`);
  }
  const { eventType, data, metadata, tags } = event;
  if (typeof eventType !== 'string' || eventType.length === 0) {
    throw invalidArgument(
      `${path}.eventType must be a non-empty string, got ${describe(eventType)}`,
    );
  }
  if (eventType.length > LIMITS.maxEventTypeLength) {
    throw invalidArgument(
      `${path}.eventType is longer than ${LIMITS.maxEventTypeLength} characters`,
    );
  }
  assertNoNul(eventType, `${path}.eventType`);
  if (!('data' in event)) throw invalidArgument(`${path}.data is required (use null for no data)`);

  let storedData: string | Uint8Array;
  if (data instanceof Uint8Array) {
    storedData = data.slice();
  } else {
    assertJson(data, `${path}.data`);
    storedData = JSON.stringify(data);
  }
  let storedMetadata: string | null = null;
  if (metadata !== undefined) {
    if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata)) {
      throw invalidArgument(`${path}.metadata must be a JSON object, got ${describe(metadata)}`);
    }
    assertJson(metadata, `${path}.metadata`);
    if (Object.keys(metadata).length > 0) storedMetadata = JSON.stringify(metadata);
  }
  const bytes =
    (typeof storedData === 'string' ? Buffer.byteLength(storedData) : storedData.byteLength) +
    (storedMetadata === null ? 0 : Buffer.byteLength(storedMetadata));
  if (bytes > LIMITS.maxEventBytes) {
    throw invalidArgument(
      `${path} is ${bytes} bytes; one event's data and metadata may take at most ${LIMITS.maxEventBytes}`,
    );
  }

  const prepared: PreparedEvent = {
    eventId: prepareEventId(event.eventId, path),
    idGenerated: event.eventId === undefined,
    eventType,
    data: storedData,
    metadata: storedMetadata,
    tags: prepareTags(tags, path),
    causationId: optionalId(event.causationId, `${path}.causationId`),
    correlationId: optionalId(event.correlationId, `${path}.correlationId`),
    dataContentType: contentType(
      event.dataContentType,
      typeof storedData === 'string' ? JSON_CONTENT_TYPE : BYTES_CONTENT_TYPE,
      `${path}.dataContentType`,
    ),
    metadataContentType: contentType(
      event.metadataContentType,
      JSON_CONTENT_TYPE,
      `${path}.metadataContentType`,
    ),
  };
  return { prepared, bytes };
}

function prepareEventId(eventId: unknown, path: string): string {
  if (eventId === undefined) return uuidv7();
  if (typeof eventId !== 'string' || !isUuid(eventId)) {
    throw invalidArgument(`${path}.eventId must be a UUID, got ${describe(eventId)}`);
  }
  return eventId.toLowerCase();
}

function prepareTags(tags: unknown, path: string): string[] {
  if (tags === undefined) return [];
  if (!Array.isArray(tags)) throw invalidArgument(`${path}.tags must be an array of strings`);
  if (tags.length > LIMITS.maxTagsPerEvent) {
    throw invalidArgument(
      `${path}.tags has ${tags.length} tags; at most ${LIMITS.maxTagsPerEvent} are allowed`,
    );
  }
  for (const tag of tags) {
    if (typeof tag !== 'string' || tag.length === 0 || tag.length > LIMITS.maxTagLength) {
      throw invalidArgument(
        `${path}.tags must hold non-empty strings of at most ${LIMITS.maxTagLength} characters, got ${describe(tag)}`,
      );
    }
    assertNoNul(tag, `${path}.tags`);
  }
  return [...new Set(tags as string[])];
}

function optionalId(value: unknown, path: string): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string' || value.length === 0 || value.length > LIMITS.maxIdLength) {
    throw invalidArgument(
      `${path} must be a non-empty string of at most ${LIMITS.maxIdLength} characters`,
    );
  }
  assertNoNul(value, path);
  // Ids that name events (UUIDs) are kept lower-cased, as event ids are, so that a causation or
  // correlation id finds its event however it was written.
  return isUuid(value) ? value.toLowerCase() : value;
}

function contentType(value: unknown, fallback: string, path: string): string {
  if (value === undefined) return fallback;
  if (
    typeof value !== 'string' ||
    value.length === 0 ||
    value.length > LIMITS.maxContentTypeLength
  ) {
    throw invalidArgument(
      `${path} must be a non-empty string of at most ${LIMITS.maxContentTypeLength} characters`,
    );
  }
  assertNoNul(value, path);
  return value;
}

/** Stored names and ids never hold NUL: PostgreSQL text cannot, and stream ids already refuse it. */
function assertNoNul(value: string, path: string): void {
  if (value.includes('\u0000')) throw invalidArgument(`${path} must not contain NUL characters`);
}
