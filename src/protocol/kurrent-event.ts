// How a KurrentDB event becomes an evdb event. One mapping for the two ways one arrives: an
// append through evdb's KurrentDB endpoint (src/gateway/kurrent) and an import from a running
// KurrentDB (src/ops), so an imported event reads back through the endpoint as it was written.
import {
  BYTES_CONTENT_TYPE,
  JSON_CONTENT_TYPE,
  type JsonObject,
  type JsonValue,
  type NewEvent,
} from '../core/types.js';
import { toBase64 } from './wire.js';

/**
 * Custom metadata that is not a JSON object is kept as base64 under this key, with the
 * metadata content type `application/octet-stream`, so it reads back byte for byte.
 */
export const RAW_METADATA_KEY = 'base64';

/** A KurrentDB event as the protocol carries it: bytes, with its type and content type. */
export interface KurrentEventBytes {
  /** A UUID, lower-cased. */
  eventId: string;
  eventType: string;
  contentType: string;
  data: Uint8Array;
  customMetadata: Uint8Array;
}

/**
 * JSON data is stored as JSON (so evdb's own readers and filters see it) when it parses;
 * anything else is stored as bytes. Custom metadata that is a JSON object becomes the event's
 * metadata, its `$correlationId`/`$causationId` also evdb's correlation and causation ids;
 * other custom metadata is kept byte for byte.
 */
export function kurrentEventToEvdb(source: KurrentEventBytes): NewEvent {
  let data: JsonValue | Uint8Array = source.data;
  if (source.contentType === JSON_CONTENT_TYPE) {
    const parsed = parseJson(source.data);
    if (parsed.ok) data = parsed.value;
  }
  const event: NewEvent = {
    eventId: source.eventId,
    eventType: source.eventType,
    data,
    dataContentType: source.contentType,
  };
  const custom = source.customMetadata;
  if (custom.length > 0) {
    const parsed = parseJson(custom);
    if (parsed.ok && isJsonObject(parsed.value)) {
      event.metadata = parsed.value;
      const { $correlationId: correlation, $causationId: causation } = parsed.value;
      if (typeof correlation === 'string' && correlation !== '') event.correlationId = correlation;
      if (typeof causation === 'string' && causation !== '') event.causationId = causation;
    } else {
      event.metadata = { [RAW_METADATA_KEY]: toBase64(custom) };
      event.metadataContentType = BYTES_CONTENT_TYPE;
    }
  }
  return event;
}

// ignoreBOM keeps a byte-order mark in the text, so JSON.parse refuses it as KurrentDB would.
const UTF8 = new TextDecoder('utf-8', { ignoreBOM: true });

function parseJson(bytes: Uint8Array): { ok: true; value: JsonValue } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(UTF8.decode(bytes)) as JsonValue };
  } catch {
    // Not JSON after all: the bytes are kept as they are (KurrentDB does not validate JSON).
    return { ok: false };
  }
}

function isJsonObject(value: JsonValue): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
