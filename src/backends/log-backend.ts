import type { EventRecord, JsonObject, StoreConfig } from '../core/types.js';

/**
 * What a backend can do. The store reads these flags instead of asking which backend it runs on.
 */
export interface BackendCapabilities {
  /** Other processes sharing the same storage see this process's writes. */
  multiProcess: boolean;
  /** The backend can wake readers in other processes when new events commit. */
  pushNotifications: boolean;
  /** An acknowledged write survives a crash of the process (and, when fsync is on, the machine). */
  durable: boolean;
}

/** The head of a stream, tracked explicitly (never derived from a count of its events). */
export interface StreamHead {
  /** Version of the stream's last event. */
  version: number;
  /** Global position of the stream's last event. */
  lastPosition: number;
}

/** Where an event already lives: what idempotent retries are checked against. */
export interface EventLocation {
  streamId: string;
  version: number;
  position: number;
}

/** An event ready to store: validated, its id fixed and its data serialised. */
export interface PreparedEvent {
  eventId: string;
  /**
   * True when evdb generated the id (a fresh UUIDv7): it cannot already be stored, so the
   * planner skips the lookups that idempotent retries need for ids the caller chose.
   */
  idGenerated: boolean;
  eventType: string;
  /** JSON text, or raw bytes for binary content. */
  data: string | Uint8Array;
  /** JSON text of the metadata object, or null for none. */
  metadata: string | null;
  tags: string[];
  causationId: string | null;
  correlationId: string | null;
  dataContentType: string;
  metadataContentType: string;
}

/** A prepared event with its place in the log. */
export interface PlannedEvent extends PreparedEvent {
  streamId: string;
  version: number;
  position: number;
  epochUs: number;
}

/**
 * The state a group commit decides against, read inside the commit's transaction (or under the
 * lock that serialises commits), so that no other writer can change it meanwhile.
 */
export interface CommitView {
  /** The highest global position ever assigned in the store; -1 if none. */
  readonly lastPosition: number;
  head(streamId: string): StreamHead | undefined;
  findEvent(eventId: string): EventLocation | undefined;
}

/** What a group commit writes: new events, and the new heads of the streams they extend. */
export interface CommitPlan {
  events: PlannedEvent[];
  heads: Map<string, StreamHead>;
  /** Streams that had no head before this commit. */
  createdStreams: number;
}

/**
 * The keys a commit will look up, so that a backend that cannot read synchronously (PostgreSQL)
 * can fetch them in one round trip before calling the planner.
 */
export interface CommitKeys {
  streamIds: string[];
  eventIds: string[];
}

export type IndexQuery =
  { kind: 'type'; eventTypes: string[] } | { kind: 'tag'; tags: string[]; match: 'any' | 'all' };

export interface LogStatus {
  streamCount: number;
  totalEvents: number;
  lastPosition: number;
}

/**
 * One store's log. Backends store and read; everything else (validation, expected-version
 * checks, idempotency, group commit) lives above them, once.
 *
 * Reads return events in the order asked; cross-stream reads are served from indexes so their
 * cost grows with the events returned, not with the size of the store.
 */
export interface LogBackend {
  readonly capabilities: BackendCapabilities;
  /**
   * Runs one group commit in one transaction: reads the state, lets `plan` decide, writes the
   * plan's events and heads, commits durably, and returns what `plan` returned.
   * Commits of one store never interleave.
   */
  commit<T>(
    keys: CommitKeys,
    plan: (view: CommitView) => { plan: CommitPlan; result: T },
  ): Promise<T>;
  streamHead(streamId: string): Promise<StreamHead | undefined>;
  /** `fromVersion` is the first version to return; backward reads descend from it. */
  readStream(
    streamId: string,
    fromVersion: number,
    count: number,
    direction: 'forward' | 'backward',
  ): Promise<EventRecord[]>;
  readAll(fromPosition: number, count: number): Promise<EventRecord[]>;
  readIndex(query: IndexQuery, fromPosition: number, count: number): Promise<EventRecord[]>;
  listStreams(): Promise<string[]>;
  /** Removes the stream's events and head; returns how many events were removed. */
  deleteStream(streamId: string): Promise<number>;
  status(): Promise<LogStatus>;
  config(): Promise<StoreConfig>;
  /**
   * Optional, for backends with `capabilities.pushNotifications`: calls `listener` when commits
   * (from any process) are seen, with the store's new last position, strictly increasing from
   * one call to the next. A wake-up hint, not a delivery: readers read from their own position.
   * Returns the function that stops watching.
   */
  watchCommits?(listener: (lastPosition: number) => void): () => void;
  close(): Promise<void>;
}

/**
 * A place stores live in: `memory()`, `sqlite()`, `postgres()`. Each store's data lives apart
 * (its own file, its own schema).
 */
export interface Backend {
  readonly name: string;
  readonly capabilities: BackendCapabilities;
  listStores(): Promise<string[]>;
  /** Creates a store; returns undefined if it already exists. */
  createStore(storeId: string, settings: JsonObject): Promise<LogBackend | undefined>;
  /** Opens an existing store; returns undefined if it does not exist. */
  openStore(storeId: string): Promise<LogBackend | undefined>;
  /** Deletes a store's data (the caller closed it first); returns false if it did not exist. */
  removeStore(storeId: string): Promise<boolean>;
  close(): Promise<void>;
}
