/** A value that survives a JSON round trip unchanged. */
export type JsonValue = null | boolean | number | string | JsonValue[] | JsonObject;
export interface JsonObject {
  [key: string]: JsonValue;
}

/** Expected version: the stream must not exist (or be empty). */
export const NO_STREAM = -1;
/** Expected version: no check at all. */
export const ANY_VERSION = -2;
/** Expected version: the stream must exist (have at least one event). */
export const STREAM_EXISTS = -4;

/** `NO_STREAM`, `ANY_VERSION`, `STREAM_EXISTS` or an exact version (>= 0). */
export type ExpectedVersion = number;

export const JSON_CONTENT_TYPE = 'application/json';
export const BYTES_CONTENT_TYPE = 'application/octet-stream';

/** An event to append. Only `eventType` and `data` are required. */
export interface NewEvent {
  eventType: string;
  data: JsonValue | Uint8Array;
  metadata?: JsonObject;
  tags?: string[];
  /** A UUID; defaults to a fresh UUIDv7. Fix it before the first attempt to make retries safe. */
  eventId?: string;
  causationId?: string;
  correlationId?: string;
  dataContentType?: string;
  metadataContentType?: string;
}

/** An event as stored and read back. */
export interface EventRecord {
  eventId: string;
  eventType: string;
  streamId: string;
  /** 0-based position of the event in its stream. */
  version: number;
  /** Global position in the store: unique and strictly increasing in commit order. */
  position: number;
  data: JsonValue | Uint8Array;
  metadata: JsonObject;
  tags: string[];
  causationId?: string;
  correlationId?: string;
  dataContentType: string;
  metadataContentType: string;
  /** Milliseconds since the Unix epoch; shared by all events of one append. */
  timestamp: number;
  /** Microseconds since the Unix epoch; shared by all events of one append. */
  epochUs: number;
}

export type Direction = 'forward' | 'backward';

export interface AppendResult {
  /** Version of the last event of the stream after the append. */
  version: number;
  /** Global position of the last event written (or of the stream's last event; -1 if none). */
  position: number;
}

export interface StreamWrite {
  streamId: string;
  expectedVersion?: ExpectedVersion;
  events: NewEvent[];
}

export interface BatchAppendResult {
  results: (AppendResult & { streamId: string })[];
}

export interface DeleteStreamResult {
  streamId: string;
  /** False when the stream did not exist: deleting is idempotent, so retries are safe. */
  deleted: boolean;
  deletedCount: number;
}

export interface ReadPageOptions {
  /** First global position to return (inclusive). Default 0. */
  fromPosition?: number;
  /** Most events to return. Default 1000. */
  count?: number;
}

export interface ReadByTagsOptions extends ReadPageOptions {
  /** `any` (default): an event with at least one of the tags; `all`: with every tag. */
  match?: 'any' | 'all';
}

export interface StoreConfig {
  storeId: string;
  createdAt: string;
  /** Free-form settings given to `createStore`, kept with the store. */
  settings: JsonObject;
}

export interface StoreStatus {
  storeId: string;
  status: 'open' | 'closed';
  backend: string;
  streamCount: number;
  totalEvents: number;
  /** Highest global position ever assigned; -1 for a store that never had events. */
  lastPosition: number;
}
