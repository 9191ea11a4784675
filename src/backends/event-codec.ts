import {
  BYTES_CONTENT_TYPE,
  JSON_CONTENT_TYPE,
  type EventRecord,
  type JsonObject,
  type JsonValue,
} from '../core/types.js';
import type { PlannedEvent, PreparedEvent, StoredContent } from './event-log.js';

/**
 * Builds the `EventRecord` a read returns from the fields of its row (`EventRow`, in order).
 * JSON data is parsed here, once; binary data is returned as bytes.
 */
export function decodeEvent(
  position: number,
  streamId: string,
  version: number,
  eventId: string,
  eventType: string,
  data: string | Uint8Array,
  metadata: string | null,
  tags: string | null,
  causationId: string | null,
  correlationId: string | null,
  dataContentType: string | null,
  metadataContentType: string | null,
  epochUs: number,
): EventRecord {
  const isJson = typeof data === 'string';
  const record: EventRecord = {
    eventId,
    eventType,
    streamId,
    version,
    position,
    data: isJson
      ? (JSON.parse(data) as JsonValue)
      : new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
    metadata: metadata === null ? {} : (JSON.parse(metadata) as JsonObject),
    tags: tags === null ? [] : (JSON.parse(tags) as string[]),
    dataContentType: dataContentType ?? (isJson ? JSON_CONTENT_TYPE : BYTES_CONTENT_TYPE),
    metadataContentType: metadataContentType ?? JSON_CONTENT_TYPE,
    timestamp: Math.floor(epochUs / 1000),
    epochUs,
  };
  if (causationId !== null) record.causationId = causationId;
  if (correlationId !== null) record.correlationId = correlationId;
  return record;
}

/**
 * An event as its row stores it, in the column order of every backend's events table (and of
 * `decodeEvent`'s parameters): position, stream id, version, event id, event type, data (JSON
 * text or bytes), metadata, tags, causation id, correlation id, data content type, metadata
 * content type, epochUs. Tags and content types are encoded as below.
 */
export type EventRow = [
  number,
  string,
  number,
  string,
  string,
  string | Buffer,
  string | null,
  string | null,
  string | null,
  string | null,
  string | null,
  string | null,
  number,
];

/** The row of a planned event: the one place where stored fields are encoded. */
export function encodeEvent(event: PlannedEvent): EventRow {
  const data = event.data;
  return [
    event.position,
    event.streamId,
    event.version,
    event.eventId,
    event.eventType,
    typeof data === 'string' ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength),
    event.metadata,
    encodeTags(event.tags),
    event.causationId,
    event.correlationId,
    encodeDataContentType(data, event.dataContentType),
    encodeMetadataContentType(event.metadataContentType),
    event.epochUs,
  ];
}

/** A prepared event's content as its row will store it. */
export function storedContent(event: PreparedEvent): StoredContent {
  return {
    eventType: event.eventType,
    data: event.data,
    metadata: event.metadata,
    tags: encodeTags(event.tags),
    dataContentType: encodeDataContentType(event.data, event.dataContentType),
    metadataContentType: encodeMetadataContentType(event.metadataContentType),
  };
}

/**
 * Whether a resent event says what the stored one says: type, data, metadata, tags and content
 * types. Causation and correlation ids are left out on purpose: they tell where a write came
 * from, not what it records, and a retry of the same command may legitimately travel another
 * way (another handler, a relay that sets its own correlation id) without being another fact.
 */
export function sameContent(event: PreparedEvent, stored: StoredContent): boolean {
  const sent = storedContent(event);
  return (
    sent.eventType === stored.eventType &&
    sameData(sent.data, stored.data) &&
    sent.metadata === stored.metadata &&
    sent.tags === stored.tags &&
    sent.dataContentType === stored.dataContentType &&
    sent.metadataContentType === stored.metadataContentType
  );
}

function sameData(a: string | Uint8Array, b: string | Uint8Array): boolean {
  if (typeof a === 'string' || typeof b === 'string') return a === b;
  return Buffer.compare(a, b) === 0;
}

/** Tags as stored on the event row: null when there are none. */
function encodeTags(tags: readonly string[]): string | null {
  return tags.length === 0 ? null : JSON.stringify(tags);
}

/** Content types are stored only when they differ from the default, to keep rows small. */
function encodeDataContentType(data: string | Uint8Array, contentType: string): string | null {
  const defaultType = typeof data === 'string' ? JSON_CONTENT_TYPE : BYTES_CONTENT_TYPE;
  return contentType === defaultType ? null : contentType;
}

function encodeMetadataContentType(contentType: string): string | null {
  return contentType === JSON_CONTENT_TYPE ? null : contentType;
}
