import type { ErrorCode } from './errors.js';
import type { Direction, JsonObject, JsonValue, ListOptions } from './types.js';

// ---------------------------------------------------------------------------------------------
// Snapshots (SPEC §4)

/** What `recordSnapshot` stores: the state, and optional metadata about it. */
export interface SnapshotRecord {
  data: JsonValue;
  metadata?: JsonObject;
}

/** A snapshot without its data, as `listAllSnapshots` and `recordSnapshot` return it. */
export interface SnapshotSummary {
  /** Who took the snapshot (an aggregate type, a projection name…). */
  sourceUuid: string;
  /** The stream the snapshot belongs to; `deleteStream` of that stream deletes it too. */
  streamUuid: string;
  /** The stream version the state includes. */
  version: number;
  /** When it was recorded (ISO 8601). */
  createdAt: string;
}

/** A page of a store's snapshot summaries, newest first. */
export interface SnapshotPage {
  snapshots: SnapshotSummary[];
  /** The cursor of the next page (`after`), or null when this page is the last. */
  next: string | null;
}

export interface Snapshot extends SnapshotSummary {
  data: JsonValue;
  metadata: JsonObject;
}

// ---------------------------------------------------------------------------------------------
// Temporal queries (SPEC §5)

export interface TemporalReadOptions {
  /**
   * `forward` (default): oldest first; `backward`: newest first. Events are in time order
   * (`epochUs`, ties broken by version), which is version order for events written by one process.
   */
  direction?: Direction;
  /** Most events to return; default 1000, at most 100 000. */
  limit?: number;
}

// ---------------------------------------------------------------------------------------------
// Scavenging and archives (SPEC §6)

export interface ScavengeOptions {
  /** Delete the events written before this time (µs since the epoch): up to `versionAt(before)`. */
  before?: number;
  /** Delete the events below this version (takes precedence over `before`). */
  beforeVersion?: number;
  /** Never delete the newest `keepVersions` events. Default 0. */
  keepVersions?: number;
  /**
   * Refuse (`no_snapshot`) unless the stream has a snapshot at or above the last version to be
   * deleted, so its state can still be rebuilt. Default true.
   */
  requireSnapshot?: boolean;
  /**
   * `true`: write the events to the store's archive (the file archive under the data directory,
   * or the one given to `openEvdb`) before deleting them. The embedded store also takes an
   * `ArchiveBackend` here.
   */
  archive?: boolean;
}

export interface ScavengeMatchingOptions extends ScavengeOptions {
  /** Report what would be deleted, delete nothing. */
  dryRun?: boolean;
}

/** What `listArchivePage` lists. */
export interface ListArchivesOptions extends ListOptions {
  /** Only the ranges of this stream. */
  streamId?: string;
}

/**
 * A page of a store's archived ranges, by stream id in UTF-8 byte order, then by version: their
 * keys, `<store>/<stream>/<from>-<to>`, as `readArchive` takes them.
 */
export interface ArchivePage {
  archives: string[];
  /** The cursor of the next page (`after`), or null when this page is the last. */
  next: string | null;
}

export interface ScavengeResult {
  streamId: string;
  deletedCount: number;
  /** First and last version deleted (or that a dry run would delete); null when none. */
  deletedVersions: [number, number] | null;
  /** Whether the deleted events were written to an archive first. */
  archived: boolean;
  /** The archive key (`<store>/<stream>/<from>-<to>`) when archived. */
  archiveKey?: string;
  /** True for `scavengeDryRun` (and `scavengeMatching` with `dryRun`): nothing was deleted. */
  dryRun?: boolean;
}

/** One stream's outcome in `scavengeMatching`: its result, or the error it failed with. */
export type ScavengeMatchingEntry =
  | ({ ok: true } & ScavengeResult)
  | { ok: false; streamId: string; error: { code: ErrorCode; message: string } };

// ---------------------------------------------------------------------------------------------
// Causation and correlation (SPEC §7)

/** An event of a causation graph: the record without its data. */
export interface CausationNode {
  eventId: string;
  eventType: string;
  streamId: string;
  version: number;
  position: number;
  epochUs: number;
  causationId?: string;
  correlationId?: string;
}

export interface CausationGraph {
  /** The event the graph starts from (the first cause found); null for an empty graph. */
  root: string | null;
  /** Nodes in global position order. */
  nodes: CausationNode[];
  /** `from` caused `to` (`to.causationId === from`). */
  edges: { from: string; to: string }[];
  /** True when the graph had more than `maxNodes` events and was cut there. */
  truncated: boolean;
}

export interface CausationGraphOptions {
  /** Most events in the graph; default 10 000, at most 100 000. */
  maxNodes?: number;
}

// ---------------------------------------------------------------------------------------------
// Schema registry (SPEC §8)

/** The persisted, serialisable part of a schema: what every process and client sees. */
export interface SchemaDescription {
  /** The current version of the event type's data (from 1). */
  version: number;
  description?: string;
}

/** Turns an event's data from one schema version into the next. */
export type Upcaster = (data: JsonValue) => JsonValue;

/** Checks data of the current version: true, or why it is invalid. */
export type SchemaValidator = (data: JsonValue) => true | string;

/**
 * A schema with its code, for the embedded store (code cannot cross the network; register it in
 * the process that serves the store).
 */
export interface SchemaRegistration extends SchemaDescription {
  /** `{ [fromVersion]: upcaster }`: each turns data of `fromVersion` into `fromVersion + 1`. */
  upcasters?: Record<number, Upcaster>;
  /** Given: appends of this event type are validated (after upcasting to the current version). */
  validate?: SchemaValidator;
}

/** A page of a store's schemas, by event type in UTF-8 byte order. */
export interface SchemaPage {
  schemas: SchemaInfo[];
  /** The cursor of the next page (`after`), or null when this page is the last. */
  next: string | null;
}

export interface SchemaInfo {
  eventType: string;
  version: number;
  description: string | null;
  registeredAt: string;
  /** The from-versions this process (the server, for a client) has upcasters for. */
  upcasters: number[];
  /** Whether this process validates appends of the type. */
  validates: boolean;
}

// ---------------------------------------------------------------------------------------------
// Inspection (SPEC §11)

export interface StoreStats {
  storeId: string;
  streamCount: number;
  totalEvents: number;
  snapshotCount: number;
  subscriptionCount: number;
  hasEvents: boolean;
  /** Bytes the store takes on disk (0 for the memory backend). */
  diskBytes: number;
}

export interface StreamInfo {
  streamId: string;
  /** The stream's version (its head, which scavenging never lowers). */
  version: number;
  /** Events still stored (fewer than `version + 1` after a scavenge). */
  eventCount: number;
  /** `epochUs` of the first stored event; null when none is stored. */
  firstEventAt: number | null;
  /** `epochUs` of the last stored event; null when none is stored. */
  lastEventAt: number | null;
  snapshots: { count: number; latestVersion: number | null };
}

export interface EventTypeCount {
  eventType: string;
  count: number;
}

// ---------------------------------------------------------------------------------------------
// Memory pressure (SPEC §15)

export type MemoryLevel = 'normal' | 'elevated' | 'critical';

export interface MemoryStats {
  level: MemoryLevel;
  /** Bytes in use, as last measured. */
  used: number;
  /** The memory budget in bytes. */
  total: number;
  /** When the level was last checked (ms since the epoch). */
  lastCheck: number;
}
