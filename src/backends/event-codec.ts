import {
  BYTES_CONTENT_TYPE,
  JSON_CONTENT_TYPE,
  type EventRecord,
  type JsonObject,
  type JsonValue,
} from '../core/types.js';

/**
 * Builds the `EventRecord` a read returns from stored fields. JSON data is parsed here, once;
 * binary data is returned as bytes.
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

/** Tags as stored on the event row: null when there are none. */
export function encodeTags(tags: readonly string[]): string | null {
  return tags.length === 0 ? null : JSON.stringify(tags);
}

/** Content types are stored only when they differ from the default, to keep rows small. */
export function encodeDataContentType(
  data: string | Uint8Array,
  contentType: string,
): string | null {
  const defaultType = typeof data === 'string' ? JSON_CONTENT_TYPE : BYTES_CONTENT_TYPE;
  return contentType === defaultType ? null : contentType;
}

export function encodeMetadataContentType(contentType: string): string | null {
  return contentType === JSON_CONTENT_TYPE ? null : contentType;
}
