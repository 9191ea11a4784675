import type { EventRecord, StoreConfig } from '../core/types.js';
import type { KeyRange } from '../core/paging.js';
import type { EventTypeCount, SnapshotStorage, StreamFacts } from './feature-storage.js';

/**
 * Link streams (`$link:<name>`) repeat the event ids of the source events they copy (SPEC §9),
 * so event ids are unique per store **outside** link streams, and unique within each link
 * stream. `CommitView.findEvent` looks ids up outside link streams only; writes to a link stream
 * are made exactly once by their writer (an exact expected version), and the backends' unique
 * index on (stream, event id) of link streams backs that up.
 */
export const LINK_STREAM_PREFIX = '$link:';

export function isLinkStream(streamId: string): boolean {
  return streamId.startsWith(LINK_STREAM_PREFIX);
}

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
  /**
   * `epochUs` of the stream's last event, on backends that keep it with the head. The planner
   * then never gives a stream an earlier time than its last event's, even after the wall clock
   * went back or from another process, so that the stream's times grow with its versions and
   * the backend can answer time queries from its version index. Backends without it (PostgreSQL,
   * where processes with different clocks commit) keep a per-stream time index instead.
   */
  lastEpochUs?: number;
}

/** Where an event already lives, and what it says: what idempotent retries are checked against. */
export interface EventLocation {
  streamId: string;
  version: number;
  position: number;
  /** The stored event's content, read only when its id is found (the replay path). */
  content: StoredContent;
}

/**
 * What makes a resent event the same event: its content as its row stores it (`encodeEvent`).
 * Causation and correlation ids are not part of it (see `sameContent`).
 */
export interface StoredContent {
  eventType: string;
  /** JSON text, or bytes. */
  data: string | Uint8Array;
  metadata: string | null;
  /** JSON text of the tags, null for none. */
  tags: string | null;
  dataContentType: string | null;
  metadataContentType: string | null;
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
  /**
   * Global position of the stream's previous version (which may have been removed since); -1
   * for the first event of a stream. Lets a backend chain a stream's events without indexing
   * every one of them (SQLite).
   */
  prevPosition: number;
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
  | { kind: 'type'; eventTypes: string[] }
  | { kind: 'tag'; tags: string[]; match: 'any' | 'all' }
  /**
   * Events whose `causationId` (or `correlationId`) is the key. Link streams repeat their source
   * events, so their copies are not indexed: each event is found once, in its own stream.
   */
  | { kind: 'causation'; causationId: string }
  | { kind: 'correlation'; correlationId: string };

export interface LogStatus {
  streamCount: number;
  totalEvents: number;
  lastPosition: number;
}

/**
 * One store's event log. Backends store and read; everything else (validation, expected-version
 * checks, idempotency, group commit) lives above them, once.
 *
 * Reads return events in the order asked; cross-stream reads are served from indexes so their
 * cost grows with the events returned, not with the size of the store.
 */
/** A write owner's proof of ownership for a commit: its lease and the token it holds. */
export interface CommitFence {
  lease: string;
  token: number;
}

export interface EventLog {
  readonly capabilities: BackendCapabilities;
  /**
   * Runs one group commit in one transaction: reads the state, lets `plan` decide, writes the
   * plan's events and heads, commits durably, and returns what `plan` returned.
   * Commits of one store never interleave. With `fence` (only on a backend whose leases have
   * `acquireFencedLease`), the commit writes only while the fence's token is its lease's
   * current token, else it fails with a retriable `unavailable` (`reason: 'not_write_owner'`)
   * having written nothing.
   */
  commit<T>(
    keys: CommitKeys,
    plan: (view: CommitView) => { plan: CommitPlan; result: T },
    fence?: CommitFence,
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
  /**
   * Stream ids in `range`, in UTF-8 byte order, at most `count`: a keyset page, served by the
   * index of the streams' heads (its cost follows `count`, not the number of streams).
   */
  listStreams(range: KeyRange, count: number): Promise<string[]>;
  /** Removes the stream's events and head; returns how many events were removed. */
  deleteStream(streamId: string): Promise<number>;
  status(): Promise<LogStatus>;
  config(): Promise<StoreConfig>;

  /**
   * A stream's events with `fromUs <= epochUs <= toUs`, in time order (ties, events of one
   * commit, by version); `backward` reverses it. A backend whose heads carry `lastEpochUs` has
   * times that never decrease with versions, so time order is version order there; other
   * backends must not assume it.
   */
  readStreamByTime(
    streamId: string,
    fromUs: number,
    toUs: number,
    count: number,
    direction: 'forward' | 'backward',
  ): Promise<EventRecord[]>;
  /** The stream's head and its first and last stored events, from its indexes. */
  streamFacts(streamId: string): Promise<StreamFacts | undefined>;
  /**
   * Removes the stream's events below `beforeVersion` and keeps its head: the version, and the
   * store's positions, never move back. Returns how many events were removed.
   */
  truncateStream(streamId: string, beforeVersion: number): Promise<number>;
  /** Events stored per type (types with none left are omitted), from maintained counters. */
  eventTypeCounts(): Promise<EventTypeCount[]>;
  /** The events with these ids, outside link streams (which repeat ids), in position order. */
  readEventsById(eventIds: string[]): Promise<EventRecord[]>;
  /** Bytes the store takes on disk; 0 when it keeps nothing on disk. */
  diskBytes(): Promise<number>;
  readonly snapshots: SnapshotStorage;
  /**
   * Optional: told when the process's memory pressure level changes, so the backend can shrink
   * its caches (`elevated`, `critical`) and grow them back (`normal`).
   */
  setMemoryLevel?(level: 'normal' | 'elevated' | 'critical'): void;
  /**
   * Optional, for backends with `capabilities.pushNotifications`: calls `listener` when commits
   * (from any process) are seen, with the store's new last position, strictly increasing from
   * one call to the next. A wake-up hint, not a delivery: readers read from their own position.
   * Returns the function that stops watching.
   */
  watchCommits?(listener: (lastPosition: number) => void): () => void;

  close(): Promise<void>;
}
